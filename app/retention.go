package app

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

// sweepWorkspaces removes, at start, the finished workspaces whose history
// records were pruned, and counts the rest. A workspace goes when no record
// (history or in-flight) names it and it finished before the oldest record
// kept: the history prunes from the oldest, so its record was pruned (the
// runner stopped between pruning and removing it, or a lower limit
// applies now). Kept: workspaces without a result.json, so dispatch still
// finds what a crash left unfinished and runs its cleanup command; and
// those that finished later than the oldest record, which came from a
// state file since replaced or quarantined — they go once the history has
// moved past them. An empty history, or no store at all, removes nothing.
func sweepWorkspaces(ret *workspace.Retention, store *journal.Store, logger *slog.Logger) {
	keep := func(string) bool { return true }
	if store != nil {
		named, oldest, err := store.Workspaces()
		switch {
		case err != nil:
			logger.Error("Could not read which workspaces the history names; removing none", "error", err.Error())
		case !oldest.IsZero():
			keep = func(ws string) bool {
				if named[ws] {
					return true
				}
				ended, ok := finishedAt(ws)
				return !ok || !ended.Before(oldest)
			}
		}
	}
	if _, err := ret.Start(keep); err != nil {
		logger.Warn("Could not sweep the incident workspaces", "error", err.Error())
	}
}

// finishedAt is when a workspace's result was written, if it has one.
func finishedAt(ws string) (time.Time, bool) {
	st, err := os.Lstat(filepath.Join(ws, incident.ResultFile))
	if err != nil {
		return time.Time{}, false
	}
	return st.ModTime(), true
}

// retainingRecorder counts each finished incident's workspace, then hands
// the incident to the journal (if any).
type retainingRecorder struct {
	journal dispatch.Recorder // nil without --state-dir
	ret     *workspace.Retention
}

func (r retainingRecorder) Started(it queue.Item, incidentID, ws, marker string, at time.Time) error {
	if r.journal == nil {
		return nil
	}
	return r.journal.Started(it, incidentID, ws, marker, at)
}

func (r retainingRecorder) Deferred(it queue.Item, incidentID string) error {
	if r.journal == nil {
		return nil
	}
	return r.journal.Deferred(it, incidentID)
}

func (r retainingRecorder) Running(incidentID string, pgid int, bootID string) error {
	if r.journal == nil {
		return nil
	}
	return r.journal.Running(incidentID, pgid, bootID)
}

func (r retainingRecorder) Finished(it queue.Item, res incident.Result) error {
	r.ret.Added(res.Workspace)
	if r.journal == nil {
		return nil
	}
	return r.journal.Finished(it, res)
}
