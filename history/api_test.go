package history

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// historyDir is a state directory holding n finished incidents, alternately
// of clusters prod and staging.
func historyDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := journal.Open(dir, journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 10 * n})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range n {
		cluster := []string{"prod", "staging"}[i%2]
		if err := s.Finish(incident.Record{IncidentID: fmt.Sprintf("i%03d", i), Cluster: cluster, Status: incident.StatusSuccess,
			EndedAt: now.Add(time.Duration(i-n) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAPIIncidentsAllFiltersAndRefusals: /api/incidents serves the whole
// history for limit=0, filters by cluster, status and since, and answers
// 400 naming the parameter that does not parse.
func TestAPIIncidentsAllFiltersAndRefusals(t *testing.T) {
	dir := historyDir(t, 150)
	store, err := journal.Open(dir, journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := Handler(store)
	get := func(query string) (int, []Row, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, APIPath+query, nil))
		var rows []Row
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &rows); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
		return rec.Code, rows, rec.Body.String()
	}
	for query, want := range map[string]int{"": 100, "?limit=0": 150, "?limit=0&cluster=prod": 75, "?cluster=staging&since=30m": 15, "?status=failure": 0} {
		if code, rows, body := get(query); code != http.StatusOK || len(rows) != want {
			t.Errorf("%q: %d, %d rows, want %d: %s", query, code, len(rows), want, body)
		}
	}
	for query, name := range map[string]string{"?limit=-1": "limit", "?status=done": "status", "?since=yesterday": "since"} {
		if code, _, body := get(query); code != http.StatusBadRequest || !strings.Contains(body, name) {
			t.Errorf("%q: %d %q, want 400 naming %s", query, code, body, name)
		}
	}
}

// status=running, which the page offers, is served by the API and read
// from a stopped runner's directory too, with the attempt the incident is
// on (not one more).
func TestRunningIncidentsAreServedAndRead(t *testing.T) {
	dir := historyDir(t, 3)
	store, err := journal.Open(dir, journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ev := fault.Event{Source: "mcp", FaultID: "f1", FaultType: fault.TypeCrashLoop, Severity: "critical",
		Resource: fault.Resource{Kind: "Pod", Namespace: "shop", Name: "api"}}
	if err := store.Start(journal.InFlight{IncidentID: "run-1", Item: queue.Item{Cluster: "prod", Event: ev, Attempts: 1}, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	Handler(store).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, APIPath+"?status=running", nil))
	var rows []Row
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("%d %s (%v)", rec.Code, rec.Body.String(), err)
	}
	if len(rows) != 1 || rows[0].IncidentID != "run-1" || rows[0].Status != StatusRunning || rows[0].Attempts != 1 ||
		rows[0].Severity != "critical" || rows[0].Resource != "Pod/shop/api" {
		t.Fatalf("rows %+v, want run-1 running on its first attempt with its fault", rows)
	}
	store.Close()
	q, _ := ParseQuery(func(k string) string { return map[string]string{"status": "running"}[k] }, 50, time.Now())
	got, err := ReadDir(dir, q)
	if err != nil || len(got) != 1 || got[0].IncidentID != "run-1" {
		t.Fatalf("ReadDir: %+v, %v", got, err)
	}
}
