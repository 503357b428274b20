package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newQueue(t *testing.T, capacity int) (*Queue, *metrics.Metrics, *clock) {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"prod"})
	c := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	return New("prod", capacity, m, c.now), m, c
}

func ev(id, sev string) fault.Event {
	return fault.Event{FaultID: id, FaultType: fault.TypeCrashLoop, Severity: sev}
}

func TestFIFOAndEnqueuedAtSurvive(t *testing.T) {
	q, m, c := newQueue(t, 10)
	q.Push(ev("a", "warning"))
	first := c.t
	c.t = c.t.Add(time.Minute)
	q.Push(ev("b", "warning"))
	it, ok := q.TryPop()
	if !ok || it.Event.FaultID != "a" || !it.EnqueuedAt.Equal(first) || it.Cluster != "prod" {
		t.Fatalf("popped %+v", it)
	}
	// A restored item keeps its original EnqueuedAt.
	q.Restore(it)
	snap := q.Snapshot()
	if len(snap) != 2 || !snap[1].EnqueuedAt.Equal(first) {
		t.Fatalf("after restore %+v", snap)
	}
	if got := testutil.ToFloat64(m.QueueDepth.WithLabelValues("prod")); got != 2 {
		t.Errorf("queue_depth %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.EventsDequeued.WithLabelValues("prod")); got != 1 {
		t.Errorf("dequeued %v, want 1", got)
	}
}

func TestExpireRemovesOldKeepsFresh(t *testing.T) {
	q, m, c := newQueue(t, 10)
	q.Push(ev("old-1", "warning"))
	q.Push(ev("old-2", "critical"))
	c.t = c.t.Add(9 * time.Minute)
	q.Push(ev("fresh", "warning"))
	c.t = c.t.Add(2 * time.Minute) // old ones are 11 min, fresh is 2 min
	expired := q.Expire(10 * time.Minute)
	if len(expired) != 2 || expired[0].Event.FaultID != "old-1" || expired[1].Event.FaultID != "old-2" {
		t.Fatalf("expired %+v", expired)
	}
	if snap := q.Snapshot(); len(snap) != 1 || snap[0].Event.FaultID != "fresh" {
		t.Fatalf("kept %+v", snap)
	}
	if got := testutil.ToFloat64(m.EventsExpired.WithLabelValues("prod")); got != 2 {
		t.Errorf("expired_total %v", got)
	}
	if got := testutil.ToFloat64(m.QueueDepth.WithLabelValues("prod")); got != 1 {
		t.Errorf("queue_depth %v, want 1", got)
	}
	if q.Holds("old-1") || !q.Holds("fresh") {
		t.Error("holds not updated on expiry")
	}
}

func TestSheddingBySeverity(t *testing.T) {
	q, m, _ := newQueue(t, 3)
	q.Push(ev("w1", "warning"))
	q.Push(ev("i1", "info"))
	q.Push(ev("w2", "warning"))
	// Full. A critical displaces the oldest lower-severity item (w1).
	res, displaced, _ := q.Push(ev("c1", "critical"))
	if res != QueuedDisplacing || displaced.Event.FaultID != "w1" {
		t.Fatalf("critical into full queue: %v displaced %q", res, displaced.Event.FaultID)
	}
	// A warning displaces the only info.
	res, displaced, _ = q.Push(ev("w3", "warning"))
	if res != QueuedDisplacing || displaced.Event.FaultID != "i1" {
		t.Fatalf("warning: %v displaced %q", res, displaced.Event.FaultID)
	}
	// An info finds nothing below it.
	if res, _, _ := q.Push(ev("i2", "info")); res != Full {
		t.Fatalf("info into full queue of warnings: %v, want Full", res)
	}
	var ids []string
	for _, it := range q.Snapshot() {
		ids = append(ids, it.Event.FaultID)
	}
	if got := len(ids); got != 3 || ids[0] != "w2" || ids[1] != "c1" || ids[2] != "w3" {
		t.Fatalf("queue %v, want [w2 c1 w3]", ids)
	}
	if got := testutil.ToFloat64(m.QueueDepth.WithLabelValues("prod")); got != 3 {
		t.Errorf("queue_depth %v", got)
	}
}

func TestPopBlocksAndIsCancellable(t *testing.T) {
	q, _, _ := newQueue(t, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := q.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pop on empty queue = %v, want deadline", err)
	}
	got := make(chan string, 2)
	for range 2 {
		go func() {
			it, err := q.Pop(context.Background())
			if err == nil {
				got <- it.Event.FaultID
			}
		}()
	}
	q.Push(ev("x", "warning"))
	q.Push(ev("y", "warning"))
	// Both waiters wake: no wake-up is lost when two pushes race.
	seen := map[string]bool{}
	for range 2 {
		select {
		case id := <-got:
			seen[id] = true
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter was not woken")
		}
	}
	if !seen["x"] || !seen["y"] {
		t.Fatalf("popped %v", seen)
	}
}

func TestHoldsUntilRelease(t *testing.T) {
	q, _, _ := newQueue(t, 10)
	q.Push(ev("a", "warning"))
	it, _ := q.TryPop()
	if !q.Holds("a") {
		t.Fatal("in-flight fault not held")
	}
	q.Release(it.Event.FaultID)
	if q.Holds("a") {
		t.Fatal("released fault still held")
	}
}
