package journal

import (
	"fmt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// Enqueued is a fault on its way into the durable queue.
type Enqueued struct {
	p   *Pending
	seq uint64 // set by the write function, read after p is done
}

// Done is closed once the fault is on disk or its write has failed.
func (e *Enqueued) Done() <-chan struct{} { return e.p.Done() }

// Wait blocks until the fault is on disk and returns the sequence number
// that orders it, or the write's error. It may be called any number of
// times.
func (e *Enqueued) Wait() (uint64, error) {
	if err := e.p.Wait(); err != nil {
		return 0, fmt.Errorf("journal enqueue: %w", err)
	}
	return e.seq, nil
}

// EnqueueAsync submits a queued fault and its dedup mark to the writer
// and returns without waiting for the fsync, so one caller can have many
// faults on their way to disk and one commit covers all of them; Enqueue
// costs a whole commit per fault instead.
//
// The guarantee is unchanged: the fault is queued only once Wait returns
// nil (or Done is closed and Wait then returns nil), and nothing may act
// on it before: not count it as queued, not hand it to dispatch, not
// acknowledge it to its source. A caller therefore keeps the Enqueued
// values of one cluster in submission order and completes them in that
// order (faults of one caller are written in submission order, so their
// sequence numbers follow it too); a fault whose Wait fails was not
// stored. EnqueueAsync blocks only while the writer already holds its
// maximum of pending writes, which pushes back on a source that sends
// faster than the disk takes them. After Close it returns an Enqueued
// that fails with ErrClosed.
func (s *Store) EnqueueAsync(e queue.Item) *Enqueued {
	en := &Enqueued{}
	en.p = s.w.submit(enqueueOp(e, &en.seq))
	if s.o.DedupWindow > 0 && s.enqueues.Add(1)%pruneEvery == 0 {
		// Submitted behind the fault, so it waits for that commit only;
		// a failure is retried at the next prune.
		_ = s.PruneDedup(s.o.DedupWindow, e.EnqueuedAt)
	}
	return en
}
