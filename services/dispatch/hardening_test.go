package dispatch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/breaker"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

// histogramCount is the number of observations of one series of h.
func histogramCount(t *testing.T, h *prometheus.HistogramVec, labels ...string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.WithLabelValues(labels...).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestWorkspaceCapCheckedAfterExit: an agent that writes 40 MiB against a
// 10 MiB cap and exits before the periodic check runs is a failure: the
// workspace is measured once more after the agent exits.
func TestWorkspaceCapCheckedAfterExit(t *testing.T) {
	f := start(t, settings{workspaceMax: 10 << 20, workspaceCheck: time.Hour})
	f.push(t, "prod", "burst-api")
	f.waitCompleted(t, "prod", incident.StatusFailure, 1)
	rs := f.results(t, "prod")
	if len(rs) != 1 || rs[0].Status != incident.StatusFailure || !strings.Contains(rs[0].Reason, "workspace grew past 10485760 bytes") {
		t.Fatalf("results %+v, want one failure for the workspace cap", rs)
	}
	if got := f.completed("prod", incident.StatusSuccess); got != 0 {
		t.Errorf("%v successes", got)
	}
	// What it wrote past the cap is removed, the record kept.
	ws := filepath.Join(f.root, "prod", rs[0].IncidentID)
	if size := workspace.Size(ws); size > 10<<20 {
		t.Errorf("workspace holds %d bytes after the cap stopped the agent, want at most the cap", size)
	}
	for _, keep := range []string{incident.EventFile, incident.LogFile, incident.ResultFile} {
		if _, err := os.Stat(filepath.Join(ws, keep)); err != nil {
			t.Errorf("%s removed with the agent's output: %v", keep, err)
		}
	}
}

// TestRunnerIOFailureIsAnErrorNotABreakerFailure: when the runner cannot
// create the workspace (here the workspace root is a file) the incident
// ends with status "error", the agent never starts, and the circuit
// breaker does not count it: the runner's own I/O says nothing about the
// agents.
func TestRunnerIOFailureIsAnErrorNotABreakerFailure(t *testing.T) {
	root := filepath.Join(t.TempDir(), "workspaces")
	if err := os.WriteFile(root, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := start(t, settings{root: root, breakerThreshold: 2})
	for range 4 {
		f.push(t, "prod", "ok-api")
	}
	f.waitCompleted(t, "prod", incident.StatusError, 4)
	if f.breaker.State() != breaker.Closed {
		t.Errorf("breaker %v after 4 workspace failures, want closed", f.breaker.State())
	}
	if got := f.completed("prod", incident.StatusFailure); got != 0 {
		t.Errorf("%v incidents counted as agent failures", got)
	}
	if got := histogramCount(t, f.m.AgentDuration, "error"); got != 4 {
		t.Errorf("duration{status=error} observed %d times, want 4", got)
	}
	if !strings.Contains(f.logs.String(), `"status":"error"`) || !strings.Contains(f.logs.String(), "create workspace") {
		t.Errorf("no log line naming the workspace failure")
	}
}

// TestEscapedAgentProcessesAreKilledAndCounted: a process that leaves the
// agent's group with setsid is found by the incident's marker, killed,
// logged and counted in agent_leftover_processes_total.
func TestEscapedAgentProcessesAreKilledAndCounted(t *testing.T) {
	f := start(t, settings{})
	f.push(t, "prod", "escaper-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	rs := f.results(t, "prod")
	log, _ := os.ReadFile(filepath.Join(f.root, "prod", rs[0].IncidentID, incident.LogFile))
	escaped := testagent.GrandchildPIDs(string(log))
	if len(escaped) != 1 {
		t.Fatalf("agent log %q names no grandchild", log)
	}
	testagent.AssertGone(t, 5*time.Second, "the escaped grandchild", escaped...)
	if got := testutil.ToFloat64(f.m.AgentLeftoverProcesses.WithLabelValues("prod")); got != 1 {
		t.Errorf("agent_leftover_processes_total %v, want 1", got)
	}
	if line := f.logs.String(); !strings.Contains(line, "Agent processes outlived their incident") || !strings.Contains(line, strconv.Itoa(escaped[0])) {
		t.Errorf("no log line naming escaped pid %d", escaped[0])
	}
}

// TestDrainReportListsAreEmptyNotNil: a drain with nothing running reports
// empty lists, so the drain log shows "completed":[] rather than null.
func TestDrainReportListsAreEmptyNotNil(t *testing.T) {
	f := start(t, settings{})
	var rep incident.DrainReport
	f.drainOnce.Do(func() { rep = f.d.Drain(time.Second) })
	got, err := json.Marshal(map[string]any{"completed": rep.Completed, "interrupted": rep.Interrupted})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"completed":[],"interrupted":[]}` {
		t.Errorf("drain report %s", got)
	}
}

// TestTimeoutLogCarriesThreshold: the timeout log line names the limit as
// threshold (and, for existing log queries, timeout_threshold).
func TestTimeoutLogCarriesThreshold(t *testing.T) {
	f := start(t, settings{timeout: 300 * time.Millisecond})
	f.push(t, "prod", "hang-api")
	f.waitCompleted(t, "prod", incident.StatusTimeout, 1)
	line := ""
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"Agent execution timeout"`) {
			line = l
		}
	}
	if !strings.Contains(line, `"threshold":"300ms"`) || !strings.Contains(line, `"timeout_threshold":"300ms"`) {
		t.Errorf("timeout line %q lacks threshold and timeout_threshold", line)
	}
}

