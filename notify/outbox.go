package notify

import (
	"time"
)

// State of an outbox record.
type State string

const (
	// StatePending: not delivered yet; attempted again at NextAttemptAt.
	StatePending State = "pending"
	// StateDelivered: a receiver accepted it. Final.
	StateDelivered State = "delivered"
	// StateDead: given up on (see DeadReason); kept for people to see and
	// replay. Final.
	StateDead State = "dead"
)

// Reasons a record is dead-lettered.
const (
	DeadPermanent   = "permanent"    // the receiver refused it for good
	DeadMaxAttempts = "max_attempts" // Policy.MaxAttempts reached
	DeadMaxAge      = "max_age"      // older than Policy.MaxAge
	DeadUnknownSink = "unknown_sink" // the sink is no longer configured
)

// OutboxRecord is what the store keeps per notification and sink: one
// record for each sink a notification is routed to, written in the same
// transaction that finishes the incident (or records the notice), so a
// crash can lose neither the incident's end nor its notifications.
//
// The store key is (Sink, Key): a notification is delivered to a sink at
// most once per record, and at least once while the record is pending.
//
// State machine (Policy.Apply is the only transition):
//
//	pending ──Delivered──────────────────────────► delivered
//	pending ──RetryLater/Retryable, within limits─► pending (Attempts+1, NextAttemptAt later)
//	pending ──Permanent, or past MaxAttempts/MaxAge─► dead
//
// A store lists pending records whose NextAttemptAt has come (per sink, in
// CreatedAt order), hands each to Apply with the attempt's Result, and
// writes back the record Apply returns; delivered records can be pruned
// with the incident they belong to, dead ones are kept until pruned by age.
type OutboxRecord struct {
	Sink         string       `json:"sink"`
	Key          string       `json:"key"`
	Notification Notification `json:"notification"`
	State        State        `json:"state"`
	Attempts     int          `json:"attempts"`
	CreatedAt    time.Time    `json:"createdAt"`
	// NextAttemptAt is when a pending record is due.
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
	LastAttemptAt time.Time `json:"lastAttemptAt,omitzero"`
	// LastOutcome, LastStatus and LastError describe the latest attempt.
	LastOutcome string    `json:"lastOutcome,omitempty"`
	LastStatus  int       `json:"lastStatus,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	DeadAt      time.Time `json:"deadAt,omitzero"`
	DeadReason  string    `json:"deadReason,omitempty"`
}

// NewRecords are the pending records of n, one per sink, due at once.
func NewRecords(n Notification, sinks []string, now time.Time) []OutboxRecord {
	out := make([]OutboxRecord, 0, len(sinks))
	for _, s := range sinks {
		out = append(out, OutboxRecord{
			Sink: s, Key: n.IdempotencyKey, Notification: n, State: StatePending,
			CreatedAt: now, NextAttemptAt: now,
		})
	}
	return out
}

// Due reports whether a record should be attempted at now.
func (r OutboxRecord) Due(now time.Time) bool {
	return r.State == StatePending && !now.Before(r.NextAttemptAt)
}

// Policy bounds retries. The zero value is not useful: start from
// DefaultPolicy.
type Policy struct {
	// InitialBackoff is the delay after the first failed attempt; each
	// further failure multiplies it by Multiplier, up to MaxBackoff.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	Multiplier     float64
	// Jitter spreads each delay uniformly over ±Jitter of itself (0.2:
	// ±20 %), so receivers coming back are not hit by every runner at once.
	Jitter float64
	// MaxRetryAfter caps a receiver's Retry-After, so a hostile or broken
	// receiver cannot park a record for days.
	MaxRetryAfter time.Duration
	// MaxAttempts dead-letters a record after that many failed attempts;
	// MaxAge after that long since it was created. A record past MaxAge
	// still gets one attempt (a runner that was down for a day tries once
	// before giving up), and the last retry is scheduled no later than the
	// age limit.
	MaxAttempts int
	MaxAge      time.Duration
}

// DefaultPolicy retries for a day: 5 s, 10 s, 20 s … capped at 10 min, at
// most 200 attempts.
func DefaultPolicy() Policy {
	return Policy{
		InitialBackoff: 5 * time.Second,
		MaxBackoff:     10 * time.Minute,
		Multiplier:     2,
		Jitter:         0.2,
		MaxRetryAfter:  time.Hour,
		MaxAttempts:    200,
		MaxAge:         24 * time.Hour,
	}
}

// Backoff is the delay after the failed attempt number attempt (1-based),
// with u uniform in [0, 1) supplying the jitter.
func (p Policy) Backoff(attempt int, u float64) time.Duration {
	d := float64(p.InitialBackoff)
	for i := 1; i < attempt && d < float64(p.MaxBackoff); i++ {
		d *= p.Multiplier
	}
	d = min(d, float64(p.MaxBackoff))
	d *= 1 + p.Jitter*(2*u-1)
	return time.Duration(d)
}

// Apply is the outbox's state machine: the record after an attempt at now
// that had result res, with u uniform in [0, 1) for the jitter. It is pure;
// the store persists what it returns. Records not pending are returned
// unchanged.
func (p Policy) Apply(r OutboxRecord, res Result, now time.Time, u float64) OutboxRecord {
	if r.State != StatePending {
		return r
	}
	r.Attempts++
	r.LastAttemptAt = now
	r.LastOutcome = res.Outcome.String()
	r.LastStatus = res.StatusCode
	r.LastError = ""
	if res.Err != nil {
		r.LastError = truncate(res.Err.Error(), 512)
	}
	dead := func(reason string) OutboxRecord {
		r.State, r.DeadAt, r.DeadReason, r.NextAttemptAt = StateDead, now, reason, time.Time{}
		return r
	}
	switch res.Outcome {
	case Delivered:
		r.State, r.DeliveredAt, r.NextAttemptAt = StateDelivered, now, time.Time{}
		return r
	case Permanent:
		return dead(DeadPermanent)
	}
	if p.MaxAttempts > 0 && r.Attempts >= p.MaxAttempts {
		return dead(DeadMaxAttempts)
	}
	deadline := r.CreatedAt.Add(p.MaxAge)
	if p.MaxAge > 0 && !now.Before(deadline) {
		return dead(DeadMaxAge)
	}
	delay := p.Backoff(r.Attempts, u)
	if res.Outcome == RetryLater && res.RetryAfter > 0 {
		// The receiver's delay wins over ours, jitter and all: it said when.
		delay = res.RetryAfter
		if p.MaxRetryAfter > 0 {
			delay = min(delay, p.MaxRetryAfter)
		}
	}
	next := now.Add(delay)
	if p.MaxAge > 0 && next.After(deadline) {
		next = deadline
	}
	r.NextAttemptAt = next
	return r
}

// DeadLetter marks a pending record dead without an attempt, for a sink
// that is no longer configured.
func DeadLetter(r OutboxRecord, reason string, now time.Time) OutboxRecord {
	if r.State != StatePending {
		return r
	}
	r.State, r.DeadAt, r.DeadReason, r.NextAttemptAt = StateDead, now, reason, time.Time{}
	return r
}
