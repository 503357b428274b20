package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/breaker"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/grouping"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

func TestMain(m *testing.M) {
	// The limits helper is the runner's binary; in tests, this one.
	procutil.HelperMain(os.Args[1:])
	testagent.Run()
	os.Exit(m.Run())
}

type fixture struct {
	d          *Dispatcher
	m          *metrics.Metrics
	queues     *queue.Set
	breaker    *breaker.Breaker
	root       string
	cleanupDir string
	logs       *testlog.Buffer
	cancel     context.CancelFunc
	served     chan error
	drainOnce  sync.Once
}

type settings struct {
	clusters         []string
	timeout          time.Duration
	maxConcurrent    int
	breakerThreshold int
	cooldown         time.Duration
	cleanup          bool
	capacity         int
	// workspaceMax and workspaceCheck override the workspace cap and the
	// interval of its watch; root the workspace root.
	workspaceMax   int64
	workspaceCheck time.Duration
	root           string
	// budget gates launches (budget_test.go).
	budget Budget
	now    func() time.Time
	// tweak, when set, changes the options before New.
	tweak func(*Options)
	// grouping groups faults (group.go); recent are the history records
	// the dispatcher starts with.
	grouping grouping.Options
	recent   []incident.Record
}

func start(t testing.TB, s settings) *fixture {
	t.Helper()
	if len(s.clusters) == 0 {
		s.clusters = []string{"prod"}
	}
	if s.timeout == 0 {
		s.timeout = 10 * time.Second
	}
	if s.maxConcurrent == 0 {
		s.maxConcurrent = 4
	}
	if s.breakerThreshold == 0 {
		s.breakerThreshold = 100
	}
	if s.cooldown == 0 {
		s.cooldown = time.Hour
	}
	if s.capacity == 0 {
		s.capacity = 100
	}
	if s.workspaceMax == 0 {
		s.workspaceMax = 4 << 20
	}
	if s.workspaceCheck == 0 {
		s.workspaceCheck = 50 * time.Millisecond
	}
	if s.root == "" {
		s.root = t.TempDir()
	}
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, s.clusters)
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	f := &fixture{
		m: m, logs: logs, root: s.root, cleanupDir: t.TempDir(),
		queues:  queue.NewSet(s.clusters, s.capacity, m, time.Now),
		breaker: breaker.New(s.breakerThreshold, s.cooldown, m.BreakerState, logger),
		served:  make(chan error, 1),
	}
	// GORACE: a race-enabled agent otherwise sleeps a second at exit.
	env := map[string]string{"PATH": "/usr/bin:/bin", "CLEANUP_DIR": f.cleanupDir, "RUNNER_SECRET": "leak", "GORACE": "atexit_sleep_ms=0"}
	agent := Agent{
		Command: os.Args[0], Args: []string{testagent.Arg},
		EnvAllow: []string{"PATH", "CLEANUP_DIR", "GORACE", "NOT_SET"},
		Timeout:  s.timeout, KillGrace: 300 * time.Millisecond, LogMaxBytes: 1 << 20,
		WorkspaceMaxBytes: s.workspaceMax, WorkspaceCheckInterval: s.workspaceCheck,
		ReportFile: "output/investigation.md", ReportMinBytes: 100, CleanupTimeout: 5 * time.Second,
	}
	if s.cleanup {
		agent.CleanupCommand = os.Args[0] + " " + testagent.Arg + " cleanup {{.IncidentID}} {{.Cluster}} {{.FaultType}}"
	}
	o := Options{
		Logger: logger, Metrics: m, Queues: f.queues, Breaker: f.breaker,
		Kubeconfigs: map[string]string{"prod": "/etc/kube/prod.yaml"}, Agent: agent,
		WorkspaceRoot: f.root, AgentsPerCluster: 1, MaxConcurrent: s.maxConcurrent,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Budget:    s.budget, Now: s.now,
		Grouping: s.grouping, RecallMax: 3, Recent: s.recent,
	}
	if s.tweak != nil {
		s.tweak(&o)
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.served <- d.Serve(ctx) }()
	t.Cleanup(func() {
		f.drain(time.Second)
		cancel()
		<-f.served
		f.breaker.Stop()
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return f
}

func (f *fixture) drain(budget time.Duration) {
	f.drainOnce.Do(func() { f.d.Drain(budget) })
}

var seq int

func (f *fixture) push(t *testing.T, cluster, resource string) string {
	t.Helper()
	seq++
	id := "f" + strconv.Itoa(seq)
	res, _, _ := f.queues.Get(cluster).Push(fault.Event{
		Source: fault.SourceMCP, FaultID: id, FaultType: fault.TypeCrashLoop, Severity: "critical",
		Resource: fault.Resource{Kind: "Pod", Name: resource, Namespace: "ns"},
	})
	if res != queue.Queued {
		t.Fatalf("push %s: %v", resource, res)
	}
	return id
}

func (f *fixture) completed(cluster string, s incident.Status) float64 {
	return testutil.ToFloat64(f.m.AgentsCompleted.WithLabelValues(cluster, string(s)))
}

func (f *fixture) waitCompleted(t testing.TB, cluster string, s incident.Status, n float64) {
	t.Helper()
	poll.Until(t, 20*time.Second, fmt.Sprintf("%v %s agents in %s", n, s, cluster), func() bool { return f.completed(cluster, s) >= n })
}

// results reads every result.json under cluster, oldest first.
func (f *fixture) results(t testing.TB, cluster string) []incident.Result {
	t.Helper()
	return testagent.Results(t, f.root, cluster)
}

func TestSuccess(t *testing.T) {
	f := start(t, settings{})
	f.push(t, "prod", "ok-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	rs := f.results(t, "prod")
	if len(rs) != 1 || rs[0].Status != incident.StatusSuccess || rs[0].ExitCode == nil || *rs[0].ExitCode != 0 || rs[0].ReportBytes < 100 {
		t.Fatalf("results %+v", rs)
	}
	ws := filepath.Join(f.root, "prod", rs[0].IncidentID)
	for _, p := range []string{ws, filepath.Join(ws, incident.OutputDir)} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %v, want 0700 (%v)", p, st.Mode().Perm(), err)
		}
	}
	for _, name := range []string{incident.EventFile, incident.LogFile, incident.ResultFile} {
		if st, err := os.Stat(filepath.Join(ws, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600 (%v)", name, st.Mode().Perm(), err)
		}
	}
	var doc incident.EventDocument
	data, _ := os.ReadFile(filepath.Join(ws, incident.EventFile))
	if err := json.Unmarshal(data, &doc); err != nil || doc.Cluster != "prod" || doc.Kubeconfig != "/etc/kube/prod.yaml" || doc.Fault.Resource.Name != "ok-api" {
		t.Errorf("event.json %s (%v)", data, err)
	}
	if got := testutil.ToFloat64(f.m.AgentsSpawned.WithLabelValues("prod")); got != 1 {
		t.Errorf("spawned %v", got)
	}
	if got := testutil.ToFloat64(f.m.AgentsActive.WithLabelValues("prod")); got != 0 {
		t.Errorf("active %v after completion", got)
	}
	if got := testutil.ToFloat64(f.m.AgentsTimeout.WithLabelValues("prod")); got != 0 {
		t.Errorf("timeouts %v", got)
	}
	if n := histogramCount(t, f.m.AgentDuration, "success"); n != 1 {
		t.Errorf("duration observed %d times", n)
	}
	if strings.Contains(f.logs.String(), "Agent execution timeout") {
		t.Error("timeout handling ran for a successful agent")
	}
	if !strings.Contains(f.logs.String(), `"msg":"Incident finished"`) {
		t.Error("no per-incident log line")
	}
}

func TestTimeoutTerminatesAndCleansUp(t *testing.T) {
	f := start(t, settings{timeout: 500 * time.Millisecond, cleanup: true})
	f.push(t, "prod", "partial-api")
	f.waitCompleted(t, "prod", incident.StatusTimeout, 1)
	rs := f.results(t, "prod")
	if len(rs) != 1 || rs[0].Signal != syscall.SIGTERM.String() || rs[0].Killed {
		t.Fatalf("result %+v: want ended by SIGTERM without escalation", rs)
	}
	if got := testutil.ToFloat64(f.m.AgentsTimeout.WithLabelValues("prod")); got != 1 {
		t.Errorf("agents_timeout_total %v", got)
	}
	logs := f.logs.String()
	for _, w := range []string{`"msg":"Agent execution timeout"`, `"level":"WARN"`, `"incident_id":"` + rs[0].IncidentID + `"`, `"timeout_threshold":"500ms"`, `"duration":`, `"msg":"Cleaned up agent workspace"`} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %s", w)
		}
	}
	ws := filepath.Join(f.root, "prod", rs[0].IncidentID)
	entries, _ := os.ReadDir(ws)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "agent.log,event.json,output,result.json" {
		t.Errorf("workspace after timeout holds %v, want only the log, event, result and the agent's output", names)
	}
	// The partial report is the most useful thing a timed-out run leaves.
	if got, _ := os.ReadFile(filepath.Join(ws, "output", "investigation.md")); string(got) != testagent.PartialReport {
		t.Errorf("partial report after timeout: %q, want it kept", got)
	}
	// The cleanup command ran with the incident's fields.
	marks, _ := os.ReadDir(f.cleanupDir)
	if len(marks) != 1 {
		t.Fatalf("cleanup ran %d times, want 1", len(marks))
	}
	got, _ := os.ReadFile(filepath.Join(f.cleanupDir, marks[0].Name()))
	if want := rs[0].IncidentID + " prod CrashLoop"; string(got) != want {
		t.Errorf("cleanup args %q, want %q", got, want)
	}
	if v := testutil.ToFloat64(f.m.AgentCleanups.WithLabelValues("success")); v != 1 {
		t.Errorf("cleanup success count %v", v)
	}
	if strings.Contains(f.logs.String(), `"error":"<nil>"`) {
		t.Error(`a successful cleanup is logged with "error":"<nil>"`)
	}
}

