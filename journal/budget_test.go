package journal

import (
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/budget"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// A restart mid-day on the real store restores the day's spend and the
// hour's runs: a ledger paused before the restart is paused after it.
func TestBudgetSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	o := budget.Options{Global: budget.Limits{USDPerDay: 2}, Clusters: map[string]budget.Limits{"prod": {RunsPerHour: 5}}, Now: now}

	s := open(t, dir, Options{})
	o.Store = s.Budget()
	l, err := budget.New(o)
	if err != nil {
		t.Fatal(err)
	}
	usd := 2.5
	res, d := l.Admit("prod", at)
	if !d.Allowed {
		t.Fatal(d)
	}
	l.Charge(res, incident.Usage{Reported: true, CostUSD: &usd}, at)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, Options{})
	defer s.Close()
	o.Store = s.Budget()
	var transitions []budget.Transition
	o.OnTransition = func(tr budget.Transition) { transitions = append(transitions, tr) }
	l, err = budget.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, d := l.Admit("prod", at.Add(time.Minute)); d.Allowed || d.Reason != budget.GlobalUSDPerDay {
		t.Fatalf("after reopening: %+v; want held by the day's spend", d)
	}
	st := l.Status()
	if st.Global.SpentUSD != 2.5 || !st.Global.Paused || st.Clusters[0].RunsLastHour != 1 {
		t.Errorf("restored %+v %+v", st.Global, st.Clusters)
	}
	if len(transitions) != 0 {
		t.Errorf("reopening announced %+v again", transitions)
	}
}

// A store written before budgets existed (no budget bucket) loads an
// empty state, and the store's own data is untouched by budget saves.
func TestBudgetOnAStoreWithoutIt(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	if _, err := s.Enqueue(entry("prod", "a", time.Now())); err != nil {
		t.Fatal(err)
	}
	st, err := s.Budget().Load()
	if err != nil || !st.Day.IsZero() || st.Global.SpentUSD != 0 {
		t.Fatalf("empty budget state: %+v %v", st, err)
	}
	if err := s.Budget().Save(budget.State{Global: budget.ScopeState{SpentUSD: 1}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Budget().Load()
	if err != nil || got.Global.SpentUSD != 1 {
		t.Errorf("saved and loaded %+v %v", got, err)
	}
	q, err := s.Load()
	if err != nil || len(q.Queued["prod"]) != 1 {
		t.Errorf("the queue after a budget save: %+v %v", q.Queued, err)
	}
}
