//go:build e2e

package test

// The end-to-end suite (make e2e): the built binary as a black box, a real
// Prometheus server scraping it, and one fault-injection scenario per test.
// Run by CI after the unit tests.

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/tcpproxy"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// TestE2EPrometheusSeesTheBooksBalance: simulated faults through the
// sample agent; Prometheus scrapes the runner and its counters balance.
func TestE2EPrometheusSeesTheBooksBalance(t *testing.T) {
	srcs := startSources(t, "alpha", "beta")
	bin := binary(t)
	r := startRunner(t, "--cluster", "alpha="+srcs["alpha"].URL(), "--cluster", "beta="+srcs["beta"].URL(),
		"--agent-command", bin, "--agent-arg", "sample-agent", "--agent-arg", "--delay=50ms")
	prom := startPrometheus(t, r.metricsTarget())
	prom.await(t, `up{job="runner"}`, 1)
	poll.Until(t, 15*time.Second, "subscriptions", func() bool {
		return srcs["alpha"].Subscribers()+srcs["beta"].Subscribers() == 2
	})
	for i := range 10 {
		emit(srcs["alpha"], "alpha", i, "api-"+strconv.Itoa(i))
		emit(srcs["beta"], "beta", 100+i, "db-"+strconv.Itoa(i))
	}
	srcs["alpha"].Emit(faultsource.Fault("alpha", 1, fault.TypeCrashLoop, "critical")) // duplicate
	srcs["beta"].Emit(faultsource.Fault("beta", 999, fault.TypePodCrash, "info"))      // severity_low
	srcs["alpha"].EmitRaw("not a fault")                                               // malformed

	prom.await(t, `sum(kubernetes_mcp_runner_agents_completed_total{status="success"})`, 20)
	prom.await(t, `sum(kubernetes_mcp_runner_events_received_total)`, 23)
	if v := prom.query(t, `sum(kubernetes_mcp_runner_events_filtered_total)`); v != 3 {
		t.Errorf("filtered %v, want 3", v)
	}
	// Families that appear on first use (docs/metrics.md, the cardinality
	// budget) are absent until then: each term counts them as 0.
	sum := func(name string) string { return "(sum(kubernetes_mcp_runner_" + name + ") or vector(0))" }
	balance := sum("events_received_total") + " - " + sum("events_filtered_total") +
		" - " + sum("circuit_breaker_events_dropped_total") + " - " + sum("events_queued_total") +
		" + " + sum("events_displaced_total")
	if v := prom.query(t, balance); v != 0 {
		t.Errorf("received - filtered - dropped - queued + displaced = %v, want 0", v)
	}
	queued := sum("events_queued_total") + " + " + sum("events_restored_total") + " - " + sum("events_dequeued_total") +
		" - " + sum("events_expired_total") + " - " + sum("events_displaced_total") + " - " + sum("queue_depth")
	if v := prom.query(t, queued); v != 0 {
		t.Errorf("queued + restored - dequeued - expired - displaced - depth = %v, want 0", v)
	}
	if v := prom.query(t, `sum(kubernetes_mcp_runner_sse_connections_active)`); v != 2 {
		t.Errorf("Prometheus sees %v live sessions, want 2", v)
	}
	if v := prom.query(t, `count(kubernetes_mcp_runner_agent_duration_seconds_bucket{status="success"})`); v != 8 {
		t.Errorf("%v duration buckets, want 8 for the runner (no cluster label)", v)
	}
}

// TestE2EServerKilledAndRestarted: the server dies mid-stream and returns
// on the same port; the runner reconnects, re-subscribes and hears again,
// and readiness follows.
func TestE2EServerKilledAndRestarted(t *testing.T) {
	srcs := startSources(t, "a")
	src := srcs["a"]
	addr := src.Addr()
	args := append(testAgentArgs(t), "--cluster", "a="+src.URL(), "--sse-reconnect-initial-delay", "1", "--sse-reconnect-max-delay", "2")
	r := startRunner(t, args...)
	prom := startPrometheus(t, r.metricsTarget())
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	emit(src, "a", 1, "ok-before")
	src.Stop()
	poll.Until(t, 10*time.Second, "unready", func() bool { code, _ := httpGet(r.healthURL + "/readyz"); return code == 503 })
	time.Sleep(2 * time.Second) // a few refused reconnects
	if err := src.Start(addr); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 15*time.Second, "re-subscription", func() bool { return src.Subscribers() == 1 })
	poll.Until(t, 10*time.Second, "ready again", func() bool { code, _ := httpGet(r.healthURL + "/readyz"); return code == 200 })
	emit(src, "a", 2, "ok-after")
	prom.await(t, `sum(kubernetes_mcp_runner_agents_completed_total{status="success"})`, 2)
	if v := prom.query(t, `sum(kubernetes_mcp_runner_sse_connection_errors_total{reason="connection_refused"})`); v < 1 {
		t.Errorf("refused reconnects %v", v)
	}
	if v := prom.query(t, `sum(kubernetes_mcp_runner_sse_reconnections_total)`); v < 2 {
		t.Errorf("reconnections %v", v)
	}
	logs := r.logs.String()
	if strings.Count(logs, `"msg":"SSE connection established"`) < 2 || !strings.Contains(logs, `"msg":"SSE connection failed, retrying"`) {
		t.Error("reconnection not logged")
	}
}

