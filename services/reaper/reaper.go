// Package reaper runs the runner's orphan reaper as a supervised service:
// the runner is a child subreaper (or PID 1 of a container), so agents'
// orphaned descendants are reparented to it; the reaper waits for them so
// they do not stay zombies, and kills those still alive while no agent
// runs, since they belong to a run that has ended. With it the container
// needs no --init.
package reaper

import (
	"context"
	"log/slog"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

// Interval is how often the reaper looks without a SIGCHLD.
const Interval = 5 * time.Second

// Reaper is the suture service.
type Reaper struct {
	logger   *slog.Logger
	interval time.Duration
}

// New returns a reaper that logs the orphans it kills. They can no longer
// be told apart by incident or cluster, so they are logged, not counted.
func New(logger *slog.Logger, interval time.Duration) *Reaper {
	return &Reaper{logger: logger.With("component", "reaper"), interval: interval}
}

// String names the service in supervisor logs.
func (r *Reaper) String() string { return "reaper" }

// Serve reaps until ctx ends.
func (r *Reaper) Serve(ctx context.Context) error {
	procutil.ReapLoop(ctx, r.interval, func(pids []int) {
		r.logger.Warn("Killed orphaned agent processes while no agent was running", "pids", pids)
	})
	return ctx.Err()
}
