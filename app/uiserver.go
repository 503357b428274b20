package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/history"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// The incidents page and /api/incidents read the store and workspaces for
// each request: at most UIMaxConcurrentRequests run at once (authentication
// is checked first, outside the limit), and one that waits UIQueueWait for
// room is answered 503, so no crowd of readers slows the probes or the
// runner's own work (docs/benchmarks.md has the figures).
const (
	UIMaxConcurrentRequests = 4
	UIQueueWait             = 2 * time.Second
)

// uiServer builds the incidents page server on --ui-address: the page,
// /api/incidents, and the bearer/basic authentication when a file is set.
func uiServer(cfg config.Config, store *journal.Store, budget func() ui.BudgetHeader, logger *slog.Logger, judged func(incident.Record)) (*httpserver.Server, error) {
	h, err := uiHandler(cfg, store, budget, logger, judged)
	if err != nil {
		return nil, err
	}
	return httpserver.New("ui-server", cfg.UIAddress, h, logger), nil
}

// uiHandler is what the incidents page server serves; budget, when set,
// is the header's line on today's spend, and judged is told of each
// verdict people give on the page or the API once it is stored.
func uiHandler(cfg config.Config, store *journal.Store, budget func() ui.BudgetHeader, logger *slog.Logger, judged func(incident.Record)) (http.Handler, error) {
	fb := history.Feedback{Store: store, Now: time.Now, Given: judged}
	page, err := ui.New(ui.Options{
		Store:  history.PageStore{Store: store, WorkspaceRoot: cfg.WorkspaceRoot, ReportFile: cfg.AgentReportFile},
		Logger: logger.With("component", "incidents-page"), Title: "kubernetes-mcp-runner · incidents",
		Clusters: cfg.ClusterNames(), Budget: budget, Feedback: fb.Form,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+history.APIPath, history.Handler(store))
	mux.Handle("POST "+history.FeedbackPath, fb.Handler())
	mux.Handle("/", page)
	var h = httpserver.Limit(mux, UIMaxConcurrentRequests, UIQueueWait)
	if cfg.UIBearerTokenFile != "" || cfg.UIBasicAuthFile != "" {
		auth, err := ui.Auth(ui.AuthOptions{BearerTokenFile: cfg.UIBearerTokenFile, BasicAuthFile: cfg.UIBasicAuthFile})
		if err != nil {
			return nil, ConfigError{fmt.Errorf("--ui-bearer-token-file / --ui-basic-auth-file: %w", err)}
		}
		h = auth(h)
	}
	return h, nil
}
