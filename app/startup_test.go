package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// TestRestoredFaultsPastMaxAgeAreExpiredBeforeDispatch: faults brought back
// from the state store that waited longer than --max-queue-age while the
// runner was down are expired at start, before any worker can take one:
// they are never investigated.
func TestRestoredFaultsPastMaxAgeAreExpiredBeforeDispatch(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	store, err := journal.Open(state, journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i, age := range []time.Duration{10 * time.Second, time.Hour} {
		ev := fault.Event{FaultID: "stale" + string(rune('a'+i)), FaultType: fault.TypeCrashLoop, Severity: "critical",
			Resource: fault.Resource{Kind: "Pod", Name: "ok-stale", Namespace: "ns"}}
		if _, err := store.Enqueue(queue.Item{Cluster: "prod", EnqueuedAt: time.Now().Add(-age), Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Parse([]string{
		"--cluster", "prod=http://127.0.0.1:1/mcp", "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", state, "--max-queue-age", "2",
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.HealthPort, cfg.MetricsPort, cfg.UIAddress = 0, 0, "127.0.0.1:0"
	reg := metrics.NewRegistry()
	var logs testlog.Buffer
	servers := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Notify: func(string) {}, Registry: reg,
			Started: func(_, _, _ *httpserver.Server) { close(servers) },
		})
	}()
	select {
	case <-servers:
	case err := <-done:
		t.Fatalf("Run ended before serving: %v\n%s", err, logs.String())
	}
	expired := func() float64 { return sumOf(t, reg, "kubernetes_mcp_runner_events_expired_total") }
	poll.Until(t, 10*time.Second, "two expired faults", func() bool { return expired() == 2 })
	// Give a worker the chance it must not have.
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := sumOf(t, reg, "kubernetes_mcp_runner_agents_spawned_total"); n != 0 {
		t.Errorf("%v agents spawned for faults older than --max-queue-age\n%s", n, logs.String())
	}
}
