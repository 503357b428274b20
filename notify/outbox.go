package notify

import (
	"time"
)

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
