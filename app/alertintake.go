package app

// The Alertmanager webhook endpoint (services/alertmanager) knows nothing
// of intake, queues or dispatch: it maps alerts to faults and hands them
// to a Submitter. The adapter below is that Submitter. It lives here, in
// the composition root, so that intake, queue, dispatch and the journal see
// only fault events with Source "alertmanager" and never import the
// source.

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/health"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// faultEnder is the part of dispatch a resolved alert needs.
type faultEnder interface {
	FaultEnded(cluster, faultID string, at time.Time) bool
}

// alertSubmitter runs mapped alerts through intake into the durable queues.
type alertSubmitter struct {
	in     *intake.Intake
	queues *queue.Set
	agents faultEnder
	// resolved counts faults a resolution took out of their queue.
	resolved func(cluster string)
	now      func() time.Time
}

// Submit queues each firing alert through intake. Intake writes a fault
// to the state store before it reports it queued, so a nil error means
// every accepted alert is durable; an alert the store could not take
// (persist_failed) makes it an error, so the endpoint answers 503 and
// Alertmanager sends the notification again. Alerts are remembered until
// they resolve (intake.SubmitUntilEnded), so Alertmanager's repeats stay
// duplicates past --dedup-window.
func (s alertSubmitter) Submit(_ context.Context, faults []alertmanager.Fault) ([]alertmanager.Outcome, error) {
	out := make([]alertmanager.Outcome, len(faults))
	for i, f := range faults {
		o := s.in.SubmitUntilEnded(f.Cluster, alertEvent(f))
		if o == intake.PersistFailed {
			// The store is failing: the rest would fail too, and the
			// whole notification comes again.
			return nil, fmt.Errorf("alert %d of %d (fault %s of cluster %s) could not be written to the state store",
				i+1, len(faults), f.FaultID, f.Cluster)
		}
		out[i] = alertmanager.Outcome(o)
	}
	return out, nil
}

// Resolve takes a resolved alert's fault out of its queue (the removal is
// written to the state store first), or, when its agent runs, has the
// incident record that the alert resolved meanwhile.
func (s alertSubmitter) Resolve(_ context.Context, cluster, faultID string) (removed, running bool, err error) {
	q := s.queues.Get(cluster)
	if q == nil {
		return false, false, nil
	}
	// The queue first: a worker takes a fault from its queue and marks it
	// running in one step, so a fault missed here is found running below.
	removed, err = q.Remove(faultID)
	if err != nil {
		return false, false, fmt.Errorf("remove fault %s from the queue of cluster %s: %w", faultID, cluster, err)
	}
	s.in.End(cluster, faultID)
	if removed {
		s.resolved(cluster)
		return true, false, nil
	}
	return false, s.agents.FaultEnded(cluster, faultID, s.now()), nil
}

// alertEvent is a mapped alert as the fault event every source produces.
func alertEvent(f alertmanager.Fault) fault.Event {
	return fault.Event{
		Source: f.Source, Cluster: f.Cluster, FaultID: f.FaultID, FaultType: f.FaultType, Severity: f.Severity,
		Resource: fault.Resource{
			APIVersion: f.Resource.APIVersion, Kind: f.Resource.Kind,
			Name: f.Resource.Name, Namespace: f.Resource.Namespace,
		},
		Context: f.Context, Timestamp: f.Timestamp,
	}
}

// alertMetrics counts what the endpoint did in the runner's metrics. An
// alert that names no configured cluster, or cannot be read, is also a
// fault received and filtered (unknown_cluster, malformed), counted with
// an empty cluster so the name it carried never becomes a label value.
type alertMetrics struct{ m *metrics.Metrics }

func (a alertMetrics) Notification(result string) {
	a.m.AlertmanagerNotifications.WithLabelValues(result).Inc()
}

func (a alertMetrics) AlertReceived(cluster, severity string) {
	a.m.AlertmanagerAlertsReceived.WithLabelValues(cluster, severity).Inc()
}

func (a alertMetrics) AlertOutcome(cluster string, o alertmanager.Outcome) {
	a.m.AlertmanagerAlerts.WithLabelValues(cluster, string(o)).Inc()
	if cluster == "" && (o == alertmanager.UnknownCluster || o == alertmanager.Malformed) {
		a.m.EventsReceived.WithLabelValues("", fault.SeverityUnknown.String()).Inc()
		a.m.EventsFiltered.WithLabelValues("", string(o)).Inc()
	}
}

// submitOutcomes are the intake outcomes Submit can report for an alert;
// with alertmanager.AlertOutcomes and Truncated they are the outcome label
// values of alertmanager_alerts_total.
func submitOutcomes() []alertmanager.Outcome {
	var out []alertmanager.Outcome
	for _, o := range []intake.Outcome{intake.Queued, intake.Duplicate, intake.SeverityLow, intake.TriageDisabled,
		intake.QueueFull, intake.BreakerOpen} {
		out = append(out, alertmanager.Outcome(o))
	}
	return out
}

// alertIntake builds the Alertmanager endpoint, or nil when
// --intake-address is not set. Its errors are configuration errors.
func alertIntake(cfg config.Config, s alertSubmitter, m *metrics.Metrics, logger *slog.Logger) (*alertmanager.Service, error) {
	if cfg.IntakeAddress == "" {
		return nil, nil
	}
	mapping, err := alertmanager.LoadMapping(cfg.AlertmanagerMappingFile)
	if err != nil {
		return nil, fmt.Errorf("--alertmanager-mapping-file (ALERTMANAGER_MAPPING_FILE): %w", err)
	}
	svc, err := alertmanager.New(alertmanager.Options{
		Address: cfg.IntakeAddress,
		Auth: alertmanager.Auth{
			BearerTokenFile:   cfg.IntakeBearerTokenFile,
			BasicAuthUsername: cfg.IntakeBasicAuthUsername, BasicAuthPasswordFile: cfg.IntakeBasicAuthPasswordFile,
		},
		MaxBodyBytes: int64(cfg.IntakeMaxBodyBytes), Mapping: mapping, Clusters: cfg.ClusterNames(),
		Submitter: s, Metrics: alertMetrics{m}, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("--intake-address (INTAKE_ADDRESS): %w", err)
	}
	return svc, nil
}

// sourcesCheck makes the runner ready while faults can arrive: while an
// MCP session is live (mcpsession.Set.Ready), or, while some cluster is
// alert-only (alertOnly, which a reload changes), once the Alertmanager
// endpoint listens. It lists the sessions' blind windows in
// /readyz?verbose.
func sourcesCheck(sessions *mcpsession.Set, alerts *alertmanager.Service, alertOnly *atomic.Int32) health.Check {
	ready := func() error {
		err := sessions.Ready()
		if err != nil && len(sessions.Sessions()) == 0 && alertOnly.Load() == 0 {
			return nil // no cluster at all (a shard that owns none): nothing to wait for
		}
		if err == nil || alerts == nil || alertOnly.Load() == 0 {
			return err
		}
		select {
		case <-alerts.Listening():
			return nil
		default:
			return fmt.Errorf("%w, and the Alertmanager endpoint is not listening yet", err)
		}
	}
	return health.Check{Name: "sse", Fn: ready, Detail: sessions.BlindWindows}
}
