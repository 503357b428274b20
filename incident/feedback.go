package incident

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Verdicts people give an incident's diagnosis; the bounded verdict label
// values of incident_feedback_total.
const (
	VerdictRight = "right"
	VerdictWrong = "wrong"
)

// Verdicts lists every verdict.
func Verdicts() []string { return []string{VerdictRight, VerdictWrong} }

// MaxFeedbackNote bounds a feedback note, in bytes.
const MaxFeedbackNote = 2048

// ErrBadFeedback wraps every reason feedback is refused.
var ErrBadFeedback = errors.New("bad feedback")

// Feedback is a person's verdict on a finished incident's diagnosis. A
// later verdict replaces an earlier one. A wrong one lifts the cooldown of
// the incident's key, so the next fault of that key is investigated
// afresh.
type Feedback struct {
	Verdict string    `json:"verdict"`
	Note    string    `json:"note,omitempty"`
	At      time.Time `json:"at"`
}

// Check refuses an unknown verdict and a note that is too long or not
// UTF-8.
func (f Feedback) Check() error {
	if f.Verdict != VerdictRight && f.Verdict != VerdictWrong {
		return fmt.Errorf("%w: verdict %.32q is not %q or %q", ErrBadFeedback, f.Verdict, VerdictRight, VerdictWrong)
	}
	if len(f.Note) > MaxFeedbackNote || !utf8.ValidString(f.Note) {
		return fmt.Errorf("%w: the note must be UTF-8 text of at most %d bytes", ErrBadFeedback, MaxFeedbackNote)
	}
	return nil
}
