package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// TestDaemonWiring runs the daemon's own run path in process, on ephemeral
// ports with an injected registry: a fault from the cluster's server goes
// through session, intake, queue and dispatch to a successful agent; the
// incident reaches the history on the page server's /api/incidents (and
// the health server serves probes only); readiness follows the
// session; cancelling the context shuts down in order and returns nil.
func TestDaemonWiring(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	dir := t.TempDir()
	cfg, err := config.Parse([]string{
		"--cluster", "prod=" + src.URL(), "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state"),
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1", "--ui-address", "127.0.0.1:0",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.HealthPort, cfg.MetricsPort = 0, 0 // ephemeral: the servers report their address

	reg := metrics.NewRegistry()
	var logs testlog.Buffer
	servers := make(chan [3]*httpserver.Server, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{
			Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
			Notify:   func(string) {},
			Registry: reg,
			Started:  func(m, h, u *httpserver.Server) { servers <- [3]*httpserver.Server{m, h, u} },
		})
	}()
	s := <-servers
	<-s[0].Listening()
	<-s[1].Listening()
	<-s[2].Listening()
	health, page := "http://"+s[1].Addr(), "http://"+s[2].Addr()

	poll.Until(t, 30*time.Second, "the session to subscribe", func() bool { return src.Subscribers() == 1 })
	poll.Until(t, 10*time.Second, "/readyz to answer 200", func() bool { return statusOf(health+"/readyz") == http.StatusOK })

	ev := faultsource.Fault("prod", 1, fault.TypeCrashLoop, "critical")
	ev.Resource.Name = "ok-wiring"
	src.Emit(ev)
	completed := func() float64 {
		return scrape.Sum(scrape.Get("http://"+s[0].Addr()+"/metrics"), "kubernetes_mcp_runner_agents_completed_total",
			`cluster="prod"`, `status="success"`)
	}
	poll.Until(t, 30*time.Second, "the agent to succeed", func() bool { return completed() == 1 })
	if n := testutil.CollectAndCount(reg, "kubernetes_mcp_runner_build_info"); n != 1 {
		t.Errorf("the injected registry holds %d build_info series, want 1", n)
	}

	if code := statusOf(health + "/incidents"); code != http.StatusNotFound {
		t.Errorf("the health server answers /incidents with %d; it serves probes only", code)
	}
	resp, err := http.Get(page + "/api/incidents")
	if err != nil {
		t.Fatal(err)
	}
	var records []incident.Record
	err = json.NewDecoder(resp.Body).Decode(&records)
	resp.Body.Close()
	if err != nil || len(records) != 1 || records[0].FaultID != ev.FaultID || records[0].Status != incident.StatusSuccess {
		t.Fatalf("/api/incidents = %+v (%v), want one success for %s", records, err, ev.FaultID)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after shutdown: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context ended")
	}
	if !strings.Contains(logs.String(), `"msg":"Shutdown complete"`) {
		t.Fatalf("no shutdown line in the log:\n%s", logs.String())
	}
}

func statusOf(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
