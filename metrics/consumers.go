package metrics

// Packages below the composition root take their collectors through small
// interfaces of their own (as the circuit breaker takes one gauge), so they
// do not depend on this struct and this package depends on none of them.
// These methods are what makes *Metrics satisfy those interfaces; their
// results are unnamed interface types so no package has to share a name.

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
