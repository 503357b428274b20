package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// pageStore is a PageStore over n finished incidents, i000 the oldest:
// every tenth is a warning NodeUnhealthy in namespace batch, the others
// critical CrashLoops in namespace web.
func pageStore(t testing.TB, n int) PageStore {
	t.Helper()
	dir := t.TempDir()
	s, err := journal.Open(filepath.Join(dir, "state"), journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 10 * n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	for i := range n {
		r := incident.Record{IncidentID: fmt.Sprintf("i%03d", i), Cluster: "prod", FaultID: fmt.Sprintf("f-%03d", i), FaultType: fault.TypeCrashLoop,
			Severity: "critical", Resource: fmt.Sprintf("Pod/web/api-%d", i), Status: incident.StatusSuccess,
			StartedAt: now.Add(time.Duration(i-n) * time.Minute), EndedAt: now.Add(time.Duration(i-n)*time.Minute + time.Second)}
		if i%10 == 0 {
			r.FaultType, r.Severity, r.Resource = fault.TypeNodeUnhealthy, "warning", fmt.Sprintf("Pod/batch/job-%d", i)
		}
		if err := s.Finish(r); err != nil {
			t.Fatal(err)
		}
	}
	return PageStore{Store: s, WorkspaceRoot: filepath.Join(dir, "ws"), ReportFile: "output/investigation.md"}
}

func ids(ss []ui.Summary) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return strings.Join(out, " ")
}

// The list pages through filters that match few records, past the first
// window the store reads, newest first with nothing skipped or repeated.
func TestPageStoreListPagesThroughFilters(t *testing.T) {
	ps := pageStore(t, 300)
	ctx := context.Background()
	for _, tc := range []struct {
		f    ui.Filter
		want string
	}{
		{ui.Filter{Limit: 3}, "i299 i298 i297"},
		{ui.Filter{Limit: 3, Offset: 3}, "i296 i295 i294"},
		{ui.Filter{Severity: "warning", Limit: 4}, "i290 i280 i270 i260"},
		// 8 warnings deep needs 100 records: more than the first window.
		{ui.Filter{Severity: "warning", Limit: 4, Offset: 8}, "i210 i200 i190 i180"},
		{ui.Filter{FaultType: "NodeUnhealthy", Query: "batch/", Limit: 2, Offset: 28}, "i010 i000"},
		{ui.Filter{FaultType: "NodeUnhealthy", Limit: 2, Offset: 30}, ""},
		{ui.Filter{Query: "F-123", Limit: 5}, "i123"},
		{ui.Filter{Query: "api-12", Severity: "critical", Limit: 20}, "i129 i128 i127 i126 i125 i124 i123 i122 i121 i012"},
	} {
		got, err := ps.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if ids(got) != tc.want {
			t.Errorf("%+v: %q, want %q", tc.f, ids(got), tc.want)
		}
	}
}

