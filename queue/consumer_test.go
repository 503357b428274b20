package queue

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestOnReadyIsToldOfEveryItemThatMayBeTaken(t *testing.T) {
	q, _, _ := newQueue(t, 10)
	var told atomic.Int32
	q.OnReady(func() { told.Add(1) })
	for _, id := range []string{"a", "b"} {
		if res, _, _ := q.Push(ev(id, "critical")); res != Queued {
			t.Fatalf("push %s: %v", id, res)
		}
	}
	if got := told.Load(); got != 2 {
		t.Fatalf("told %d times of two pushes", got)
	}
	// Taking one of two leaves one for another consumer: told again.
	if _, ok := q.TryPop(); !ok {
		t.Fatal("nothing to pop")
	}
	if got := told.Load(); got != 3 {
		t.Errorf("told %d times after a pop left an item behind, want 3", got)
	}
	q.OnReady(nil)
	q.Push(ev("c", "critical"))
	if got := told.Load(); got != 3 {
		t.Errorf("told after OnReady(nil)")
	}
}

// A consumer that counts itself out in WhenEmpty cannot miss an item: a
// push that comes meanwhile waits, and its OnReady runs after the
// consumer is counted out.
func TestWhenEmptyHoldsOffPushesUntilTheConsumerIsCountedOut(t *testing.T) {
	q, _, _ := newQueue(t, 10)
	var consumers atomic.Int32
	consumers.Store(1)
	sawConsumers := make(chan int32, 1)
	q.OnReady(func() { sawConsumers <- consumers.Load() })
	pushed := make(chan struct{})
	ran := q.WhenEmpty(func() {
		go func() {
			q.Push(ev("a", "critical"))
			close(pushed)
		}()
		time.Sleep(20 * time.Millisecond) // the push is under way
		consumers.Add(-1)
	})
	if !ran {
		t.Fatal("WhenEmpty did not run on an empty queue")
	}
	<-pushed
	if got := <-sawConsumers; got != 0 {
		t.Fatalf("OnReady saw %d consumers: the push came in before the consumer left", got)
	}
	if q.WhenEmpty(func() { t.Error("fn ran on a queue with an item") }) {
		t.Error("WhenEmpty reported an empty queue holding an item")
	}
}
