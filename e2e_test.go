package main

// End-to-end tests of the built binary: real processes, real HTTP on
// loopback, the in-process fault source as the clusters' servers.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// binary builds the runner once per test run, with version ldflags.
func binary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kmr-e2e-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "kubernetes-mcp-runner")
		out, err := exec.Command("go", "build", "-race", "-o", binaryPath,
			"-ldflags", "-X main.version=v9.9.9-e2e -X main.gitCommit=e2ecommit -X main.buildDate=2026-11-26T00:00:00Z", ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runner is a started binary with its logs collected.
type runner struct {
	cmd                   *exec.Cmd
	healthURL, metricsURL string
	workspace             string
	logs                  *testlog.Buffer
	waitOnce              sync.Once
	waitErr               error
}

func startRunner(t *testing.T, args ...string) *runner {
	t.Helper()
	hp, mp := freePort(t), freePort(t)
	bin := binary(t)
	workspace := t.TempDir()
	full := append([]string{
		"--health-port", strconv.Itoa(hp), "--metrics-port", strconv.Itoa(mp),
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1",
		"--workspace-root", workspace, "--state-dir", filepath.Join(workspace, ".state"),
	}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if g := os.Getenv("GORACE"); g != "" {
		cmd.Env = append(cmd.Env, "GORACE="+g)
	}
	r := &runner{
		cmd:        cmd,
		healthURL:  fmt.Sprintf("http://127.0.0.1:%d", hp),
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", mp),
		logs:       &testlog.Buffer{},
		workspace:  workspace,
	}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		r.wait()
		if t.Failed() {
			t.Logf("runner logs:\n%s", r.logs.String())
		}
	})
	waitFor(t, 20*time.Second, "health server up", func() bool {
		code, _ := httpGet(r.healthURL + "/healthz")
		return code == 200
	})
	return r
}

func (r *runner) wait() error {
	r.waitOnce.Do(func() { r.waitErr = r.cmd.Wait() })
	return r.waitErr
}

func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricValue sums the samples of name whose labels contain every
// key="value" in match.
func metricValue(body, name string, match ...string) float64 {
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			if !strings.Contains(line, m) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// assertBooksBalance checks, on one scrape of an idle runner, that every
// fault is accounted for exactly once (docs/metrics.md, "The books
// balance").
func assertBooksBalance(t *testing.T, scrape string) {
	t.Helper()
	v := func(name string) float64 { return metricValue(scrape, "kubernetes_mcp_runner_"+name) }
	received, filtered, dropped := v("events_received_total"), v("events_filtered_total"), v("circuit_breaker_events_dropped_total")
	queued, restored, displaced := v("events_queued_total"), v("events_restored_total"), v("events_displaced_total")
	dequeued, expired, depth := v("events_dequeued_total"), v("events_expired_total"), v("queue_depth")
	completed, active := v("agents_completed_total"), v("agents_active")
	if received != filtered+dropped+queued-displaced {
		t.Errorf("received %v != filtered %v + dropped %v + queued %v - displaced %v", received, filtered, dropped, queued, displaced)
	}
	if queued+restored != dequeued+expired+displaced+depth {
		t.Errorf("queued %v + restored %v != dequeued %v + expired %v + displaced %v + depth %v", queued, restored, dequeued, expired, displaced, depth)
	}
	if dequeued != completed+active {
		t.Errorf("dequeued %v != completed %v + active %v", dequeued, completed, active)
	}
}

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
	waitFor(t, 10*time.Second, "a counted connection error", func() bool {
		_, m := httpGet(r.metricsURL)
		return metricValue(m, "kubernetes_mcp_runner_sse_connection_errors_total", `cluster="unreachable"`, `reason="connection_refused"`) >= 1
	})
	code, scrape := httpGet(r.metricsURL)
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
		if !strings.Contains(scrape, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	promtoolCheck(t, scrape)
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

// promtoolCheck runs promtool check metrics on a scrape. promtool comes
// from Debian's prometheus package, which .ci/run installs; outside CI the
// check is skipped when it is missing.
func promtoolCheck(t *testing.T, scrape string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found; CI must install the prometheus package")
		}
		t.Log("promtool not installed; skipping promtool check metrics")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
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
	waitFor(t, 15*time.Second, "both sessions subscribed", func() bool {
		return srcA.Subscribers() == 1 && srcB.Subscribers() == 1
	})
	code, _ := httpGet(r.healthURL + "/readyz")
	if code != 200 {
		t.Fatalf("/readyz %d with live sessions", code)
	}

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

	var scrape string
	waitFor(t, 30*time.Second, "six successful agents", func() bool {
		_, scrape = httpGet(r.metricsURL)
		return metricValue(scrape, "kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 6
	})
	v := func(name string, match ...string) float64 { return metricValue(scrape, name, match...) }
	if received, filtered, queued := v("kubernetes_mcp_runner_events_received_total"),
		v("kubernetes_mcp_runner_events_filtered_total"), v("kubernetes_mcp_runner_events_queued_total"); received != 9 || filtered != 3 || queued != 6 {
		t.Errorf("received %v filtered %v queued %v, want 9, 3, 6", received, filtered, queued)
	}
	assertBooksBalance(t, scrape)
	for reason, want := range map[string]float64{"duplicate": 1, "severity_low": 1, "malformed": 1} {
		if got := v("kubernetes_mcp_runner_events_filtered_total", `cluster="alpha"`, `reason="`+reason+`"`); got != want {
			t.Errorf("filtered{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	if got := v("kubernetes_mcp_runner_events_queued_total", `cluster="beta"`); got != 2 {
		t.Errorf("beta queued %v, want 2 (a server reporting cluster \"\" is labelled with the configured name)", got)
	}
	if strings.Contains(scrape, `cluster=""`) {
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
	waitFor(t, 10*time.Second, "readiness to fail with every server down", func() bool {
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
