// Package intake turns notification payloads into queued faults: it
// parses and validates them, counts them, applies the filters and the
// circuit breaker, and enqueues what is left. Every payload ends in exactly
// one place, so the books balance:
//
//	events_received_total = events_filtered_total
//	                      + circuit_breaker_events_dropped_total
//	                      + events_queued_total
//	                      - events_displaced_total
//
// (a displaced event was queued, then shed for a more severe one, and is
// counted once more as filtered with reason queue_full).
package intake

import (
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// Outcome says where a payload went.
type Outcome string

// Outcomes; the filter ones are also events_filtered_total reasons.
const (
	Queued         Outcome = "queued"
	Malformed      Outcome = "malformed"
	SeverityLow    Outcome = "severity_low"
	Duplicate      Outcome = "duplicate"
	TriageDisabled Outcome = "triage_disabled"
	QueueFull      Outcome = "queue_full"
	PersistFailed  Outcome = "persist_failed"
	UnknownCluster Outcome = "unknown_cluster"
	BreakerOpen    Outcome = "breaker_open"
)

// Breaker is the part of the circuit breaker intake consults.
type Breaker interface{ IsOpen() bool }

// ClusterPolicy is the per-cluster configuration intake applies.
type ClusterPolicy struct {
	Triage bool
}

// Options configure an Intake.
type Options struct {
	Logger      *slog.Logger
	Metrics     *metrics.Metrics
	Queues      *queue.Set
	Breaker     Breaker
	Clusters    map[string]ClusterPolicy
	MinSeverity fault.Severity
	DedupWindow time.Duration
	// DedupEntries bounds the per-cluster dedup memory.
	DedupEntries int
	// DedupSeed is the dedup memory brought back from the state store:
	// cluster → fault id → time it was seen.
	DedupSeed map[string]map[string]time.Time
	Now       func() time.Time
}

// Intake is safe for concurrent use by every cluster's session.
type Intake struct {
	o      Options
	logger *slog.Logger
	dedup  map[string]*dedupMemory
}

// New returns an Intake.
func New(o Options) *Intake {
	if o.DedupEntries <= 0 {
		o.DedupEntries = 10000
	}
	in := &Intake{o: o, logger: o.Logger.With("component", "intake"), dedup: make(map[string]*dedupMemory)}
	for name := range o.Clusters {
		d := newDedupMemory(o.DedupWindow, o.DedupEntries)
		seed := o.DedupSeed[name]
		ids := make([]string, 0, len(seed))
		for id := range seed {
			ids = append(ids, id)
		}
		// Oldest first, so the bound evicts the right ones.
		sort.Slice(ids, func(i, j int) bool { return seed[ids[i]].Before(seed[ids[j]]) })
		for _, id := range ids {
			d.remember(id, seed[id])
		}
		in.dedup[name] = d
	}
	return in
}

// HandleFault processes one kubernetes/faults payload from cluster's
// session. cluster is the configured name, the only one used in labels.
func (in *Intake) HandleFault(cluster string, payload []byte) Outcome {
	m := in.o.Metrics
	q := in.o.Queues.Get(cluster)
	policy, known := in.o.Clusters[cluster]
	if q == nil || !known {
		// Sessions exist only for configured clusters; a payload here
		// means a wiring bug, and the name must not become a label.
		in.logger.Error("Fault for a cluster that is not configured", "cluster", cluster)
		return UnknownCluster
	}
	ev, err := fault.Parse(payload)
	if err != nil {
		m.EventsReceived.WithLabelValues(cluster, fault.SeverityUnknown.String()).Inc()
		m.EventsFiltered.WithLabelValues(cluster, string(Malformed)).Inc()
		in.logger.Warn("Dropped malformed fault notification", "cluster", cluster, "error", err.Error(), "payload_bytes", len(payload))
		return Malformed
	}
	sev := ev.Level()
	m.EventsReceived.WithLabelValues(cluster, sev.String()).Inc()
	if ev.Cluster != "" && ev.Cluster != cluster {
		in.logger.Warn("Fault names another cluster than the one configured for its server; using the configured name",
			"cluster", cluster, "reported_cluster", truncate(ev.Cluster, 64), "fault_id", ev.FaultID)
	}
	filtered := func(o Outcome) Outcome {
		m.EventsFiltered.WithLabelValues(cluster, string(o)).Inc()
		in.logger.Debug("Filtered fault", "cluster", cluster, "fault_id", ev.FaultID, "reason", string(o))
		return o
	}
	now := in.o.Now()
	switch {
	case !policy.Triage:
		return filtered(TriageDisabled)
	case sev < in.o.MinSeverity:
		return filtered(SeverityLow)
	case q.Holds(ev.FaultID) || in.dedup[cluster].seen(ev.FaultID, now):
		return filtered(Duplicate)
	}
	if in.o.Breaker.IsOpen() {
		m.BreakerEventsDropped.WithLabelValues(cluster).Inc()
		in.logger.Warn("Dropped fault: circuit breaker is open", "cluster", cluster, "fault_id", ev.FaultID, "fault_type", ev.FaultType)
		return BreakerOpen
	}
	res, displaced, err := q.Push(ev)
	switch res {
	case queue.NotPersisted:
		in.logger.Error("Dropped fault: it could not be written to the state store",
			"cluster", cluster, "fault_id", ev.FaultID, "error", err.Error())
		return filtered(PersistFailed)
	case queue.Full:
		in.logger.Warn("Dropped fault: queue full", "cluster", cluster, "fault_id", ev.FaultID, "severity", sev.String())
		return filtered(QueueFull)
	case queue.QueuedDisplacing:
		m.EventsFiltered.WithLabelValues(cluster, string(QueueFull)).Inc()
		m.EventsDisplaced.WithLabelValues(cluster).Inc()
		in.logger.Warn("Queue full: dropped a less severe queued fault to make room",
			"cluster", cluster, "fault_id", ev.FaultID, "severity", sev.String(),
			"dropped_fault_id", displaced.Event.FaultID, "dropped_severity", displaced.Severity().String())
	}
	in.dedup[cluster].remember(ev.FaultID, now)
	return Queued
}

// HandleSubscriptionError logs a kubernetes/subscription_error payload.
// The caller counts it as a connection error.
func (in *Intake) HandleSubscriptionError(cluster string, payload []byte) error {
	se, err := fault.ParseSubscriptionError(payload)
	if err != nil {
		in.logger.Warn("Malformed subscription error notification", "cluster", cluster, "error", err.Error())
		return err
	}
	in.logger.Warn("Server reports its fault subscription is failing",
		"cluster", cluster, "subscription_id", truncate(se.SubscriptionID, 64),
		"reported_cluster", truncate(se.Cluster, 64), "error", se.Error, "degraded", se.Degraded)
	return errors.New(se.Error)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
