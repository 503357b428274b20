package queue

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// gatedJournal holds every write until the test syncs it, so the test
// sees the queue between submission and fsync.
type gatedJournal struct {
	mu      sync.Mutex
	seq     uint64
	writes  []*gatedWrite
	removed []uint64
}

type gatedWrite struct {
	id   string
	seq  uint64
	err  error
	done chan struct{}
}

func (w *gatedWrite) Wait() (uint64, error) { <-w.done; return w.seq, w.err }

func (j *gatedJournal) Enqueue(Item) (uint64, error) {
	panic("the async path must not block on Enqueue")
}

func (j *gatedJournal) Remove(_ string, seqs ...uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.removed = append(j.removed, seqs...)
	return nil
}

func (j *gatedJournal) EnqueueAsync(it Item) Write {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	w := &gatedWrite{id: it.Event.FaultID, seq: j.seq, done: make(chan struct{})}
	j.writes = append(j.writes, w)
	return w
}

// sync finishes the next n writes, failing those whose id is in fail.
func (j *gatedJournal) sync(n int, fail ...string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, w := range j.writes[:n] {
		for _, f := range fail {
			if w.id == f {
				w.err = errors.New("disk full")
			}
		}
		close(w.done)
	}
	j.writes = j.writes[n:]
}

type outcome struct {
	id        string
	res       PushResult
	displaced string
	err       error
}

func newGated(t *testing.T, capacity int) (*Queue, *gatedJournal, *metrics.Metrics, chan outcome) {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"prod"})
	j := &gatedJournal{}
	q := NewDurable("prod", capacity, m, time.Now, j, nil)
	return q, j, m, make(chan outcome, 100)
}

func push(q *Queue, out chan outcome, id, sev string) {
	q.PushAsync(ev(id, sev), func(res PushResult, displaced Item, err error) {
		out <- outcome{id, res, displaced.Event.FaultID, err}
	})
}

func next(t *testing.T, out chan outcome) outcome {
	t.Helper()
	select {
	case o := <-out:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome")
		return outcome{}
	}
}

func TestPushAsyncVisibleAndCountedOnlyOnceSynced(t *testing.T) {
	q, j, m, out := newGated(t, 10)
	push(q, out, "a", "warning")
	push(q, out, "b", "warning")
	push(q, out, "c", "warning")
	if _, ok := q.TryPop(); ok {
		t.Fatal("a fault was visible to dispatch before its write was synced")
	}
	if got := testutil.ToFloat64(m.EventsQueued.WithLabelValues("prod")); got != 0 {
		t.Fatalf("events_queued_total %v before any sync, want 0", got)
	}
	if !q.Holds("b") {
		t.Error("a pending fault is not held: a repeat would not be a duplicate")
	}
	j.sync(2, "b")
	if o := next(t, out); o.id != "a" || o.res != Queued || o.err != nil {
		t.Fatalf("first outcome %+v", o)
	}
	if o := next(t, out); o.id != "b" || o.res != NotPersisted || o.err == nil {
		t.Fatalf("second outcome %+v, want NotPersisted", o)
	}
	if q.Holds("b") {
		t.Error("a fault whose write failed is still held")
	}
	if got := testutil.ToFloat64(m.EventsQueued.WithLabelValues("prod")); got != 1 {
		t.Errorf("events_queued_total %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.QueueDepth.WithLabelValues("prod")); got != 1 {
		t.Errorf("queue_depth %v, want 1", got)
	}
	j.sync(1)
	if o := next(t, out); o.id != "c" || o.res != Queued {
		t.Fatalf("third outcome %+v", o)
	}
	// FIFO: in submission order, the failed one left out.
	for _, want := range []string{"a", "c"} {
		it, ok := q.TryPop()
		if !ok || it.Event.FaultID != want || it.Seq == 0 {
			t.Fatalf("popped %+v, want %s with its sequence", it, want)
		}
	}
}

func TestPushAsyncShedsBySeverityAcrossPending(t *testing.T) {
	q, j, m, out := newGated(t, 2)
	push(q, out, "w1", "warning")
	push(q, out, "w2", "warning")
	// Full of pending warnings: another warning is refused at once...
	push(q, out, "w3", "warning")
	if o := next(t, out); o.id != "w3" || o.res != Full {
		t.Fatalf("outcome %+v, want w3 Full", o)
	}
	// ...a critical one takes the oldest pending warning's place.
	push(q, out, "c1", "critical")
	j.sync(3)
	got := []outcome{next(t, out), next(t, out), next(t, out)}
	if got[0].id != "w1" || got[0].res != Queued {
		t.Errorf("w1: %+v (it was stored, then displaced)", got[0])
	}
	if got[1].id != "w2" || got[1].res != Queued {
		t.Errorf("w2: %+v", got[1])
	}
	if got[2].id != "c1" || got[2].res != QueuedDisplacing || got[2].displaced != "w1" {
		t.Errorf("c1: %+v, want QueuedDisplacing w1", got[2])
	}
	snap := q.Snapshot()
	if len(snap) != 2 || snap[0].Event.FaultID != "w2" || snap[1].Event.FaultID != "c1" {
		t.Fatalf("queue %+v, want w2, c1", snap)
	}
	if len(j.removed) != 1 || j.removed[0] != 1 {
		t.Errorf("journal removals %v, want the displaced w1 (seq 1)", j.removed)
	}
	if q.Holds("w1") {
		t.Error("the displaced fault is still held")
	}
	if got := testutil.ToFloat64(m.EventsQueued.WithLabelValues("prod")); got != 3 {
		t.Errorf("events_queued_total %v, want 3", got)
	}
	// A full queue of durable warnings: a critical displaces the oldest.
	push(q, out, "c2", "critical")
	j.sync(1)
	if o := next(t, out); o.res != QueuedDisplacing || o.displaced != "w2" {
		t.Fatalf("c2: %+v, want QueuedDisplacing w2", o)
	}
}

func TestPushAsyncDisplacingAFailedWriteDisplacesNothing(t *testing.T) {
	q, j, _, out := newGated(t, 1)
	push(q, out, "w1", "warning")
	push(q, out, "c1", "critical")
	j.sync(2, "w1")
	if o := next(t, out); o.res != NotPersisted {
		t.Fatalf("w1: %+v", o)
	}
	if o := next(t, out); o.res != Queued || o.displaced != "" {
		t.Fatalf("c1: %+v, want Queued with nothing displaced", o)
	}
}
