// Package notification holds what is delivered and what the outbox keeps:
// the versioned notification document (an incident's result or a system
// notice) and the outbox record of one notification for one sink, with its
// states. It delivers nothing and imports nothing of the project, so the
// state store can keep records without knowing any sink (package notify
// delivers them).
package notification

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// SchemaVersion is the version of the notification document. It changes
// only when a field changes meaning or is removed; new optional fields keep
// the version.
const SchemaVersion = 1

// Kinds of notification.
const (
	KindIncident = "incident"
	KindNotice   = "notice"
)

// Incident statuses, as the runner records them.
const (
	StatusSuccess     = "success"
	StatusFailure     = "failure"
	StatusTimeout     = "timeout"
	StatusInterrupted = "interrupted"
	// StatusError: the runner's own I/O failed or the agent could not
	// start; it says nothing of the agent.
	StatusError = "error"
)

// Notice types. Breaker notices are runner-wide (no cluster); blind notices
// name the cluster.
const (
	NoticeTriageDegraded  = "triage_degraded"  // circuit breaker opened
	NoticeTriageProbing   = "triage_probing"   // circuit breaker half-open
	NoticeTriageRecovered = "triage_recovered" // circuit breaker closed again
	NoticeClusterBlind    = "cluster_blind"    // no session to a cluster for longer than a threshold
	NoticeClusterRestored = "cluster_restored" // a blind cluster is seen again
)

// Severities a notification can carry; routing matches on them.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
	SeverityUnknown  = "unknown"
)

// Limits on what a document carries from untrusted sources: the report and
// the fault context come from an agent and from cluster data.
const (
	DefaultExcerptBytes = 2048
	MaxContextBytes     = 64 << 10
)

// Notification is the document every sink is given and the webhook sink
// posts as is. Exactly one of Incident and Notice is set, as Kind says.
type Notification struct {
	SchemaVersion int `json:"schemaVersion"`
	// IdempotencyKey is the same on every delivery of this notification to
	// every sink: receivers dedupe on it.
	IdempotencyKey string    `json:"idempotencyKey"`
	Kind           string    `json:"kind"`
	CreatedAt      time.Time `json:"createdAt"`
	Incident       *Incident `json:"incident,omitempty"`
	Notice         *Notice   `json:"notice,omitempty"`
}

