// Package ui serves the incidents page for people: a list of incidents with
// filters and a status summary, and one page per incident with its report
// rendered from Markdown and sanitised, the event, the agent log's tail,
// the attempts and the notification status. It is server-rendered HTML
// with a little inline CSS, no JavaScript, readable on a phone.
//
// It reads through Store, which the runner implements over its journal;
// the package knows nothing of how incidents are kept.
package ui

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
)

// ErrNotFound is what Store.Get returns for an unknown incident.
var ErrNotFound = errors.New("incident not found")

// Store is what the page reads. Both methods must be safe for concurrent
// use and return quickly: they run in an HTTP request.
type Store interface {
	// List returns the incidents that match f, newest first, at most
	// f.Limit of them.
	List(ctx context.Context, f Filter) ([]Summary, error)
	// Get returns one incident; ErrNotFound (possibly wrapped) if there is
	// no such incident. The id has already been checked with ValidID.
	Get(ctx context.Context, id string) (Incident, error)
}

// Filter selects incidents. Empty fields select everything.
type Filter struct {
	Cluster string
	Status  string
	// Query keeps incidents whose fault id, incident id or resource
	// (kind/namespace/name, so a namespace matches too) contains it,
	// case-insensitively.
	Query     string
	Severity  string
	FaultType string
	// Since keeps incidents that ended (or, if still running, started) at
	// or after it.
	Since time.Time
	// Offset skips that many matching incidents (newest first) before
	// the Limit returned: the list's pages.
	Offset int
	Limit  int
}

// Keep reports whether s matches every field of f but Offset and Limit.
// Stores use it so that the page, the API and the tests filter alike.
func (f Filter) Keep(s Summary) bool {
	at := s.EndedAt
	if at.IsZero() {
		at = s.StartedAt
	}
	switch {
	case f.Cluster != "" && s.Cluster != f.Cluster,
		f.Status != "" && s.Status != f.Status,
		f.Severity != "" && !strings.EqualFold(s.Severity, f.Severity),
		f.FaultType != "" && !strings.EqualFold(s.FaultType, f.FaultType),
		!f.Since.IsZero() && at.Before(f.Since):
		return false
	}
	return f.Query == "" || MatchQuery(f.Query, s.FaultID, s.ID, s.Resource)
}

// MatchQuery reports whether any of fields contains q, ignoring case.
func MatchQuery(q string, fields ...string) bool {
	q = strings.ToLower(strings.TrimSpace(q))
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

// Summary is one row of the list.
type Summary struct {
	ID        string
	Cluster   string
	FaultID   string
	Source    string
	FaultType string
	Severity  string
	// Resource is kind/namespace/name.
	Resource string
	// Status is success, failure, timeout, interrupted, or running.
	Status   string
	Reason   string
	Attempts int
	// EnqueuedAt is when the fault entered the queue, zero when not
	// known; StartedAt - EnqueuedAt is its queue wait.
	EnqueuedAt time.Time
	StartedAt  time.Time
	EndedAt    time.Time
	Duration   time.Duration
	// Cost is what the run was charged ("$0.40"; "(default)" added when
	// the agent reported none), empty when not known; Tokens and Model
	// are what the agent reported.
	Cost   string
	Tokens string
	Model  string
	// GroupKey and Members say what the incident covers when correlated
	// faults were grouped into it: their shared key and how many faults.
	GroupKey string
	Members  int
	// Verdict is what people said of the diagnosis (right, wrong), if
	// anything; FeedbackNote and FeedbackAt go with it.
	Verdict      string
	FeedbackNote string
	FeedbackAt   time.Time
}

// QueueWait is how long the fault waited in the queue before its agent
// started; 0 when not known.
func (s Summary) QueueWait() time.Duration {
	if s.EnqueuedAt.IsZero() || s.StartedAt.IsZero() || s.StartedAt.Before(s.EnqueuedAt) {
		return 0
	}
	return s.StartedAt.Sub(s.EnqueuedAt)
}

// Member is one fault an incident covers, or one attached to it.
type Member struct {
	FaultType string
	Severity  string
	// Resource is kind/namespace/name; Node and Owner (kind/name of the
	// top owner) what the runner found of it.
	Resource string
	Node     string
	Owner    string
}

// Incident is everything the incident page shows.
type Incident struct {
	Summary
	// Event is event.json as stored (JSON; shown indented).
	Event []byte
	// Report is the agent's report (untrusted Markdown); ReportName its
	// file name; ReportTruncated says the store gave only its beginning.
	Report          []byte
	ReportName      string
	ReportTruncated bool
	// LogTail is the end of agent.log; LogTruncated says there was more.
	LogTail      []byte
	LogTruncated bool
	// Runs are the agent's runs for this fault, oldest first.
	Runs       []Run
	Deliveries []Delivery
	// Covered are the faults the incident covers; Related those attached
	// to it later without a run of their own.
	Covered []Member
	Related []Member
}

// Run is one run of the agent for the incident's fault.
type Run struct {
	Number    int
	StartedAt time.Time
	EndedAt   time.Time
	Status    string
	Reason    string
}

// Delivery is the notification status for one sink.
type Delivery struct {
	Sink string
	// State is pending, delivered or dead.
	State         string
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	DeliveredAt   time.Time
	DeadReason    string
}

// Statuses the filter accepts.
var Statuses = []string{"success", "failure", "timeout", "interrupted", "error", "running"}

var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ValidID reports whether id can be an incident id: letters, digits, '_'
// and '-', at most 128. Anything else (dots, slashes, escapes) never
// reaches the store.
func ValidID(id string) bool { return validID.MatchString(id) }

// Severities the filter offers (fault.Level's names).
var Severities = []string{"critical", "warning", "info"}

// Files an incident's page links to, served by FileReader: each is read
// bounded (FileLimit) and served as text or JSON, never as HTML.
var Files = []string{"event.json", "result.json", "agent.log", "report"}

// FileLimit bounds what one file link serves.
const FileLimit = 1 << 20

// FileReader reads one of an incident's workspace files (a name among
// Files; "report" is the agent's report, whatever its name). It returns at
// most limit bytes (the end of agent.log, the beginning of the others),
// whether there was more, and ErrNotFound (possibly wrapped) for an unknown
// incident or a file that does not exist. The id was checked with ValidID.
type FileReader interface {
	File(ctx context.Context, id, name string, limit int64) (data []byte, truncated bool, err error)
}

// ClusterStatus is one configured cluster as the clusters view shows it.
type ClusterStatus struct {
	Name string
	// Connected: its subscription is live. Otherwise BlindSince is when
	// it lost it (or started waiting for the first), zero if not known.
	Connected  bool
	BlindSince time.Time
	// LastFault is when its newest incident started, with that incident's
	// id and fault type; zero when none is in the recent history.
	LastFault     time.Time
	LastIncident  string
	LastFaultType string
	// QueueDepth is how many faults wait in its queue.
	QueueDepth int
}
