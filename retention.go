package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

// newRetention keeps the incident workspaces in step with the history:
// the journal tells it which records it pruned, the recorder below which
// workspaces finished.
func newRetention(cfg config.Config, m *metrics.Metrics, logger *slog.Logger) *workspace.Retention {
	return workspace.New(workspace.Options{
		Root: cfg.WorkspaceRoot, Logger: logger.With("component", "workspaces"),
		Count: m.Workspaces, Bytes: m.WorkspacesBytes,
		Pruned:   m.WorkspacesRemoved.WithLabelValues("pruned"),
		Orphaned: m.WorkspacesRemoved.WithLabelValues("orphaned"),
		Failed:   m.WorkspaceRemoveErrors,
	})
}

// sweepWorkspaces removes, at start, every finished workspace the store no
// longer names (neither a history record nor an in-flight incident) and
// counts the rest. It runs before recovery, and keeps every workspace
// without a result.json, so dispatch still finds what a crash left
// unfinished and runs its cleanup command; such a workspace goes at a
// later start, once it is finished and named by no record. Without a store
// there are no records to go by and nothing is removed.
func sweepWorkspaces(ret *workspace.Retention, store *journal.Store, logger *slog.Logger) {
	keep := func(string) bool { return true }
	if store != nil {
		named, err := store.Workspaces()
		if err != nil {
			logger.Error("Could not read which workspaces the history names; removing none", "error", err.Error())
		} else {
			keep = func(ws string) bool { return named[ws] || !finished(ws) }
		}
	}
	if _, err := ret.Start(keep); err != nil {
		logger.Warn("Could not sweep the incident workspaces", "error", err.Error())
	}
}

// finished reports whether a workspace holds its result.
func finished(ws string) bool {
	_, err := os.Lstat(filepath.Join(ws, incident.ResultFile))
	return err == nil
}

// retainingRecorder counts each finished incident's workspace, then hands
// the incident to the journal (if any).
type retainingRecorder struct {
	journal dispatch.Recorder // nil without --state-dir
	ret     *workspace.Retention
}

func (r retainingRecorder) Started(it queue.Item, incidentID, ws string, at time.Time) error {
	if r.journal == nil {
		return nil
	}
	return r.journal.Started(it, incidentID, ws, at)
}

func (r retainingRecorder) Finished(it queue.Item, res incident.Result) error {
	r.ret.Added(res.Workspace)
	if r.journal == nil {
		return nil
	}
	return r.journal.Finished(it, res)
}