// Incident is a finished investigation.
type Incident struct {
	ID      string `json:"id"`
	Cluster string `json:"cluster"`
	// Source is where the fault came from (a bounded value such as "mcp").
	Source string `json:"source,omitempty"`
	Fault  Fault  `json:"fault"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Attempt is 1 for the first run of a fault, more after restarts
	// interrupted earlier runs.
	Attempt         int       `json:"attempt"`
	EnqueuedAt      time.Time `json:"enqueuedAt,omitzero"`
	StartedAt       time.Time `json:"startedAt"`
	EndedAt         time.Time `json:"endedAt"`
	QueuedSeconds   float64   `json:"queuedSeconds"`
	DurationSeconds float64   `json:"durationSeconds"`
	Report          Report    `json:"report"`
	Links           Links     `json:"links"`
	// Spend is what the run cost (budget.go); absent when not known.
	Spend *Spend `json:"spend,omitempty"`
	// Group is set when the incident covered a group of correlated
	// faults; Feedback when the notification carries a person's verdict
	// (feedback.go).
	Group    *Group    `json:"group,omitempty"`
	Feedback *Feedback `json:"feedback,omitempty"`
}

// Fault is the fault an incident investigated.
type Fault struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Severity string   `json:"severity"`
	Resource Resource `json:"resource"`
	// Context is the detail the server sent, unchanged; omitted (and
	// ContextOmitted set) when over MaxContextBytes.
	Context        json.RawMessage `json:"context,omitempty"`
	ContextOmitted bool            `json:"contextOmitted,omitempty"`
}

// Resource is the Kubernetes object a fault is about.
type Resource struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// String is kind/namespace/name, the way people write it.
func (r Resource) String() string {
	s := r.Kind
	if r.Namespace != "" {
		s += "/" + r.Namespace
	}
	if r.Name != "" {
		s += "/" + r.Name
	}
	return s
}

// Report describes the agent's report: its size and an excerpt of its
// beginning. The excerpt is untrusted Markdown.
type Report struct {
	Name             string `json:"name,omitempty"`
	Bytes            int64  `json:"bytes"`
	Excerpt          string `json:"excerpt,omitempty"`
	ExcerptTruncated bool   `json:"excerptTruncated,omitempty"`
}

// Links point people at more. Incident is empty unless the runner has an
// external URL configured.
type Links struct {
	Incident string `json:"incident,omitempty"`
}

// Notice is a runner-level event: triage degraded or recovered, a cluster
// blind or seen again.
type Notice struct {
	Type     string `json:"type"`
	Severity string `json:"severity"`
	// Cluster is empty for runner-wide notices (the breaker).
	Cluster string `json:"cluster,omitempty"`
	// Summary is one line for people, written by the runner.
	Summary string    `json:"summary"`
	At      time.Time `json:"at"`
	// Since is when the condition began (breaker opened, cluster lost).
	Since time.Time `json:"since,omitzero"`
	// BlindSeconds is how long the cluster has not been seen.
	BlindSeconds float64 `json:"blindSeconds,omitempty"`
	// Reason and Until are a budget pause's limit and when it admits
	// again (budget.go).
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	Links  Links     `json:"links"`
}

// IncidentInput is what the runner knows of a finished incident, in its own
// terms; NewIncident turns it into a notification.
type IncidentInput struct {
	Incident
	// ReportText is the report as the agent wrote it; only its beginning
	// is kept, as the excerpt.
	ReportText []byte
}

// DocOptions shape the documents built here.
type DocOptions struct {
	// ExternalURL is the base URL people reach the incidents page at, e.g.
	// https://runner.example.com; empty means no links.
	ExternalURL string
	// ExcerptBytes bounds the report excerpt; 0 means DefaultExcerptBytes.
	ExcerptBytes int
}

// IncidentPath is where the incidents page serves an incident, relative to
// its root.
func IncidentPath(id string) string { return "/incidents/" + id }

func (o DocOptions) link(path string) string {
	if o.ExternalURL == "" {
		return ""
	}
	base := o.ExternalURL
	for len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	return base + path
}

// NewIncident builds the notification of a finished incident. CreatedAt is
// the incident's end, so building it twice gives the same document.
func NewIncident(in IncidentInput, o DocOptions) Notification {
	inc := in.Incident
	if len(inc.Fault.Context) > MaxContextBytes {
		inc.Fault.Context, inc.Fault.ContextOmitted = nil, true
	}
	if inc.Fault.Severity == "" {
		inc.Fault.Severity = SeverityUnknown
	}
	if inc.Report.Bytes == 0 {
		inc.Report.Bytes = int64(len(in.ReportText))
	}
	limit := o.ExcerptBytes
	if limit <= 0 {
		limit = DefaultExcerptBytes
	}
	inc.Report.Excerpt, inc.Report.ExcerptTruncated = Excerpt(in.ReportText, limit)
	if inc.Links.Incident == "" {
		inc.Links.Incident = o.link(IncidentPath(inc.ID))
	}
	return Notification{
		SchemaVersion:  SchemaVersion,
		IdempotencyKey: IncidentKey(inc.ID),
		Kind:           KindIncident,
		CreatedAt:      inc.EndedAt.UTC(),
		Incident:       &inc,
	}
}

// NewBreakerNotice builds the notice for a circuit breaker transition to
// state "open", "half-open" or "closed", at the moment it happened.
func NewBreakerNotice(state string, at, since time.Time, o DocOptions) (Notification, error) {
	n := Notice{At: at.UTC(), Since: since.UTC(), Links: Links{Incident: o.link("/")}}
	switch state {
	case "open":
		n.Type, n.Severity = NoticeTriageDegraded, SeverityCritical
		n.Summary = "Triage degraded: agents keep failing, new faults are not investigated until the breaker closes"
	case "half-open":
		n.Type, n.Severity = NoticeTriageProbing, SeverityInfo
		n.Summary = "Triage probing: one agent run decides whether triage resumes"
	case "closed":
		n.Type, n.Severity = NoticeTriageRecovered, SeverityInfo
		n.Summary = "Triage recovered: agents succeed again"
	default:
		return Notification{}, fmt.Errorf("breaker state %q: want open, half-open or closed", state)
	}
	return notice(n), nil
}

// NewBlindNotice builds the notice that a cluster has not been seen since
// since (blind=true), or that it is seen again (blind=false).
func NewBlindNotice(cluster string, blind bool, since, at time.Time, o DocOptions) Notification {
	d := at.Sub(since)
	n := Notice{Cluster: cluster, At: at.UTC(), Since: since.UTC(), BlindSeconds: d.Seconds(), Links: Links{Incident: o.link("/")}}
	if blind {
		n.Type, n.Severity = NoticeClusterBlind, SeverityWarning
		n.Summary = fmt.Sprintf("Cluster %s blind for %s: no fault can be heard from it", cluster, d.Round(time.Second))
	} else {
		n.Type, n.Severity = NoticeClusterRestored, SeverityInfo
		n.Summary = fmt.Sprintf("Cluster %s seen again after %s", cluster, d.Round(time.Second))
	}
	return notice(n)
}

func notice(n Notice) Notification {
	return Notification{
		SchemaVersion:  SchemaVersion,
		IdempotencyKey: idempotencyKey(KindNotice, n.Type, n.Cluster, n.At.Format(time.RFC3339Nano)),
		Kind:           KindNotice,
		CreatedAt:      n.At,
		Notice:         &n,
	}
}

// IncidentKey is the idempotency key of an incident's notification: a
// store finds an incident's delivery records by it.
func IncidentKey(id string) string { return idempotencyKey(KindIncident, id) }

// idempotencyKey is a stable hash of what identifies a notification, so the
// same event always gets the same key.
func idempotencyKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return parts[0] + "-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Status is what routing matches as status: the incident's status, or the
// notice's type.
func (n Notification) Status() string {
	switch {
	case n.Incident != nil:
		return n.Incident.Status
	case n.Notice != nil:
		return n.Notice.Type
	}
	return ""
}

// Severity is the fault's severity, or the notice's.
func (n Notification) Severity() string {
	switch {
	case n.Incident != nil:
		return n.Incident.Fault.Severity
	case n.Notice != nil:
		return n.Notice.Severity
	}
	return ""
}

// Cluster is the incident's or notice's cluster; empty for runner-wide
// notices.
func (n Notification) Cluster() string {
	switch {
	case n.Incident != nil:
		return n.Incident.Cluster
	case n.Notice != nil:
		return n.Notice.Cluster
	}
	return ""
}
