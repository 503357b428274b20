package intake

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

type fakeBreaker struct{ open atomic.Bool }

func (b *fakeBreaker) IsOpen() bool { return b.open.Load() }

type fixture struct {
	in      *Intake
	m       *metrics.Metrics
	queues  *queue.Set
	breaker *fakeBreaker
	logs    *bytes.Buffer
	now     *time.Time
}

func newFixture(t *testing.T, capacity int) *fixture {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"prod", "quiet"})
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	f := &fixture{m: m, breaker: &fakeBreaker{}, logs: &bytes.Buffer{}, now: &now}
	clock := func() time.Time { return *f.now }
	f.queues = queue.NewSet([]string{"prod", "quiet"}, capacity, m, clock)
	f.in = New(Options{
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Metrics: m, Queues: f.queues, Breaker: f.breaker,
		Clusters:    map[string]ClusterPolicy{"prod": {Triage: true}, "quiet": {Triage: false}},
		MinSeverity: fault.SeverityWarning, DedupWindow: 15 * time.Minute, DedupEntries: 100, Now: clock,
	})
	return f
}

func event(id, sev, cluster string) fault.Event {
	return fault.Event{Source: fault.SourceMCP, Cluster: cluster, FaultID: id, FaultType: fault.TypeCrashLoop, Severity: sev,
		Resource: fault.Resource{Kind: "Pod", Name: "p", Namespace: "ns"}}
}

func (f *fixture) filtered(cluster, reason string) float64 {
	return testutil.ToFloat64(f.m.EventsFiltered.WithLabelValues(cluster, reason))
}

func TestQueuedWithMetrics(t *testing.T) {
	f := newFixture(t, 10)
	if got := f.in.Submit("prod", event("abc", "critical", "prod")); got != Queued {
		t.Fatalf("outcome %s", got)
	}
	if got := testutil.ToFloat64(f.m.EventsReceived.WithLabelValues("prod", "critical")); got != 1 {
		t.Errorf("received %v", got)
	}
	if got := testutil.ToFloat64(f.m.EventsQueued.WithLabelValues("prod")); got != 1 {
		t.Errorf("queued %v", got)
	}
	if got := f.queues.Get("prod").Len(); got != 1 {
		t.Errorf("queue length %d", got)
	}
}

func TestEachFilterReason(t *testing.T) {
	f := newFixture(t, 1)
	cases := []struct {
		name    string
		cluster string
		event   fault.Event
		want    Outcome
	}{
		{"malformed: no faultId", "prod", event("", "critical", "prod"), Malformed},
		{"malformed: no source", "prod", fault.Event{FaultID: "s", FaultType: fault.TypeCrashLoop, Severity: "critical"}, Malformed},
		{"malformed: oversized", "prod", event("big", "critical", strings.Repeat("x", fault.MaxFieldBytes+1)), Malformed},
		{"severity_low", "prod", event("low", "info", "prod"), SeverityLow},
		{"unknown severity is low", "prod", event("odd", "fatal", "prod"), SeverityLow},
		{"triage_disabled", "quiet", event("q", "critical", "quiet"), TriageDisabled},
		{"first is queued", "prod", event("one", "warning", "prod"), Queued},
		{"duplicate while queued", "prod", event("one", "warning", "prod"), Duplicate},
		{"queue_full", "prod", event("two", "warning", "prod"), QueueFull},
	}
	for _, tc := range cases {
		if got := f.in.Submit(tc.cluster, tc.event); got != tc.want {
			t.Errorf("%s: outcome %s, want %s", tc.name, got, tc.want)
		}
	}
	if got := f.in.Malformed("prod", fault.SourceMCP, errors.New("not JSON")); got != Malformed {
		t.Errorf("undecodable payload: outcome %s, want malformed", got)
	}
	for reason, want := range map[string]float64{"malformed": 4, "severity_low": 2, "duplicate": 1, "queue_full": 1} {
		if got := f.filtered("prod", reason); got != want {
			t.Errorf("filtered{prod,%s} = %v, want %v", reason, got, want)
		}
	}
	if got := f.filtered("quiet", "triage_disabled"); got != 1 {
		t.Errorf("filtered{quiet,triage_disabled} = %v", got)
	}
	if !strings.Contains(f.logs.String(), "Dropped malformed fault notification") || !strings.Contains(f.logs.String(), `"cluster":"prod"`) {
		t.Errorf("malformed drop not logged with its cluster: %s", f.logs.String())
	}
	// Malformed payloads are received with severity unknown, so the books balance.
	if got := testutil.ToFloat64(f.m.EventsReceived.WithLabelValues("prod", "unknown")); got != 5 {
		t.Errorf("received{unknown} = %v, want 5 (4 malformed + 1 unknown severity)", got)
	}
}

