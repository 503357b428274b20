package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// The incident page's form sends a verdict and note, the handler stores
// them through Options.Feedback and sends the browser back to the page; a
// form posted from another site is refused before anything is stored, as
// is a verdict the store refuses.
func TestFeedbackForm(t *testing.T) {
	var got []string
	h, err := New(Options{Store: sampleStore(), Now: func() time.Time { return now },
		Feedback: func(_ context.Context, id, verdict, note string) error {
			if err := (incident.Feedback{Verdict: verdict, Note: note}).Check(); err != nil {
				return err
			}
			got = append(got, id+" "+verdict+" "+note)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	id := "a1b2c3d4e5f60718-mx1abc"
	if _, _, body := get(t, srv.URL+"/incidents/"+id); !strings.Contains(body, `action="/incidents/`+id+`/feedback"`) || !strings.Contains(body, `value="wrong"`) {
		t.Fatalf("the page has no feedback form:\n%s", body)
	}
	post := func(form url.Values, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/incidents/"+id+"/feedback", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(url.Values{"verdict": {"wrong"}}, "https://elsewhere.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form: %d, want 403", resp.StatusCode)
	}
	if resp := post(url.Values{"verdict": {"maybe"}}, srv.URL); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown verdict: %d, want 400", resp.StatusCode)
	}
	resp := post(url.Values{"verdict": {"wrong"}, "note": {"it was the node"}}, srv.URL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/incidents/"+id+"#feedback" {
		t.Errorf("form: %d to %q, want 303 back to the page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if len(got) != 1 || got[0] != id+" wrong it was the node" {
		t.Errorf("stored %q", got)
	}
}

// What counts as the page's own request: fetch metadata first (the
// page's no-referrer policy makes a browser's Origin "null" on its own
// forms), Origin for browsers without it, and clients sending neither.
func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		site, origin string
		want         bool
	}{
		{"same-origin", "null", true},
		{"none", "", true},
		{"cross-site", "", false},
		{"same-site", "http://other.example.com", false},
		{"", "", true},
		{"", "http://runner.example:8081", true},
		{"", "http://attacker.example", false},
		{"", "null", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://runner.example:8081/incidents/x/feedback", nil)
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := SameOrigin(r); got != tc.want {
			t.Errorf("Sec-Fetch-Site %q, Origin %q: %v, want %v", tc.site, tc.origin, got, tc.want)
		}
	}
}
