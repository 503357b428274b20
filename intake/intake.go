// Package intake turns faults from any source into queued faults: it
// validates them, counts them, applies the filters and the circuit breaker,
// and enqueues what is left. Sources decode their own wire formats and hand
// over a fault.Event (Submit) or report what they could not decode
// (Malformed); intake never learns more of a source than Event.Source. Every payload ends in exactly
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
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
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
	// Accepted: handed over with Accept; the final outcome is counted
	// (and told to done) once known.
	Accepted Outcome = "accepted"
)

// FilterReasons lists the outcomes that are events_filtered_total reasons,
// its reason label values.
func FilterReasons() []string {
	return []string{string(SeverityLow), string(Duplicate), string(Malformed), string(UnknownCluster),
		string(TriageDisabled), string(QueueFull), string(PersistFailed)}
}

// Metrics are the counters intake moves, by cluster; *metrics.Metrics is
// one.
type Metrics interface {
	Received(cluster, severity string) interface{ Inc() }
	Filtered(cluster, reason string) interface{ Inc() }
	Displaced(cluster string) interface{ Inc() }
	DroppedByBreaker(cluster string) interface{ Inc() }
}

// Breaker is the part of the circuit breaker intake consults.
type Breaker interface{ IsOpen() bool }

// ClusterPolicy is the per-cluster configuration intake applies.
type ClusterPolicy struct {
	Triage bool
}

// Options configure an Intake.
type Options struct {
	Logger      *slog.Logger
	Metrics     Metrics
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

	// mu guards the per-cluster maps, which a reload changes (reload.go).
	mu       sync.RWMutex
	policies map[string]ClusterPolicy
	dedup    map[string]*dedupMemory
	// ongoing remembers faults of sources that report their end until
	// they do (SubmitUntilEnded, End).
	ongoing map[string]*dedupMemory
}

// New returns an Intake.
func New(o Options) *Intake {
	if o.DedupEntries <= 0 {
		o.DedupEntries = 10000
	}
	in := &Intake{o: o, logger: o.Logger.With("component", "intake"), dedup: make(map[string]*dedupMemory),
		policies: make(map[string]ClusterPolicy, len(o.Clusters)), ongoing: make(map[string]*dedupMemory)}
	for name := range o.Clusters {
		in.ongoing[name] = newDedupMemory(OngoingMaxAge, o.DedupEntries)
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
		in.policies[name] = o.Clusters[name]
	}
	return in
}

// Submit processes one fault a source decoded for a configured cluster and
// returns where it went, waiting, for a durable queue, until the fault is
// on disk. cluster is the configured name, the only one used in labels.
func (in *Intake) Submit(cluster string, ev fault.Event) Outcome {
	return in.submit(cluster, ev, false)
}

// submit waits for accept's outcome; untilEnded is SubmitUntilEnded's.
func (in *Intake) submit(cluster string, ev fault.Event, untilEnded bool) Outcome {
	ch := make(chan Outcome, 1)
	in.accept(cluster, ev, untilEnded, func(o Outcome) { ch <- o })
	return <-ch
}

// Accept processes one fault like Submit without waiting for the disk: a
// fault that passes the filters is handed to its queue's journal at once,
// and counted as queued (and remembered for dedup) only once its write is
// synced, by the queue's completer, in arrival order. A source that does
// not acknowledge faults to anyone (an MCP notification) uses it so it
// never waits for an fsync per fault. done, if not nil, is told the
// outcome once it is known.
func (in *Intake) Accept(cluster string, ev fault.Event, done func(Outcome)) {
	in.accept(cluster, ev, false, done)
}

