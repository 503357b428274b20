package history

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// StatusRunning selects the incidents whose agent runs now (from a
// stopped runner's state directory: those its stop interrupted, which run
// again at its next start).
const StatusRunning = "running"

// Query selects finished incidents from the history: by cluster, by
// status, ended at or after Since, newest first, at most Limit (0: all).
// /incidents and the incidents command parse the same parameters.
type Query struct {
	Cluster string
	Status  incident.Status
	Since   time.Time
	Limit   int
	// Search (q), Severity and FaultType select as the page's filters do
	// (ui.Filter); ParseSearch reads them.
	Search    string
	Severity  string
	FaultType string
}

// Filtered reports whether the query selects by anything but the limit.
func (q Query) Filtered() bool {
	return q.Cluster != "" || q.Status != "" || !q.Since.IsZero() || q.Search != "" || q.Severity != "" || q.FaultType != ""
}

// ParseSearch reads q, severity and faultType through get into the query,
// as the page's form sends them. A value out of bounds is an error naming
// the parameter.
func (q *Query) ParseSearch(get func(string) string) error {
	q.Search, q.Severity, q.FaultType = strings.TrimSpace(get("q")), get("severity"), strings.TrimSpace(get("faultType"))
	switch {
	case len(q.Search) > 256:
		return errors.New("q: at most 256 characters")
	case len(q.FaultType) > 128:
		return errors.New("faultType: at most 128 characters")
	case q.Severity != "" && !slices.Contains(ui.Severities, q.Severity):
		return fmt.Errorf("severity %q: want one of %v", q.Severity, ui.Severities)
	}
	return nil
}

// matches reports whether r passes the search, severity and fault type.
func (q Query) matches(r incident.Record) bool {
	return (q.Severity == "" || strings.EqualFold(r.Severity, q.Severity)) &&
		(q.FaultType == "" || strings.EqualFold(r.FaultType, q.FaultType)) &&
		(q.Search == "" || ui.MatchQuery(q.Search, r.FaultID, r.IncidentID, r.Resource))
}

// ParseQuery reads limit, cluster, status and since through get (a URL
// query's Get, or flags). An absent limit is defaultLimit; 0 means all.
// since is an RFC 3339 time or a duration back from now ("24h"). A value
// that does not parse is an error naming the parameter.
func ParseQuery(get func(string) string, defaultLimit int, now time.Time) (Query, error) {
	q := Query{Cluster: get("cluster"), Limit: defaultLimit}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Query{}, fmt.Errorf("limit %q: want a whole number, 0 for all", v)
		}
		q.Limit = n
	}
	if v := get("status"); v != "" {
		if v != StatusRunning && !slices.Contains(incident.Statuses(), incident.Status(v)) {
			return Query{}, fmt.Errorf("status %q: want one of %v or %s", v, incident.Statuses(), StatusRunning)
		}
		q.Status = incident.Status(v)
	}
	if v := get("since"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			q.Since = t
		} else if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			q.Since = now.Add(-d)
		} else {
			return Query{}, fmt.Errorf("since %q: want an RFC 3339 time or a duration such as 24h", v)
		}
	}
	return q, nil
}

// Select keeps the records (newest first) the query selects.
func (q Query) Select(records []incident.Record) []incident.Record {
	out := make([]incident.Record, 0, len(records))
	for _, r := range records {
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
		if (q.Cluster != "" && r.Cluster != q.Cluster) || (q.Status != "" && r.Status != q.Status) ||
			(!q.Since.IsZero() && r.EndedAt.Before(q.Since)) || !q.matches(r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// selectStarted is Select for running incidents, which have no end yet:
// since applies to when they started.
func (q Query) selectStarted(records []incident.Record) []incident.Record {
	out := make([]incident.Record, 0, len(records))
	for _, r := range records {
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
		if (q.Cluster != "" && r.Cluster != q.Cluster) || (!q.Since.IsZero() && r.StartedAt.Before(q.Since)) || !q.matches(r) {
			continue
		}
		out = append(out, r)
	}
	return out
}