func TestStubbornAgentIsKilled(t *testing.T) {
	f := start(t, settings{timeout: 500 * time.Millisecond})
	f.push(t, "prod", "stubborn-api")
	f.waitCompleted(t, "prod", incident.StatusTimeout, 1)
	rs := f.results(t, "prod")
	if !rs[0].Killed || rs[0].Signal != syscall.SIGKILL.String() {
		t.Fatalf("result %+v: want SIGKILL after the grace period", rs[0])
	}
}

func TestGrandchildrenDoNotSurvive(t *testing.T) {
	f := start(t, settings{timeout: 700 * time.Millisecond})
	f.push(t, "prod", "forker-api")
	f.waitCompleted(t, "prod", incident.StatusTimeout, 1)
	rs := f.results(t, "prod")
	log, _ := os.ReadFile(filepath.Join(f.root, "prod", rs[0].IncidentID, incident.LogFile))
	pids := testagent.GrandchildPIDs(string(log))
	if len(pids) != 2 {
		t.Fatalf("log %q: want two grandchildren", log)
	}
	testagent.AssertGone(t, 2*time.Second, "the grandchildren of a timed-out agent", pids...)
}

func TestFailures(t *testing.T) {
	f := start(t, settings{})
	f.push(t, "prod", "fail-api")
	f.push(t, "prod", "noreport-api")
	f.push(t, "prod", "short-api")
	f.waitCompleted(t, "prod", incident.StatusFailure, 3)
	var reasons []string
	for _, r := range f.results(t, "prod") {
		reasons = append(reasons, r.Reason)
	}
	want := []string{"agent exited with code 3", "agent wrote no report", "under the 100-byte minimum"}
	for i, w := range want {
		if i >= len(reasons) || !strings.Contains(reasons[i], w) {
			t.Errorf("reason %d %q, want it to mention %q", i, reasons, w)
		}
	}
}

