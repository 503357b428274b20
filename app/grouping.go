package app

import (
	"log/slog"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/grouping"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/notices"
)

// groupingOptions are the grouping flags as the planner takes them.
func groupingOptions(cfg config.Config) grouping.Options {
	return grouping.Options{Wait: cfg.GroupWait, MaxWait: cfg.GroupMaxWait, MaxSize: cfg.GroupMaxSize, Cooldown: cfg.GroupCooldown}
}

// recentIncidents are the history's records, for dispatch to rebuild the
// cooldowns a restart would otherwise forget. Without a store there is no
// history, and a restart starts with none.
func recentIncidents(cfg config.Config, store *journal.Store, logger *slog.Logger) []incident.Record {
	if store == nil || cfg.GroupWait <= 0 {
		return nil
	}
	recs, err := store.History(0)
	if err != nil {
		logger.Warn("Could not read the history for the grouping cooldowns; starting without them", "error", err.Error())
		return nil
	}
	return recs
}

// judged is what a person's verdict on an incident does beyond its
// record: it is counted (for a cluster still configured: label values
// stay the configured names), and dispatch hears of it (a wrong diagnosis
// lifts its key's cooldown), and the sinks whose routes match the
// incident are sent its document with the verdict.
func judged(m *metrics.Metrics, disp *dispatch.Dispatcher, queues *queue.Set, outbox *notices.Outbox) func(incident.Record) {
	return func(r incident.Record) {
		if r.Feedback == nil {
			return
		}
		if outbox != nil {
			outbox.Feedback(r)
		}
		if queues.Get(r.Cluster) != nil {
			m.IncidentFeedback.WithLabelValues(r.Cluster, r.Feedback.Verdict).Inc()
		}
		disp.Judged(r.Cluster, r.IncidentID, *r.Feedback)
	}
}
