package metrics

import "github.com/prometheus/client_golang/prometheus"

// Label values of the retention and reload metrics.
var (
	// WorkspaceRemovalReasons label workspaces_removed_total.
	WorkspaceRemovalReasons = []string{"pruned", "orphaned"}
	// ReloadResults label config_reloads_total.
	ReloadResults = []string{"applied", "rejected"}
)

// RemoveCluster deletes every series of a cluster a reload removed, so the
// cluster label keeps to the configured names. Call it once the cluster's
// session, queue and agents are gone.
func (m *Metrics) RemoveCluster(c string) {
	match := prometheus.Labels{"cluster": c}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{
		// One of the record's families removes the cluster from all ten.
		m.EventsQueued,
		m.EventsReceived, m.EventsFiltered, m.EventsDisplaced, m.AgentsCompleted,
		m.SSEReconnections, m.SSEConnectionErrors,
		m.EventsReconciled, m.ReconcileFailures,
		m.EventsRestored, m.IncidentsRequeued, m.IncidentsAbandoned,
		m.AlertmanagerAlertsReceived, m.AlertmanagerAlerts, m.EventsResolved, m.AgentLeftoverProcesses,
		m.Budget.CostUSD, m.Budget.Tokens, m.Budget.UsageInvalid, m.Budget.OverMaxCost, m.Budget.LaunchesHeld,
		m.EventsGrouped, m.EventsRelated, m.TopologySkipped, m.IncidentFeedback,
	} {
		v.DeletePartialMatch(match)
	}
	m.Budget.RemainingUSD.DeleteLabelValues(c)
	m.Budget.RemainingRuns.DeleteLabelValues(c)
}