// The page's file links read the workspace bounded, and never follow a
// link an agent left in it.
func TestPageStoreFiles(t *testing.T) {
	ps := pageStore(t, 1)
	ws := filepath.Join(ps.WorkspaceRoot, "prod", "i000")
	if err := os.MkdirAll(filepath.Join(ws, "output"), 0o700); err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(incident.EventDocument{IncidentID: "i000", Cluster: "prod", EnqueuedAt: time.Now()})
	secret := filepath.Join(t.TempDir(), "secret")
	for name, data := range map[string]string{incident.EventFile: string(doc), "output/investigation.md": "# report\n",
		incident.LogFile: strings.Repeat("line\n", 1000) + "last\n", secret: "s3cret"} {
		if !filepath.IsAbs(name) {
			name = filepath.Join(ws, name)
		}
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(secret, filepath.Join(ws, incident.ResultFile)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if b, trunc, err := ps.File(ctx, "i000", "event.json", 1<<20); err != nil || trunc || string(b) != string(doc) {
		t.Errorf("event.json: %q %v %v", b, trunc, err)
	}
	if b, _, err := ps.File(ctx, "i000", "report", 1<<20); err != nil || string(b) != "# report\n" {
		t.Errorf("report: %q %v", b, err)
	}
	if b, trunc, err := ps.File(ctx, "i000", "agent.log", 100); err != nil || !trunc || len(b) > 100 || !strings.HasSuffix(string(b), "last\n") {
		t.Errorf("agent.log: %d bytes, truncated %v, %v: want its end, at most 100 bytes", len(b), trunc, err)
	}
	if b, _, err := ps.File(ctx, "i000", "result.json", 1<<20); !errors.Is(err, ui.ErrNotFound) || len(b) != 0 {
		t.Errorf("result.json linked outside the workspace: %q %v, want not found", b, err)
	}
	for _, c := range [][2]string{{"i000", "usage.json"}, {"i000", "../../secret"}, {"nope", "event.json"}, {"../i000", "event.json"}} {
		if _, _, err := ps.File(ctx, c[0], c[1], 1<<20); !errors.Is(err, ui.ErrNotFound) {
			t.Errorf("%s/%s: %v, want not found", c[0], c[1], err)
		}
	}
	// The queue wait comes from event.json's enqueuedAt.
	if list, _ := ps.List(ctx, ui.Filter{Limit: 1}); len(list) != 1 || list[0].EnqueuedAt.IsZero() {
		t.Errorf("list %+v: want the enqueue time from event.json", list)
	}
}

func TestLastIncidents(t *testing.T) {
	ps := pageStore(t, 5)
	if err := ps.Store.Start(journal.InFlight{IncidentID: "run-1", Item: queue.Item{Cluster: "staging", Event: fault.Event{FaultType: fault.TypeJobFailure}}, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	last, err := ps.LastIncidents()
	if err != nil {
		t.Fatal(err)
	}
	if last["prod"].ID != "i004" || last["staging"].ID != "run-1" || last["staging"].FaultType != fault.TypeJobFailure || len(last) != 2 {
		t.Errorf("last %+v", last)
	}
}

// /api/incidents filters as the page does.
func TestAPIIncidentsSearchAndFilters(t *testing.T) {
	ps := pageStore(t, 30)
	h := Handler(ps.Store)
	for query, want := range map[string]string{
		"?severity=warning":                  "i020 i010 i000",
		"?faultType=nodeunhealthy&limit=1":   "i020",
		"?q=f-007":                           "i007",
		"?q=BATCH/&severity=warning&limit=0": "i020 i010 i000",
		"?q=web/api-2&faultType=CrashLoop":   "i029 i028 i027 i026 i025 i024 i023 i022 i021 i002",
		"?q=nothing-like-it":                 "",
	} {
		code, body := serve(h, APIPath+query)
		var rows []Row
		if err := json.Unmarshal([]byte(body), &rows); code != 200 || err != nil {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.IncidentID)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: %v, want %s", query, got, want)
		}
	}
	for query, name := range map[string]string{"?severity=dire": "severity", "?q=" + strings.Repeat("x", 300): "q", "?faultType=" + strings.Repeat("y", 200): "faultType"} {
		if code, body := serve(h, APIPath+query); code != 400 || !strings.Contains(body, name) {
			t.Errorf("%.40s: %d %q, want 400 naming %s", query, code, body, name)
		}
	}
}

func serve(h http.Handler, target string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Code, rec.Body.String()
}

// A record that carries its fault's details and when it was queued is
// listed without its workspace: a page of new records reads none.
func TestListReadsNoWorkspaceForNewRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := journal.Open(filepath.Join(dir, "state"), journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	end := time.Now().UTC().Truncate(time.Second)
	if err := s.Finish(incident.Record{IncidentID: "i1", Cluster: "prod", FaultID: "f1", FaultType: "CrashLoop",
		Status: incident.StatusSuccess, Severity: "critical", Resource: "Pod/shop/api", Source: "mcp",
		EnqueuedAt: end.Add(-time.Minute), StartedAt: end.Add(-50 * time.Second), EndedAt: end,
		Workspace: filepath.Join(dir, "ws", "prod", "i1")}); err != nil {
		t.Fatal(err)
	}
	// No workspace exists at all.
	ps := PageStore{Store: s, WorkspaceRoot: filepath.Join(dir, "ws")}
	list, err := ps.List(context.Background(), ui.Filter{Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("list %+v, %v", list, err)
	}
	if got := list[0]; got.Severity != "critical" || got.Resource != "Pod/shop/api" || !got.EnqueuedAt.Equal(end.Add(-time.Minute)) {
		t.Errorf("summary %+v: want severity, resource and queue time from the record", got)
	}
}
