package journal

import (
	"slices"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// A group's members move to the running record with its primary in one
// transaction, and an interrupted group comes back as every member queued
// again at its own place, with the attempts of the run, ahead of faults
// enqueued later.
func TestGroupMembersMoveWithTheirIncident(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	base := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	var items []queue.Item
	for i, id := range []string{"node", "pod-a", "other", "pod-b"} {
		it := entry("prod", id, base.Add(time.Duration(i)*time.Second))
		seq, err := s.Enqueue(it)
		if err != nil {
			t.Fatal(err)
		}
		it.Seq = seq
		items = append(items, it)
	}
	primary := items[0]
	primary.Attempts = 1
	primary.Members = []queue.Item{items[1], items[3]}
	if err := s.Start(InFlight{IncidentID: "inc-1", Item: primary, StartedAt: base}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if q := ids(st.Queued["prod"]); !slices.Equal(q, []string{"other"}) {
		t.Fatalf("queued after the group started: %v, want only other", q)
	}
	if len(st.InFlight) != 1 || len(st.InFlight[0].Item.Members) != 2 {
		t.Fatalf("running records %+v, want one holding two members", st.InFlight)
	}

	s.Close() // a crash: the record stays running
	s = open(t, dir, Options{})
	defer s.Close()
	st, _ = s.Load()
	if _, err := s.Requeue(st.InFlight[0]); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Load()
	if q := ids(st.Queued["prod"]); !slices.Equal(q, []string{"node", "pod-a", "other", "pod-b"}) || len(st.InFlight) != 0 {
		t.Fatalf("after requeue queued %v and %d running, want every fault back in order and none running", q, len(st.InFlight))
	}
	for _, it := range st.Queued["prod"] {
		if it.Event.FaultID != "other" && it.Attempts != 1 {
			t.Errorf("%s requeued with %d attempts, want 1", it.Event.FaultID, it.Attempts)
		}
		if len(it.Members) != 0 {
			t.Errorf("%s requeued still holding members", it.Event.FaultID)
		}
	}
}

func ids(items []queue.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Event.FaultID)
	}
	return out
}
