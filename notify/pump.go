package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// OutboxStore is what the pump needs of the store that holds the outbox.
// The store writes new records itself, in the transaction that finishes the
// incident (NewRecords gives them), then calls Pump.Kick.
type OutboxStore interface {
	// Due returns up to limit pending records of sink whose NextAttemptAt
	// is not after now, oldest CreatedAt first.
	Due(sink string, now time.Time, limit int) ([]OutboxRecord, error)
	// Save replaces the record with the same Sink and Key, durably, before
	// it returns.
	Save(r OutboxRecord) error
	// NextDue is the earliest NextAttemptAt of the pending records of
	// sink; ok is false when it has none.
	NextDue(sink string) (at time.Time, ok bool, err error)
}

// PumpOptions configure a Pump.
type PumpOptions struct {
	Store  OutboxStore
	Sinks  map[string]Sink
	Policy Policy
	Logger *slog.Logger
	// Now and Rand default to time.Now and math/rand/v2's Float64.
	Now  func() time.Time
	Rand func() float64
	// BatchSize bounds the records read per sink and pass; default 32.
	BatchSize int
	// Idle bounds how long a sink's loop sleeps without a kick; default 1m.
	Idle time.Duration
	// OnAttempt is told about every attempt (for metrics): the sink, the
	// classified result and the record as saved.
	OnAttempt func(sink string, res Result, saved OutboxRecord)
}

// Pump drives the outbox: one loop per sink, so a dead or slow receiver
// holds back only its own records. Each loop delivers its due records in
// order, one at a time, saves what Policy.Apply returns, and sleeps until
// the next record is due or Kick is called.
type Pump struct {
	o     PumpOptions
	kicks map[string]chan struct{}
}

// NewPump builds a pump over o.Sinks.
func NewPump(o PumpOptions) (*Pump, error) {
	if o.Store == nil {
		return nil, errors.New("pump: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	if o.Idle <= 0 {
		o.Idle = time.Minute
	}
	p := &Pump{o: o, kicks: make(map[string]chan struct{}, len(o.Sinks))}
	for name := range o.Sinks {
		p.kicks[name] = make(chan struct{}, 1)
	}
	return p, nil
}

// String names the service in logs.
func (p *Pump) String() string { return "notification-outbox" }

// Kick wakes every sink's loop, after the store committed new records.
func (p *Pump) Kick() {
	for _, c := range p.kicks {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// RunOnce attempts the records of sink that are due at now, in order, and
// returns how many it attempted. After a failure that will be retried it
// stops: the receiver is unwell, and the rest of its records wait with the
// failed one rather than each hitting it now. It stops at the first store
// error, or when ctx ends.
func (p *Pump) RunOnce(ctx context.Context, sink string, now time.Time) (int, error) {
	n, _, err := p.runOnce(ctx, sink, now)
	return n, err
}

// runOnce is RunOnce, also returning when the sink's loop may try again
// after a failure (zero when it did not stop on one).
func (p *Pump) runOnce(ctx context.Context, sink string, now time.Time) (int, time.Time, error) {
	s, ok := p.o.Sinks[sink]
	if !ok {
		return 0, time.Time{}, fmt.Errorf("pump: unknown sink %q", sink)
	}
	recs, err := p.o.Store.Due(sink, now, p.o.BatchSize)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox of sink %s: %w", sink, err)
	}
	n := 0
	for _, r := range recs {
		if ctx.Err() != nil {
			return n, time.Time{}, nil
		}
		if !r.Due(now) {
			continue
		}
		res := Deliver(ctx, s, r.Notification)
		if ctx.Err() != nil {
			// Cut short by shutdown: not the receiver's failure. The
			// record stays as it was, pending, and is tried at the next
			// start.
			return n, time.Time{}, nil
		}
		saved := p.o.Policy.Apply(r, res, p.o.Now(), p.o.Rand())
		if err := p.o.Store.Save(saved); err != nil {
			return n, time.Time{}, fmt.Errorf("outbox of sink %s: save %s: %w", sink, r.Key, err)
		}
		n++
		p.log(saved, res)
		if p.o.OnAttempt != nil {
			p.o.OnAttempt(sink, res, saved)
		}
		if saved.State == StatePending {
			return n, saved.NextAttemptAt, nil
		}
	}
	return n, time.Time{}, nil
}

func (p *Pump) log(r OutboxRecord, res Result) {
	attrs := []any{"sink", r.Sink, "key", r.Key, "kind", r.Notification.Kind, "attempts", r.Attempts}
	switch r.State {
	case StateDelivered:
		p.o.Logger.Info("Notification delivered", attrs...)
	case StateDead:
		p.o.Logger.Error("Notification dead-lettered", append(attrs, "reason", r.DeadReason, "status", r.LastStatus, "error", r.LastError)...)
	default:
		p.o.Logger.Warn("Notification delivery failed, retrying", append(attrs, "outcome", res.Outcome.String(),
			"status", r.LastStatus, "error", r.LastError, "next_attempt_at", r.NextAttemptAt)...)
	}
}

// Serve runs one loop per sink until ctx ends, then waits for them. A
// store error ends Serve with that error (a supervisor restarts it).
func (p *Pump) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	names := make([]string, 0, len(p.o.Sinks))
	for n := range p.o.Sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			if err := p.loop(ctx, name); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func (p *Pump) loop(ctx context.Context, sink string) error {
	for ctx.Err() == nil {
		n, pause, err := p.runOnce(ctx, sink, p.o.Now())
		if err != nil {
			return err
		}
		until := pause
		if until.IsZero() {
			next, ok, err := p.o.Store.NextDue(sink)
			if err != nil {
				return fmt.Errorf("outbox of sink %s: %w", sink, err)
			}
			if ok {
				until = next
			}
		}
		wait := p.o.Idle
		if !until.IsZero() {
			wait = min(max(until.Sub(p.o.Now()), 0), p.o.Idle)
		}
		if wait == 0 && n > 0 {
			continue // more of a batch is due now
		}
		// A floor keeps a store whose NextDue disagrees with Due from
		// turning this loop into a spin.
		t := time.NewTimer(max(wait, 100*time.Millisecond))
		select {
		case <-ctx.Done():
		case <-p.kicks[sink]:
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}
