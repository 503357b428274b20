package history

import (
	"encoding/json"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
)

// APIPath serves the history as JSON beside the page, under the same
// authentication (docs/security.md).
const APIPath = "/api/incidents"

// ErrLocked: a running runner holds the state directory; read its
// APIPath instead (Fetch).
var ErrLocked = journal.ErrLocked

// DefaultAPILimit is how many records APIPath serves without ?limit=.
const DefaultAPILimit = 100

// Handler serves the newest history records with their delivery
// status as a JSON array, filtered by ?cluster=, ?status=, ?since= (an
// RFC 3339 time or a duration such as 24h) and, as the page is, by ?q=
// (fault id, incident id or resource), ?severity= and ?faultType=, at most
// ?limit= (0: all). A
// parameter that does not parse is answered 400 naming it.
func Handler(store *journal.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := ParseQuery(r.URL.Query().Get, DefaultAPILimit, time.Now())
		if err == nil {
			err = q.ParseSearch(r.URL.Query().Get)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		records, err := selectRecords(q, store.History, store.Running)
		if err != nil {
			http.Error(w, "could not read the history", http.StatusInternalServerError)
			return
		}
		ids := make([]string, len(records))
		for i, rec := range records {
			ids[i] = rec.IncidentID
		}
		deliveries, err := store.IncidentDeliveries(ids)
		if err != nil {
			http.Error(w, "could not read the outbox", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(RowsOf(records, deliveries))
	})
}

// selectRecords reads what q selects: finished records from history, or,
// for status running, the running incidents as records.
func selectRecords(q Query, history func(limit int) ([]incident.Record, error), running func() ([]journal.InFlight, error)) ([]incident.Record, error) {
	if q.Status == StatusRunning {
		fs, err := running()
		if err != nil {
			return nil, err
		}
		recs := make([]incident.Record, 0, len(fs))
		for _, f := range fs {
			ev := f.Item.Event
			recs = append(recs, incident.Record{
				IncidentID: f.IncidentID, Cluster: f.Item.Cluster, FaultID: ev.FaultID, FaultType: ev.FaultType,
				Source: ev.Source, Severity: ev.Level().String(),
				Resource: notification.Resource{Kind: ev.Resource.Kind, Namespace: ev.Resource.Namespace, Name: ev.Resource.Name}.String(),
				Status:   StatusRunning, Attempts: attemptOf(f), StartedAt: f.StartedAt, Workspace: f.Workspace,
			})
		}
		slices.SortFunc(recs, func(a, b incident.Record) int { return b.StartedAt.Compare(a.StartedAt) })
		q.Status = ""
		return q.selectStarted(recs), nil
	}
	fetch := q.Limit
	if q.Filtered() {
		fetch = 0 // filter the whole history, then cap
	}
	records, err := history(fetch)
	if err != nil {
		return nil, err
	}
	return q.Select(records), nil
}

// ReadDir reads the history and its deliveries from a stopped
// runner's state directory.
func ReadDir(dir string, q Query) ([]Row, error) {
	records, err := selectRecords(q, func(limit int) ([]incident.Record, error) { return journal.ReadHistory(dir, limit) },
		func() ([]journal.InFlight, error) { return journal.ReadRunning(dir) })
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(records))
	for i, r := range records {
		ids[i] = r.IncidentID
	}
	deliveries, err := journal.ReadDeliveries(dir, ids)
	if err != nil {
		return nil, err
	}
	return RowsOf(records, deliveries), nil
}

// Fetch reads the history from a running runner's /api/incidents at base,
// with the query parameters given (empty ones left out).
func Fetch(base, tokenFile string, params map[string]*string) ([]Row, error) {
	q := neturl.Values{}
	for k, v := range params {
		if *v != "" {
			q.Set(k, *v)
		}
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(base, "/")+APIPath+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if tokenFile != "" {
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %s", base, APIPath, resp.Status)
	}
	var rows []Row
	return rows, json.NewDecoder(resp.Body).Decode(&rows)
}

// Row is a history record with its deliveries, as /api/incidents
// serves it and `incidents --json` prints it.
type Row struct {
	incident.Record
	Deliveries []DeliveryRow `json:"deliveries,omitempty"`
}

type DeliveryRow struct {
	Sink       string    `json:"sink"`
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"lastError,omitempty"`
	DeadReason string    `json:"deadReason,omitempty"`
	At         time.Time `json:"at,omitzero"`
}

func RowsOf(records []incident.Record, deliveries map[string][]notification.OutboxRecord) []Row {
	out := make([]Row, len(records))
	for i, r := range records {
		out[i].Record = r
		for _, d := range deliveries[r.IncidentID] {
			at := d.DeliveredAt
			if d.State == notification.StateDead {
				at = d.DeadAt
			}
			out[i].Deliveries = append(out[i].Deliveries, DeliveryRow{Sink: d.Sink, State: string(d.State), Attempts: d.Attempts,
				LastError: d.LastError, DeadReason: d.DeadReason, At: at})
		}
	}
	return out
}

// DeliveryCell is a row's deliveries for a table: "hook:delivered oncall:pending(3)".
func DeliveryCell(ds []DeliveryRow) string {
	if len(ds) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ds))
	for _, d := range ds {
		p := d.Sink + ":" + d.State
		switch {
		case d.State == string(notification.StateDead):
			p += "(" + d.DeadReason + ")"
		case d.State == string(notification.StatePending) && d.Attempts > 0:
			p += fmt.Sprintf("(%d)", d.Attempts)
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
