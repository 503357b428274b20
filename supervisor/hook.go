package supervisor

import (
	"log/slog"
	"slices"
	"strings"

	"github.com/thejerf/suture/v4"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// EventHook logs every suture event through slog and counts restarts by
// kind of service. One hook serves the whole tree.
func EventHook(logger *slog.Logger, m *metrics.Metrics) suture.EventHook {
	logger = logger.With("component", "supervisor")
	return func(ev suture.Event) {
		switch e := ev.(type) {
		case suture.EventServicePanic:
			logger.Error("Service panicked",
				"supervisor", e.SupervisorName, "service", e.ServiceName,
				"panic", e.PanicMsg, "stacktrace", e.Stacktrace,
				"restarting", e.Restarting, "failures", e.CurrentFailures)
			if e.Restarting {
				m.ServiceRestarts.WithLabelValues(ServiceKind(e.ServiceName)).Inc()
			}
		case suture.EventServiceTerminate:
			logger.Warn("Service terminated",
				"supervisor", e.SupervisorName, "service", e.ServiceName,
				"error", e.Err, "restarting", e.Restarting, "failures", e.CurrentFailures)
			if e.Restarting {
				m.ServiceRestarts.WithLabelValues(ServiceKind(e.ServiceName)).Inc()
			}
		case suture.EventBackoff:
			logger.Warn("Supervisor backing off after repeated failures", "supervisor", e.SupervisorName)
		case suture.EventResume:
			logger.Info("Supervisor resuming after backoff", "supervisor", e.SupervisorName)
		case suture.EventStopTimeout:
			logger.Error("Service did not stop in time", "supervisor", e.SupervisorName, "service", e.ServiceName)
		default:
			logger.Info("Supervisor event", "event", ev.String())
		}
	}
}

// ServiceKinds lists the kinds of supervised service, the service label
// values of service_restarts_total: the part of each service's String()
// before "[".
func ServiceKinds() []string {
	return []string{"sse", "sweeper", "reloader", "alertmanager-intake", "dispatch", "metrics-server", "health-server", "ui-server", "debug-server", "notification-outbox", "notification-notices", "budgets", "agent-job-results", "agent-job-sweeper", "watchdog", "reaper", "other"}
}

// ServiceKind maps a service's String() ("sse[prod-eu]") to the bounded
// label set of service_restarts_total.
func ServiceKind(name string) string {
	kind, _, _ := strings.Cut(name, "[")
	if slices.Contains(ServiceKinds(), kind) {
		return kind
	}
	return "other"
}