func TestDuplicateWithinWindowAfterDequeue(t *testing.T) {
	f := newFixture(t, 10)
	q := f.queues.Get("prod")
	f.in.Submit("prod", event("a", "warning", "prod"))
	it, _ := q.TryPop()
	if got := f.in.Submit("prod", event("a", "warning", "prod")); got != Duplicate {
		t.Fatalf("repeat while in flight: %s", got)
	}
	q.Release(it.Event.FaultID)
	*f.now = f.now.Add(14 * time.Minute)
	if got := f.in.Submit("prod", event("a", "warning", "prod")); got != Duplicate {
		t.Fatalf("repeat within window: %s", got)
	}
	*f.now = f.now.Add(2 * time.Minute)
	if got := f.in.Submit("prod", event("a", "warning", "prod")); got != Queued {
		t.Fatalf("repeat after window: %s", got)
	}
}

func TestDedupMemoryIsBounded(t *testing.T) {
	d := newDedupMemory(time.Hour, 100)
	now := time.Now()
	for i := range 10000 {
		d.remember(string(rune('a'+i%26))+strings.Repeat("x", i%7)+time.Duration(i).String(), now)
	}
	if d.Len() > 100 {
		t.Fatalf("dedup memory holds %d ids, bound 100", d.Len())
	}
}

func TestBreakerOpenDropsAndCounts(t *testing.T) {
	f := newFixture(t, 10)
	f.breaker.open.Store(true)
	if got := f.in.Submit("prod", event("deadbeef", "critical", "prod")); got != BreakerOpen {
		t.Fatalf("outcome %s", got)
	}
	if got := testutil.ToFloat64(f.m.BreakerEventsDropped.WithLabelValues("prod")); got != 1 {
		t.Errorf("dropped %v", got)
	}
	if !strings.Contains(f.logs.String(), `"fault_id":"deadbeef"`) {
		t.Errorf("drop not logged with its faultId")
	}
}

func TestForeignNamesAreNotLabels(t *testing.T) {
	f := newFixture(t, 10)
	if got := f.in.Submit("prod", event("x1", "critical", "some-other-name")); got != Queued {
		t.Fatalf("outcome %s", got)
	}
	if got := f.in.Submit("not-configured", event("x2", "critical", "prod")); got != UnknownCluster {
		t.Fatalf("unconfigured cluster: outcome %s", got)
	}
	// Only the configured cluster's series exists (one severity, on first
	// use); the name the fault carried and the unconfigured one are none.
	if n := testutil.CollectAndCount(f.m.EventsReceived); n != 1 {
		t.Errorf("%d received series; a name configuration did not declare must not become a label", n)
	}
}

func TestDisplacementIsCounted(t *testing.T) {
	f := newFixture(t, 1)
	f.in.Submit("prod", event("w", "warning", "prod"))
	if got := f.in.Submit("prod", event("c", "critical", "prod")); got != Queued {
		t.Fatalf("critical into full queue: %s", got)
	}
	if f.filtered("prod", "queue_full") != 1 || testutil.ToFloat64(f.m.EventsDisplaced.WithLabelValues("prod")) != 1 {
		t.Errorf("displacement not counted as queue_full and displaced")
	}
}

// TestUpperCaseSeverityIsNormalised: a server that sends "CRITICAL" or
// " Warning " is heard as critical and warning, not filtered as
// severity_low under the unknown label.
func TestUpperCaseSeverityIsNormalised(t *testing.T) {
	f := newFixture(t, 10)
	for id, sev := range map[string]string{"u1": "CRITICAL", "u2": " Warning "} {
		if got := f.in.Submit("prod", event(id, sev, "prod")); got != Queued {
			t.Errorf("severity %q: outcome %s, want queued", sev, got)
		}
	}
	for _, sev := range []string{"critical", "warning"} {
		if got := testutil.ToFloat64(f.m.EventsReceived.WithLabelValues("prod", sev)); got != 1 {
			t.Errorf("received{severity=%q} = %v, want 1", sev, got)
		}
	}
	if got := testutil.ToFloat64(f.m.EventsFiltered.WithLabelValues("prod", string(SeverityLow))); got != 0 {
		t.Errorf("%v faults filtered as severity_low", got)
	}
}
