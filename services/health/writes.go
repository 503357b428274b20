package health

import (
	"fmt"
	"sync"
	"time"
)

// Writes is a readiness check over what a store reports of its writes.
// Failures make a streak: it starts at a failure and lasts while failures
// keep coming less than FailFor apart. The runner is unready once a streak
// has lasted FailFor — one slow or failed write does not flap readiness,
// and a full disk, where some writes (removals) still succeed between the
// failing ones, is not hidden by them — and ready again once FailFor has
// passed without a failure.
type Writes struct {
	name    string
	failFor time.Duration
	now     func() time.Time

	mu          sync.Mutex
	streakStart time.Time
	lastFailure time.Time
	lastErr     error
}

// NewWrites returns the check named name.
func NewWrites(name string, failFor time.Duration, now func() time.Time) *Writes {
	return &Writes{name: name, failFor: failFor, now: now}
}

// Observe records one write's outcome; only failures change the check.
func (w *Writes) Observe(err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if w.lastFailure.IsZero() || now.Sub(w.lastFailure) >= w.failFor {
		w.streakStart = now
	}
	w.lastFailure, w.lastErr = now, err
}

// Check is the readiness check.
func (w *Writes) Check() Check {
	return Check{Name: w.name, Fn: w.err}
}

func (w *Writes) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if w.lastFailure.IsZero() || now.Sub(w.lastFailure) >= w.failFor || now.Sub(w.streakStart) < w.failFor {
		return nil
	}
	return fmt.Errorf("writes failing for %s: %v", now.Sub(w.streakStart).Round(time.Second), w.lastErr)
}
