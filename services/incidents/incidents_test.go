package incidents

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

type history struct {
	records []incident.Record
	err     error
	limit   int
}

func (h *history) History(limit int) ([]incident.Record, error) {
	h.limit = limit
	if limit < len(h.records) {
		return h.records[:limit], h.err
	}
	return h.records, h.err
}

func TestHandlerServesTheNewestRecordsUpToTheLimit(t *testing.T) {
	h := &history{records: []incident.Record{{IncidentID: "b", Status: incident.StatusSuccess}, {IncidentID: "a", Status: incident.StatusFailure}}}
	for _, c := range []struct {
		query     string
		wantLimit int
		wantIDs   int
	}{{"", DefaultLimit, 2}, {"?limit=1", 1, 1}, {"?limit=-3", DefaultLimit, 2}, {"?limit=x", DefaultLimit, 2}} {
		rec := httptest.NewRecorder()
		Handler(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/incidents"+c.query, nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%q: %d %s", c.query, rec.Code, rec.Header().Get("Content-Type"))
		}
		var got []incident.Record
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if h.limit != c.wantLimit || len(got) != c.wantIDs || got[0].IncidentID != "b" {
			t.Errorf("%q: asked the store for %d, served %+v", c.query, h.limit, got)
		}
	}
}

func TestHandlerReportsAStoreError(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(&history{err: errors.New("disk gone")}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/incidents", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d for a failing store", rec.Code)
	}
}
