package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// apiIncidentsPath serves the history as JSON beside the page, under the
// same authentication (docs/security.md).
const apiIncidentsPath = "/api/incidents"

// defaultAPILimit is how many records /api/incidents serves without ?limit=.
const defaultAPILimit = 100

// uiServer builds the incidents page server on --ui-address: the page,
// /api/incidents, and the bearer/basic authentication when a file is set.
func uiServer(cfg config.Config, store *journal.Store, logger *slog.Logger) (*httpserver.Server, error) {
	h, err := uiHandler(cfg, store, logger)
	if err != nil {
		return nil, err
	}
	return httpserver.New("ui-server", cfg.UIAddress, h, logger), nil
}

// uiHandler is what the incidents page server serves.
func uiHandler(cfg config.Config, store *journal.Store, logger *slog.Logger) (http.Handler, error) {
	page, err := ui.New(ui.Options{
		Store:  pageStore{store: store, workspaceRoot: cfg.WorkspaceRoot, reportFile: cfg.AgentReportFile},
		Logger: logger.With("component", "incidents-page"), Title: "kubernetes-mcp-runner · incidents",
		Clusters: cfg.ClusterNames(),
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+apiIncidentsPath, apiIncidents(store))
	mux.Handle("/", page)
	var h http.Handler = mux
	if cfg.UIBearerTokenFile != "" || cfg.UIBasicAuthFile != "" {
		auth, err := ui.Auth(ui.AuthOptions{BearerTokenFile: cfg.UIBearerTokenFile, BasicAuthFile: cfg.UIBasicAuthFile})
		if err != nil {
			return nil, configError{fmt.Errorf("--ui-bearer-token-file / --ui-basic-auth-file: %w", err)}
		}
		h = auth(h)
	}
	return h, nil
}

// apiIncidents serves the newest history records with their delivery
// status as a JSON array, filtered by ?cluster=, ?status= and ?since= (an
// RFC 3339 time or a duration such as 24h), at most ?limit= (0: all). A
// parameter that does not parse is answered 400 naming it.
func apiIncidents(store *journal.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := incident.ParseQuery(r.URL.Query().Get, defaultAPILimit, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fetch := q.Limit
		if q.Filtered() {
			fetch = 0 // filter the whole history, then cap
		}
		records, err := store.History(fetch)
		if err != nil {
			http.Error(w, "could not read the history", http.StatusInternalServerError)
			return
		}
		records = q.Select(records)
		ids := make([]string, len(records))
		for i, rec := range records {
			ids[i] = rec.IncidentID
		}
		deliveries, err := store.IncidentDeliveries(ids)
		if err != nil {
			http.Error(w, "could not read the outbox", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(rowsOf(records, deliveries))
	})
}
