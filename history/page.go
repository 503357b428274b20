// Package history is the read side of incidents: the incidents page's
// store, /api/incidents and the incidents command read finished and
// running incidents, their workspaces and their deliveries through it, from
// a running runner's store or from a stopped runner's state directory.
package history

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
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

// PageScanLimit bounds how many history records one list request reads:
// a filter that matches little stops there, and the page says the search
// covered the newest records only (search is how people reach older ones).
const PageScanLimit = 20000

func (p PageStore) List(_ context.Context, f ui.Filter) ([]ui.Summary, error) {
	var out []ui.Summary
	want := f.Offset + f.Limit
	if f.Limit <= 0 {
		want = 0
	}
	if f.Status == "" || f.Status == "running" {
		running, err := p.Store.Running()
		if err != nil {
			return nil, err
		}
		for _, r := range running {
			ev := r.Item.Event
			s := ui.Summary{ID: r.IncidentID, Cluster: r.Item.Cluster, FaultID: ev.FaultID, Status: "running", StartedAt: r.StartedAt,
				EnqueuedAt: r.Item.EnqueuedAt, Attempts: attemptOf(r), Members: 1 + len(r.Item.Members)}
			fillFault(&s, ev.Source, ev.FaultType, ev.Level().String(), resourceString(ev.Resource.Kind, ev.Resource.Namespace, ev.Resource.Name))
			if f.Keep(s) {
				out = append(out, s)
			}
		}
		slices.SortFunc(out, func(a, b ui.Summary) int { return b.StartedAt.Compare(a.StartedAt) })
	}
	if f.Status != "running" && (want == 0 || len(out) < want) {
		recs, err := p.scan(f, want-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	if f.Offset > 0 {
		out = out[min(f.Offset, len(out)):]
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	// Records written before the history kept the fault's details and
	// when it was queued have them only in the workspace's event.json:
	// read it for those rows alone, so a page of new records reads no
	// workspace.
	for i := range out {
		if s := out[i]; s.Status != "running" && (s.Severity == "" || s.Resource == "" || s.EnqueuedAt.IsZero()) {
			p.fillFromEvent(&out[i], p.workspace(out[i].Cluster, out[i].ID))
		}
	}
	return out, nil
}

// scan reads the history newest first until n records match f (0: all),
// in a window that grows eightfold: a page near the top costs a read of
// about its own depth, a filter that matches little reads at most 8 times
// the depth it needs, and one that matches nothing reads PageScanLimit
// records and the smaller windows before it (1.25 times PageScanLimit),
// never the whole history.
func (p PageStore) scan(f ui.Filter, n int) ([]ui.Summary, error) {
	window := max(n, 64)
	if n == 0 {
		window = PageScanLimit
	}
	for {
		window = min(window, PageScanLimit)
		history, err := p.Store.History(window)
		if err != nil {
			return nil, err
		}
		var out []ui.Summary
		for _, r := range history {
			if n > 0 && len(out) >= n {
				break
			}
			if !f.Since.IsZero() && r.EndedAt.Before(f.Since) {
				return out, nil // newest first: the rest are older
			}
			if s := summaryOf(r); f.Keep(s) {
				out = append(out, s)
			}
		}
		if (n > 0 && len(out) >= n) || len(history) < window || window == PageScanLimit {
			return out, nil
		}
		window *= 8
	}
}

func summaryOf(r incident.Record) ui.Summary {
	s := ui.Summary{
		ID: r.IncidentID, Cluster: r.Cluster, FaultID: r.FaultID, FaultType: r.FaultType, Status: string(r.Status), Reason: r.Reason,
		Source: r.Source, Severity: r.Severity, Resource: r.Resource, EnqueuedAt: r.EnqueuedAt,
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
		if s.FaultID == "" {
			s.FaultID = ev.FaultID
		}
		if s.Severity == "" || s.Resource == "" {
			s.Source, s.Severity = ev.Source, ev.Level().String()
			s.Resource = resourceString(ev.Resource.Kind, ev.Resource.Namespace, ev.Resource.Name)
		}
		if s.EnqueuedAt.IsZero() {
			s.EnqueuedAt = doc.EnqueuedAt
		}
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
		inc.Summary = ui.Summary{ID: id, Cluster: r.Item.Cluster, Status: "running", StartedAt: r.StartedAt, Attempts: attemptOf(r),
			EnqueuedAt: r.Item.EnqueuedAt}
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

// File reads one of an incident's workspace files for the page's links
// (ui.FileReader): the end of agent.log, the beginning of the others, at
// most limit bytes. The path is built from the store's own record (its
// cluster) and a fixed file name, never from the request.
func (p PageStore) File(_ context.Context, id, name string, limit int64) ([]byte, bool, error) {
	var file string
	switch name {
	case incident.EventFile, incident.ResultFile, incident.LogFile:
		file = name
	case "report":
		file = p.ReportFile
	}
	if file == "" || !ui.ValidID(id) {
		return nil, false, fmt.Errorf("file %q: %w", name, ui.ErrNotFound)
	}
	cluster, err := p.clusterOf(id)
	if err != nil {
		return nil, false, err
	}
	path := filepath.Join(p.workspace(cluster, id), file)
	// Lstat: the agent wrote the workspace, and a link it left there
	// must not make the page serve a file from outside it.
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("incident %s: %s: %w", id, name, ui.ErrNotFound)
	}
	if name == incident.LogFile {
		data, truncated := workspace.ReadTail(path, limit)
		return data, truncated, nil
	}
	size, data := workspace.ReadHead(path, limit)
	return data, size > int64(len(data)), nil
}

// clusterOf is the cluster of a finished or running incident.
func (p PageStore) clusterOf(id string) (string, error) {
	rec, ok, err := p.Store.Record(id)
	if err != nil {
		return "", err
	}
	if ok {
		return rec.Cluster, nil
	}
	running, err := p.Store.Running()
	if err != nil {
		return "", err
	}
	for _, r := range running {
		if r.IncidentID == id {
			return r.Item.Cluster, nil
		}
	}
	return "", fmt.Errorf("incident %s: %w", id, ui.ErrNotFound)
}

// ClusterScanLimit bounds how far back the clusters view looks for each
// cluster's newest incident.
const ClusterScanLimit = 5000

// LastIncidents is each cluster's newest incident (running or among the
// newest ClusterScanLimit finished ones), by cluster name.
func (p PageStore) LastIncidents() (map[string]ui.Summary, error) {
	out := map[string]ui.Summary{}
	running, err := p.Store.Running()
	if err != nil {
		return nil, err
	}
	for _, r := range running {
		if cur, ok := out[r.Item.Cluster]; !ok || r.StartedAt.After(cur.StartedAt) {
			out[r.Item.Cluster] = ui.Summary{ID: r.IncidentID, Cluster: r.Item.Cluster, FaultType: r.Item.Event.FaultType, StartedAt: r.StartedAt}
		}
	}
	history, err := p.Store.History(ClusterScanLimit)
	if err != nil {
		return nil, err
	}
	for _, r := range history {
		if cur, ok := out[r.Cluster]; !ok || r.StartedAt.After(cur.StartedAt) {
			out[r.Cluster] = ui.Summary{ID: r.IncidentID, Cluster: r.Cluster, FaultType: r.FaultType, StartedAt: r.StartedAt}
		}
	}
	return out, nil
}
