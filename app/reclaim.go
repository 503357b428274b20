package app

import (
	"log/slog"
	"slices"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

// reclaimer kills what is left of an agent a crash of the runner
// interrupted, before its incident is queued again: the processes carrying
// the incident's marker wherever they went, and the rest of its recorded
// process group. The leader died with the runner (Pdeathsig); its children
// were reparented and would otherwise run on beside the re-run.
// Only configured clusters are counted: the label stays bounded.
func reclaimer(m *metrics.Metrics, logger *slog.Logger, clusters []string) func(journal.InFlight) {
	return func(f journal.InFlight) {
		killed := procutil.KillMarked(f.Marker)
		for _, pid := range procutil.KillGroupLeft(f.Pgid, f.BootID) {
			if !slices.Contains(killed, pid) {
				killed = append(killed, pid)
			}
		}
		for _, pid := range killed {
			logger.Warn("Killed a process left by an agent of an interrupted incident",
				"cluster", f.Item.Cluster, "incident_id", f.IncidentID, "pid", pid, "pgid", f.Pgid)
		}
		if len(killed) > 0 && slices.Contains(clusters, f.Item.Cluster) {
			m.AgentLeftoverProcesses.WithLabelValues(f.Item.Cluster).Add(float64(len(killed)))
		}
	}
}
