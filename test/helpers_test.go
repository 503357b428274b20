package test

// The vocabulary of the black-box suites: the built binary, started on free
// ports with its logs collected; faults from simulated clusters; metrics
// read as Prometheus reads them; process-tree checks; and a real Prometheus
// for the e2e suite. Every test in this directory speaks through these.
//
//	go test ./test                                 the binary tests (in every go test ./...)
//	go test -tags e2e -run E2E ./test              the e2e suite with Prometheus (make e2e)
//	go test -tags soak -run TestSoak ./test        the soak run (make soak)

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/freeport"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
)

// TestMain lets this test binary double as the runner's investigation
// agent (os.Args[1] == testagent.Arg).
func TestMain(m *testing.M) {
	testagent.Run()
	os.Exit(m.Run())
}

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
		build := exec.Command("go", "build", "-race", "-o", binaryPath,
			"-ldflags", "-X main.version=v9.9.9-e2e -X main.gitCommit=e2ecommit -X main.buildDate=2026-11-26T00:00:00Z", ".")
		build.Dir = ".." // the module root: the daemon's main package
		out, err := build.CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

func freePort(t *testing.T) int { return freePorts(t, 1)[0] }

// freePorts returns n distinct ports free now (freeport.Ports).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := freeport.Ports(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// runner is a started binary with its logs collected.
type runner struct {
	cmd                   *exec.Cmd
	healthURL, metricsURL string
	uiURL                 string
	workspace             string
	logs                  *testlog.Buffer
	waitOnce              sync.Once
	waitErr               error
	// exited is closed once the process has ended and been waited for.
	exited chan struct{}
}

func startRunner(t *testing.T, args ...string) *runner {
	t.Helper()
	// A port found free can be taken by another process before the
	// runner binds it, and the runner stops at once on a port in use:
	// start again on other ports then.
	for attempt := 1; ; attempt++ {
		r := launchRunner(t, args...)
		deadline := time.Now().Add(20 * time.Second)
		for {
			if code, _ := httpGet(r.healthURL + "/healthz"); code == 200 {
				return r
			}
			select {
			case <-r.exited:
				if attempt < 3 && strings.Contains(r.logs.String(), "address already in use") {
					break
				}
				t.Fatalf("the runner exited before its health server came up: %v", r.wait())
			default:
				if time.Now().After(deadline) {
					t.Fatalf("timed out after 20s waiting for health server up")
				}
				time.Sleep(poll.Interval)
				continue
			}
			break
		}
	}
}

// launchRunner starts the binary on ports found free, without waiting.
func launchRunner(t *testing.T, args ...string) *runner {
	t.Helper()
	ports := freePorts(t, 3)
	hp, mp, up := ports[0], ports[1], ports[2]
	bin := binary(t)
	workspace := t.TempDir()
	full := append([]string{
		"--health-port", strconv.Itoa(hp), "--metrics-port", strconv.Itoa(mp), "--ui-address", fmt.Sprintf("127.0.0.1:%d", up),
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
		uiURL:      fmt.Sprintf("http://127.0.0.1:%d", up),
		logs:       &testlog.Buffer{},
		workspace:  workspace,
		exited:     make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = r.wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = r.wait()
		if t.Failed() {
			t.Logf("runner logs:\n%s", r.logs.String())
		}
	})
	return r
}

func (r *runner) wait() error {
	r.waitOnce.Do(func() { r.waitErr = r.cmd.Wait() })
	return r.waitErr
}

// scrape is one scrape of the runner's /metrics.
func (r *runner) scrape() string { return scrape.Get(r.metricsURL) }

// metric sums, on a fresh scrape, the samples of name whose labels contain
// every key="value" in match.
func (r *runner) metric(name string, match ...string) float64 {
	return scrape.Sum(r.scrape(), name, match...)
}

// metricsTarget is the runner's metrics address as Prometheus targets it.
func (r *runner) metricsTarget() string {
	return strings.TrimSuffix(strings.TrimPrefix(r.metricsURL, "http://"), "/metrics")
}