// TestAgentThatCannotStartIsAnErrorNotABreakerFailure: a fault that
// reaches dispatch with a NUL in a field the agent's environment carries
// (intake refuses those; here it is queued directly) cannot be exec'd. The
// agent never started, so the incident is an error and the breaker does
// not count it: one bad byte must not stop triage of every cluster.
func TestAgentThatCannotStartIsAnErrorNotABreakerFailure(t *testing.T) {
	f := start(t, settings{breakerThreshold: 2})
	for range 4 {
		f.push(t, "prod", "ok-api\x00injected")
	}
	f.waitCompleted(t, "prod", incident.StatusError, 4)
	if f.breaker.State() != breaker.Closed {
		t.Errorf("breaker %v after 4 agents that could not start, want closed", f.breaker.State())
	}
	rs := f.results(t, "prod")
	if len(rs) != 4 || !strings.Contains(rs[0].Reason, "agent could not start") {
		t.Errorf("results %+v, want 4 errors saying the agent could not start", rs)
	}
}

// flakyRecorder fails its first finish writes, as a store on a disk being
// freed does.
type flakyRecorder struct {
	mu       sync.Mutex
	failures int
	finishes int
	done     []string
}

func (r *flakyRecorder) Started(queue.Item, string, string, string, time.Time) error { return nil }
func (r *flakyRecorder) Running(string, int, string) error                           { return nil }
func (r *flakyRecorder) Deferred(queue.Item, string) error                           { return nil }
func (r *flakyRecorder) Finished(_ queue.Item, res incident.Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finishes++
	if r.finishes <= r.failures {
		return syscall.ENOSPC
	}
	r.done = append(r.done, res.IncidentID)
	return nil
}

// TestFinishWriteIsRetried: an incident whose finish write fails while the
// store recovers is recorded once it can be, not left running in the store
// until a restart.
func TestFinishWriteIsRetried(t *testing.T) {
	rec := &flakyRecorder{failures: 2}
	f := start(t, settings{tweak: func(o *Options) { o.Recorder = rec }})
	f.push(t, "prod", "ok-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	poll.Until(t, 30*time.Second, "the finish to be recorded after two failed writes", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.done) == 1
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.finishes != 3 {
		t.Errorf("%d finish writes, want 3 (two failed, one recorded)", rec.finishes)
	}
}
