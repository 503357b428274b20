//go:build soak

package test

// The soak run (make soak; SOAK_DURATION=2h make soak for a long one): many
// clusters, a steady fault rate, agents that randomly succeed, fail and time
// out, and servers restarted at random. At the end it asserts that
// goroutines, open files and resident memory stayed flat, that no agent
// process leaked, and that the books balance.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

type sample struct {
	at                     time.Duration
	goroutines, fds, rssMB float64
}

func TestSoak(t *testing.T) {
	duration := 3 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		duration = d
	}
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	const clusters = 20
	names := make([]string, clusters)
	for i := range names {
		names[i] = "soak-" + strconv.Itoa(i)
	}
	srcs := startSources(t, names...)
	args := testAgentArgs(t)
	for _, n := range names {
		args = append(args, "--cluster", n+"="+srcs[n].URL())
	}
	args = append(args, "--agent-timeout", "2", "--agent-kill-grace", "1", "--max-concurrent-agents", "6",
		"--queue-capacity", "20", "--max-queue-age", "30", "--queue-sweep-interval", "5",
		"--sse-reconnect-initial-delay", "1", "--sse-reconnect-max-delay", "4", "--sse-keepalive-interval", "5",
		"--circuit-breaker-threshold", "1000", "--log-level", "warn")
	r := startRunner(t, args...)
	poll.Until(t, 30*time.Second, "all subscribed", func() bool {
		n := 0
		for _, s := range srcs {
			n += s.Subscribers()
		}
		return n == clusters
	})

	// Load: 4 faults per second in total; 70 % succeed, 20 % fail, 10 %
	// hang to the timeout; a random server restarts every 20 s.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			kind := "ok-"
			switch x := rand.IntN(10); {
			case x < 2:
				kind = "fail-"
			case x < 3:
				kind = "hang-"
			}
			c := names[rand.IntN(clusters)]
			emit(srcs[c], c, i, kind+strconv.Itoa(i))
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			s := srcs[names[rand.IntN(clusters)]]
			addr := s.Addr()
			s.Stop()
			time.Sleep(2 * time.Second)
			_ = s.Start(addr)
		}
	}()

	var samples []sample
	start := time.Now()
	for time.Since(start) < duration {
		time.Sleep(5 * time.Second)
		m := r.scrape()
		samples = append(samples, sample{
			at:         time.Since(start),
			goroutines: scrape.Sum(m, "go_goroutines"),
			fds:        scrape.Sum(m, "process_open_fds"),
			rssMB:      scrape.Sum(m, "process_resident_memory_bytes") / (1 << 20),
		})
	}
	close(stop)
	wg.Wait()
	// Let the last agents finish and the queues drain or expire.
	poll.Until(t, 90*time.Second, "idle", func() bool {
		m := r.scrape()
		return scrape.Sum(m, "kubernetes_mcp_runner_agents_active") == 0 && scrape.Sum(m, "kubernetes_mcp_runner_queue_depth") == 0
	})
	m := r.scrape()

	// Flatness: the last quarter against the second (the first is warm-up).
	q := len(samples) / 4
	if q < 2 {
		t.Fatalf("only %d samples; run for at least a minute", len(samples))
	}
	med := func(xs []sample, f func(sample) float64) float64 {
		v := make([]float64, len(xs))
		for i, s := range xs {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	early, late := samples[q:2*q], samples[len(samples)-q:]
	for _, c := range []struct {
		name   string
		f      func(sample) float64
		factor float64
		slack  float64
	}{
		{"goroutines", func(s sample) float64 { return s.goroutines }, 1.2, 30},
		{"open fds", func(s sample) float64 { return s.fds }, 1.2, 20},
		{"RSS MiB", func(s sample) float64 { return s.rssMB }, 1.3, 10},
	} {
		e, l := med(early, c.f), med(late, c.f)
		t.Logf("%s: early median %.1f, late median %.1f", c.name, e, l)
		if l > e*c.factor+c.slack {
			t.Errorf("%s grew from %.1f to %.1f over the run", c.name, e, l)
		}
	}

	// No agent process outlives its incident.
	if kids := testagent.ChildPIDs(r.cmd.Process.Pid); len(kids) != 0 {
		t.Errorf("idle runner still has child processes %v", kids)
	}

	// The books balance.
	v := func(name string, match ...string) float64 { return scrape.Sum(m, name, match...) }
	assertBooksBalance(t, m)
	received, queued := v("kubernetes_mcp_runner_events_received_total"), v("kubernetes_mcp_runner_events_queued_total")
	completed, expired := v("kubernetes_mcp_runner_agents_completed_total"), v("kubernetes_mcp_runner_events_expired_total")
	summary := fmt.Sprintf("soak %v: received %.0f, queued %.0f, completed %.0f (success %.0f, failure %.0f, timeout %.0f), expired %.0f, reconnections %.0f",
		duration, received, queued, completed, v("kubernetes_mcp_runner_agents_completed_total", `status="success"`),
		v("kubernetes_mcp_runner_agents_completed_total", `status="failure"`), v("kubernetes_mcp_runner_agents_completed_total", `status="timeout"`),
		expired, v("kubernetes_mcp_runner_sse_reconnections_total"))
	t.Log(summary)
	if received < float64(duration/time.Second) {
		t.Errorf("only %v faults received in %v", received, duration)
	}
}
