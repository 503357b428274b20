package dispatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// statusDeferred is what runIncident returns for an incident it could not
// give a workspace for a reason that passes (a full or failing disk): no
// agent ran and nothing is finished; runGuarded puts its faults back in
// their queue. It is never recorded or exported.
const statusDeferred incident.Status = "deferred"

// Backoff of the workers while workspaces cannot be written.
const (
	deferInitial = time.Second
	deferMax     = time.Minute
)

// diskError says the workspace could not be written for a reason that
// may pass by itself or by an operator freeing space: the fault is kept.
func diskError(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// workspaces is the dispatcher's view of the workspace disk: while it
// fails, workers wait (doubling up to deferMax) before taking more work.
type workspaces struct {
	mu       sync.Mutex
	failing  bool
	since    time.Time // when the current failure began
	lastErr  error
	delay    time.Duration
	retryAt  time.Time
	deferred int
}

// WorkspacesWritable is a readiness check: an error once workspaces have
// failed to be written for after, with no workspace written since.
func (d *Dispatcher) WorkspacesWritable(after time.Duration) func() error {
	return func() error {
		w := &d.disk
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.failing || d.o.Now().Sub(w.since) < after {
			return nil
		}
		return fmt.Errorf("incident workspaces cannot be written for %s (%d faults deferred): %v",
			d.o.Now().Sub(w.since).Round(time.Second), w.deferred, w.lastErr)
	}
}

// deferIncident undoes the start of an incident whose workspace could not
// be written: the partial workspace goes, the state store puts its faults
// back in the queue, the breaker probe and the budget admission are
// returned. runGuarded then restores the faults in memory.
func (d *Dispatcher) deferIncident(it queue.Item, id, ws string, probe bool, cause error) incident.Status {
	_ = os.RemoveAll(ws)
	if d.o.Recorder != nil {
		if err := d.o.Recorder.Deferred(it, id); err != nil {
			d.logger.Error("Could not put a deferred incident's faults back in the state store; they run again after a restart",
				"cluster", it.Cluster, "incident_id", id, "error", err.Error())
		}
	}
	d.o.Breaker.Cancel(probe)
	if a, ok := d.take(id); ok {
		release(a)
	}
	d.o.Metrics.EventsDeferred.Add(float64(len(it.Covered())))
	now := d.o.Now()
	w := &d.disk
	w.mu.Lock()
	first := !w.failing
	if first {
		w.since = now
	}
	w.failing, w.lastErr = true, cause
	w.delay = min(max(2*w.delay, deferInitial), deferMax)
	w.retryAt = now.Add(w.delay)
	w.deferred++
	delay, n := w.delay, w.deferred
	w.mu.Unlock()
	if first {
		d.logger.Error("Incident workspaces cannot be written; faults stay queued and run once space returns",
			"cluster", it.Cluster, "incident_id", id, "workspace_root", d.o.WorkspaceRoot, "error", cause.Error(), "retry_in", delay.String())
	} else {
		d.logger.Warn("Incident deferred: workspaces still cannot be written",
			"cluster", it.Cluster, "error", cause.Error(), "retry_in", delay.String(), "deferred", n)
	}
	return statusDeferred
}

// workspaceWritten records a workspace that could be written: the workers
// go on at full speed.
func (d *Dispatcher) workspaceWritten() {
	w := &d.disk
	w.mu.Lock()
	was, n := w.failing, w.deferred
	w.failing, w.delay, w.retryAt, w.deferred, w.lastErr = false, 0, time.Time{}, 0, nil
	w.mu.Unlock()
	if was {
		d.logger.Info("Incident workspaces can be written again; deferred faults run", "deferred", n)
	}
}

// waitForWorkspaces blocks a worker while workspaces cannot be written,
// until the next retry is due or ctx ends.
func (d *Dispatcher) waitForWorkspaces(ctx context.Context) error {
	d.disk.mu.Lock()
	at := d.disk.retryAt
	d.disk.mu.Unlock()
	if wait := at.Sub(d.o.Now()); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// restore puts the faults of a deferred incident back in its queue, their
// attempt not counted.
func restore(q *queue.Queue, it queue.Item) {
	for _, m := range it.Covered() {
		m.Attempts = max(it.Attempts-1, 0)
		m.Members = nil
		q.Restore(m)
	}
}
