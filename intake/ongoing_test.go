package intake

import (
	"testing"
	"time"
)

// TestRepeatsOfAnOngoingFaultStayDuplicatesUntilItEnds: a source that
// repeats a fault every few hours (Alertmanager's repeat_interval) does not
// start a second investigation after --dedup-window, until it reports the
// fault over; a fault submitted with Submit keeps the window alone.
func TestRepeatsOfAnOngoingFaultStayDuplicatesUntilItEnds(t *testing.T) {
	f := newFixture(t, 10)
	ev := event("alert-1", "critical", "prod")
	ev.Source = "alertmanager"
	if got := f.in.SubmitUntilEnded("prod", ev); got != Queued {
		t.Fatalf("first firing: %s", got)
	}
	f.queues.Get("prod").TryPop()
	f.queues.Get("prod").Release("alert-1") // investigated and done
	*f.now = f.now.Add(12 * time.Hour)      // kube-prometheus-stack's repeat_interval
	if got := f.in.SubmitUntilEnded("prod", ev); got != Duplicate {
		t.Fatalf("repeat after 12 h: %s, want duplicate", got)
	}
	if got := f.filtered("prod", "duplicate"); got != 1 {
		t.Errorf("filtered{duplicate} = %v", got)
	}
	if f.in.Ongoing("prod") != 1 {
		t.Errorf("ongoing = %d, want 1", f.in.Ongoing("prod"))
	}
	f.in.End("prod", "alert-1")
	if f.in.Ongoing("prod") != 0 {
		t.Errorf("ongoing after End = %d", f.in.Ongoing("prod"))
	}
	*f.now = f.now.Add(12 * time.Hour)
	if got := f.in.SubmitUntilEnded("prod", ev); got != Queued {
		t.Errorf("after the end and the window: %s, want queued", got)
	}

	// The memory is bounded in time.
	*f.now = f.now.Add(OngoingMaxAge + time.Hour)
	f.queues.Get("prod").TryPop()
	f.queues.Get("prod").Release("alert-1")
	if got := f.in.SubmitUntilEnded("prod", ev); got != Queued {
		t.Errorf("after OngoingMaxAge: %s, want queued", got)
	}

	// Plain Submit keeps only the window.
	mcp := event("mcp-1", "critical", "prod")
	f.in.Submit("prod", mcp)
	f.queues.Get("prod").TryPop()
	f.queues.Get("prod").Release("mcp-1")
	*f.now = f.now.Add(16 * time.Minute)
	if got := f.in.Submit("prod", mcp); got != Queued {
		t.Errorf("MCP repeat after the window: %s, want queued", got)
	}
}

// TestOngoingMemoryIsBounded: at most DedupEntries ids per cluster.
func TestOngoingMemoryIsBounded(t *testing.T) {
	f := newFixture(t, 1000)
	for i := range 150 {
		ev := event("a"+string(rune('a'+i%26))+string(rune('a'+i/26)), "critical", "prod")
		f.in.SubmitUntilEnded("prod", ev)
	}
	if n := f.in.Ongoing("prod"); n > 101 {
		t.Errorf("ongoing holds %d ids, bound is 100", n)
	}
}
