package dispatch

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/budget"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
)

// ledgerGate is the real ledger as dispatch's Admitter, as the
// composition adapts it.
type ledgerGate struct{ l *budget.Ledger }

func (g ledgerGate) Admit(cluster string, now time.Time) Admission {
	res, d := g.l.Admit(cluster, now)
	if !d.Allowed {
		return Admission{Reason: string(d.Reason), RetryAt: d.RetryAt}
	}
	return Admission{Allowed: true,
		Charge: func(u incident.Usage, at time.Time) float64 { return g.l.Charge(res, u, at) },
		Cancel: func() { g.l.Cancel(res) },
	}
}

func newLedger(t *testing.T, o budget.Options) *budget.Ledger {
	t.Helper()
	o.Store = &budget.MemoryStore{}
	l, err := budget.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// quickWait lets a held worker ask again at once: the tests wait on what
// the ledger holds, not on time.
func quickWait(ctx context.Context, _ time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Millisecond):
	}
}

func held(f *fixture, cluster, reason string) float64 {
	return testutil.ToFloat64(f.m.Budget.LaunchesHeld.WithLabelValues(cluster, reason))
}

func (f *fixture) waitHeld(t *testing.T, cluster string, reason budget.Reason, n float64) {
	t.Helper()
	poll.Until(t, 20*time.Second, "launches held by "+string(reason), func() bool { return held(f, cluster, string(reason)) >= n })
}

func cost(f *fixture, cluster string) float64 {
	return testutil.ToFloat64(f.m.Budget.CostUSD.WithLabelValues(cluster))
}

// Runs that report 40 cents against a $1 day: the third crosses the
// budget, and no fourth starts; the rest stay queued.
func TestBudgetDailyLimitHoldsLaunches(t *testing.T) {
	l := newLedger(t, budget.Options{Global: budget.Limits{USDPerDay: 1}})
	f := start(t, settings{maxConcurrent: 1, budget: Budget{Admitter: ledgerGate{l}, Wait: quickWait}})
	for i := range 5 {
		f.push(t, "prod", "paid-"+string(rune('a'+i)))
	}
	f.waitCompleted(t, "prod", incident.StatusSuccess, 3)
	// Held many times after the third: the worker kept asking and was
	// refused each time.
	f.waitHeld(t, "prod", budget.GlobalUSDPerDay, 3)
	if got := f.completed("prod", incident.StatusSuccess); got != 3 {
		t.Errorf("%v runs, want 3 ($1.20 crossed $1 on the third)", got)
	}
	if got := f.queues.Get("prod").Len(); got != 2 {
		t.Errorf("%d faults queued, want the 2 held ones", got)
	}
	if got := cost(f, "prod"); math.Abs(got-1.2) > 1e-9 {
		t.Errorf("agent_cost_usd_total %v, want 1.2", got)
	}
	if got := testutil.ToFloat64(f.m.Budget.Tokens.WithLabelValues("prod", "input")); got != 300 {
		t.Errorf("input tokens %v, want 300", got)
	}
	for _, r := range f.results(t, "prod") {
		if r.Spend == nil || r.Spend.CostUSD == nil || *r.Spend.CostUSD != 0.40 || r.Spend.ChargedUSD != 0.40 {
			t.Errorf("result %s spend %+v, want 0.40 reported and charged", r.IncidentID, r.Spend)
		}
	}
}

// The runs limit in a rolling hour, through dispatch: two runs, then the
// third waits until the first leaves the window.
func TestBudgetRunsPerHourThroughDispatch(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))
	l := newLedger(t, budget.Options{Global: budget.Limits{RunsPerHour: 2}, Now: clock.Now})
	f := start(t, settings{now: clock.Now, budget: Budget{Admitter: ledgerGate{l}, Wait: quickWait}})
	for _, n := range []string{"ok-1", "ok-2", "ok-3"} {
		f.push(t, "prod", n)
	}
	f.waitCompleted(t, "prod", incident.StatusSuccess, 2)
	f.waitHeld(t, "prod", budget.GlobalRunsPerHour, 2)
	if got := f.completed("prod", incident.StatusSuccess); got != 2 {
		t.Fatalf("%v runs within the hour, want 2", got)
	}
	clock.Advance(time.Hour + time.Second)
	f.waitCompleted(t, "prod", incident.StatusSuccess, 3)
}

// A cluster's own budget holds that cluster only; the global one still
// holds the total, and other clusters keep running.
func TestBudgetPerClusterBesideGlobal(t *testing.T) {
	l := newLedger(t, budget.Options{Global: budget.Limits{USDPerDay: 1.5},
		Clusters: map[string]budget.Limits{"prod": {USDPerDay: 0.4}}})
	f := start(t, settings{clusters: []string{"prod", "staging"}, maxConcurrent: 1,
		budget: Budget{Admitter: ledgerGate{l}, Wait: quickWait}})
	for _, n := range []string{"paid-p1", "paid-p2", "paid-p3"} {
		f.push(t, "prod", n)
	}
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	f.waitHeld(t, "prod", budget.ClusterUSDPerDay, 2)
	for _, n := range []string{"paid-s1", "paid-s2", "paid-s3", "paid-s4", "paid-s5"} {
		f.push(t, "staging", n)
	}
	// staging runs until the global $1.50 is spent: 0.40 + 3 × 0.40.
	f.waitCompleted(t, "staging", incident.StatusSuccess, 3)
	f.waitHeld(t, "staging", budget.GlobalUSDPerDay, 2)
	if p, s := f.completed("prod", incident.StatusSuccess), f.completed("staging", incident.StatusSuccess); p != 1 || s != 3 {
		t.Errorf("prod %v runs, staging %v; want 1 (its own $0.40) and 3 (the global $1.50)", p, s)
	}
	if got := f.queues.Get("prod").Len(); got != 2 {
		t.Errorf("prod queued %d, want 2 held", got)
	}
}

