package journal

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// Writer is the store as the queue and dispatch write through it: it is
// their queue.Journal and dispatch.Recorder, counts failed writes by
// operation (the op label values below) and brings the state back at start.
type Writer struct {
	Store   *Store
	Metrics Metrics
	Logger  *slog.Logger
	// Outbox, when set, gives the notification records of a finished
	// incident; they are written in the transaction that finishes it, and
	// Written is called after that commit (to wake the delivery pump).
	Outbox  func(queue.Item, incident.Record) []notification.OutboxRecord
	Written func()
	// OwnedBy, when set, names the shard that owns a configured cluster
	// this runner does not queue (ok false: not configured at all), so
	// Recover can tell a reshard from a removed cluster.
	OwnedBy func(cluster string) (shard int, ok bool)
	// Reclaim, when set, is called at recovery for every interrupted
	// incident before it is queued again or abandoned: it kills what is
	// left of the agent a crash interrupted, so two copies never run.
	Reclaim func(InFlight)
	// OnWrite, when set, hears the outcome of every write (nil: it
	// succeeded), for readiness.
	OnWrite func(error)
}

// Metrics gives the writer its collectors; *metrics.Metrics is one.
type Metrics interface {
	StateWriteFailed(op string) interface{ Inc() }
	Abandoned(cluster string) interface{ Inc() }
	Requeued(cluster string) interface{ Inc() }
	Restored(cluster string) interface{ Inc() }
	HandedOver() interface{ Add(float64) }
}

func (w Writer) failed(op string, err error) error {
	if err != nil {
		w.Metrics.StateWriteFailed(op).Inc()
	}
	if w.OnWrite != nil {
		w.OnWrite(err)
	}
	return err
}

// The writes state_write_errors_total counts, its op label values.
const (
	OpEnqueue = "enqueue"
	OpRemove  = "remove"
	OpStart   = "start"
	OpFinish  = "finish"
	OpRequeue = "requeue"
	OpRunning = "running"
)

// Ops lists every op label value.
func Ops() []string { return []string{OpEnqueue, OpRemove, OpStart, OpFinish, OpRequeue, OpRunning} }

// Enqueue implements queue.Journal.
func (w Writer) Enqueue(it queue.Item) (uint64, error) {
	seq, err := w.Store.Enqueue(it)
	return seq, w.failed(OpEnqueue, err)
}

// Remove implements queue.Journal.
func (w Writer) Remove(cluster string, seqs ...uint64) error {
	return w.failed(OpRemove, w.Store.Remove(cluster, seqs...))
}

// RemoveFailed is the queue's report of a failed removal.
func (w Writer) RemoveFailed(err error) {
	w.Logger.Warn("Could not remove a fault from the state store; it will be restored after a restart", "error", err.Error())
}

// Started implements dispatch.Recorder.
func (w Writer) Started(it queue.Item, incidentID, workspace, marker string, at time.Time) error {
	return w.failed(OpStart, w.Store.Start(InFlight{IncidentID: incidentID, Item: it, StartedAt: at, Workspace: workspace, Marker: marker}))
}

// Deferred implements dispatch.Recorder: an incident that could not be
// given a workspace goes back to its queue, its attempt not counted.
func (w Writer) Deferred(it queue.Item, incidentID string) error {
	it.Attempts = max(it.Attempts-1, 0)
	_, err := w.Store.Requeue(InFlight{IncidentID: incidentID, Item: it})
	return w.failed(OpRequeue, err)
}

// Running implements dispatch.Recorder.
func (w Writer) Running(incidentID string, pgid int, bootID string) error {
	return w.failed(OpRunning, w.Store.SetGroup(incidentID, pgid, bootID))
}

// Finished implements dispatch.Recorder.
func (w Writer) Finished(it queue.Item, r incident.Result) error {
	rec := r.Record(it.Event.FaultType)
	rec.EnqueuedAt = it.EnqueuedAt
	rec.Source, rec.Severity, rec.Resource = it.Event.Source, it.Event.Level().String(), notification.Resource{Kind: it.Event.Resource.Kind, Namespace: it.Event.Resource.Namespace, Name: it.Event.Resource.Name}.String()
	return w.finish(it, rec)
}

// finish records an incident's end with its notifications.
func (w Writer) finish(it queue.Item, rec incident.Record) error {
	var out []notification.OutboxRecord
	if w.Outbox != nil {
		out = w.Outbox(it, rec)
	}
	if err := w.failed(OpFinish, w.Store.FinishNotify(rec, out)); err != nil {
		return err
	}
	if len(out) > 0 && w.Written != nil {
		w.Written()
	}
	return nil
}

func (w Writer) ownedBy(cluster string) (int, bool) {
	if w.OwnedBy == nil {
		return 0, false
	}
	return w.OwnedBy(cluster)
}

