package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// seedMetrics are the names and label sets of seed section 2, plus ours.
var seedMetrics = map[string][]string{
	"events_received_total":                {"cluster", "severity"},
	"events_filtered_total":                {"cluster", "reason"},
	"events_queued_total":                  {"cluster"},
	"events_expired_total":                 {"cluster"},
	"events_dequeued_total":                {"cluster"},
	"queue_depth":                          {"cluster"},
	"agents_spawned_total":                 {"cluster"},
	"agents_completed_total":               {"cluster", "status"},
	"agents_timeout_total":                 {"cluster"},
	"agents_active":                        {"cluster"},
	"agent_duration_seconds":               {"status"},
	"circuit_breaker_state":                nil,
	"circuit_breaker_events_dropped_total": {"cluster"},
	"sse_connections_active":               {"cluster"},
	"sse_reconnections_total":              {"cluster", "reason"},
	"sse_connection_errors_total":          {"cluster", "reason"},
	"sse_connection_duration_seconds":      nil,
	"build_info":                           {"build_date", "git_commit", "version"},
	"up":                                   nil,
	// Ours, beyond the seed.
	"events_displaced_total":         {"cluster"},
	"agent_cleanups_total":           {"outcome"},
	"service_restarts_total":         {"service"},
	"events_restored_total":          {"cluster"},
	"incidents_requeued_total":       {"cluster"},
	"incidents_abandoned_total":      {"cluster"},
	"state_write_errors_total":       {"op"},
	"state_corruptions_total":        nil,
	"agent_leftover_processes_total": {"cluster"},
	"agent_cost_usd_total":           {"cluster"},
	"agent_tokens_total":             {"cluster", "kind"},
	"agent_usage_invalid_total":      {"cluster"},
	"agent_over_max_cost_total":      {"cluster"},
	"launches_held_total":            {"cluster", "reason"},
	"sse_disconnected_seconds_total": {"cluster"},
	"events_reconciled_total":        {"cluster"},
	"reconcile_duration_seconds":     nil,
	"reconcile_failures_total":       {"cluster", "reason"},

	"workspaces":                         nil,
	"workspaces_bytes":                   nil,
	"workspaces_removed_total":           {"reason"},
	"workspace_remove_errors_total":      nil,
	"config_reloads_total":               {"result"},
	"alertmanager_notifications_total":   {"result"},
	"alertmanager_alerts_received_total": {"cluster", "severity"},
	"alertmanager_alerts_total":          {"cluster", "outcome"},
	"events_resolved_total":              {"cluster"},
	"events_grouped_total":               {"cluster"},
	"events_related_total":               {"cluster"},
	"events_deferred_total":              {},
	"topology_lookups_skipped_total":     {"cluster"},
	"incident_feedback_total":            {"cluster", "verdict"},
	"events_handed_over_total":           nil,
	"shard_info":                         {"shard", "total_shards"},
}

// populated returns metrics with one series of every vector.
func populated(t *testing.T) (*prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg, BuildInfo{Version: "1.2.3", GitCommit: "abc", BuildDate: "2026-11-26"}, []string{"prod"})
	m.EventsReceived.WithLabelValues("prod", "critical").Inc()
	m.EventsFiltered.WithLabelValues("prod", "duplicate").Inc()
	m.AgentsCompleted.WithLabelValues("prod", "success").Inc()
	m.AgentDuration.WithLabelValues("success").Observe(3)
	m.SSEReconnections.WithLabelValues("prod", "connection_refused").Inc()
	m.SSEConnectionErrors.WithLabelValues("prod", "connection_refused").Inc()
	m.SSEConnectionDuration.Observe(100)
	m.AgentCleanups.WithLabelValues("success").Inc()
	m.AlertmanagerAlertsReceived.WithLabelValues("prod", "warning").Inc()
	m.AlertmanagerAlerts.WithLabelValues("prod", "queued").Inc()
	m.ShardInfo.WithLabelValues("0", "1").Set(1)
	// Families beyond the seed that appear on first use.
	for _, v := range []*prometheus.CounterVec{m.EventsDisplaced, m.EventsReconciled, m.EventsRestored,
		m.IncidentsRequeued, m.IncidentsAbandoned, m.EventsResolved, m.AgentLeftoverProcesses} {
		v.WithLabelValues("prod").Inc()
	}
	m.ReconcileFailures.WithLabelValues("prod", "timeout").Inc()
	for _, v := range []*prometheus.CounterVec{m.EventsGrouped, m.EventsRelated, m.TopologySkipped} {
		v.WithLabelValues("prod").Inc()
	}
	m.IncidentFeedback.WithLabelValues("prod", "wrong").Inc()
	m.Budget.addCluster("prod")
	return reg, m
}

func TestEveryMetricRegisteredWithItsLabels(t *testing.T) {
	reg, _ := populated(t)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, mf := range families {
		name := strings.TrimPrefix(mf.GetName(), Namespace+"_")
		if name == mf.GetName() {
			t.Errorf("metric %s lacks the %s_ prefix", mf.GetName(), Namespace)
		}
		var labels []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName())
		}
		slices.Sort(labels)
		got[name] = labels
	}
	for name, want := range seedMetrics {
		labels, ok := got[name]
		if !ok {
			t.Errorf("metric %s is not registered", name)
			continue
		}
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(labels, w) {
			t.Errorf("metric %s labels %v, want %v", name, labels, w)
		}
	}
	if len(got) != len(seedMetrics) {
		t.Errorf("registered %d metrics, want %d", len(got), len(seedMetrics))
	}
}

