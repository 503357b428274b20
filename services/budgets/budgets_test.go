package budgets

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/budget"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
)

type value struct {
	mu sync.Mutex
	v  float64
}

func (g *value) Set(v float64) { g.mu.Lock(); g.v = v; g.mu.Unlock() }
func (g *value) get() float64  { g.mu.Lock(); defer g.mu.Unlock(); return g.v }

// A pause that time ended is reported as resumed on a tick, with nothing
// queued to ask, and the gauges follow.
func TestTickAnnouncesTheResumeAndRefreshesGauges(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var resumed []budget.Transition
	l, err := budget.New(budget.Options{Global: budget.Limits{RunsPerHour: 1}, Store: &budget.MemoryStore{}, Now: clock.Now,
		OnTransition: func(tr budget.Transition) {
			if !tr.Paused {
				mu.Lock()
				resumed = append(resumed, tr)
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, d := l.Admit("prod", clock.Now()); !d.Allowed {
		t.Fatal("first run refused")
	}
	if _, d := l.Admit("prod", clock.Now()); d.Allowed {
		t.Fatal("second run of the hour admitted")
	}
	runs, usd := &value{v: -1}, &value{v: -1}
	ticks := make(chan time.Time)
	s := NewWithTicks(l, func() []Gauges { return []Gauges{{Scope: budget.Global(), USD: usd, Runs: runs}} },
		func() (<-chan time.Time, func()) { return ticks, func() {} }, clock.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	poll.Until(t, 5*time.Second, "gauges at start", func() bool { return runs.get() == 0 })
	if !math.IsInf(usd.get(), 1) {
		t.Errorf("remaining USD %v, want +Inf (no dollar limit)", usd.get())
	}
	clock.Advance(time.Hour + time.Second)
	ticks <- clock.Now()
	poll.Until(t, 5*time.Second, "resume on the tick", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(resumed) == 1 && runs.get() == 1
	})
}