// Recover brings the stored state back at start: incidents a shutdown or
// crash interrupted go back to their queue with their attempt count, or
// are recorded as failed once they reach maxAttempts; queued faults return
// in order with their original EnqueuedAt; and the dedup marks younger than
// dedupWindow are returned for intake.
func (w Writer) Recover(queues *queue.Set, maxAttempts int, dedupWindow time.Duration, now time.Time) (map[string]map[string]time.Time, error) {
	st, err := w.Store.Load()
	if err != nil {
		return nil, err
	}
	interrupted := len(st.InFlight)
	for _, f := range st.InFlight {
		cluster := f.Item.Cluster
		if w.Reclaim != nil {
			w.Reclaim(f)
		}
		if queues.Get(cluster) == nil || f.Item.Attempts >= maxAttempts {
			reason := "interrupted " + strconv.Itoa(f.Item.Attempts) + " times; gave up (--max-attempts)"
			if queues.Get(cluster) == nil {
				reason = "cluster no longer configured"
				if shard, ok := w.ownedBy(cluster); ok {
					reason = "handed over: shard " + strconv.Itoa(shard) + " owns the cluster now"
				}
			} else {
				w.Metrics.Abandoned(cluster).Inc()
			}
			w.Logger.Error("Abandoning an interrupted incident", "cluster", cluster, "incident_id", f.IncidentID,
				"fault_id", f.Item.Event.FaultID, "attempts", f.Item.Attempts, "reason", reason)
			if err := w.finish(f.Item, incident.Record{
				IncidentID: f.IncidentID, Cluster: cluster, FaultID: f.Item.Event.FaultID, FaultType: f.Item.Event.FaultType,
				Status: incident.StatusFailure, Reason: reason, Attempts: f.Item.Attempts,
				StartedAt: f.StartedAt, EndedAt: now, Workspace: f.Workspace,
			}); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := w.Store.Requeue(f); w.failed(OpRequeue, err) != nil {
			return nil, err
		}
		w.Metrics.Requeued(cluster).Inc()
		w.Logger.Warn("Re-queued an incident interrupted by a shutdown or crash", "cluster", cluster,
			"incident_id", f.IncidentID, "fault_id", f.Item.Event.FaultID, "attempts_so_far", f.Item.Attempts)
	}
	// One read after the requeues and the prune serves queue and dedup.
	if err := w.Store.PruneAllDedup(dedupWindow, now); err != nil {
		return nil, err
	}
	if st, err = w.Store.Load(); err != nil {
		return nil, err
	}
	restored := 0
	for cluster, entries := range st.Queued {
		q := queues.Get(cluster)
		var drop []uint64
		for _, e := range entries {
			if q == nil {
				drop = append(drop, e.Seq)
				continue
			}
			if res, _ := q.Restore(e); res == queue.Full {
				drop = append(drop, e.Seq)
				continue
			}
			w.Metrics.Restored(cluster).Inc()
			restored++
		}
		if shard, ok := w.ownedBy(cluster); ok && q == nil && len(drop) > 0 {
			// Resharded: the new owner starts clean and hears the
			// cluster's faults from now on (docs/scaling.md).
			w.Metrics.HandedOver().Add(float64(len(drop)))
			w.Logger.Warn("Dropped stored faults of a cluster another shard owns now",
				"cluster", cluster, "owner_shard", shard, "dropped", len(drop))
			_ = w.failed(OpRemove, w.Store.Remove(cluster, drop...))
		} else if len(drop) > 0 {
			w.Logger.Warn("Dropped stored faults that no longer fit: cluster removed or queue capacity lowered",
				"cluster", cluster, "dropped", len(drop))
			_ = w.failed(OpRemove, w.Store.Remove(cluster, drop...))
		}
	}
	dedup := map[string]map[string]time.Time{}
	for cluster, marks := range st.Dedup {
		if queues.Get(cluster) != nil {
			dedup[cluster] = marks
		}
	}
	w.Logger.Info("Restored state", "file", w.Store.Path(), "queued_events", restored,
		"interrupted_incidents", interrupted)
	return dedup, nil
}

// EnqueueAsync implements queue.AsyncJournal: the fault's write joins the
// next group commit and the queue settles it once synced.
func (w Writer) EnqueueAsync(it queue.Item) queue.Write {
	return countedWrite{en: w.Store.EnqueueAsync(it), w: w}
}

// countedWrite counts a failed asynchronous enqueue, like Enqueue does. The
// queue waits for each write once.
type countedWrite struct {
	en *Enqueued
	w  Writer
}

func (c countedWrite) Wait() (uint64, error) {
	seq, err := c.en.Wait()
	return seq, c.w.failed(OpEnqueue, err)
}
