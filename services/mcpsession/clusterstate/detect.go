package clusterstate

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// SourceReconcile is the Source of the faults reconcile builds: the faults
// the server would have sent while no subscription was live.
const SourceReconcile = "mcp-reconcile"

// The server's five detectors are edge-triggered: each compares an
// object's old and new state and fires on the change into a fault state.
// Reconcile sees one state only, the current one, so it applies each
// detector's criterion to that state, as a level:
//
//   - CrashLoop: a container whose state is waiting with reason
//     CrashLoopBackOff (critical). Same as the detector's new-state test;
//     only the "was not in it before" half is unknowable, and a container
//     still in back-off has not been seen leaving it either.
//   - PodCrash (warning): the detector fires when restartCount rises and
//     the container is terminated with a non-zero exit code. The rise is an
//     edge the current state cannot show. What it can show: a container
//     terminated with a non-zero code now with restartCount > 0 (the same
//     state the detector fires on, still standing); and, only when the
//     window of blindness is known (Scope.Since), a container whose
//     lastState is terminated non-zero after Since with restartCount > 0:
//     a crash inside the window, followed by a restart. Without Since
//     lastState is not used, or every pod that ever crashed would be
//     reported. A pod whose crashed container has already been restarted
//     and whose status carries no lastState (status written by hand, as in
//     the recordings) shows no crash at all.
//   - NodeUnhealthy: a node whose Ready condition is False (critical) or
//     Unknown (warning). The detector also wants Ready to have been True
//     before; a node that never became Ready is reported here too.
//   - DeploymentFailure: Progressing is False with reason
//     ProgressDeadlineExceeded (critical).
//   - JobFailure: condition Failed is True; critical when its reason is
//     BackoffLimitExceeded, warning otherwise.
//
// Where the state carries the transition's time (a condition's
// lastTransitionTime, a termination's finishedAt), the fault's timestamp is
// that time, and with Scope.Since set a transition before Since is left
// out: the server sent it while the subscription was live. CrashLoop
// carries no time: its timestamp is the reconcile's clock. The context
// strings are built as the detectors build them.

// Kubernetes kinds and the apiVersion the server puts in a fault for each.
const (
	kindPod        = "Pod"
	kindNode       = "Node"
	kindDeployment = "Deployment"
	kindJob        = "Job"
)

func apiVersionOf(kind string) string {
	switch kind {
	case kindDeployment:
		return "apps/v1"
	case kindJob:
		return "batch/v1"
	}
	return "v1"
}

// detector turns one object's current state into the faults the server's
// detectors would have sent for it.
type detector struct {
	cluster string
	since   time.Time
	now     time.Time
}

func (d detector) event(o Object, faultType, severity, container, detail string, at time.Time) fault.Event {
	if at.IsZero() {
		at = d.now
	}
	ctx, _ := json.Marshal(detail)
	return fault.Event{
		Source:    SourceReconcile,
		Cluster:   d.cluster,
		FaultID:   FaultID(d.cluster, faultType, o.Metadata.UID, container),
		FaultType: faultType,
		Severity:  severity,
		Resource: fault.Resource{
			APIVersion: apiVersionOf(o.Kind), Kind: o.Kind, Name: o.Metadata.Name,
			Namespace: o.Metadata.Namespace, UID: o.Metadata.UID,
		},
		Context:   ctx,
		Timestamp: at.UTC(),
	}
}

// before says whether a transition at t is known to predate the window.
func (d detector) before(t time.Time) bool {
	return !d.since.IsZero() && !t.IsZero() && t.Before(d.since)
}

func (d detector) faults(o Object) []fault.Event {
	switch o.Kind {
	case kindPod:
		return d.pod(o)
	case kindNode:
		return d.node(o)
	case kindDeployment:
		return d.deployment(o)
	case kindJob:
		return d.job(o)
	}
	return nil
}

func (d detector) pod(o Object) []fault.Event {
	var out []fault.Event
	for _, cs := range o.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			detail := fmt.Sprintf("Container entered CrashLoopBackOff state, restart count: %d", cs.RestartCount)
			if w.Message != "" {
				detail += ", waiting message: " + w.Message
			}
			if t := cs.LastState.Terminated; t != nil {
				if t.ExitCode != 0 {
					detail += fmt.Sprintf(", last exit code: %d", t.ExitCode)
				}
				if t.Reason != "" {
					detail += ", last reason: " + t.Reason
				}
				if t.Message != "" {
					detail += ", termination message: " + t.Message
				}
			}
			out = append(out, d.event(o, fault.TypeCrashLoop, "critical", cs.Name, detail, time.Time{}))
		}
		if cs.RestartCount <= 0 {
			continue
		}
		t := cs.State.Terminated
		if t == nil && !d.since.IsZero() {
			t = cs.LastState.Terminated
			if t != nil && t.FinishedAt.IsZero() {
				t = nil // a crash of unknown time cannot be placed in the window
			}
		}
		if t == nil || t.ExitCode == 0 || d.before(t.FinishedAt) {
			continue
		}
		detail := fmt.Sprintf("Container crashed with exit code %d", t.ExitCode)
		if t.Reason != "" {
			detail += ", reason: " + t.Reason
		}
		if t.Message != "" {
			detail += ", message: " + t.Message
		}
		out = append(out, d.event(o, fault.TypePodCrash, "warning", cs.Name, detail, t.FinishedAt))
	}
	return out
}

func (d detector) node(o Object) []fault.Event {
	c, ok := o.Condition("Ready")
	if !ok || (c.Status != "False" && c.Status != "Unknown") || d.before(c.LastTransitionTime) {
		return nil
	}
	severity := "warning"
	if c.Status == "False" {
		severity = "critical"
	}
	detail := "Node became unhealthy: Ready=" + c.Status
	if c.Reason != "" {
		detail += ", reason: " + c.Reason
	}
	if c.Message != "" {
		detail += ", message: " + c.Message
	}
	return []fault.Event{d.event(o, fault.TypeNodeUnhealthy, severity, "", detail, c.LastTransitionTime)}
}

func (d detector) deployment(o Object) []fault.Event {
	c, ok := o.Condition("Progressing")
	if !ok || c.Status != "False" || c.Reason != "ProgressDeadlineExceeded" || d.before(c.LastTransitionTime) {
		return nil
	}
	detail := "Deployment rollout failed: ProgressDeadlineExceeded"
	if c.Message != "" {
		detail += ", message: " + c.Message
	}
	return []fault.Event{d.event(o, fault.TypeDeploymentFailure, "critical", "", detail, c.LastTransitionTime)}
}

func (d detector) job(o Object) []fault.Event {
	c, ok := o.Condition("Failed")
	if !ok || c.Status != "True" || d.before(c.LastTransitionTime) {
		return nil
	}
	severity := "warning"
	if c.Reason == "BackoffLimitExceeded" {
		severity = "critical"
	}
	detail := "Job failed"
	if c.Reason != "" {
		detail += ", reason: " + c.Reason
	}
	if c.Message != "" {
		detail += ", message: " + c.Message
	}
	return []fault.Event{d.event(o, fault.TypeJobFailure, severity, "", detail, c.LastTransitionTime)}
}
