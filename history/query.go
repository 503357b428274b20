package history

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
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
}

// Filtered reports whether the query selects by anything but the limit.
func (q Query) Filtered() bool { return q.Cluster != "" || q.Status != "" || !q.Since.IsZero() }

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
			(!q.Since.IsZero() && r.EndedAt.Before(q.Since)) {
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
		if (q.Cluster != "" && r.Cluster != q.Cluster) || (!q.Since.IsZero() && r.StartedAt.Before(q.Since)) {
			continue
		}
		out = append(out, r)
	}
	return out
}
