// Package sweeper expires faults that waited in a queue longer than the
// maximum queue age, so agents never investigate stale incidents.
package sweeper

import (
	"context"
	"log/slog"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// Sweeper is a suture service. A panic inside a sweep propagates to the
// supervisor, which logs it with its stack and restarts the service.
type Sweeper struct {
	queues   *queue.Set
	interval time.Duration
	maxAge   time.Duration
	logger   *slog.Logger
	now      func() time.Time
	// tick, when set, replaces the ticker: tests drive sweeps by sending.
	tick <-chan time.Time
}

// New returns a sweeper over every cluster's queue.
func New(queues *queue.Set, interval, maxAge time.Duration, now func() time.Time, logger *slog.Logger) *Sweeper {
	return &Sweeper{queues: queues, interval: interval, maxAge: maxAge, now: now, logger: logger.With("component", "sweeper")}
}

// NewWithTicks returns a sweeper that sweeps on each value from tick
// instead of on a timer.
func NewWithTicks(queues *queue.Set, tick <-chan time.Time, maxAge time.Duration, now func() time.Time, logger *slog.Logger) *Sweeper {
	s := New(queues, time.Hour, maxAge, now, logger)
	s.tick = tick
	return s
}

// String names the service in supervisor logs.
func (s *Sweeper) String() string { return "sweeper" }

// Serve sweeps on every tick until ctx ends.
func (s *Sweeper) Serve(ctx context.Context) error {
	tick := s.tick
	if tick == nil {
		t := time.NewTicker(s.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			s.Sweep()
		}
	}
}

// Sweep expires old items in every queue once and returns how many.
func (s *Sweeper) Sweep() int {
	n := 0
	now := s.now()
	for _, q := range s.queues.All() {
		for _, it := range q.Expire(s.maxAge) {
			n++
			s.logger.Warn("Expired queued event",
				"cluster", it.Cluster, "event_id", it.Event.FaultID,
				"age", now.Sub(it.EnqueuedAt).Round(time.Millisecond).String(),
				"max_age", s.maxAge.String())
		}
	}
	return n
}
