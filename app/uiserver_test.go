package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/history"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/notices"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// finishedIncident writes a workspace (event.json, report, a long log) and
// finishes the incident in a fresh store with one pending delivery.
func finishedIncident(t *testing.T) (*journal.Store, config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.WorkspaceRoot = filepath.Join(dir, "ws")
	store, err := journal.Open(filepath.Join(dir, "state"), journal.Options{HistoryMaxEntries: 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	id := "f00d-1"
	ws := filepath.Join(cfg.WorkspaceRoot, "prod", id)
	if err := os.MkdirAll(filepath.Join(ws, "output"), 0o700); err != nil {
		t.Fatal(err)
	}
	ev := fault.Event{Source: "mcp", FaultID: "f00d", FaultType: fault.TypeCrashLoop, Severity: "critical",
		Resource: fault.Resource{Kind: "Pod", Namespace: "payments", Name: "api"}}
	doc, _ := json.Marshal(incident.EventDocument{IncidentID: id, Cluster: "prod", Fault: ev})
	log := strings.Repeat("early line\n", 10000) + "the last line\n"
	for name, data := range map[string]string{incident.EventFile: string(doc), "output/investigation.md": "# Root cause\n\nbad secret\n", incident.LogFile: log} {
		if err := os.WriteFile(filepath.Join(ws, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	end := time.Now().UTC()
	it := queue.Item{Cluster: "prod", Event: ev, EnqueuedAt: end.Add(-time.Minute)}
	rec := incident.Record{IncidentID: id, Cluster: "prod", FaultID: "f00d", FaultType: ev.FaultType, Status: incident.StatusSuccess,
		Attempts: 1, StartedAt: end.Add(-30 * time.Second), EndedAt: end, DurationSeconds: 30, Workspace: ws}
	n := notices.NewNotifier(map[string]notify.Sink{"hook": nil}, notify.Router{Default: []string{"hook"}}, cfg.AgentReportFile, notify.DocOptions{})
	out := n.IncidentRecords(it, rec)
	if len(out) != 1 || out[0].Notification.Incident.Report.Excerpt == "" || out[0].Notification.Incident.Fault.Resource.Name != "api" {
		t.Fatalf("outbox records %+v", out)
	}
	if err := store.Start(journal.InFlight{IncidentID: id, Item: it}); err != nil {
		t.Fatal(err)
	}
	if err := store.FinishNotify(rec, out); err != nil {
		t.Fatal(err)
	}
	return store, cfg, id
}

func TestPageStoreReadsTheJournalAndTheWorkspace(t *testing.T) {
	store, cfg, id := finishedIncident(t)
	ps := history.PageStore{Store: store, WorkspaceRoot: cfg.WorkspaceRoot, ReportFile: cfg.AgentReportFile}
	list, err := ps.List(context.Background(), ui.Filter{Cluster: "prod", Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Severity != "critical" || list[0].Resource != "Pod/payments/api" {
		t.Fatalf("list %+v, %v", list, err)
	}
	if other, _ := ps.List(context.Background(), ui.Filter{Status: "failure"}); len(other) != 0 {
		t.Errorf("status filter kept %+v", other)
	}
	inc, err := ps.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(inc.Report), "bad secret") || inc.ReportName != "investigation.md" {
		t.Errorf("report %q (%s)", inc.Report, inc.ReportName)
	}
	if !inc.LogTruncated || !strings.HasSuffix(string(inc.LogTail), "the last line\n") || len(inc.LogTail) > history.LogTailBytes {
		t.Errorf("log tail: truncated=%v, %d bytes", inc.LogTruncated, len(inc.LogTail))
	}
	if len(inc.Deliveries) != 1 || inc.Deliveries[0].Sink != "hook" || inc.Deliveries[0].State != "pending" {
		t.Errorf("deliveries %+v", inc.Deliveries)
	}
	if !strings.Contains(string(inc.Event), `"faultId": "f00d"`) && !strings.Contains(string(inc.Event), `"faultId":"f00d"`) {
		t.Errorf("event %s", inc.Event)
	}
	if _, err := ps.Get(context.Background(), "nope"); !errors.Is(err, ui.ErrNotFound) {
		t.Errorf("unknown id: %v, want ui.ErrNotFound", err)
	}
}

func TestUIServerRequiresTheTokenWhenConfigured(t *testing.T) {
	store, cfg, id := finishedIncident(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.UIAddress, cfg.UIBearerTokenFile = "0.0.0.0:0", token
	h, err := uiHandler(cfg, store, uiClusters{}, nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/incidents", "/incidents/" + id, history.APIPath, "/clusters", "/incidents/" + id + "/files/agent.log", "/incidents/" + id + "/files/event.json"} {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Bearer s3cret-token-0123456789"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			want := http.StatusUnauthorized
			if strings.Contains(auth, "s3cret") {
				want = http.StatusOK
			}
			if rec.Code != want {
				t.Errorf("GET %s with %q: %d, want %d", path, auth, rec.Code, want)
			}
		}
	}
}

func TestAPIIncidentsServesDeliveriesAndRefusesBadLimits(t *testing.T) {
	store, _, id := finishedIncident(t)
	h := history.Handler(store)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, history.APIPath+"?limit=0", nil))
	var rows []history.Row
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); err != nil || len(rows) != 1 || rows[0].IncidentID != id ||
		len(rows[0].Deliveries) != 1 || history.DeliveryCell(rows[0].Deliveries) != "hook:pending" {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	for _, bad := range []string{"-1", "x"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, history.APIPath+"?limit="+bad, nil))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), bad) {
			t.Errorf("limit=%s: %d %s", bad, rec.Code, rec.Body)
		}
	}
}

// The clusters view shows what the sessions and queues say of each
// configured cluster, leaving out those this runner does not queue for.
func TestUIClustersView(t *testing.T) {
	store, cfg, id := finishedIncident(t)
	cfg.Clusters = []config.Cluster{{Name: "prod"}, {Name: "staging"}, {Name: "elsewhere"}}
	blind := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	live := uiClusters{
		connected:  func(c string) bool { return c == "prod" },
		blindSince: func(c string) (time.Time, bool) { return blind, c == "staging" },
		depth: func(c string) (int, bool) {
			n, ok := map[string]int{"prod": 2, "staging": 0}[c]
			return n, ok
		},
	}
	h, err := uiHandler(cfg, store, live, nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/clusters", nil))
	body := rec.Body.String()
	for _, want := range []string{">prod</a>", "connected", `data-label="Queued">2<`, `href="/incidents/` + id + `"`, ">staging</a>", "blind", "2026-01-02T03:04:05Z"} {
		if !strings.Contains(body, want) {
			t.Errorf("/clusters lacks %s", want)
		}
	}
	if strings.Contains(body, "elsewhere") {
		t.Error("/clusters shows a cluster another shard queues for")
	}
}