// TestE2ENetworkDrop: a silent partition is caught by the keepalive,
// blackholed reconnects time out, and the runner recovers when the link
// returns.
func TestE2ENetworkDrop(t *testing.T) {
	srcs := startSources(t, "a")
	proxy, err := tcpproxy.Start(srcs["a"].Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	args := append(testAgentArgs(t), "--cluster", "a=http://"+proxy.Addr()+"/mcp",
		"--sse-keepalive-interval", "2", "--sse-connect-timeout", "3",
		"--sse-reconnect-initial-delay", "1", "--sse-reconnect-max-delay", "2")
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })

	// A silent partition: nothing is closed, nothing gets through. Only
	// the keepalive can tell.
	proxy.Cut(tcpproxy.Freeze)
	poll.Until(t, 20*time.Second, "keepalive_timeout counted", func() bool {
		return r.metric("kubernetes_mcp_runner_sse_connection_errors_total", `reason="keepalive_timeout"`) >= 1
	})
	if code, _ := httpGet(r.healthURL + "/readyz"); code != 503 {
		t.Errorf("/readyz %d during the partition", code)
	}
	// Then a reset link that drops new connections into a blackhole:
	// reconnection attempts time out.
	proxy.Restore()
	proxy.Cut(tcpproxy.Blackhole)
	poll.Until(t, 30*time.Second, "connect timeout counted", func() bool {
		return r.metric("kubernetes_mcp_runner_sse_connection_errors_total", `reason="timeout"`) >= 1
	})
	proxy.Restore()
	poll.Until(t, 30*time.Second, "recovery", func() bool {
		code, _ := httpGet(r.healthURL + "/readyz")
		return code == 200
	})
	emit(srcs["a"], "a", 1, "ok-after-drop")
	poll.Until(t, 15*time.Second, "fault after recovery", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 1
	})
}

// TestE2EMalformedBurst: garbage, oversized fields and an event over the
// size limit; each is dropped and counted, the daemon stays healthy.
func TestE2EMalformedBurst(t *testing.T) {
	srcs := startSources(t, "a")
	src := srcs["a"]
	args := append(testAgentArgs(t), "--cluster", "a="+src.URL(), "--sse-max-event-bytes", "200000",
		"--sse-reconnect-initial-delay", "1", "--sse-reconnect-max-delay", "2")
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	for i := range 50 {
		src.EmitRaw(map[string]any{"nonsense": i})
	}
	for i := range 10 {
		ev := faultsource.Fault("a", i, fault.TypeCrashLoop, "critical")
		ev.Resource.Name = strings.Repeat("n", fault.MaxFieldBytes+1)
		src.Emit(ev)
	}
	src.EmitRaw(strings.Repeat("x", 300000)) // over --sse-max-event-bytes: dropped on its own
	poll.Until(t, 15*time.Second, "malformed counted", func() bool {
		return r.metric("kubernetes_mcp_runner_events_filtered_total", `reason="malformed"`) == 61
	})
	if n := r.metric("kubernetes_mcp_runner_sse_connection_errors_total"); n != 0 || src.Subscribers() != 1 || len(src.History()) != 1 {
		t.Errorf("the session did not survive the oversized event: %v connection errors, %d subscribers, %d subscribes", n, src.Subscribers(), len(src.History()))
	}
	emit(src, "a", 77, "ok-good")
	poll.Until(t, 15*time.Second, "a good fault still works", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 1
	})
	if code, _ := httpGet(r.healthURL + "/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if n := strings.Count(r.logs.String(), `"msg":"Dropped malformed fault notification"`); n != 61 {
		t.Errorf("%d malformed drops logged, want 61", n)
	}
}

