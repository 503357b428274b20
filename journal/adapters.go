package journal

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
)

// Hooks connects the store to the queue and dispatch, counting failed
// writes by operation.
type Hooks struct {
	Store   *Store
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

func (h Hooks) failed(op string, err error) error {
	if err != nil {
		h.Metrics.StateWriteErrors.WithLabelValues(op).Inc()
	}
	return err
}

// Enqueue implements queue.Journal.
func (h Hooks) Enqueue(it queue.Item) (uint64, error) {
	seq, err := h.Store.Enqueue(entryOf(it))
	return seq, h.failed("enqueue", err)
}

// Remove implements queue.Journal.
func (h Hooks) Remove(cluster string, seqs ...uint64) error {
	return h.failed("remove", h.Store.Remove(cluster, seqs...))
}

// RemoveFailed is the queue's report of a failed removal.
func (h Hooks) RemoveFailed(err error) {
	h.Logger.Warn("Could not remove a fault from the state store; it will be restored after a restart", "error", err.Error())
}

// Started implements dispatch.Recorder.
func (h Hooks) Started(it queue.Item, incidentID, workspace string, at time.Time) error {
	return h.failed("start", h.Store.Start(InFlight{IncidentID: incidentID, Entry: entryOf(it), StartedAt: at, Workspace: workspace}))
}

// Finished implements dispatch.Recorder.
func (h Hooks) Finished(it queue.Item, r dispatch.Result) error {
	return h.failed("finish", h.Store.Finish(Record{
		IncidentID: r.IncidentID, Cluster: r.Cluster, FaultID: r.FaultID, FaultType: it.Event.FaultType,
		Status: string(r.Status), Reason: r.Reason, Attempts: r.Attempt,
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, DurationSeconds: r.DurationSeconds,
		Workspace: r.Workspace,
	}))
}

func entryOf(it queue.Item) Entry {
	return Entry{Seq: it.Seq, Cluster: it.Cluster, Event: it.Event, EnqueuedAt: it.EnqueuedAt, Attempts: it.Attempts}
}

func itemOf(e Entry) queue.Item {
	return queue.Item{Cluster: e.Cluster, Event: e.Event, EnqueuedAt: e.EnqueuedAt, Seq: e.Seq, Attempts: e.Attempts}
}

// Recover brings the stored state back at start: incidents a shutdown or
// crash interrupted go back to their queue with their attempt count, or
// are recorded as failed once they reach maxAttempts; queued faults return
// in order with their original EnqueuedAt; and the dedup marks younger than
// dedupWindow are returned for intake.
func (h Hooks) Recover(queues *queue.Set, maxAttempts int, dedupWindow time.Duration, now time.Time) (map[string]map[string]time.Time, error) {
	st, err := h.Store.Load()
	if err != nil {
		return nil, err
	}
	interrupted := len(st.InFlight)
	for _, f := range st.InFlight {
		cluster := f.Entry.Cluster
		if queues.Get(cluster) == nil || f.Entry.Attempts >= maxAttempts {
			reason := "interrupted " + strconv.Itoa(f.Entry.Attempts) + " times; gave up (--max-attempts)"
			if queues.Get(cluster) == nil {
				reason = "cluster no longer configured"
			} else {
				h.Metrics.IncidentsAbandoned.WithLabelValues(cluster).Inc()
			}
			h.Logger.Error("Abandoning an interrupted incident", "cluster", cluster, "incident_id", f.IncidentID,
				"fault_id", f.Entry.Event.FaultID, "attempts", f.Entry.Attempts, "reason", reason)
			if err := h.failed("finish", h.Store.Finish(Record{
				IncidentID: f.IncidentID, Cluster: cluster, FaultID: f.Entry.Event.FaultID, FaultType: f.Entry.Event.FaultType,
				Status: string(dispatch.StatusFailure), Reason: reason, Attempts: f.Entry.Attempts,
				StartedAt: f.StartedAt, EndedAt: now, Workspace: f.Workspace,
			})); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := h.Store.Requeue(f); h.failed("requeue", err) != nil {
			return nil, err
		}
		h.Metrics.IncidentsRequeued.WithLabelValues(cluster).Inc()
		h.Logger.Warn("Re-queued an incident interrupted by a shutdown or crash", "cluster", cluster,
			"incident_id", f.IncidentID, "fault_id", f.Entry.Event.FaultID, "attempts_so_far", f.Entry.Attempts)
	}
	// One read after the requeues and the prune serves queue and dedup.
	if err := h.Store.PruneDedup(dedupWindow, now); err != nil {
		return nil, err
	}
	if st, err = h.Store.Load(); err != nil {
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
			if res, _ := q.Restore(itemOf(e)); res == queue.Full {
				drop = append(drop, e.Seq)
				continue
			}
			h.Metrics.EventsRestored.WithLabelValues(cluster).Inc()
			restored++
		}
		if len(drop) > 0 {
			h.Logger.Warn("Dropped stored faults that no longer fit: cluster removed or queue capacity lowered",
				"cluster", cluster, "dropped", len(drop))
			_ = h.failed("remove", h.Store.Remove(cluster, drop...))
		}
	}
	dedup := map[string]map[string]time.Time{}
	for cluster, marks := range st.Dedup {
		if queues.Get(cluster) != nil {
			dedup[cluster] = marks
		}
	}
	h.Logger.Info("Restored state", "file", h.Store.Path(), "queued_events", restored,
		"interrupted_incidents", interrupted)
	return dedup, nil
}
