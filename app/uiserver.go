package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/history"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
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
func uiServer(cfg config.Config, store *journal.Store, live uiClusters, budget func() ui.BudgetHeader, logger *slog.Logger, judged func(incident.Record)) (*httpserver.Server, error) {
	h, err := uiHandler(cfg, store, live, budget, logger, judged)
	if err != nil {
		return nil, err
	}
	return httpserver.New("ui-server", cfg.UIAddress, h, logger), nil
}

// uiHandler is what the incidents page server serves; budget, when set,
// is the header's line on today's spend, and judged is told of each
// verdict people give on the page or the API once it is stored.
func uiHandler(cfg config.Config, store *journal.Store, live uiClusters, budget func() ui.BudgetHeader, logger *slog.Logger, judged func(incident.Record)) (http.Handler, error) {
	fb := history.Feedback{Store: store, Now: time.Now, Given: judged}
	ps := history.PageStore{Store: store, WorkspaceRoot: cfg.WorkspaceRoot, ReportFile: cfg.AgentReportFile}
	page, err := ui.New(ui.Options{
		Store:  ps,
		Logger: logger.With("component", "incidents-page"), Title: "kubernetes-mcp-runner · incidents",
		Clusters: cfg.ClusterNames(), Budget: budget, Feedback: fb.Form,
		FaultTypes:    []string{fault.TypeCrashLoop, fault.TypePodCrash, fault.TypeNodeUnhealthy, fault.TypeDeploymentFailure, fault.TypeJobFailure},
		ClusterStatus: live.status(cfg.ClusterNames(), ps),
		Files:         ps,
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

// uiClusters is what the clusters view reads of the running tree: the
// sessions (connected, blind since) and the queues (depth). A zero value
// (no sessions, as in tests of the page alone) shows every cluster blind
// with an empty queue.
type uiClusters struct {
	connected  func(cluster string) bool
	blindSince func(cluster string) (time.Time, bool)
	depth      func(cluster string) (n int, ok bool)
}

// status is the clusters view's source over names in configuration order;
// a cluster another shard serves (no queue here) is left out.
func (u uiClusters) status(names []string, ps history.PageStore) func(context.Context) ([]ui.ClusterStatus, error) {
	return func(context.Context) ([]ui.ClusterStatus, error) {
		last, err := ps.LastIncidents()
		if err != nil {
			return nil, err
		}
		out := make([]ui.ClusterStatus, 0, len(names))
		for _, name := range names {
			c := ui.ClusterStatus{Name: name}
			if u.depth != nil {
				n, ok := u.depth(name)
				if !ok {
					continue
				}
				c.QueueDepth = n
			}
			if u.connected != nil {
				c.Connected = u.connected(name)
			}
			if u.blindSince != nil && !c.Connected {
				c.BlindSince, _ = u.blindSince(name)
			}
			if l, ok := last[name]; ok {
				c.LastFault, c.LastIncident, c.LastFaultType = l.StartedAt, l.ID, l.FaultType
			}
			out = append(out, c)
		}
		return out, nil
	}
}

// queueDepth is a cluster's queue depth in qs, and whether this runner
// queues for it.
func queueDepth(qs *queue.Set) func(string) (int, bool) {
	return func(cluster string) (int, bool) {
		q := qs.Get(cluster)
		if q == nil {
			return 0, false
		}
		return q.Len(), true
	}
}