// A malformed and an oversized usage file are refused, counted and
// charged the default cost; the incidents still succeed.
func TestBudgetInvalidUsageCountsAsUnreported(t *testing.T) {
	l := newLedger(t, budget.Options{DefaultCostUSD: 0.1})
	f := start(t, settings{budget: Budget{Admitter: ledgerGate{l}}})
	f.push(t, "prod", "badusage-1")
	f.push(t, "prod", "bigusage-1")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 2)
	if got := testutil.ToFloat64(f.m.Budget.UsageInvalid.WithLabelValues("prod")); got != 2 {
		t.Errorf("agent_usage_invalid_total %v, want 2", got)
	}
	if got := cost(f, "prod"); math.Abs(got-0.2) > 1e-9 {
		t.Errorf("cost %v, want 2 × the default 0.1", got)
	}
	rs := f.results(t, "prod")
	if len(rs) != 2 {
		t.Fatalf("%d results", len(rs))
	}
	for _, r := range rs {
		if r.Status != incident.StatusSuccess || r.Spend == nil || r.Spend.CostUSD != nil || r.Spend.UsageInvalid == "" || r.Spend.ChargedUSD != 0.1 {
			t.Errorf("result %+v spend %+v: want success, unreported, the refusal named, 0.1 charged", r, r.Spend)
		}
		if len(r.Spend.UsageInvalid) > 310 {
			t.Errorf("refusal not cut: %d bytes", len(r.Spend.UsageInvalid))
		}
	}
	if !strings.Contains(f.logs.String(), "Agent usage file refused") {
		t.Error("no log line for the refused usage file")
	}
}

// An agent that exits non-zero after writing usage was billed: its cost
// and tokens count.
func TestBudgetFailedRunIsStillCharged(t *testing.T) {
	l := newLedger(t, budget.Options{})
	f := start(t, settings{budget: Budget{Admitter: ledgerGate{l}}})
	f.push(t, "prod", "paidfail-1")
	f.waitCompleted(t, "prod", incident.StatusFailure, 1)
	if got := cost(f, "prod"); got != 0.25 {
		t.Errorf("cost %v, want 0.25", got)
	}
	if got := l.Status().Global.SpentUSD; got != 0.25 {
		t.Errorf("ledger spent %v, want 0.25", got)
	}
	rs := f.results(t, "prod")
	if len(rs) != 1 || rs[0].Spend == nil || rs[0].Spend.Model != "test-model" || *rs[0].Spend.OutputTokens != 200 {
		t.Fatalf("results %+v", rs)
	}
}

// Launches racing near the runs limit: four clusters, four slots, three
// runs allowed in the hour: exactly three start.
func TestBudgetConcurrentLaunchesNearTheLimit(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))
	l := newLedger(t, budget.Options{Global: budget.Limits{RunsPerHour: 3, USDPerDay: 100}, Now: clock.Now})
	clusters := []string{"a", "b", "c", "d"}
	f := start(t, settings{clusters: clusters, maxConcurrent: 4, now: clock.Now,
		budget: Budget{Admitter: ledgerGate{l}, Wait: quickWait}})
	for _, c := range clusters {
		f.push(t, c, "paid-"+c+"1")
		f.push(t, c, "paid-"+c+"2")
	}
	poll.Until(t, 20*time.Second, "three runs ended and the rest held", func() bool {
		var done, h float64
		for _, c := range clusters {
			done += f.completed(c, incident.StatusSuccess)
			h += held(f, c, string(budget.GlobalRunsPerHour))
		}
		return done == 3 && h >= 8
	})
	var spawned float64
	for _, c := range clusters {
		spawned += testutil.ToFloat64(f.m.AgentsSpawned.WithLabelValues(c))
	}
	if spawned != 3 {
		t.Errorf("%v agents started, want exactly the 3 the hour allows", spawned)
	}
	if st := l.Status().Global; st.RunsLastHour != 3 || st.InFlight != 0 {
		t.Errorf("ledger %+v: want 3 runs and none in flight", st)
	}
}

// The agent is told its limit and where to report; a report over the
// limit is recorded and counted.
func TestBudgetMaxCostHandedToTheAgent(t *testing.T) {
	f := start(t, settings{budget: Budget{MaxCostUSD: func(c string) float64 { return 1.5 }}})
	f.push(t, "prod", "env-1")
	f.push(t, "prod", "overspend-1")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 2)
	rs := f.results(t, "prod")
	var env, over *incident.Result
	for i := range rs {
		if rs[i].Spend != nil && rs[i].Spend.OverMaxCost {
			over = &rs[i]
		} else {
			env = &rs[i]
		}
	}
	if over == nil || over.Spend.MaxCostUSD != 1.5 || *over.Spend.CostUSD != 9.5 {
		t.Fatalf("no result over its limit: %+v", rs)
	}
	if got := testutil.ToFloat64(f.m.Budget.OverMaxCost.WithLabelValues("prod")); got != 1 {
		t.Errorf("agent_over_max_cost_total %v, want 1", got)
	}
	report := readReport(t, env.Workspace)
	for _, want := range []string{"MAX_COST_USD=1.5", "USAGE_FILE=" + usageFile(env.Workspace)} {
		if !strings.Contains(report, want) {
			t.Errorf("agent environment lacks %s:\n%s", want, report)
		}
	}
}

func readReport(t *testing.T, ws string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(ws, "output", "investigation.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
