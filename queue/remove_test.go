package queue

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recordingJournal keeps what the queue wrote, and can refuse removals.
type recordingJournal struct {
	seq     uint64
	removed []uint64
	fail    error
}

func (j *recordingJournal) Enqueue(Item) (uint64, error) { j.seq++; return j.seq, nil }
func (j *recordingJournal) Remove(_ string, seqs ...uint64) error {
	if j.fail != nil {
		return j.fail
	}
	j.removed = append(j.removed, seqs...)
	return nil
}

// TestRemoveTakesOutOneQueuedFault: a fault whose source reports its end
// leaves the queue and the journal, the others keep their order, and a
// fault no longer queued (taken by a worker) is not removed.
func TestRemoveTakesOutOneQueuedFault(t *testing.T) {
	_, m, c := newQueue(t, 10)
	j := &recordingJournal{}
	q := NewDurable("prod", 10, m, c.now, j, nil)
	for _, id := range []string{"a", "b", "c"} {
		if res, _, err := q.Push(ev(id, "warning")); res != Queued || err != nil {
			t.Fatalf("push %s: %v %v", id, res, err)
		}
	}
	removed, err := q.Remove("b")
	if !removed || err != nil {
		t.Fatalf("Remove(b) = %v, %v", removed, err)
	}
	if len(j.removed) != 1 || j.removed[0] != 2 {
		t.Errorf("journal removals %v, want [2]", j.removed)
	}
	if q.Holds("b") {
		t.Error("b is still held: a new firing would be a duplicate")
	}
	if got := testutil.ToFloat64(m.QueueDepth.WithLabelValues("prod")); got != 2 {
		t.Errorf("queue_depth %v, want 2", got)
	}
	it, _ := q.TryPop()
	if it.Event.FaultID != "a" {
		t.Errorf("first item %s, want a", it.Event.FaultID)
	}
	if removed, err := q.Remove("a"); removed || err != nil {
		t.Errorf("Remove of a fault being worked on = %v, %v; want false, nil", removed, err)
	}
	if removed, err := q.Remove("nope"); removed || err != nil {
		t.Errorf("Remove of an unknown fault = %v, %v", removed, err)
	}
}

// TestRemoveKeepsTheFaultWhenTheJournalFails: nothing changes in memory
// unless the removal is on disk.
func TestRemoveKeepsTheFaultWhenTheJournalFails(t *testing.T) {
	_, m, c := newQueue(t, 10)
	j := &recordingJournal{}
	q := NewDurable("prod", 10, m, c.now, j, nil)
	q.Push(ev("a", "warning"))
	j.fail = errors.New("disk gone")
	removed, err := q.Remove("a")
	if removed || !errors.Is(err, j.fail) {
		t.Fatalf("Remove = %v, %v; want false and the journal's error", removed, err)
	}
	if q.Len() != 1 || !q.Holds("a") {
		t.Error("the fault left the queue although its removal was not written")
	}
}