func TestLintClean(t *testing.T) {
	reg, _ := populated(t)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestHistogramBuckets(t *testing.T) {
	reg, _ := populated(t)
	families, _ := reg.Gather()
	want := map[string][]float64{
		Namespace + "_agent_duration_seconds":          {1, 5, 10, 30, 60, 120, 300},
		Namespace + "_sse_connection_duration_seconds": {60, 300, 600, 1800, 3600, 7200, 14400},
	}
	for _, mf := range families {
		w, ok := want[mf.GetName()]
		if !ok {
			continue
		}
		if mf.GetType() != dto.MetricType_HISTOGRAM {
			t.Fatalf("%s is %v", mf.GetName(), mf.GetType())
		}
		var bounds []float64
		for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
		}
		if !slices.Equal(bounds, w) {
			t.Errorf("%s buckets %v, want %v", mf.GetName(), bounds, w)
		}
		delete(want, mf.GetName())
	}
	if len(want) != 0 {
		t.Errorf("histograms not found: %v", want)
	}
}

func TestBuildInfoAndUp(t *testing.T) {
	_, m := populated(t)
	if v := testutil.ToFloat64(m.BuildInfo.WithLabelValues("1.2.3", "abc", "2026-11-26")); v != 1 {
		t.Errorf("build_info = %v", v)
	}
	if v := testutil.ToFloat64(m.Up); v != 1 {
		t.Errorf("up = %v", v)
	}
}

// TestLabelCardinalityIsBounded: the series count depends only on the
// configured clusters and the fixed value sets, whatever the traffic.
func TestLabelCardinalityIsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	clusters := []string{"a", "b", "c"}
	m := New(reg, BuildInfo{}, clusters)
	for _, c := range clusters {
		for _, s := range Severities {
			m.EventsReceived.WithLabelValues(c, s).Inc()
		}
		for _, r := range FilterReasons {
			m.EventsFiltered.WithLabelValues(c, r).Inc()
		}
		for _, s := range AgentStatuses {
			m.AgentsCompleted.WithLabelValues(c, s).Inc()
		}
		for _, r := range ConnectionReasons {
			m.SSEConnectionErrors.WithLabelValues(c, r).Inc()
		}
	}
	limit := len(clusters) * (len(Severities) + len(FilterReasons) + len(AgentStatuses) + len(ConnectionReasons))
	n := testutil.CollectAndCount(m.EventsReceived) + testutil.CollectAndCount(m.EventsFiltered) +
		testutil.CollectAndCount(m.AgentsCompleted) + testutil.CollectAndCount(m.SSEConnectionErrors)
	if n != limit {
		t.Fatalf("%d series, want exactly %d", n, limit)
	}
}

// TestAnIdleClusterStartsWithItsBudgetOfSeries: a configured cluster adds
// exactly the pre-created series of the cardinality budget, and none of
// the families that appear on first use.
func TestAnIdleClusterStartsWithItsBudgetOfSeries(t *testing.T) {
	count := func(n int) int {
		reg := prometheus.NewRegistry()
		clusters := make([]string, n)
		for i := range clusters {
			clusters[i] = "c" + strconv.Itoa(i)
		}
		New(reg, BuildInfo{}, clusters)
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, mf := range families {
			for _, s := range mf.GetMetric() {
				total++
				if h := s.GetHistogram(); h != nil {
					total += len(h.GetBucket()) + 2 // +Inf, _sum and _count beside the buckets
				}
			}
		}
		return total
	}
	if got := count(11) - count(10); got != PreCreatedPerCluster {
		t.Fatalf("one more cluster adds %d series, want %d", got, PreCreatedPerCluster)
	}
}

func TestHandlerServesExpositionAndSurvivesFailingCollector(t *testing.T) {
	reg, _ := populated(t)
	srv := httptest.NewServer(Handler(reg, 0, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "kubernetes_mcp_runner_up 1") {
		t.Fatalf("status %d body %.200s", resp.StatusCode, body)
	}

	reg.MustRegister(failingCollector{})
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("failing collector: status %d, want 500", resp.StatusCode)
	}
}

type failingCollector struct{}

var failingDesc = prometheus.NewDesc("failing_metric", "Always fails.", nil, nil)

func (failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- failingDesc }
func (failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(failingDesc, io.ErrUnexpectedEOF)
}

// The cleanup outcomes are exported at 0 before any cleanup ran, so the
// alert on their increase sees the first failure.
func TestCleanupOutcomesExistBeforeTheFirstCleanup(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, BuildInfo{}, nil)
	n, err := testutil.GatherAndCount(reg, "kubernetes_mcp_runner_agent_cleanups_total")
	if err != nil || n != len(CleanupOutcome) {
		t.Fatalf("%d cleanup series before any cleanup (%v), want one per outcome (%d)", n, err, len(CleanupOutcome))
	}
}
