package health

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestWritesTurnUnreadyOnlyAfterFailingForAWhile(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	w := NewWrites("state-store", 10*time.Second, func() time.Time { return now })
	c := w.Check()
	step := func(d time.Duration, err error) {
		now = now.Add(d)
		w.Observe(err)
	}
	if err := c.Fn(); err != nil {
		t.Fatalf("no write yet: %v", err)
	}
	step(0, errors.New("one slow write"))
	step(11*time.Second, nil)
	if err := c.Fn(); err != nil {
		t.Fatalf("one failure, then 11 s without one: %v", err)
	}
	// A full disk: enqueues fail every 2 s, removals still succeed between.
	for range 5 {
		step(time.Second, syscall.ENOSPC)
		step(time.Second, nil)
		if err := c.Fn(); err != nil && now.Sub(w.streakStart) < 10*time.Second {
			t.Fatalf("unready %s into the streak: %v", now.Sub(w.streakStart), err)
		}
	}
	step(time.Second, syscall.ENOSPC)
	if err := c.Fn(); !errors.Is(err, syscall.ENOSPC) && err == nil {
		t.Fatal("failing for 11 s with successes between: still ready")
	}
	now = now.Add(9 * time.Second)
	if err := c.Fn(); err == nil {
		t.Fatal("9 s after the last failure: ready too soon")
	}
	now = now.Add(2 * time.Second)
	if err := c.Fn(); err != nil {
		t.Fatalf("11 s without a failure: %v", err)
	}
}
