package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// pageStore is the incidents page's ui.Store over the journal (history,
// running incidents, outbox) and the incident workspaces (event.json, the
// report, agent.log).
type pageStore struct {
	store         *journal.Store
	workspaceRoot string
	reportFile    string
}

// Bounds on what a page request reads of a workspace.
const (
	pageReportBytes = 1 << 20
	pageLogTail     = 64 << 10
	pageEventBytes  = 256 << 10
)

func (p pageStore) List(_ context.Context, f ui.Filter) ([]ui.Summary, error) {
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
		running, err := p.store.Running()
		if err != nil {
			return nil, err
		}
		for _, r := range running {
			s := ui.Summary{ID: r.IncidentID, Cluster: r.Item.Cluster, Status: "running", StartedAt: r.StartedAt, Attempts: r.Item.Attempts + 1}
			fillFault(&s, r.Item.Event.Source, r.Item.Event.FaultType, r.Item.Event.Severity, resourceString(r.Item.Event.Resource.Kind, r.Item.Event.Resource.Namespace, r.Item.Event.Resource.Name))
			if keep(s) {
				out = append(out, s)
			}
		}
		slices.SortFunc(out, func(a, b ui.Summary) int { return b.StartedAt.Compare(a.StartedAt) })
	}
	if f.Status != "running" {
		history, err := p.store.History(0)
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
	return ui.Summary{
		ID: r.IncidentID, Cluster: r.Cluster, FaultType: r.FaultType, Status: string(r.Status), Reason: r.Reason,
		Attempts: r.Attempts, StartedAt: r.StartedAt, EndedAt: r.EndedAt,
		Duration: time.Duration(r.DurationSeconds * float64(time.Second)),
	}
}

func fillFault(s *ui.Summary, source, faultType, severity, resource string) {
	s.Source, s.FaultType, s.Severity, s.Resource = source, faultType, severity, resource
}

func resourceString(kind, namespace, name string) string {
	return notify.Resource{Kind: kind, Namespace: namespace, Name: name}.String()
}

// workspace is an incident's directory, always under the workspace root:
// the id was checked by ui.ValidID and the cluster is a configured name.
func (p pageStore) workspace(cluster, id string) string {
	return filepath.Join(p.workspaceRoot, filepath.Base(cluster), filepath.Base(id))
}

// fillFromEvent completes a summary from the workspace's event.json.
func (p pageStore) fillFromEvent(s *ui.Summary, dir string) []byte {
	_, data := readHead(filepath.Join(dir, incident.EventFile), pageEventBytes)
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

func (p pageStore) Get(_ context.Context, id string) (ui.Incident, error) {
	var inc ui.Incident
	rec, ok, err := p.store.Record(id)
	if err != nil {
		return inc, err
	}
	if ok {
		inc.Summary = summaryOf(rec)
		inc.Runs = []ui.Run{{Number: rec.Attempts, StartedAt: rec.StartedAt, EndedAt: rec.EndedAt, Status: string(rec.Status), Reason: rec.Reason}}
	} else {
		running, err := p.store.Running()
		if err != nil {
			return inc, err
		}
		i := slices.IndexFunc(running, func(f journal.InFlight) bool { return f.IncidentID == id })
		if i < 0 {
			return inc, fmt.Errorf("incident %s: %w", id, ui.ErrNotFound)
		}
		r := running[i]
		inc.Summary = ui.Summary{ID: id, Cluster: r.Item.Cluster, Status: "running", StartedAt: r.StartedAt, Attempts: r.Item.Attempts + 1}
		inc.Runs = []ui.Run{{Number: r.Item.Attempts + 1, StartedAt: r.StartedAt, Status: "running"}}
	}
	dir := p.workspace(inc.Cluster, id)
	inc.Event = p.fillFromEvent(&inc.Summary, dir)
	if p.reportFile != "" {
		size, report := readHead(filepath.Join(dir, p.reportFile), pageReportBytes)
		inc.Report, inc.ReportName, inc.ReportTruncated = report, filepath.Base(p.reportFile), size > int64(len(report))
	}
	inc.LogTail, inc.LogTruncated = readTail(filepath.Join(dir, incident.LogFile), pageLogTail)
	recs, err := p.store.Deliveries(notify.IncidentKey(id))
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

// readTail reads the last limit bytes of a file, from a line start when it
// had to cut.
func readTail(path string, limit int64) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, false
	}
	if st.Size() <= limit {
		b, _ := io.ReadAll(f)
		return b, false
	}
	b := make([]byte, limit)
	n, _ := f.ReadAt(b, st.Size()-limit)
	b = b[:n]
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return b, true
}

// incidentRow is a history record with its deliveries, as /api/incidents
// serves it and `incidents --json` prints it.
type incidentRow struct {
	incident.Record
	Deliveries []deliveryRow `json:"deliveries,omitempty"`
}

type deliveryRow struct {
	Sink       string    `json:"sink"`
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"lastError,omitempty"`
	DeadReason string    `json:"deadReason,omitempty"`
	At         time.Time `json:"at,omitzero"`
}

func rowsOf(records []incident.Record, deliveries map[string][]notify.OutboxRecord) []incidentRow {
	out := make([]incidentRow, len(records))
	for i, r := range records {
		out[i].Record = r
		for _, d := range deliveries[r.IncidentID] {
			at := d.DeliveredAt
			if d.State == notify.StateDead {
				at = d.DeadAt
			}
			out[i].Deliveries = append(out[i].Deliveries, deliveryRow{Sink: d.Sink, State: string(d.State), Attempts: d.Attempts,
				LastError: d.LastError, DeadReason: d.DeadReason, At: at})
		}
	}
	return out
}

// deliveryCell is a row's deliveries for a table: "hook:delivered oncall:pending(3)".
func deliveryCell(ds []deliveryRow) string {
	if len(ds) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ds))
	for _, d := range ds {
		p := d.Sink + ":" + d.State
		switch {
		case d.State == string(notify.StateDead):
			p += "(" + d.DeadReason + ")"
		case d.State == string(notify.StatePending) && d.Attempts > 0:
			p += fmt.Sprintf("(%d)", d.Attempts)
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
