package budget

import (
	"testing"
	"time"
)

// An admission no agent followed gives its run back: the hour's count is
// as if it was never admitted, in the global scope and the cluster's.
func TestCancelGivesTheRunBack(t *testing.T) {
	l, _ := newLedger(t, Options{Global: Limits{RunsPerHour: 2}, Clusters: map[string]Limits{"prod": {RunsPerHour: 1}}})
	res, d := l.Admit("prod", t0)
	if !d.Allowed {
		t.Fatalf("first run refused: %+v", d)
	}
	if _, d := l.Admit("prod", t0.Add(time.Minute)); d.Allowed {
		t.Fatal("prod's one run of the hour admitted twice")
	}
	l.Cancel(res)
	if _, d := l.Admit("prod", t0.Add(2*time.Minute)); !d.Allowed {
		t.Fatalf("after the cancel prod's hour is empty again: %+v", d)
	}
	if got := l.Status().Global.InFlight; got != 1 {
		t.Errorf("in flight %d, want 1 (the cancelled admission left)", got)
	}
	// A second cancel, or a charge after the cancel, changes nothing.
	l.Cancel(res)
	l.Charge(res, cost(5), t0.Add(3*time.Minute))
	if st := l.Status().Global; st.RunsLastHour != 1 || st.SpentUSD != 0 {
		t.Errorf("after a repeated cancel and a late charge: %+v, want 1 run and $0", st)
	}
}
