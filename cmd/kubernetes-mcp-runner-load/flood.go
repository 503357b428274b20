package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// Modes of this command for the flood figure: the measuring side, and the
// child that serves the flooding server.
const (
	floodMode        = "flood"
	floodSourcesMode = "flood-sources"
)

// runFlood measures the runner's memory while one server sends distinct
// faults as fast as it can: RSS after every tenth of the flood, the peak,
// and where the faults went. With --submit-delay intake is made slower than
// the server, so the session must shed; without it, intake keeps up as far
// as it can. The server runs in a child process, so the figures are the
// runner's alone.
func runFlood(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(floodMode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("faults", 1000000, "distinct faults the server sends")
	delay := fs.Duration("submit-delay", 0, "time intake takes per fault (0: as fast as it goes)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	cmd := exec.Command(self, floodSourcesMode, strconv.Itoa(*n))
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		fmt.Fprintln(stderr, "load: flood source did not start")
		return exitFailure
	}
	endpoint := strings.TrimSpace(lines.Text())

	logger := slog.New(slog.DiscardHandler)
	m := metrics.New(metrics.NewRegistry(), metrics.BuildInfo{}, []string{"one"})
	// Room for every fault, so that queue_full counts only what the
	// session shed.
	queues := queue.NewSet([]string{"one"}, *n+1, m, time.Now)
	var handler mcpsession.Handler = intake.New(intake.Options{Logger: logger, Metrics: m, Queues: queues, Breaker: neverOpen{},
		Clusters: map[string]intake.ClusterPolicy{"one": {Triage: true}}, MinSeverity: fault.SeverityInfo,
		DedupWindow: time.Minute, Now: time.Now})
	if *delay > 0 {
		handler = slowHandler{next: handler, delay: *delay}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A consumer that keeps the queue short, as dispatch would, so what
	// grows is what the session holds, not the queue.
	q := queues.Get("one")
	go func() {
		for {
			it, err := q.Pop(ctx)
			if err != nil {
				return
			}
			q.Release(it.Event.FaultID)
		}
	}()
	s := mcpsession.New(mcpsession.Options{
		Cluster: config.Cluster{Name: "one", Endpoint: endpoint, Transport: config.TransportStreamable, Triage: true},
		Handler: handler, Metrics: m, Logger: logger, InitialDelay: time.Second, MaxDelay: time.Minute,
		Keepalive: 30 * time.Second, ConnectTimeout: time.Minute, MaxEventBytes: 1 << 20,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ctx)
	}()
	runtime.GC()
	base := rssBytes()
	fmt.Fprintf(stdout, "| faults sent | runner RSS |\n|---|---|\n| 0 (subscribed) | %.1f MiB |\n", mib(base))
	start := time.Now()
	var sent int
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) != 2 {
			continue
		}
		sent, _ = strconv.Atoi(f[1])
		fmt.Fprintf(stdout, "| %d | %.1f MiB |\n", sent, mib(rssBytes()))
		if f[0] == "done" {
			break
		}
	}
	took := time.Since(start)
	accounted := func() float64 {
		return counterValue(m.EventsQueued.WithLabelValues("one")) +
			counterValue(m.EventsFiltered.WithLabelValues("one", string(intake.QueueFull))) +
			counterValue(m.EventsFiltered.WithLabelValues("one", string(intake.Duplicate)))
	}
	for deadline := time.Now().Add(time.Minute); accounted() < float64(sent) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	fmt.Fprintf(stdout, "\n| figure | value |\n|---|---|\n")
	fmt.Fprintf(stdout, "| faults sent by the server | %d in %s (%.0f/s) |\n", sent, took.Round(time.Millisecond), float64(sent)/took.Seconds())
	fmt.Fprintf(stdout, "| intake time per fault | %s |\n", *delay)
	fmt.Fprintf(stdout, "| queued | %.0f |\n", counterValue(m.EventsQueued.WithLabelValues("one")))
	fmt.Fprintf(stdout, "| shed (events_filtered_total{reason=\"queue_full\"}) | %.0f |\n", counterValue(m.EventsFiltered.WithLabelValues("one", string(intake.QueueFull))))
	fmt.Fprintf(stdout, "| runner RSS subscribed / peak (VmHWM) | %.1f MiB / %.1f MiB |\n", mib(base), mib(peakRSSBytes()))
	return exitOK
}

// slowHandler is an intake that takes delay for each fault.
type slowHandler struct {
	next  mcpsession.Handler
	delay time.Duration
}

func (h slowHandler) Submit(cluster string, ev fault.Event) intake.Outcome {
	// Spin rather than sleep: timer granularity would stretch a short
	// delay many times over.
	for start := time.Now(); time.Since(start) < h.delay; {
	}
	return h.next.Submit(cluster, ev)
}

func (h slowHandler) Malformed(cluster, source string, err error) intake.Outcome {
	return h.next.Malformed(cluster, source, err)
}

// runFloodSources serves one server, waits for a subscription, sends n
// distinct faults as fast as it can, printing "sent K" every tenth and
// "done n" at the end, then serves until stdin closes.
func runFloodSources(args []string, stdout, stderr io.Writer) int {
	n := 1000000
	if len(args) > 0 {
		n, _ = strconv.Atoi(args[0])
	}
	src := faultsource.New("")
	if err := src.Start("127.0.0.1:0"); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	defer src.Stop()
	fmt.Fprintln(stdout, src.URL())
	for src.Subscribers() != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	step := max(n/10, 1)
	for i := range n {
		ev := faultsource.Fault("", i, fault.TypeCrashLoop, "critical")
		ev.FaultID = fmt.Sprintf("%016x", i)
		src.Emit(ev)
		if (i+1)%step == 0 && i+1 < n {
			fmt.Fprintf(stdout, "sent %d\n", i+1)
		}
	}
	fmt.Fprintf(stdout, "done %d\n", n)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return exitOK
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// peakRSSBytes reads the peak resident set size (VmHWM) from /proc.
func peakRSSBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
