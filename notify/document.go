package notify

import (
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
)

// The document and the outbox record are package notification's, so the
// state store can keep records without importing the sinks. These names
// keep notify's API whole for its callers and its own code.

type (
	Notification  = notification.Notification
	Incident      = notification.Incident
	IncidentInput = notification.IncidentInput
	Fault         = notification.Fault
	Resource      = notification.Resource
	Report        = notification.Report
	Links         = notification.Links
	Notice        = notification.Notice
	DocOptions    = notification.DocOptions
	OutboxRecord  = notification.OutboxRecord
	Group         = notification.Group
	Feedback      = notification.Feedback
	State         = notification.State
)

const (
	SchemaVersion = notification.SchemaVersion

	KindIncident = notification.KindIncident
	KindNotice   = notification.KindNotice

	StatusSuccess     = notification.StatusSuccess
	StatusFailure     = notification.StatusFailure
	StatusTimeout     = notification.StatusTimeout
	StatusInterrupted = notification.StatusInterrupted

	NoticeTriageDegraded  = notification.NoticeTriageDegraded
	NoticeTriageProbing   = notification.NoticeTriageProbing
	NoticeTriageRecovered = notification.NoticeTriageRecovered
	NoticeClusterBlind    = notification.NoticeClusterBlind
	NoticeClusterRestored = notification.NoticeClusterRestored
	NoticeBudgetPaused    = notification.NoticeBudgetPaused
	NoticeBudgetResumed   = notification.NoticeBudgetResumed

	SeverityInfo     = notification.SeverityInfo
	SeverityWarning  = notification.SeverityWarning
	SeverityCritical = notification.SeverityCritical
	SeverityUnknown  = notification.SeverityUnknown

	DefaultExcerptBytes = notification.DefaultExcerptBytes
	MaxContextBytes     = notification.MaxContextBytes

	StatePending   = notification.StatePending
	StateDelivered = notification.StateDelivered
	StateDead      = notification.StateDead

	DeadPermanent   = notification.DeadPermanent
	DeadMaxAttempts = notification.DeadMaxAttempts
	DeadMaxAge      = notification.DeadMaxAge
	DeadUnknownSink = notification.DeadUnknownSink
)

// NewIncident is notification.NewIncident.
func NewIncident(in IncidentInput, o DocOptions) Notification { return notification.NewIncident(in, o) }

// NewFeedback is notification.NewFeedback.
func NewFeedback(in IncidentInput, f Feedback, o DocOptions) Notification {
	return notification.NewFeedback(in, f, o)
}

// NewBreakerNotice is notification.NewBreakerNotice.
func NewBreakerNotice(state string, at, since time.Time, o DocOptions) (Notification, error) {
	return notification.NewBreakerNotice(state, at, since, o)
}

// NewBlindNotice is notification.NewBlindNotice.
func NewBlindNotice(cluster string, blind bool, since, at time.Time, o DocOptions) Notification {
	return notification.NewBlindNotice(cluster, blind, since, at, o)
}

// NewBudgetNotice is notification.NewBudgetNotice.
func NewBudgetNotice(cluster string, paused bool, reason string, until, at time.Time, o DocOptions) Notification {
	return notification.NewBudgetNotice(cluster, paused, reason, until, at, o)
}

// NewRecords is notification.NewRecords.
func NewRecords(n Notification, sinks []string, now time.Time) []OutboxRecord {
	return notification.NewRecords(n, sinks, now)
}

// DeadLetter is notification.DeadLetter.
func DeadLetter(r OutboxRecord, reason string, now time.Time) OutboxRecord {
	return notification.DeadLetter(r, reason, now)
}

// IncidentKey is notification.IncidentKey.
func IncidentKey(id string) string { return notification.IncidentKey(id) }

// IncidentPath is notification.IncidentPath.
func IncidentPath(id string) string { return notification.IncidentPath(id) }

// Excerpt is notification.Excerpt.
func Excerpt(report []byte, limit int) (string, bool) { return notification.Excerpt(report, limit) }
