package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// smallTmpfs mounts a tmpfs of size bytes at a new directory, or skips
// the test where this process may not mount.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): run as root to test a full disk", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file into dir until the filesystem is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// startUnreadyFast runs the daemon in process with args (the cluster, the
// test agent and loopback listeners are added) and a 1 s StoreUnreadyAfter,
// and returns its /metrics and /readyz?verbose URLs.
func startUnreadyFast(t *testing.T, src *faultsource.Server, args ...string) (metricsURL, readyz string) {
	t.Helper()
	cfg, err := config.Parse(append([]string{
		"--cluster", "prod=" + src.URL(), "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1", "--ui-address", "127.0.0.1:0",
	}, args...), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.HealthPort, cfg.MetricsPort = 0, 0
	logs := &testlog.Buffer{}
	servers := make(chan [2]*httpserver.Server, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{
			Logger: slog.New(slog.NewJSONHandler(logs, nil)), Notify: func(string) {}, Registry: metrics.NewRegistry(),
			Started:           func(m, h, _ *httpserver.Server) { servers <- [2]*httpserver.Server{m, h} },
			StoreUnreadyAfter: time.Second,
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	var s [2]*httpserver.Server
	select {
	case s = <-servers:
	case err := <-done:
		t.Fatalf("Run ended before serving: %v", err)
	}
	<-s[0].Listening()
	<-s[1].Listening()
	return "http://" + s[0].Addr() + "/metrics", "http://" + s[1].Addr() + "/readyz?verbose"
}

// A state directory whose disk is full makes the runner unready once
// writes have kept failing for StoreUnreadyAfter, and ready again once
// space has returned and that long has passed without a failed write.
func TestFullStateDirTurnsReadinessOffAndBackOn(t *testing.T) {
	state := smallTmpfs(t, "2m")
	src := faultsource.Started(t, "prod")
	dir := t.TempDir()
	metricsURL, readyz := startUnreadyFast(t, src, "--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(state, "state"))
	poll.Until(t, 30*time.Second, "ready", func() bool { return statusOf(readyz) == http.StatusOK })

	filler := fill(t, state)
	for i := 0; scrape.Sum(scrape.Get(metricsURL), "kubernetes_mcp_runner_state_write_errors_total") == 0; i++ {
		if i > 2000 {
			t.Fatal("2000 faults into a full state directory, and no write failed")
		}
		src.Emit(faultsource.Fault("prod", i, fault.TypeCrashLoop, "critical"))
		time.Sleep(5 * time.Millisecond)
	}
	// Faults keep coming while the disk is full: writes keep failing.
	next := 10000
	poll.Until(t, 30*time.Second, "/readyz to turn unready naming the state store", func() bool {
		src.Emit(faultsource.Fault("prod", next, fault.TypeCrashLoop, "critical"))
		next++
		code, body := get(t, readyz)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "[-]state-store failed")
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "/readyz to be ready again once space returned", func() bool {
		return statusOf(readyz) == http.StatusOK
	})
}

// A full workspace disk does not consume faults: their incidents are put
// back in the queue (counted), readiness says the workspaces cannot be
// written, and once space returns every fault is investigated, once.
func TestFullWorkspaceDiskKeepsFaultsQueuedUntilSpaceReturns(t *testing.T) {
	root := smallTmpfs(t, "1m")
	src := faultsource.Started(t, "prod")
	dir := t.TempDir()
	metricsURL, readyz := startUnreadyFast(t, src, "--workspace-root", filepath.Join(root, "ws"),
		"--state-dir", filepath.Join(dir, "state"), "--group-wait", "0")
	poll.Until(t, 30*time.Second, "the session to subscribe", func() bool { return src.Subscribers() == 1 })
	if err := os.MkdirAll(filepath.Join(root, "ws"), 0o700); err != nil {
		t.Fatal(err)
	}
	filler := fill(t, root)
	const faults = 3
	for i := range faults {
		ev := faultsource.Fault("prod", i, fault.TypeCrashLoop, "critical")
		ev.Resource.Name = fmt.Sprintf("ok-api-%d", i)
		src.Emit(ev)
	}
	poll.Until(t, 30*time.Second, "faults to be deferred and /readyz to name the workspaces", func() bool {
		code, body := get(t, readyz)
		return scrape.Sum(scrape.Get(metricsURL), "kubernetes_mcp_runner_events_deferred_total") > 0 &&
			code == http.StatusServiceUnavailable && strings.Contains(body, "[-]workspaces failed")
	})
	text := scrape.Get(metricsURL)
	if n := scrape.Sum(text, "kubernetes_mcp_runner_agents_completed_total"); n != 0 {
		t.Fatalf("%v incidents ended while no workspace could be written; want them kept queued", n)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 2*time.Minute, "every fault to be investigated once space returned", func() bool {
		return scrape.Sum(scrape.Get(metricsURL), "kubernetes_mcp_runner_agents_completed_total", `status="success"`) == faults
	})
	poll.Until(t, 30*time.Second, "/readyz to be ready again", func() bool { return statusOf(readyz) == http.StatusOK })
	if n := scrape.Sum(scrape.Get(metricsURL), "kubernetes_mcp_runner_agents_completed_total"); n != faults {
		t.Errorf("%v incidents for %d faults", n, faults)
	}
}
