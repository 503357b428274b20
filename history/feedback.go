package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// FeedbackPath is where the API takes a verdict on one incident:
// POST {"verdict": "right"|"wrong", "note": "..."}, under the page's
// authentication.
const FeedbackPath = APIPath + "/{id}/feedback"

// Feedback stores people's verdicts on finished incidents in their
// history records, from the page's form and the API alike.
type Feedback struct {
	Store *journal.Store
	Now   func() time.Time
	// Given, when set, is told of each verdict once it is stored: the
	// runner counts it, and a wrong one lifts its key's cooldown.
	Given func(incident.Record)
}

// Give stores a verdict. An incident the history does not hold is
// ui.ErrNotFound; a verdict or note refused wraps incident.ErrBadFeedback.
func (f Feedback) Give(_ context.Context, id, verdict, note string) (incident.Record, error) {
	fb := incident.Feedback{Verdict: verdict, Note: note, At: f.Now()}
	if err := fb.Check(); err != nil {
		return incident.Record{}, err
	}
	rec, err := f.Store.SetFeedback(id, fb)
	if errors.Is(err, journal.ErrNoRecord) {
		return rec, fmt.Errorf("incident %s: %w", id, ui.ErrNotFound)
	}
	if err != nil {
		return rec, err
	}
	if f.Given != nil {
		f.Given(rec)
	}
	return rec, nil
}

// Form is Give for the page's form.
func (f Feedback) Form(ctx context.Context, id, verdict, note string) error {
	_, err := f.Give(ctx, id, verdict, note)
	return err
}

// Handler serves FeedbackPath: the stored record as JSON, 400 for a
// verdict refused, 404 for an incident that has not finished.
func (f Feedback) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !ui.ValidID(id) {
			http.NotFound(w, r)
			return
		}
		if !ui.SameOrigin(r) {
			http.Error(w, "feedback from another site's page is refused", http.StatusForbidden)
			return
		}
		var body struct {
			Verdict string `json:"verdict"`
			Note    string `json:"note"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4*incident.MaxFeedbackNote)).Decode(&body); err != nil {
			http.Error(w, "body must be a JSON object with verdict and note", http.StatusBadRequest)
			return
		}
		rec, err := f.Give(r.Context(), id, body.Verdict, body.Note)
		switch {
		case errors.Is(err, ui.ErrNotFound):
			http.Error(w, "no finished incident "+id, http.StatusNotFound)
			return
		case errors.Is(err, incident.ErrBadFeedback):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, "could not store the feedback", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(rec)
	})
}