func TestAgentEnvironmentIsOnlyWhatIsAllowed(t *testing.T) {
	f := start(t, settings{})
	f.push(t, "prod", "env-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	rs := f.results(t, "prod")
	report, _ := os.ReadFile(filepath.Join(f.root, "prod", rs[0].IncidentID, "output", "investigation.md"))
	var names []string
	for _, line := range strings.Split(string(report), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok {
			names = append(names, k)
		}
	}
	want := []string{"CLEANUP_DIR", "CLUSTER", "EVENT_FILE", "FAULT_ID", "FAULT_SOURCE", "FAULT_TYPE", "GORACE", "GROUP_KEY", "GROUP_SIZE", "INCIDENT_ID", "KUBECONFIG", MarkerName, "PATH",
		"REPORT_FILE", "RESOURCE_KIND", "RESOURCE_NAME", "RESOURCE_NAMESPACE", "SEVERITY", "USAGE_FILE", "WORKSPACE"}
	if !slices.Equal(names, want) {
		t.Fatalf("agent environment %v,\nwant exactly %v", names, want)
	}
	if !strings.Contains(string(report), "FAULT_SOURCE=mcp\n") {
		t.Errorf("the agent does not see the fault's source:\n%s", report)
	}
}

func TestBreakerOpensHoldsAndCloses(t *testing.T) {
	f := start(t, settings{breakerThreshold: 2, cooldown: 300 * time.Millisecond})
	f.push(t, "prod", "fail-1")
	f.push(t, "prod", "fail-2")
	f.waitCompleted(t, "prod", incident.StatusFailure, 2)
	// The outcome is counted just before it is reported to the breaker.
	poll.Until(t, 5*time.Second, "the breaker to open after two consecutive failures", f.breaker.IsOpen)
	if testutil.ToFloat64(f.m.BreakerState) != 1 {
		t.Fatal("breaker did not open after two consecutive failures")
	}
	// While open nothing launches; after the cooldown one probe runs.
	f.push(t, "prod", "ok-probe")
	f.push(t, "prod", "ok-after")
	time.Sleep(100 * time.Millisecond)
	if got := testutil.ToFloat64(f.m.AgentsSpawned.WithLabelValues("prod")); got != 2 {
		t.Fatalf("spawned %v agents while the breaker was open", got)
	}
	f.waitCompleted(t, "prod", incident.StatusSuccess, 2)
	poll.Until(t, 5*time.Second, "the breaker to close after a successful probe", func() bool { return f.breaker.State() == breaker.Closed })
	rs := f.results(t, "prod")
	if rs[2].StartedAt.Before(rs[1].EndedAt) && rs[3].StartedAt.Before(rs[2].EndedAt) {
		t.Error("the agent after the probe started before the probe finished")
	}
	logs := f.logs.String()
	for _, w := range []string{`"to":"open"`, `"to":"half-open"`, `"to":"closed"`} {
		if !strings.Contains(logs, w) {
			t.Errorf("transition %s not logged", w)
		}
	}
}

// TestFairAcrossClusters: with one global slot, a cluster with a backlog of
// ten cannot keep a cluster with two waiting behind all of it.
func TestFairAcrossClusters(t *testing.T) {
	f := start(t, settings{clusters: []string{"noisy", "calm"}, maxConcurrent: 1})
	for i := range 10 {
		f.push(t, "noisy", "ok-n"+strconv.Itoa(i))
	}
	f.push(t, "calm", "ok-c1")
	f.push(t, "calm", "ok-c2")
	f.waitCompleted(t, "noisy", incident.StatusSuccess, 10)
	f.waitCompleted(t, "calm", incident.StatusSuccess, 2)
	type run struct {
		cluster string
		at      time.Time
	}
	var all []run
	for _, c := range []string{"noisy", "calm"} {
		for _, r := range f.results(t, c) {
			all = append(all, run{c, r.StartedAt})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	lastCalm := -1
	for i, r := range all {
		if r.cluster == "calm" {
			lastCalm = i
		}
	}
	if lastCalm > 4 {
		t.Fatalf("calm's second incident ran at position %d of 12; dispatch is not fair", lastCalm+1)
	}
}

// TestDrainWithThreeClusters: three agents in flight at shutdown; the one
// that finishes within the budget completes, the two that do not are
// interrupted and recorded as such.
func TestDrainWithThreeClusters(t *testing.T) {
	f := start(t, settings{clusters: []string{"a", "b", "c"}, cleanup: true})
	f.push(t, "a", "slow-api")
	f.push(t, "b", "hang-db")
	f.push(t, "c", "stubborn-cache")
	poll.Until(t, 10*time.Second, "three agents running at once", func() bool { return f.d.InFlight() >= 3 })
	start := time.Now()
	var report = f.d.Drain(1500 * time.Millisecond)
	f.drainOnce.Do(func() {})
	took := time.Since(start)
	if len(report.Completed) != 1 || len(report.Interrupted) != 2 {
		t.Fatalf("drain report %+v, want one completed and two interrupted", report)
	}
	if !strings.HasPrefix(report.Completed[0], "f") {
		t.Errorf("completed %v", report.Completed)
	}
	if took > 1500*time.Millisecond+2*time.Second {
		t.Errorf("drain took %v, budget 1.5 s + grace", took)
	}
	if f.completed("a", incident.StatusSuccess) != 1 || f.completed("b", incident.StatusInterrupted) != 1 || f.completed("c", incident.StatusInterrupted) != 1 {
		t.Error("statuses not counted as success/interrupted/interrupted")
	}
	for _, c := range []string{"b", "c"} {
		rs := f.results(t, c)
		if len(rs) != 1 || rs[0].Status != incident.StatusInterrupted {
			t.Errorf("cluster %s result %+v, want interrupted", c, rs)
		}
	}
	if f.d.InFlight() != 0 {
		t.Errorf("%d agents still in flight after Drain", f.d.InFlight())
	}
	// Nothing launches after the drain.
	f.push(t, "a", "ok-late")
	time.Sleep(200 * time.Millisecond)
	if got := testutil.ToFloat64(f.m.AgentsSpawned.WithLabelValues("a")); got != 1 {
		t.Errorf("an agent launched after the drain")
	}
}

func TestRecoverLeftovers(t *testing.T) {
	root := t.TempDir()
	ws := filepath.Join(root, "prod", "f9-crashed")
	if err := os.MkdirAll(ws, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(filepath.Join(ws, incident.EventFile), incident.EventDocument{IncidentID: "f9-crashed", Cluster: "prod"}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"prod"})
	cleanupDir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	brk := breaker.New(5, time.Minute, m.BreakerState, logger)
	defer brk.Stop()
	d, err := New(Options{
		Logger: logger, Metrics: m, Queues: queue.NewSet([]string{"prod"}, 10, m, time.Now), Breaker: brk,
		Agent: Agent{Command: "/bin/true", Timeout: time.Second, KillGrace: 100 * time.Millisecond, CleanupTimeout: 5 * time.Second,
			EnvAllow:       []string{"CLEANUP_DIR"},
			CleanupCommand: os.Args[0] + " " + testagent.Arg + " cleanup {{.IncidentID}}"},
		WorkspaceRoot: root, AgentsPerCluster: 1, MaxConcurrent: 1,
		LookupEnv: func(k string) (string, bool) { return cleanupDir, k == "CLEANUP_DIR" },
	})
	if err != nil {
		t.Fatal(err)
	}
	d.recoverLeftovers()
	var r incident.Result
	data, _ := os.ReadFile(filepath.Join(ws, incident.ResultFile))
	if err := json.Unmarshal(data, &r); err != nil || r.Status != incident.StatusInterrupted {
		t.Fatalf("left-over result %s (%v)", data, err)
	}
	marks, _ := os.ReadDir(cleanupDir)
	if len(marks) != 1 {
		t.Fatalf("cleanup ran %d times for the left-over incident", len(marks))
	}
}

func TestTemplateErrorsAreConfigErrors(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, nil)
	_, err := New(Options{Metrics: m, Logger: slog.New(slog.DiscardHandler), Agent: Agent{Args: []string{"{{.NoSuchField}}"}}})
	if err == nil || !strings.Contains(err.Error(), "--agent-arg") {
		t.Fatalf("err = %v", err)
	}
	_, err = New(Options{Metrics: m, Logger: slog.New(slog.DiscardHandler), Agent: Agent{ReportFile: "../escape.md"}})
	if err == nil || !strings.Contains(err.Error(), "--agent-report-file") {
		t.Fatalf("err = %v", err)
	}
}

func TestIncidentIDIsSafe(t *testing.T) {
	id := incidentID(queue.Item{Event: fault.Event{FaultID: "../.."}}, time.Unix(0, 42))
	if strings.ContainsAny(id, "./") || filepath.Base(id) != id {
		t.Fatalf("incident id %q is not a safe path component", id)
	}
}

func TestWorkspaceCapStopsAgent(t *testing.T) {
	f := start(t, settings{})
	f.push(t, "prod", "filler-api")
	f.waitCompleted(t, "prod", incident.StatusFailure, 1)
	rs := f.results(t, "prod")
	if len(rs) != 1 || !strings.Contains(rs[0].Reason, "workspace grew past") {
		t.Fatalf("result %+v", rs)
	}
	if size := workspace.Size(filepath.Join(f.root, "prod", rs[0].IncidentID)); size > 16<<20 {
		t.Errorf("workspace reached %d bytes; the cap is 4 MiB", size)
	}
}

func TestFloodedOutputIsCapped(t *testing.T) {
	f := start(t, settings{})
	f.push(t, "prod", "flood-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	rs := f.results(t, "prod")
	if !rs[0].OutputTruncated {
		t.Errorf("10 MB of output not reported truncated")
	}
	st, err := os.Stat(filepath.Join(f.root, "prod", rs[0].IncidentID, incident.LogFile))
	if err != nil || st.Size() > (1<<20)+200 {
		t.Errorf("agent.log %v bytes, cap 1 MiB (%v)", st.Size(), err)
	}
}
