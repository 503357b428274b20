// Package history is the read side of incidents: the incidents page's
// store, /api/incidents and the incidents command read finished and
// running incidents, their workspaces and their deliveries through it, from
// a running runner's store or from a stopped runner's state directory.
package history

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

// PageStore is the incidents page's ui.Store over the journal (history,
// running incidents, outbox) and the incident workspaces (event.json, the
// report, agent.log).
type PageStore struct {
	Store         *journal.Store
	WorkspaceRoot string
	// ReportFile is the report's path relative to a workspace.
	ReportFile string
}

// Bounds on what a page request reads of a workspace.
const (
	pageReportBytes = 1 << 20
	LogTailBytes    = 64 << 10
	pageEventBytes  = 256 << 10
)

func (p PageStore) List(_ context.Context, f ui.Filter) ([]ui.Summary, error) {
	var out []ui.Summary
	keep := func(s ui.Summary) bool {
		at := s.EndedAt
		if at.IsZero() {
			at = s.StartedAt
		}
		return (f.Cluster == "" || s.Cluster == f.Cluster) && (f.Status == "" || s.Status == f.Status) &&
			(f.Since.IsZero() || !at.Before(f.Since))
	}
	if f.Status == "" || f.Status == "running" {
		running, err := p.Store.Running()
		if err != nil {
			return nil, err
		}
		for _, r := range running {
			s := ui.Summary{ID: r.IncidentID, Cluster: r.Item.Cluster, Status: "running", StartedAt: r.StartedAt, Attempts: attemptOf(r),
				Members: 1 + len(r.Item.Members)}
			fillFault(&s, r.Item.Event.Source, r.Item.Event.FaultType, r.Item.Event.Severity, resourceString(r.Item.Event.Resource.Kind, r.Item.Event.Resource.Namespace, r.Item.Event.Resource.Name))
			if keep(s) {
				out = append(out, s)
			}
		}
		slices.SortFunc(out, func(a, b ui.Summary) int { return b.StartedAt.Compare(a.StartedAt) })
	}
	if f.Status != "running" {
		history, err := p.Store.History(0)
		if err != nil {
			return nil, err
		}
		for _, r := range history {
			if f.Limit > 0 && len(out) >= f.Limit {
				break
			}
			if !f.Since.IsZero() && r.EndedAt.Before(f.Since) {
				break // newest first: the rest are older
			}
			s := summaryOf(r)
			if keep(s) {
				out = append(out, s)
			}
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	// The fault's details are in each workspace's event.json: read only
	// for the rows shown.
	for i := range out {
		if out[i].FaultType == "" || out[i].Severity == "" {
			p.fillFromEvent(&out[i], p.workspace(out[i].Cluster, out[i].ID))
		}
	}
	return out, nil
}

func summaryOf(r incident.Record) ui.Summary {
	s := ui.Summary{
		ID: r.IncidentID, Cluster: r.Cluster, FaultType: r.FaultType, Status: string(r.Status), Reason: r.Reason,
		Source: r.Source, Severity: r.Severity, Resource: r.Resource,
		Attempts: r.Attempts, StartedAt: r.StartedAt, EndedAt: r.EndedAt,
		Duration: time.Duration(r.DurationSeconds * float64(time.Second)),
	}
	s.Cost, s.Tokens = SpendCells(r.Spend)
	if r.Spend != nil {
		s.Model = r.Spend.Model
	}
	if r.Group != nil {
		s.GroupKey, s.Members = r.Group.Key, len(r.Group.Members)
	}
	if f := r.Feedback; f != nil {
		s.Verdict, s.FeedbackNote, s.FeedbackAt = f.Verdict, f.Note, f.At
	}
	return s
}

// membersOf are a group's members and related faults as the page shows them.
func membersOf(g *incident.Group) (members, related []ui.Member) {
	if g == nil {
		return nil, nil
	}
	conv := func(ms []incident.Member) []ui.Member {
		out := make([]ui.Member, len(ms))
		for i, m := range ms {
			out[i] = ui.Member{FaultType: m.FaultType, Severity: m.Severity,
				Resource: resourceString(m.Resource.Kind, m.Resource.Namespace, m.Resource.Name)}
			if t := m.Topology; t != nil {
				out[i].Node = t.Node
				if top, ok := t.Top(); ok {
					out[i].Owner = top.Kind + "/" + top.Name
				}
			}
		}
		return out
	}
	return conv(g.Members), conv(g.Related)
}

func fillFault(s *ui.Summary, source, faultType, severity, resource string) {
	s.Source, s.FaultType, s.Severity, s.Resource = source, faultType, severity, resource
}

func resourceString(kind, namespace, name string) string {
	return notification.Resource{Kind: kind, Namespace: namespace, Name: name}.String()
}

// workspace is an incident's directory, always under the workspace root:
// the id was checked by ui.ValidID and the cluster is a configured name.
func (p PageStore) workspace(cluster, id string) string {
	return filepath.Join(p.WorkspaceRoot, filepath.Base(cluster), filepath.Base(id))
}

// fillFromEvent completes a summary from the workspace's event.json.
func (p PageStore) fillFromEvent(s *ui.Summary, dir string) []byte {
	_, data := workspace.ReadHead(filepath.Join(dir, incident.EventFile), pageEventBytes)
	var doc incident.EventDocument
	if json.Unmarshal(data, &doc) == nil {
		ev := doc.Fault
		if s.FaultType == "" {
			s.FaultType = ev.FaultType
		}
		s.Source, s.Severity = ev.Source, ev.Level().String()
		s.Resource = resourceString(ev.Resource.Kind, ev.Resource.Namespace, ev.Resource.Name)
	}
	return data
}

func (p PageStore) Get(_ context.Context, id string) (ui.Incident, error) {
	var inc ui.Incident
	rec, ok, err := p.Store.Record(id)
	if err != nil {
		return inc, err
	}
	if ok {
		inc.Summary = summaryOf(rec)
		inc.Runs = []ui.Run{{Number: rec.Attempts, StartedAt: rec.StartedAt, EndedAt: rec.EndedAt, Status: string(rec.Status), Reason: rec.Reason}}
	} else {
		running, err := p.Store.Running()
		if err != nil {
			return inc, err
		}
		i := slices.IndexFunc(running, func(f journal.InFlight) bool { return f.IncidentID == id })
		if i < 0 {
			return inc, fmt.Errorf("incident %s: %w", id, ui.ErrNotFound)
		}
		r := running[i]
		inc.Summary = ui.Summary{ID: id, Cluster: r.Item.Cluster, Status: "running", StartedAt: r.StartedAt, Attempts: attemptOf(r)}
		inc.Runs = []ui.Run{{Number: attemptOf(r), StartedAt: r.StartedAt, Status: "running"}}
	}
	dir := p.workspace(inc.Cluster, id)
	inc.Event = p.fillFromEvent(&inc.Summary, dir)
	group := rec.Group
	if !ok {
		// Running: the group is in event.json until the result has it.
		var doc incident.EventDocument
		if json.Unmarshal(inc.Event, &doc) == nil && doc.Group != nil {
			group = doc.Group
			inc.GroupKey, inc.Members = group.Key, len(group.Members)
		}
	}
	inc.Covered, inc.Related = membersOf(group)
	if p.ReportFile != "" {
		size, report := workspace.ReadHead(filepath.Join(dir, p.ReportFile), pageReportBytes)
		inc.Report, inc.ReportName, inc.ReportTruncated = report, filepath.Base(p.ReportFile), size > int64(len(report))
	}
	inc.LogTail, inc.LogTruncated = workspace.ReadTail(filepath.Join(dir, incident.LogFile), LogTailBytes)
	recs, err := p.Store.Deliveries(notification.IncidentKey(id))
	if err != nil {
		return inc, err
	}
	for _, r := range recs {
		inc.Deliveries = append(inc.Deliveries, ui.Delivery{
			Sink: r.Sink, State: string(r.State), Attempts: r.Attempts, LastError: r.LastError,
			NextAttemptAt: r.NextAttemptAt, DeliveredAt: r.DeliveredAt, DeadReason: r.DeadReason,
		})
	}
	return inc, nil
}

// attemptOf is the attempt a running incident is on: dispatch counts the
// attempt in the item before it records the start.
func attemptOf(f journal.InFlight) int { return max(f.Item.Attempts, 1) }
