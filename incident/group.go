package incident

import (
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Group is what an incident covers when correlated faults were grouped
// into it (package grouping): event.json carries it so the agent sees the
// whole picture, and result.json and the history record keep it so the
// page can show the members and a restart can rebuild the cooldowns.
type Group struct {
	// Key is the group's root-cause key ("node:n1",
	// "owner:Deployment/default/web", "resource:Pod/default/web-1") and
	// Kind its kind (node, owner, resource).
	Key  string `json:"key"`
	Kind string `json:"kind"`
	// Keys are every key the group's members had, strongest first: later
	// faults with one of them are related to this incident.
	Keys []string `json:"keys,omitempty"`
	// Primary is the fault id the investigation is about first.
	Primary string `json:"primary"`
	// Members are every fault the incident covers, the primary among
	// them, in arrival order.
	Members []Member `json:"members"`
	// LookupFailures are the topology lookups that failed for members:
	// where they are, the grouping fell back to the resource alone.
	LookupFailures []string `json:"lookupFailures,omitempty"`
	// Related are faults that arrived while the incident ran and were
	// attached to it instead of starting a run (result.json and history).
	Related []Member `json:"related,omitempty"`
	// Recall lists earlier incidents of the same key, newest first
	// (event.json only).
	Recall []Recall `json:"recall,omitempty"`
}

// Member is one fault of a group.
type Member struct {
	FaultID    string          `json:"faultId"`
	FaultType  string          `json:"faultType"`
	Severity   string          `json:"severity"`
	Resource   fault.Resource  `json:"resource"`
	Topology   *fault.Topology `json:"topology,omitempty"`
	EnqueuedAt time.Time       `json:"enqueuedAt"`
}

// Recall is an earlier incident of the same key, for an agent to see what
// was found before.
type Recall struct {
	IncidentID string    `json:"incidentId"`
	EndedAt    time.Time `json:"endedAt"`
	Status     Status    `json:"status"`
	Members    int       `json:"members"`
	// Title and Summary are the report's first heading and its first
	// lines, when the incident left a report.
	Title   string   `json:"title,omitempty"`
	Summary []string `json:"summary,omitempty"`
	// Feedback is what people said of its diagnosis, if anything.
	Feedback *Feedback `json:"feedback,omitempty"`
}

// Size is how many faults the group covers.
func (g *Group) Size() int {
	if g == nil {
		return 1
	}
	return len(g.Members)
}

// MemberOf is a fault as a group member.
func MemberOf(ev fault.Event, enqueued time.Time) Member {
	return Member{FaultID: ev.FaultID, FaultType: ev.FaultType, Severity: ev.Severity,
		Resource: ev.Resource, Topology: ev.Topology, EnqueuedAt: enqueued}
}
