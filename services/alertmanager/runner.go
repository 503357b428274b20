package alertmanager

import (
	"context"
	"fmt"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// FaultEnder is the part of dispatch a resolved alert needs.
type FaultEnder interface {
	FaultEnded(cluster, faultID string, at time.Time) bool
}

// IntakeSubmitter is the runner's Submitter: it runs mapped alerts through
// intake into the durable queues, as the MCP sessions do with faults, so
// that queue, dispatch and the journal see only fault events with Source
// "alertmanager".
type IntakeSubmitter struct {
	Intake *intake.Intake
	Queues *queue.Set
	// Agents finds a resolved alert's fault among the running incidents.
	Agents FaultEnder
	// Resolved counts faults a resolution took out of their queue.
	Resolved func(cluster string)
	Now      func() time.Time
	// Topology says which alert labels name the node, the pod and its
	// controllers (topology.go); nil: DefaultLabelMap, kube-prometheus-
	// stack's labels.
	Topology *LabelMap
}

// Submit queues each firing alert through intake. Intake writes a fault
// to the state store before it reports it queued, so a nil error means
// every accepted alert is durable; an alert the store could not take
// (persist_failed) makes it an error, so the endpoint answers 503 and
// Alertmanager sends the notification again. Alerts are remembered until
// they resolve (intake.SubmitUntilEnded), so Alertmanager's repeats stay
// duplicates past --dedup-window.
func (s IntakeSubmitter) Submit(_ context.Context, faults []Fault) ([]Outcome, error) {
	out := make([]Outcome, len(faults))
	labels := DefaultLabelMap()
	if s.Topology != nil {
		labels = *s.Topology
	}
	for i, f := range faults {
		// What the labels say is all the topology an alert has: it is
		// set here, like the sessions set theirs, never by the payload.
		f.Event.Topology = nil
		if t := TopologyFromLabels(f.Labels, labels); t.Node != "" || len(t.Owners) > 0 {
			f.Event.Topology = &t
		}
		o := s.Intake.SubmitUntilEnded(f.Cluster, f.Event)
		if o == intake.PersistFailed {
			// The store is failing: the rest would fail too, and the
			// whole notification comes again.
			return nil, fmt.Errorf("alert %d of %d (fault %s of cluster %s) could not be written to the state store",
				i+1, len(faults), f.FaultID, f.Cluster)
		}
		out[i] = Outcome(o)
	}
	return out, nil
}

// Resolve takes a resolved alert's fault out of its queue (the removal is
// written to the state store first), or, when its agent runs, has the
// incident record that the alert resolved meanwhile.
func (s IntakeSubmitter) Resolve(_ context.Context, cluster, faultID string) (removed, running bool, err error) {
	q := s.Queues.Get(cluster)
	if q == nil {
		return false, false, nil
	}
	// The queue first: a worker takes a fault from its queue and marks it
	// running in one step, so a fault missed here is found running below.
	removed, err = q.Remove(faultID)
	if err != nil {
		return false, false, fmt.Errorf("remove fault %s from the queue of cluster %s: %w", faultID, cluster, err)
	}
	s.Intake.End(cluster, faultID)
	if removed {
		s.Resolved(cluster)
		return true, false, nil
	}
	return false, s.Agents.FaultEnded(cluster, faultID, s.Now()), nil
}

// RunnerMetrics counts what the endpoint did in the runner's metrics. An
// alert that names no configured cluster, or cannot be read, is also a
// fault received and filtered (unknown_cluster, malformed), counted with
// an empty cluster so the name it carried never becomes a label value.
type RunnerMetrics struct{ M *metrics.Metrics }

func (a RunnerMetrics) Notification(result string) {
	a.M.AlertmanagerNotifications.WithLabelValues(result).Inc()
}

func (a RunnerMetrics) AlertReceived(cluster, severity string) {
	a.M.AlertmanagerAlertsReceived.WithLabelValues(cluster, severity).Inc()
}

func (a RunnerMetrics) AlertOutcome(cluster string, o Outcome) {
	a.M.AlertmanagerAlerts.WithLabelValues(cluster, string(o)).Inc()
	if cluster == "" && (o == UnknownCluster || o == Malformed) {
		a.M.EventsReceived.WithLabelValues("", fault.SeverityUnknown.String()).Inc()
		a.M.EventsFiltered.WithLabelValues("", string(o)).Inc()
	}
}

// SubmitOutcomes are the intake outcomes Submit can report for an alert;
// with AlertOutcomes and Truncated they are the outcome label
// values of alertmanager_alerts_total.
func SubmitOutcomes() []Outcome {
	var out []Outcome
	for _, o := range []intake.Outcome{intake.Queued, intake.Duplicate, intake.SeverityLow, intake.TriageDisabled,
		intake.QueueFull, intake.BreakerOpen} {
		out = append(out, Outcome(o))
	}
	return out
}
