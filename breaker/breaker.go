// Package breaker is the global circuit breaker that stops agent launches
// while agents keep failing.
//
// Closed: agents launch freely. After Threshold consecutive failures
// (failed or timed out) it opens: intake drops new faults and dispatch holds
// queued ones. After Cooldown it is half-open: exactly one probe incident is
// launched; its success closes the breaker, its failure reopens it for
// another cooldown.
package breaker

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// State of the breaker.
type State int

const (
	Closed State = iota
	HalfOpen
	Open
)

func (s State) String() string {
	switch s {
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "closed"
}

// GaugeValue is the circuit_breaker_state value of s: 0 closed, 0.5
// half-open, 1 open. Half-open sits between so that "== 1" alerts fire only
// while launches are fully stopped.
func (s State) GaugeValue() float64 {
	switch s {
	case HalfOpen:
		return 0.5
	case Open:
		return 1
	}
	return 0
}

// Breaker is safe for concurrent use.
type Breaker struct {
	threshold int
	cooldown  time.Duration
	logger    *slog.Logger
	gauge     interface{ Set(float64) }

	mu       sync.Mutex
	state    State
	failures int
	probeOut bool
	timer    *time.Timer
	// changed is closed and replaced on every transition, waking Acquire.
	changed chan struct{}
	// transitions reports every change of state to whoever watches
	// (system notices); see Transitions.
	transitions chan Transition
}

// Transition is one change of the breaker's state.
type Transition struct {
	From, To State
	At       time.Time
	Reason   string
}

// transitionBuffer is how many transitions wait for a slow watcher before
// the oldest unread ones are lost: a watcher misses a notice, the breaker
// never blocks a launch.
const transitionBuffer = 16

// New returns a closed breaker.
func New(threshold int, cooldown time.Duration, gauge interface{ Set(float64) }, logger *slog.Logger) *Breaker {
	gauge.Set(Closed.GaugeValue())
	return &Breaker{
		threshold: threshold,
		cooldown:  cooldown,
		logger:    logger.With("component", "circuit-breaker"),
		gauge:     gauge,
		changed:   make(chan struct{}),

		transitions: make(chan Transition, transitionBuffer),
	}
}

// Transitions delivers each change of state as it happens, to one
// watcher. The breaker never waits for it: a change the watcher has not
// taken while transitionBuffer others wait is dropped.
func (b *Breaker) Transitions() <-chan Transition { return b.transitions }

// State returns the current state.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// IsOpen reports whether launches are stopped and intake drops faults.
func (b *Breaker) IsOpen() bool { return b.State() == Open }

// Acquire blocks until an agent may launch or ctx ends. probe is true when
// the launch is the half-open probe; pass it back to Record.
func (b *Breaker) Acquire(ctx context.Context) (probe bool, err error) {
	for {
		b.mu.Lock()
		switch {
		case b.state == Closed:
			b.mu.Unlock()
			return false, nil
		case b.state == HalfOpen && !b.probeOut:
			b.probeOut = true
			b.mu.Unlock()
			return true, nil
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-changed:
		}
	}
}

// Cancel returns an unused probe permit, e.g. when the launch it was for
// found nothing to run.
func (b *Breaker) Cancel(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == HalfOpen && b.probeOut {
		b.probeOut = false
		b.notify()
	}
}

// Record reports an agent's outcome. Only success and failure count;
// callers do not record agents interrupted by shutdown.
func (b *Breaker) Record(success, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if success {
		b.failures = 0
		if b.state == HalfOpen && probe {
			b.transition(Closed, "probe incident succeeded")
		}
		return
	}
	b.failures++
	switch {
	case b.state == HalfOpen && probe:
		b.transition(Open, "probe incident failed")
	case b.state == Closed && b.failures >= b.threshold:
		b.transition(Open, "consecutive agent failures reached threshold")
	}
}

// transition changes state; b.mu is held.
func (b *Breaker) transition(to State, why string) {
	from := b.state
	b.state = to
	b.probeOut = false
	b.gauge.Set(to.GaugeValue())
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if to == Open {
		b.timer = time.AfterFunc(b.cooldown, b.halfOpen)
	}
	if to == Closed {
		b.failures = 0
	}
	level := slog.LevelWarn
	if to == Closed {
		level = slog.LevelInfo
	}
	b.logger.Log(context.Background(), level, "Circuit breaker state changed",
		"from", from.String(), "to", to.String(), "reason", why,
		"consecutive_failures", b.failures, "cooldown", b.cooldown.String())
	select {
	case b.transitions <- Transition{From: from, To: to, At: time.Now(), Reason: why}:
	default:
	}
	b.notify()
}

func (b *Breaker) halfOpen() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open {
		b.transition(HalfOpen, "cooldown elapsed")
	}
}

func (b *Breaker) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// Stop releases the cooldown timer.
func (b *Breaker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}