// sigterm asks the runner to shut down and returns its exit.
func (r *runner) sigterm(t *testing.T) error {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return r.wait()
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

// assertBooksBalance checks, on one scrape of an idle runner, that every
// fault is accounted for exactly once (docs/metrics.md, "The books
// balance").
func assertBooksBalance(t *testing.T, exposition string) {
	t.Helper()
	v := func(name string) float64 { return scrape.Sum(exposition, "kubernetes_mcp_runner_"+name) }
	received, filtered, dropped := v("events_received_total"), v("events_filtered_total"), v("circuit_breaker_events_dropped_total")
	queued, restored, displaced := v("events_queued_total"), v("events_restored_total"), v("events_displaced_total")
	dequeued, expired, depth := v("events_dequeued_total"), v("events_expired_total"), v("queue_depth")
	resolved := v("events_resolved_total")
	completed, active := v("agents_completed_total"), v("agents_active")
	if received != filtered+dropped+queued-displaced {
		t.Errorf("received %v != filtered %v + dropped %v + queued %v - displaced %v", received, filtered, dropped, queued, displaced)
	}
	if queued+restored != dequeued+expired+displaced+resolved+depth {
		t.Errorf("queued %v + restored %v != dequeued %v + expired %v + displaced %v + resolved %v + depth %v", queued, restored, dequeued, expired, displaced, resolved, depth)
	}
	grouped, related := v("events_grouped_total"), v("events_related_total")
	if dequeued != completed+active+grouped+related {
		t.Errorf("dequeued %v != completed %v + active %v + grouped %v + related %v", dequeued, completed, active, grouped, related)
	}
}

// tool finds a program from Debian's prometheus package, which .ci/run
// installs: in CI a missing one fails the test, elsewhere the caller skips
// what needs it.
func tool(t *testing.T, name string) (string, bool) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found; CI must install the prometheus package", name)
		}
		t.Logf("%s not installed; skipping what needs it", name)
		return "", false
	}
	return path, true
}

// promtoolCheck runs promtool check metrics on a scrape. promtool comes
// from Debian's prometheus package, which .ci/run installs; outside CI the
// check is skipped when it is missing.
func promtoolCheck(t *testing.T, exposition string) {
	t.Helper()
	path, ok := tool(t, "promtool")
	if !ok {
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// testAgentArgs points the runner at this test binary as its agent.
func testAgentArgs(t *testing.T) []string {
	t.Helper()
	// Grouping off: these tests are about one run per fault; the
	// grouping tests pass --group-wait again after these arguments.
	return []string{"--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--agent-env-allow", "PATH", "--agent-env-allow", "GORACE", "--group-wait", "0"}
}

func startSources(t *testing.T, names ...string) map[string]*faultsource.Server {
	t.Helper()
	out := map[string]*faultsource.Server{}
	for _, n := range names {
		s := faultsource.New(n)
		if err := s.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		out[n] = s
	}
	return out
}

func emit(src *faultsource.Server, cluster string, n int, resource string) {
	ev := faultsource.Fault(cluster, n, fault.TypeCrashLoop, "critical")
	ev.Resource.Name = resource
	src.Emit(ev)
}

// lineWith is the first log line that contains needle, or "".
func lineWith(logs, needle string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, needle) {
			return l
		}
	}
	return ""
}

// stateArgs runs the runner on a workspace and state directory that
// survive its restarts.
func stateArgs(t *testing.T, dir string, extra ...string) []string {
	t.Helper()
	return append(append(testAgentArgs(t), "--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state")), extra...)
}

// prometheusServer is a real Prometheus scraping the runner every second.
type prometheusServer struct {
	url string
}

func startPrometheus(t *testing.T, target string) *prometheusServer {
	t.Helper()
	bin, ok := tool(t, "prometheus")
	if !ok {
		t.Skip("prometheus not installed")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: runner
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
	logs := &testlog.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus logs:\n%s", logs.String())
		}
	})
	p := &prometheusServer{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	poll.Until(t, 30*time.Second, "prometheus ready", func() bool {
		code, _ := httpGet(p.url + "/-/ready")
		return code == 200
	})
	return p
}

// query returns the single value of an instant query, or -1 if empty.
func (p *prometheusServer) query(t *testing.T, q string) float64 {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %q: %v %s", q, err, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(body.Data.Result[0].Value[1].(string), 64)
	return v
}

// await waits until Prometheus answers q with want.
func (p *prometheusServer) await(t *testing.T, q string, want float64) {
	t.Helper()
	poll.Until(t, 60*time.Second, fmt.Sprintf("Prometheus to see %s == %v", q, want), func() bool {
		return p.query(t, q) == want
	})
}
