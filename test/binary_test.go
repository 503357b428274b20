package test

// End-to-end tests of the built binary: real processes, real HTTP on
// loopback, the in-process fault source as the clusters' servers.

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
)

func TestBinaryVersion(t *testing.T) {
	out, err := exec.Command(binary(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	if !strings.Contains(string(out), "v9.9.9-e2e") || !strings.Contains(string(out), "e2ecommit") || !strings.Contains(string(out), "2026-11-26T00:00:00Z") {
		t.Fatalf("--version printed %q", out)
	}
}

func TestBinaryHelp(t *testing.T) {
	out, err := exec.Command(binary(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, w := range []string{"--agent-timeout", "AGENT_TIMEOUT_SECONDS", "default 300"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("--help lacks %q", w)
		}
	}
}

func TestBinaryInvalidConfigExits2(t *testing.T) {
	cmd := exec.Command(binary(t), "--cluster", "a=http://127.0.0.1:1/mcp", "--agent-command", "/bin/true", "--agent-timeout", "-1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want code 2", err)
	}
	msg := strings.TrimRight(stderr.String(), "\n")
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "--agent-timeout") || !strings.Contains(msg, "AGENT_TIMEOUT_SECONDS") {
		t.Fatalf("stderr %q, want one line naming the flag and env var", msg)
	}
}

// TestBinaryLifecycle: an unreachable cluster keeps the daemon up and
// unready; /metrics is served and valid; SIGTERM ends it with exit 0 and
// the shutdown log lines.
func TestBinaryLifecycle(t *testing.T) {
	r := startRunner(t, "--cluster", "unreachable=http://127.0.0.1:1/mcp", "--agent-command", "/bin/true",
		"--sse-reconnect-initial-delay", "1", "--sse-reconnect-max-delay", "2")

	code, body := httpGet(r.healthURL + "/healthz")
	if code != 200 || body != "ok\n" {
		t.Fatalf("/healthz %d %q", code, body)
	}
	code, body = httpGet(r.healthURL + "/readyz")
	if code != 503 || !strings.Contains(body, "no active SSE connections") {
		t.Fatalf("/readyz %d %q, want 503 naming no active SSE connections", code, body)
	}
	poll.Until(t, 10*time.Second, "a counted connection error", func() bool {
		return r.metric("kubernetes_mcp_runner_sse_connection_errors_total", `cluster="unreachable"`, `reason="connection_refused"`) >= 1
	})
	code, exposition := httpGet(r.metricsURL)
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, w := range []string{
		`kubernetes_mcp_runner_up 1`,
		`kubernetes_mcp_runner_build_info{build_date="2026-11-26T00:00:00Z",git_commit="e2ecommit",version="v9.9.9-e2e"} 1`,
		`kubernetes_mcp_runner_sse_connections_active{cluster="unreachable"} 0`,
		`kubernetes_mcp_runner_circuit_breaker_state 0`,
		`go_goroutines`, `process_resident_memory_bytes`,
	} {
		if !strings.Contains(exposition, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	promtoolCheck(t, exposition)
	if !strings.Contains(r.logs.String(), `"msg":"SSE connection failed, retrying"`) {
		t.Errorf("no reconnection log line")
	}

	start := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runner did not exit within 10 s of SIGTERM")
	}
	t.Logf("shutdown took %v", time.Since(start))
	logs := r.logs.String()
	for _, w := range []string{`"msg":"Shutting down gracefully"`, `"signal":"terminated"`, `"msg":"Shutdown complete"`} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %s", w)
		}
	}
}

// TestBinaryFaultsBecomeReports drives simulated faults through the built
// binary and the sample agent and checks the books balance.
func TestBinaryFaultsBecomeReports(t *testing.T) {
	srcA, srcB := faultsource.New("alpha"), faultsource.New("")
	for _, s := range []*faultsource.Server{srcA, srcB} {
		if err := s.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer s.Stop()
	}
	bin := binary(t)
	r := startRunner(t,
		"--cluster", "alpha="+srcA.URL(), "--cluster", "beta="+srcB.URL(),
		"--agent-command", bin, "--agent-arg", "sample-agent", "--agent-arg", "--delay=100ms",
		"--max-concurrent-agents", "2")
	poll.Until(t, 15*time.Second, "both sessions subscribed", func() bool {
		return srcA.Subscribers() == 1 && srcB.Subscribers() == 1
	})
	// The server counts a subscription once it answered; the runner once
	// it read the answer: ready within moments of both.
	poll.Until(t, 10*time.Second, "/readyz 200 with live sessions", func() bool {
		code, _ := httpGet(r.healthURL + "/readyz")
		return code == 200
	})

	// alpha: 4 distinct faults, one repeat, one info, one malformed.
	for i := range 4 {
		srcA.Emit(faultsource.Fault("alpha", i, fault.TypeCrashLoop, "critical"))
	}
	srcA.Emit(faultsource.Fault("alpha", 0, fault.TypeCrashLoop, "critical"))
	srcA.Emit(faultsource.Fault("alpha", 9, fault.TypePodCrash, "info"))
	srcA.EmitRaw(map[string]any{"faultType": "CrashLoop"})
	srcA.EmitLog("an ordinary log line")
	// beta: 2 distinct faults.
	for i := range 2 {
		srcB.Emit(faultsource.Fault("", 100+i, fault.TypeNodeUnhealthy, "warning"))
	}

	var exposition string
	poll.Until(t, 30*time.Second, "six successful agents", func() bool {
		exposition = r.scrape()
		return scrape.Sum(exposition, "kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 6
	})
	v := func(name string, match ...string) float64 { return scrape.Sum(exposition, name, match...) }
	if received, filtered, queued := v("kubernetes_mcp_runner_events_received_total"),
		v("kubernetes_mcp_runner_events_filtered_total"), v("kubernetes_mcp_runner_events_queued_total"); received != 9 || filtered != 3 || queued != 6 {
		t.Errorf("received %v filtered %v queued %v, want 9, 3, 6", received, filtered, queued)
	}
	assertBooksBalance(t, exposition)
	for reason, want := range map[string]float64{"duplicate": 1, "severity_low": 1, "malformed": 1} {
		if got := v("kubernetes_mcp_runner_events_filtered_total", `cluster="alpha"`, `reason="`+reason+`"`); got != want {
			t.Errorf("filtered{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	if got := v("kubernetes_mcp_runner_events_queued_total", `cluster="beta"`); got != 2 {
		t.Errorf("beta queued %v, want 2 (a server reporting cluster \"\" is labelled with the configured name)", got)
	}
	if strings.Contains(exposition, `cluster=""`) {
		t.Error(`a cluster label took the server's empty name`)
	}
	reports, _ := filepath.Glob(filepath.Join(r.workspace, "*", "*", "output", "investigation.md"))
	if len(reports) != 6 {
		t.Errorf("%d reports on disk, want 6", len(reports))
	}
	if n := strings.Count(r.logs.String(), `"msg":"Incident finished"`); n != 6 {
		t.Errorf("%d 'Incident finished' lines, want 6", n)
	}

	// Readiness follows the sessions: all servers gone, 503.
	srcA.Stop()
	srcB.Stop()
	poll.Until(t, 10*time.Second, "readiness to fail with every server down", func() bool {
		code, body := httpGet(r.healthURL + "/readyz")
		return code == 503 && strings.Contains(body, "no active SSE connections")
	})

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}
