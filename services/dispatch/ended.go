package dispatch

import (
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// faultKey names one fault of one cluster.
type faultKey struct{ cluster, faultID string }

// FaultEnded records that the source of a fault reported it over at at. It
// returns true when an agent for the fault is running: the agent is left
// to finish, and its incident's result.json and history record carry the
// time as faultResolvedAt. It returns false (and records nothing) when no
// agent for the fault runs.
//
// A worker takes a fault from its queue and registers it as running in one
// step under the dispatcher's lock, so a caller that first fails to remove
// the fault from its queue and then calls FaultEnded cannot miss it.
func (d *Dispatcher) FaultEnded(cluster, faultID string, at time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.runningFaults[faultKey{cluster, faultID}]
	if !ok {
		return false
	}
	if _, seen := d.ended[id]; !seen {
		d.ended[id] = at
	}
	d.logger.Info("Fault reported over while its agent runs; letting the agent finish",
		"cluster", cluster, "fault_id", faultID, "incident_id", id)
	return true
}

// noteEnded copies the reported end of the incident's fault, if any, into
// its result, with the group the incident covered.
func (d *Dispatcher) noteEnded(id string, result *incident.Result) {
	d.mu.Lock()
	if at, ok := d.ended[id]; ok {
		result.FaultResolvedAt = &at
	}
	d.mu.Unlock()
	d.noteGroup(id, result)
}

// forgetFault ends the bookkeeping of a finished incident's fault.
func (d *Dispatcher) forgetFault(it queue.Item, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := faultKey{it.Cluster, it.Event.FaultID}
	if d.runningFaults[k] == id {
		delete(d.runningFaults, k)
	}
	delete(d.ended, id)
}
