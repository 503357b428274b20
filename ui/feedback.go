package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// FeedbackFunc stores a person's verdict ("right" or "wrong") and note on
// a finished incident. It returns an error wrapping ErrNotFound for an
// incident that has not finished, and one wrapping incident.ErrBadFeedback
// for a verdict or note it refuses.
type FeedbackFunc func(ctx context.Context, id, verdict, note string) error

// maxFeedbackForm bounds the body of a feedback form.
const maxFeedbackForm = 4 * incident.MaxFeedbackNote

// SameOrigin tells a request sent by this page (or by a client that is no
// browser) from one a browser sent for another site: a form on any web
// page can POST to a loopback address, and a browser adds basic
// credentials it holds, so a write must come from the page's own origin.
// Browsers say where a request comes from in Sec-Fetch-Site; the page's
// no-referrer policy makes their Origin "null" on its own form posts, so
// Origin is only the fallback for browsers without fetch metadata.
func SameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser
	}
	u, err := url.Parse(o)
	return err == nil && o != "null" && u.Host == r.Host
}

// feedback takes the incident page's form and goes back to the page.
func (h *handler) feedback(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidID(id) || h.o.Feedback == nil {
		http.NotFound(w, r)
		return
	}
	if !SameOrigin(r) {
		http.Error(w, "feedback must come from the incidents page itself", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFeedbackForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	err := h.o.Feedback(r.Context(), id, r.PostForm.Get("verdict"), r.PostForm.Get("note"))
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, "only a finished incident takes feedback", http.StatusNotFound)
	case errors.Is(err, incident.ErrBadFeedback):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case err != nil:
		h.fail(w, r, "store feedback", err)
	default:
		http.Redirect(w, r, h.o.BasePath+"/incidents/"+id+"#feedback", http.StatusSeeOther)
	}
}
