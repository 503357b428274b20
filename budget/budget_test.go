package budget

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// t0 is mid-morning UTC, so an hour either side stays in the same day.
var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

type recorder struct {
	mu sync.Mutex
	ts []Transition
}

func (r *recorder) add(t Transition) { r.mu.Lock(); defer r.mu.Unlock(); r.ts = append(r.ts, t) }
func (r *recorder) all() []Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Transition(nil), r.ts...)
}

func newLedger(t *testing.T, o Options) (*Ledger, *recorder) {
	t.Helper()
	rec := &recorder{}
	if o.Store == nil {
		o.Store = &MemoryStore{}
	}
	if o.Now == nil {
		o.Now = func() time.Time { return t0 }
	}
	o.OnTransition = rec.add
	o.OnSaveError = func(err error) { t.Errorf("save: %v", err) }
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return l, rec
}

func cost(usd float64) incident.Usage { return incident.Usage{Reported: true, CostUSD: &usd} }

func TestGlobalRunsPerHourRolling(t *testing.T) {
	l, _ := newLedger(t, Options{Global: Limits{RunsPerHour: 3}})
	for i := range 3 {
		if _, d := l.Admit("prod", t0.Add(time.Duration(i)*time.Minute)); !d.Allowed {
			t.Fatalf("run %d refused: %+v", i, d)
		}
	}
	_, d := l.Admit("staging", t0.Add(10*time.Minute))
	if d.Allowed || d.Reason != GlobalRunsPerHour || !d.Scope.IsGlobal() {
		t.Fatalf("fourth run in the hour: %+v; want held by %s", d, GlobalRunsPerHour)
	}
	if want := t0.Add(time.Hour); !d.RetryAt.Equal(want) {
		t.Errorf("RetryAt %v, want %v (the first run leaves the window)", d.RetryAt, want)
	}
	// The window rolls: a calendar hour would have reset at 10:00 and
	// admitted three more at once.
	if _, d := l.Admit("prod", t0.Add(time.Hour)); !d.Allowed {
		t.Errorf("one run left the window: %+v", d)
	}
	if _, d := l.Admit("prod", t0.Add(time.Hour+30*time.Second)); d.Allowed {
		t.Error("the second run of the first minute is still in the window")
	}
}

func TestClusterRunsPerHourBesideGlobal(t *testing.T) {
	l, _ := newLedger(t, Options{Global: Limits{RunsPerHour: 10}, Clusters: map[string]Limits{"prod": {RunsPerHour: 2}}})
	for range 2 {
		if _, d := l.Admit("prod", t0); !d.Allowed {
			t.Fatal(d)
		}
	}
	_, d := l.Admit("prod", t0)
	if d.Allowed || d.Reason != ClusterRunsPerHour || d.Scope.Cluster != "prod" {
		t.Fatalf("prod's third run: %+v; want held by %s of prod", d, ClusterRunsPerHour)
	}
	if _, d := l.Admit("staging", t0); !d.Allowed {
		t.Errorf("another cluster is held by prod's limit: %+v", d)
	}
	if got := l.Status().Global.RunsLastHour; got != 3 {
		t.Errorf("global runs %d, want 3 (a refused launch is not counted)", got)
	}
}

func TestClusterUSDBesideGlobal(t *testing.T) {
	l, _ := newLedger(t, Options{Global: Limits{USDPerDay: 10}, Clusters: map[string]Limits{"prod": {USDPerDay: 3}}})
	res, _ := l.Admit("prod", t0)
	l.Charge(res, cost(3), t0)
	_, d := l.Admit("prod", t0)
	if d.Allowed || d.Reason != ClusterUSDPerDay {
		t.Fatalf("prod spent its 3 USD: %+v", d)
	}
	if want := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC); !d.RetryAt.Equal(want) {
		t.Errorf("RetryAt %v, want the next UTC midnight", d.RetryAt)
	}
	for range 7 {
		res, d := l.Admit("staging", t0)
		if !d.Allowed {
			t.Fatalf("staging held before the global budget was spent: %+v", d)
		}
		l.Charge(res, cost(1), t0)
	}
	_, d = l.Admit("staging", t0)
	if d.Allowed || d.Reason != GlobalUSDPerDay {
		t.Fatalf("global 10 USD spent: %+v", d)
	}
	if r := l.Remaining(Scope{Cluster: "staging"}); !math.IsInf(r.USD, 1) || !math.IsInf(r.Runs, 1) {
		t.Errorf("staging has no limits of its own: %+v", r)
	}
	if r := l.Remaining(Global()); r.USD != 0 {
		t.Errorf("global remaining %+v, want 0", r)
	}
}

