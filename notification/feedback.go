package notification

import (
	"strconv"
	"time"
)

// Group says what an incident covered when correlated faults were
// grouped into it: the root-cause key they share, its kind, how many
// faults the run covered and how many more were attached to it later.
type Group struct {
	Key     string `json:"key"`
	Kind    string `json:"kind"`
	Faults  int    `json:"faults"`
	Related int    `json:"related,omitempty"`
}

// Feedback is a person's verdict on an incident's diagnosis: "right" or
// "wrong", with an optional note (untrusted text).
type Feedback struct {
	Verdict string    `json:"verdict"`
	Note    string    `json:"note,omitempty"`
	At      time.Time `json:"at"`
}

// NewFeedback builds the notification sent when a person judges a
// finished incident: the incident's document again, with the verdict. It
// has an idempotency key of its own per verdict, so receivers that
// deduplicate see each verdict once, beside the incident's first
// notification.
func NewFeedback(in IncidentInput, f Feedback, o DocOptions) Notification {
	n := NewIncident(in, o)
	n.Incident.Feedback = &f
	n.CreatedAt = f.At.UTC()
	n.IdempotencyKey = idempotencyKey(KindIncident, in.ID, "feedback", strconv.FormatInt(f.At.UnixNano(), 10))
	return n
}
