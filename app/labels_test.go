package app

import (
	"slices"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/supervisor"
)

// metrics imports nothing of the project, so it keeps its own copy of each
// bounded label set (to export every series from the start). The packages
// that produce the values own them; this test, in the one package that
// imports both, holds the copies to the owners.
func TestMetricsLabelSetsAreTheirOwnersLists(t *testing.T) {
	var statuses []string
	for _, s := range incident.Statuses() {
		statuses = append(statuses, string(s))
	}
	var severities []string
	for _, s := range []fault.Severity{fault.SeverityCritical, fault.SeverityWarning, fault.SeverityInfo, fault.SeverityUnknown} {
		severities = append(severities, s.String())
	}
	var alertOutcomes []string
	for _, o := range slices.Concat(alertmanager.SubmitOutcomes(), alertmanager.AlertOutcomes, []alertmanager.Outcome{alertmanager.Truncated}) {
		alertOutcomes = append(alertOutcomes, string(o))
	}
	for _, c := range []struct {
		label, owner   string
		metrics, owned []string
	}{
		{"severity", "fault", metrics.Severities, severities},
		{"reason (events_filtered_total)", "intake", metrics.FilterReasons, intake.FilterReasons()},
		{"status", "incident", metrics.AgentStatuses, statuses},
		{"outcome", "dispatch", metrics.CleanupOutcome, dispatch.CleanupOutcomes()},
		{"reason (sse_*)", "mcpsession", metrics.ConnectionReasons, mcpsession.Reasons()},
		{"op", "journal", metrics.StateOps, journal.Ops()},
		{"service", "supervisor", metrics.ServiceKinds, supervisor.ServiceKinds()},
		{"result (alertmanager_*)", "alertmanager", metrics.AlertmanagerResults, alertmanager.Results},
		{"outcome (alertmanager_*)", "intake and alertmanager", metrics.AlertmanagerOutcomes, alertOutcomes},
	} {
		if !slices.Equal(c.metrics, c.owned) {
			t.Errorf("%s label values: metrics has %q, %s owns %q", c.label, c.metrics, c.owner, c.owned)
		}
	}
}
