package notification

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

// DeadLetter marks a pending record dead without an attempt, for a sink
// that is no longer configured.
func DeadLetter(r OutboxRecord, reason string, now time.Time) OutboxRecord {
	if r.State != StatePending {
		return r
	}
	r.State, r.DeadAt, r.DeadReason, r.NextAttemptAt = StateDead, now, reason, time.Time{}
	return r
}
