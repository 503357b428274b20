package metrics

// Metrics are injected one way, by rank. The domain, store and queueing
// packages below the services (breaker, workspace, queue, intake,
// journal) take their collectors through small interfaces of their own (as
// the circuit breaker takes one gauge), so they do not depend on this
// struct, and the architecture test keeps them from importing it. The
// services, the supervisor and the composition package, which count many
// things each, take *Metrics itself. These methods are what makes *Metrics
// satisfy the interfaces; their results are unnamed interface types so no
// package has to share a name.

// QueueCollectors are one cluster's queue counters and depth gauge.
func (m *Metrics) QueueCollectors(cluster string) (queued, dequeued, expired interface{ Inc() }, depth interface{ Set(float64) }) {
	return m.EventsQueued.WithLabelValues(cluster), m.EventsDequeued.WithLabelValues(cluster),
		m.EventsExpired.WithLabelValues(cluster), m.QueueDepth.WithLabelValues(cluster)
}

// Received counts a fault received from cluster with severity.
func (m *Metrics) Received(cluster, severity string) interface{ Inc() } {
	return m.EventsReceived.WithLabelValues(cluster, severity)
}

// Filtered counts a fault of cluster filtered for reason.
func (m *Metrics) Filtered(cluster, reason string) interface{ Inc() } {
	return m.EventsFiltered.WithLabelValues(cluster, reason)
}

// Displaced counts a queued fault of cluster dropped for a more severe one.
func (m *Metrics) Displaced(cluster string) interface{ Inc() } {
	return m.EventsDisplaced.WithLabelValues(cluster)
}

// DroppedByBreaker counts a fault of cluster dropped while the circuit
// breaker was open.
func (m *Metrics) DroppedByBreaker(cluster string) interface{ Inc() } {
	return m.BreakerEventsDropped.WithLabelValues(cluster)
}

// StateWriteFailed counts a failed write to the state store by operation.
func (m *Metrics) StateWriteFailed(op string) interface{ Inc() } {
	return m.StateWriteErrors.WithLabelValues(op)
}

// Abandoned counts an interrupted incident of cluster given up at recovery.
func (m *Metrics) Abandoned(cluster string) interface{ Inc() } {
	return m.IncidentsAbandoned.WithLabelValues(cluster)
}

// Requeued counts an interrupted incident of cluster queued again at recovery.
func (m *Metrics) Requeued(cluster string) interface{ Inc() } {
	return m.IncidentsRequeued.WithLabelValues(cluster)
}

// Restored counts a queued fault of cluster brought back at start.
func (m *Metrics) Restored(cluster string) interface{ Inc() } {
	return m.EventsRestored.WithLabelValues(cluster)
}

// HandedOver counts faults left for the shard that owns their cluster now.
func (m *Metrics) HandedOver() interface{ Add(float64) } { return m.EventsHandedOver }