func TestDefaultCostForUnreportedRuns(t *testing.T) {
	l, _ := newLedger(t, Options{Global: Limits{USDPerDay: 1}, DefaultCostUSD: 0.4})
	res, _ := l.Admit("prod", t0)
	l.Charge(res, incident.Usage{}, t0) // no usage file
	tokensOnly := int64(100)
	res, _ = l.Admit("prod", t0)
	l.Charge(res, incident.Usage{Reported: true, InputTokens: &tokensOnly}, t0) // no cost in it
	zero := 0.0
	res, _ = l.Admit("prod", t0)
	l.Charge(res, incident.Usage{Reported: true, CostUSD: &zero}, t0) // a reported 0 is 0
	st := l.Status().Global
	if math.Abs(st.SpentUSD-0.8) > 1e-9 || st.InputTokens != 100 || st.RunsCharged != 3 {
		t.Fatalf("status %+v; want 0.8 USD (two defaults and a reported 0), 100 input tokens, 3 runs", st)
	}
	if r := l.Remaining(Global()); math.Abs(r.USD-0.2) > 1e-9 {
		t.Errorf("remaining %+v", r)
	}
	// A reservation is charged once.
	l.Charge(res, cost(5), t0)
	if got := l.Status().Global.SpentUSD; math.Abs(got-0.8) > 1e-9 {
		t.Errorf("a second charge of one run counted: %v", got)
	}
}

func TestDayBoundaryResets(t *testing.T) {
	c := &clock{now: t0}
	l, rec := newLedger(t, Options{Global: Limits{USDPerDay: 2}, Now: c.Now})
	late := time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC)
	res, _ := l.Admit("prod", late)
	l.Charge(res, cost(2), late)
	if _, d := l.Admit("prod", late.Add(30*time.Second)); d.Allowed {
		t.Fatal("admitted past the day's budget")
	}
	midnight := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	if _, d := l.Admit("prod", midnight); !d.Allowed {
		t.Fatalf("a new UTC day: %+v", d)
	}
	c.Set(midnight)
	st := l.Status()
	if st.Global.SpentUSD != 0 || !st.Day.Equal(midnight) || !st.DayResetsAt.Equal(midnight.Add(24*time.Hour)) {
		t.Errorf("status after midnight %+v", st)
	}
	ts := rec.all()
	if len(ts) != 2 || !ts[0].Paused || ts[0].Reason != GlobalUSDPerDay || !ts[0].Until.Equal(midnight) || ts[1].Paused {
		t.Errorf("transitions %+v; want paused until midnight, then resumed", ts)
	}
}

// A restart mid-day restores the spend, the runs and the pause, and does
// not announce the pause again.
func TestRestartRestoresTheDay(t *testing.T) {
	store := &MemoryStore{}
	o := Options{Global: Limits{USDPerDay: 5, RunsPerHour: 100}, Clusters: map[string]Limits{"prod": {RunsPerHour: 3}}, Store: store}
	l, rec := newLedger(t, o)
	res, _ := l.Admit("prod", t0)
	l.Charge(res, cost(5), t0)
	l.Admit("prod", t0.Add(time.Minute))
	if n := len(rec.all()); n != 1 {
		t.Fatalf("transitions before the restart %d, want 1", n)
	}

	later := t0.Add(2 * time.Hour)
	l2, rec2 := newLedger(t, Options{Global: o.Global, Clusters: o.Clusters, Store: store, Now: func() time.Time { return later }})
	_, d := l2.Admit("prod", later)
	if d.Allowed || d.Reason != GlobalUSDPerDay {
		t.Fatalf("after a restart: %+v; want still held by the day's spend", d)
	}
	st := l2.Status()
	if st.Global.SpentUSD != 5 || !st.Global.Paused || st.Global.RunsLastHour != 0 {
		t.Errorf("restored status %+v; want 5 USD spent, paused, and the runs of two hours ago gone", st.Global)
	}
	if ts := rec2.all(); len(ts) != 0 {
		t.Errorf("the restart reported %+v; the pause was announced before it", ts)
	}

	// A restart the next day finds the pause over and says so once.
	next := time.Date(2026, 3, 11, 8, 0, 0, 0, time.UTC)
	_, rec3 := newLedger(t, Options{Global: o.Global, Store: store, Now: func() time.Time { return next }})
	if ts := rec3.all(); len(ts) != 1 || ts[0].Paused || !ts[0].Scope.IsGlobal() {
		t.Errorf("a restart after the window: %+v; want one resume of the global scope", ts)
	}
	saved, _ := store.Load()
	if saved.Global.SpentUSD != 0 || len(saved.Clusters) != 0 {
		t.Errorf("the ended day is still stored: %+v", saved)
	}
}

