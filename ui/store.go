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
	// Since keeps incidents that ended (or, if still running, started) at
	// or after it.
	Since time.Time
	Limit int
}

// Summary is one row of the list.
type Summary struct {
	ID        string
	Cluster   string
	Source    string
	FaultType string
	Severity  string
	// Resource is kind/namespace/name.
	Resource string
	// Status is success, failure, timeout, interrupted, or running.
	Status    string
	Reason    string
	Attempts  int
	StartedAt time.Time
	EndedAt   time.Time
	Duration  time.Duration
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
