package metrics

// DeadLetterReasons are the reason label values of
// notifications_dead_lettered_total. Records of a sink removed from the
// configuration are dead-lettered too, but only logged: that sink's name is
// no longer a label value.
var DeadLetterReasons = []string{"permanent", "max_attempts", "max_age"}

// InitSinks creates the notification series of every configured sink, so
// dashboards and alerts see zeros rather than absent series.
func (m *Metrics) InitSinks(sinks []string) {
	for _, s := range sinks {
		m.NotificationsSent.WithLabelValues(s)
		m.NotificationsFailed.WithLabelValues(s)
		m.OutboxDepth.WithLabelValues(s)
		for _, r := range DeadLetterReasons {
			m.NotificationsDeadLettered.WithLabelValues(s, r)
		}
	}
}