// TestE2EMisbehavingAgents: agents that crash, hang, ignore SIGTERM, fork
// grandchildren, flood stdout or fill their workspace are each classified,
// and no process of theirs outlives them.
func TestE2EMisbehavingAgents(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	srcs := startSources(t, "a")
	args := append(testAgentArgs(t), "--cluster", "a="+srcs["a"].URL(), "--agent-timeout", "2", "--agent-kill-grace", "1",
		"--max-concurrent-agents", "6", "--agents-per-cluster", "6", "--agent-log-max-bytes", "100000",
		"--agent-workspace-max-bytes", "5000000", "--circuit-breaker-threshold", "100")
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	for i, name := range []string{"fail-crash", "hang-forever", "stubborn-term", "forker-kids", "flood-out", "filler-disk"} {
		emit(srcs["a"], "a", i, name)
	}
	poll.Until(t, 30*time.Second, "six outcomes", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_completed_total") == 6
	})
	m := r.scrape()
	for status, want := range map[string]float64{"failure": 2, "timeout": 3, "success": 1} {
		if got := scrape.Sum(m, "kubernetes_mcp_runner_agents_completed_total", `status="`+status+`"`); got != want {
			t.Errorf("%s: %v, want %v", status, got, want)
		}
	}
	if got := scrape.Sum(m, "kubernetes_mcp_runner_agents_timeout_total"); got != 3 {
		t.Errorf("timeouts %v, want 3", got)
	}
	if kids := testagent.ChildPIDs(r.cmd.Process.Pid); len(kids) != 0 {
		t.Errorf("runner still has children %v after every agent finished", kids)
	}
	results, _ := filepath.Glob(filepath.Join(r.workspace, "a", "*", "result.json"))
	reasons := ""
	for _, p := range results {
		data, _ := os.ReadFile(p)
		reasons += string(data)
	}
	for _, w := range []string{"agent exited with code 3", "workspace grew past 5000000 bytes", `"outputTruncated": true`, `"signal": "killed"`} {
		if !strings.Contains(reasons, w) {
			t.Errorf("no result.json says %s", w)
		}
	}
}

// TestE2ESIGTERMDuringBackoff: a runner sleeping in a 60 s backoff stops at
// once.
func TestE2ESIGTERMDuringBackoff(t *testing.T) {
	args := append(testAgentArgs(t), "--cluster", "gone=http://127.0.0.1:1/mcp",
		"--sse-reconnect-initial-delay", "60", "--sse-reconnect-max-delay", "60")
	r := startRunner(t, args...)
	poll.Until(t, 10*time.Second, "in backoff", func() bool { return strings.Contains(r.logs.String(), `"retry_in"`) })
	start := time.Now()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if err := r.wait(); err != nil {
		t.Fatalf("exit %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown during backoff took %v", took)
	}
}

// TestE2ESIGTERMWithFullQueue: agents busy, the queue full and shedding;
// SIGTERM still drains in budget, exits 0 and reports what stayed queued.
func TestE2ESIGTERMWithFullQueue(t *testing.T) {
	srcs := startSources(t, "a")
	args := append(testAgentArgs(t), "--cluster", "a="+srcs["a"].URL(), "--queue-capacity", "3",
		"--shutdown-timeout", "2", "--agent-kill-grace", "1")
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	// The first fault's agent starts before the rest arrive, so exactly
	// three wait in the queue and six are shed.
	emit(srcs["a"], "a", 0, "hang-0")
	poll.Until(t, 10*time.Second, "the first agent", func() bool {
		return scrape.Sum(r.scrape(), "kubernetes_mcp_runner_agents_active") == 1
	})
	for i := 1; i < 10; i++ {
		emit(srcs["a"], "a", i, "hang-"+strconv.Itoa(i))
	}
	poll.Until(t, 10*time.Second, "queue full", func() bool {
		m := r.scrape()
		return scrape.Sum(m, "kubernetes_mcp_runner_queue_depth") == 3 &&
			scrape.Sum(m, "kubernetes_mcp_runner_events_filtered_total", `reason="queue_full"`) == 6
	})
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if err := r.wait(); err != nil {
		t.Fatalf("exit %v", err)
	}
	logs := r.logs.String()
	if !strings.Contains(lineWith(logs, `"msg":"Queued faults not investigated before shutdown"`), `"queued_events":3`) {
		t.Errorf("the three queued faults were not reported at shutdown")
	}
	if !strings.Contains(lineWith(logs, `"msg":"Shutdown complete"`), `"agents_interrupted":1`) {
		t.Errorf("the in-flight agent was not interrupted")
	}
}

// TestE2EServerAnswersErrorsAndGarbage: a cluster endpoint that answers
// 500, then 404, then garbage is retried with each failure counted by its
// reason; the runner stays alive and unready.
func TestE2EServerAnswersErrorsAndGarbage(t *testing.T) {
	var mode atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch mode.Load() {
		case 0:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 1:
			http.NotFound(w, nil)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{{{ not json"))
		}
	}))
	defer srv.Close()
	r := startRunner(t, append(testAgentArgs(t), "--cluster", "bad="+srv.URL+"/mcp",
		"--sse-reconnect-initial-delay", "1", "--sse-reconnect-max-delay", "1")...)
	for i, reason := range []string{"http_5xx", "http_4xx", "protocol"} {
		mode.Store(int32(i))
		poll.Until(t, 15*time.Second, reason+" counted", func() bool {
			return r.metric("kubernetes_mcp_runner_sse_connection_errors_total", `reason="`+reason+`"`) >= 1
		})
	}
	if code, _ := httpGet(r.healthURL + "/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, body := httpGet(r.healthURL + "/readyz"); code != 503 || !strings.Contains(body, "no active SSE connections") {
		t.Errorf("/readyz %d %q", code, body)
	}
	if n := strings.Count(r.logs.String(), `"msg":"SSE connection failed, retrying"`); n < 3 {
		t.Errorf("%d retry log lines", n)
	}
}