func (in *Intake) accept(cluster string, ev fault.Event, untilEnded bool, done func(Outcome)) {
	if done == nil {
		done = func(Outcome) {}
	}
	m := in.o.Metrics
	q := in.o.Queues.Get(cluster)
	in.mu.RLock()
	policy, known := in.policies[cluster]
	dedup, ongoing := in.dedup[cluster], in.ongoing[cluster]
	in.mu.RUnlock()
	if q == nil || !known {
		// Sources submit only for configured clusters; a fault here
		// means a wiring bug, and the name must not become a label.
		in.logger.Error("Fault for a cluster that is not configured", "cluster", truncate(cluster, 64), "source", truncate(ev.Source, 32))
		done(UnknownCluster)
		return
	}
	if err := ev.Validate(); err != nil {
		done(in.malformed(cluster, ev.Source, err))
		return
	}
	sev := ev.Level()
	m.Received(cluster, sev.String()).Inc()
	filtered := func(o Outcome) Outcome {
		m.Filtered(cluster, string(o)).Inc()
		in.logger.Debug("Filtered fault", "cluster", cluster, "fault_id", ev.FaultID, "reason", string(o))
		return o
	}
	now := in.o.Now()
	switch {
	case !policy.Triage:
		done(filtered(TriageDisabled))
		return
	case sev < in.o.MinSeverity:
		done(filtered(SeverityLow))
		return
	case q.Holds(ev.FaultID) || dedup.seen(ev.FaultID, now) || ongoing.seen(ev.FaultID, now):
		if untilEnded && !ongoing.seen(ev.FaultID, now) {
			ongoing.remember(ev.FaultID, now)
		}
		done(filtered(Duplicate))
		return
	}
	if in.o.Breaker.IsOpen() {
		m.DroppedByBreaker(cluster).Inc()
		in.logger.Warn("Dropped fault: circuit breaker is open", "cluster", cluster, "fault_id", ev.FaultID, "fault_type", ev.FaultType)
		done(BreakerOpen)
		return
	}
	q.PushAsync(ev, func(res queue.PushResult, displaced queue.Item, err error) {
		switch res {
		case queue.NotPersisted:
			in.logger.Error("Dropped fault: it could not be written to the state store",
				"cluster", cluster, "fault_id", ev.FaultID, "error", err.Error())
			done(filtered(PersistFailed))
			return
		case queue.Full:
			in.logger.Warn("Dropped fault: queue full", "cluster", cluster, "fault_id", ev.FaultID, "severity", sev.String())
			done(filtered(QueueFull))
			return
		case queue.QueuedDisplacing:
			m.Filtered(cluster, string(QueueFull)).Inc()
			m.Displaced(cluster).Inc()
			in.logger.Warn("Queue full: dropped a less severe queued fault to make room",
				"cluster", cluster, "fault_id", ev.FaultID, "severity", sev.String(),
				"dropped_fault_id", displaced.Event.FaultID, "dropped_severity", displaced.Severity().String())
		}
		dedup.remember(ev.FaultID, now)
		if untilEnded {
			ongoing.remember(ev.FaultID, now)
		}
		done(Queued)
	})
}

// Deferred is the Intake as a source that does not wait for the disk sees
// it: its Submit is Accept and answers Accepted.
type Deferred struct{ *Intake }

// Submit hands ev to Accept and returns at once.
func (d Deferred) Submit(cluster string, ev fault.Event) Outcome {
	d.Accept(cluster, ev, nil)
	return Accepted
}

// Malformed counts a payload a source received for cluster but could not
// turn into a fault, so it is received and filtered like any other.
func (in *Intake) Malformed(cluster, source string, err error) Outcome {
	in.mu.RLock()
	_, known := in.policies[cluster]
	in.mu.RUnlock()
	if !known || in.o.Queues.Get(cluster) == nil {
		in.logger.Error("Fault for a cluster that is not configured", "cluster", truncate(cluster, 64), "source", truncate(source, 32))
		return UnknownCluster
	}
	return in.malformed(cluster, source, err)
}

func (in *Intake) malformed(cluster, source string, err error) Outcome {
	in.o.Metrics.Received(cluster, fault.SeverityUnknown.String()).Inc()
	in.o.Metrics.Filtered(cluster, string(Malformed)).Inc()
	in.logger.Warn("Dropped malformed fault notification", "cluster", cluster, "source", truncate(source, 32), "error", err.Error())
	return Malformed
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