// A restart within the hour keeps the runs limit.
func TestRestartKeepsTheHoursRuns(t *testing.T) {
	store := &MemoryStore{}
	o := Options{Clusters: map[string]Limits{"prod": {RunsPerHour: 2}}, Store: store}
	l, _ := newLedger(t, o)
	l.Admit("prod", t0)
	l.Admit("prod", t0.Add(time.Minute))
	l2, _ := newLedger(t, o)
	if _, d := l2.Admit("prod", t0.Add(10*time.Minute)); d.Allowed || d.Reason != ClusterRunsPerHour {
		t.Errorf("after a restart: %+v; want held by prod's runs", d)
	}
}

func TestTransitionsReportedOncePerChange(t *testing.T) {
	l, rec := newLedger(t, Options{Global: Limits{RunsPerHour: 1}, Clusters: map[string]Limits{"prod": {USDPerDay: 1}}})
	res, _ := l.Admit("prod", t0) // global now at its runs limit: paused
	for range 3 {
		l.Admit("prod", t0.Add(time.Minute)) // refused again and again: no new transition
	}
	l.Charge(res, cost(2), t0.Add(2*time.Minute)) // prod's dollars spent too
	l.Tick(t0.Add(30 * time.Minute))
	l.Tick(t0.Add(time.Hour)) // the run leaves the hour: global resumes, prod stays
	l.Tick(t0.Add(2 * time.Hour))
	ts := rec.all()
	type tr struct {
		scope  string
		paused bool
		reason Reason
	}
	var got []tr
	for _, t := range ts {
		got = append(got, tr{t.Scope.String(), t.Paused, t.Reason})
	}
	want := []tr{{"global", true, GlobalRunsPerHour}, {"cluster prod", true, ClusterUSDPerDay}, {"global", false, ""}}
	if len(got) != len(want) {
		t.Fatalf("transitions %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("transitions %+v, want %+v", got, want)
		}
	}
	if st := l.Status(); !st.Clusters[0].Paused || st.Global.Paused {
		t.Errorf("status %+v", st)
	}
}

// Many launches race near the limits: the runs limit is never exceeded,
// and the dollar overshoot stays below the cost of the runs in flight
// when the budget was crossed (here at most one per worker).
func TestConcurrentAdmitNearTheLimits(t *testing.T) {
	const (
		workers = 16
		runCost = 0.7
	)
	race := func(l *Ledger, clusters ...string) (admitted int64) {
		var n atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range 20 {
					res, d := l.Admit(clusters[w%len(clusters)], t0)
					if !d.Allowed {
						continue
					}
					n.Add(1)
					l.Charge(res, cost(runCost), t0)
				}
			})
		}
		wg.Wait()
		return n.Load()
	}

	l, _ := newLedger(t, Options{Global: Limits{RunsPerHour: 40}, Clusters: map[string]Limits{"prod": {RunsPerHour: 7}}})
	if got := race(l, "prod"); got != 7 {
		t.Errorf("admitted %d runs of prod, want exactly its limit 7", got)
	}
	if got := race(l, "prod", "staging"); got != 33 {
		t.Errorf("admitted %d more runs, want exactly the 33 the global limit leaves", got)
	}
	st := l.Status()
	if st.Global.RunsLastHour != 40 || st.Clusters[0].Scope.Cluster != "prod" || st.Clusters[0].RunsLastHour != 7 {
		t.Errorf("runs counted: global %d, %s %d; want 40 and prod's 7", st.Global.RunsLastHour,
			st.Clusters[0].Scope, st.Clusters[0].RunsLastHour)
	}

	const usdPerDay = 10.0
	l, _ = newLedger(t, Options{Clusters: map[string]Limits{"prod": {USDPerDay: usdPerDay}}})
	race(l, "prod")
	spent := l.Status().Clusters[0].SpentUSD
	if bound := usdPerDay + workers*runCost; spent < usdPerDay || spent >= bound {
		t.Errorf("prod spent %v; want at least the budget %v and below the bound %v", spent, usdPerDay, bound)
	}
	if _, d := l.Admit("prod", t0); d.Allowed {
		t.Error("admitted after the race spent the budget")
	}
}

// Every admission and every charge is saved before it returns, so a crash
// right after loses neither.
func TestEveryChangeIsSaved(t *testing.T) {
	store := &MemoryStore{}
	l, _ := newLedger(t, Options{Store: store})
	before := store.Saves()
	res, _ := l.Admit("prod", t0)
	l.Charge(res, cost(1), t0)
	if got := store.Saves() - before; got != 2 {
		t.Errorf("%d saves for an admission and a charge, want 2", got)
	}
	saved, _ := store.Load()
	if saved.Global.SpentUSD != 1 || saved.Clusters["prod"].SpentUSD != 1 || len(saved.Global.Runs) != 1 {
		t.Errorf("saved %+v", saved)
	}
}
