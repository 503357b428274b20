// Package queue holds the per-cluster FIFO of faults waiting for an agent.
//
// Each entry keeps the time it was first enqueued (EnqueuedAt) through every
// operation, so expiry counts from the first enqueue. The queue updates
// events_queued_total, events_dequeued_total, events_expired_total and
// queue_depth itself, on every change, so the gauge cannot drift from the
// contents.
package queue

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Item is one queued fault.
// The journal stores it as it is, so its JSON names are the state file's.
type Item struct {
	// Cluster is the configured cluster name, not the one in the payload.
	Cluster    string      `json:"cluster"`
	Event      fault.Event `json:"event"`
	EnqueuedAt time.Time   `json:"enqueuedAt"`
	// Seq is the item's key in the journal; a queue without one numbers
	// its items itself.
	Seq uint64 `json:"seq,omitempty"`
	// Attempts counts agents already started for this fault (a requeued
	// incident carries its earlier attempts).
	Attempts int `json:"attempts"`
	// Members are the other faults of its group when it is the primary
	// of an incident that covers several (dispatch's grouping): they
	// left the queue with it, move to the incident with it in the
	// journal, and come back as queued items of their own if the
	// incident is interrupted. Queued items have none.
	Members []Item `json:"members,omitempty"`
}

// Covered is the item and its group's other members, the item first.
func (it Item) Covered() []Item {
	out := make([]Item, 0, 1+len(it.Members))
	alone := it
	alone.Members = nil
	return append(append(out, alone), it.Members...)
}

// Journal makes the queue durable: Enqueue is written before the item is
// acknowledged, Remove when it leaves without an agent.
type Journal interface {
	Enqueue(it Item) (seq uint64, err error)
	Remove(cluster string, seqs ...uint64) error
}

// Metrics gives a cluster's queue its collectors, which it keeps current on
// every change; *metrics.Metrics is one.
type Metrics interface {
	QueueCollectors(cluster string) (queued, dequeued, expired interface{ Inc() }, depth interface{ Set(float64) })
}

// Severity is the item's parsed severity.
func (it Item) Severity() fault.Severity { return it.Event.Level() }

// PushResult says what Push did.
type PushResult int

const (
	// Queued: the item was appended.
	Queued PushResult = iota
	// QueuedDisplacing: the queue was full; the oldest lower-severity item
	// was removed to make room and is returned.
	QueuedDisplacing
	// Full: the queue was full of items at least as severe; nothing changed.
	Full
	// NotPersisted: the journal could not store the item; it was not
	// queued.
	NotPersisted
)

// Queue is one cluster's FIFO. It is safe for concurrent use.
type Queue struct {
	cluster  string
	capacity int
	now      func() time.Time

	queued, dequeued, expired interface{ Inc() }
	depth                     interface{ Set(float64) }
	journal                   Journal
	// onJournalError reports a failed Remove; the item is gone from memory
	// and will reappear, harmlessly, after a restart.
	onJournalError func(error)

	mu    sync.Mutex
	items []Item
	// held counts fault ids that are queued or being worked on, for
	// duplicate detection; Release ends the hold.
	held map[string]int
	// pending are faults whose journal write is not synced yet, in
	// submission order (async.go); completing is set while a completer
	// runs for them.
	pending    []*pendingItem
	live       int // pending items not displaced: they hold a place
	completing bool
	// ready has a token while items may be waiting; consumers that take an
	// item re-arm it if more remain, so no wake-up is lost.
	ready chan struct{}
	// changed is closed when an item is added (take.go); nil until a
	// consumer asks for it.
	changed chan struct{}
	// onReady is told of every signal (consumer.go).
	onReady func()
	// localSeq numbers the items of a queue without a journal.
	localSeq uint64
}

// New returns an empty in-memory queue for cluster.
func New(cluster string, capacity int, m Metrics, now func() time.Time) *Queue {
	return NewDurable(cluster, capacity, m, now, nil, nil)
}

// NewDurable returns an empty queue that writes through j (nil: memory
// only); onJournalError is told of failed removals.
func NewDurable(cluster string, capacity int, m Metrics, now func() time.Time, j Journal, onJournalError func(error)) *Queue {
	if onJournalError == nil {
		onJournalError = func(error) {}
	}
	queued, dequeued, expired, depth := m.QueueCollectors(cluster)
	return &Queue{
		journal:        j,
		onJournalError: onJournalError,
		cluster:        cluster,
		capacity:       capacity,
		now:            now,
		queued:         queued,
		dequeued:       dequeued,
		expired:        expired,
		depth:          depth,
		held:           make(map[string]int),
		ready:          make(chan struct{}, 1),
	}
}

// Cluster is the configured name of the queue's cluster.
func (q *Queue) Cluster() string { return q.cluster }

// Push appends ev, stamping EnqueuedAt, after writing it to the journal.
// When the queue is full, ev displaces the oldest item of strictly lower
// severity (a critical fault is never refused while the queue holds a
// warning); if there is none, Push refuses. The error is the journal's,
// with result NotPersisted.
func (q *Queue) Push(ev fault.Event) (PushResult, Item, error) {
	return q.push(Item{Cluster: q.cluster, Event: ev, EnqueuedAt: q.now()}, true)
}

// Restore appends an item brought back from the journal: it keeps its
// original EnqueuedAt, sequence and attempts, and is not written again.
// Restored items count in events_restored_total, not events_queued_total.
func (q *Queue) Restore(it Item) (PushResult, Item) {
	it.Cluster = q.cluster
	res, displaced, _ := q.push(it, false)
	return res, displaced
}

func (q *Queue) push(it Item, fresh bool) (PushResult, Item, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	victim := -1
	if len(q.items)+q.live >= q.capacity {
		sev := it.Severity()
		for i, old := range q.items {
			if old.Severity() < sev {
				victim = i
				break
			}
		}
		if victim < 0 {
			return Full, Item{}, nil
		}
	}
	// On disk first: nothing changes in memory unless the write succeeded.
	if fresh && q.journal != nil {
		seq, err := q.journal.Enqueue(it)
		if err != nil {
			return NotPersisted, Item{}, err
		}
		it.Seq = seq
	}
	if q.journal == nil && it.Seq == 0 {
		// A queue in memory numbers its items itself, so a consumer can
		// take them by sequence (Take) as it can from a durable one.
		q.localSeq++
		it.Seq = q.localSeq
	}
	result := Queued
	var displaced Item
	if victim >= 0 {
		displaced = q.items[victim]
		q.items = append(q.items[:victim], q.items[victim+1:]...)
		q.release(displaced.Event.FaultID)
		q.forget(displaced)
		result = QueuedDisplacing
	}
	q.items = append(q.items, it)
	q.held[it.Event.FaultID]++
	if fresh {
		q.queued.Inc()
	}
	q.depth.Set(float64(len(q.items)))
	q.signal()
	return result, displaced, nil
}

// forget removes an item that left without an agent from the journal.
func (q *Queue) forget(items ...Item) {
	if q.journal == nil || len(items) == 0 {
		return
	}
	seqs := make([]uint64, 0, len(items))
	for _, it := range items {
		if it.Seq != 0 {
			seqs = append(seqs, it.Seq)
		}
	}
	if err := q.journal.Remove(q.cluster, seqs...); err != nil {
		q.onJournalError(err)
	}
}

// TryPop removes and returns the oldest item. The item's fault id stays held
// until Release.
func (q *Queue) TryPop() (Item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return Item{}, false
	}
	it := q.items[0]
	q.items[0] = Item{}
	q.items = q.items[1:]
	q.dequeued.Inc()
	q.depth.Set(float64(len(q.items)))
	if len(q.items) > 0 {
		q.signal()
	}
	return it, true
}

// Wait blocks until the queue may hold an item or ctx ends. A true return is
// a hint, not a promise: another consumer or the sweeper may take the item
// first, so callers follow up with TryPop.
func (q *Queue) Wait(ctx context.Context) error {
	for {
		q.mu.Lock()
		n := len(q.items)
		q.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-q.ready:
		}
	}
}

// Pop blocks until it removes an item or ctx ends.
func (q *Queue) Pop(ctx context.Context) (Item, error) {
	for {
		if it, ok := q.TryPop(); ok {
			return it, nil
		}
		if err := q.Wait(ctx); err != nil {
			return Item{}, err
		}
	}
}

// Expire removes items enqueued more than maxAge before now and returns them
// oldest first; fresher items stay in order.
func (q *Queue) Expire(maxAge time.Duration) []Item {
	now := q.now()
	q.mu.Lock()
	defer q.mu.Unlock()
	var expired []Item
	kept := q.items[:0]
	for _, it := range q.items {
		if now.Sub(it.EnqueuedAt) > maxAge {
			expired = append(expired, it)
			q.release(it.Event.FaultID)
			q.expired.Inc()
			continue
		}
		kept = append(kept, it)
	}
	for i := len(kept); i < len(q.items); i++ {
		q.items[i] = Item{}
	}
	q.items = kept
	q.forget(expired...)
	q.depth.Set(float64(len(q.items)))
	return expired
}

// Release ends the hold on a fault id taken by TryPop, once its agent is
// done.
func (q *Queue) Release(faultID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.release(faultID)
}

func (q *Queue) release(faultID string) {
	if n := q.held[faultID]; n > 1 {
		q.held[faultID] = n - 1
	} else {
		delete(q.held, faultID)
	}
}

// Holds reports whether a fault id is queued or being worked on.
func (q *Queue) Holds(faultID string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held[faultID] > 0
}

// Len is the number of queued items.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Snapshot copies the queued items, oldest first.
func (q *Queue) Snapshot() []Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Item(nil), q.items...)
}

func (q *Queue) signal() {
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
	select {
	case q.ready <- struct{}{}:
	default:
	}
	if q.onReady != nil {
		q.onReady()
	}
}

// Set is the collection of every cluster's queue. Queues are added and
// removed when a configuration reload adds or removes clusters.
type Set struct {
	mu     sync.RWMutex
	byName map[string]*Queue
	order  []*Queue
	// make builds a queue the way the set's first ones were built.
	make func(cluster string) *Queue
}

// NewSet builds one in-memory queue per cluster name.
func NewSet(clusters []string, capacity int, m Metrics, now func() time.Time) *Set {
	return NewDurableSet(clusters, capacity, m, now, nil, nil)
}

// NewDurableSet builds one queue per cluster name writing through j.
func NewDurableSet(clusters []string, capacity int, m Metrics, now func() time.Time, j Journal, onJournalError func(error)) *Set {
	s := &Set{byName: make(map[string]*Queue, len(clusters)), make: func(c string) *Queue {
		return NewDurable(c, capacity, m, now, j, onJournalError)
	}}
	for _, c := range clusters {
		q := s.make(c)
		s.byName[c] = q
		s.order = append(s.order, q)
	}
	return s
}

// Get returns a cluster's queue, or nil for a cluster not configured.
func (s *Set) Get(cluster string) *Queue {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byName[cluster]
}

// All returns the queues in configuration order.
func (s *Set) All() []*Queue {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.order)
}

// Depth is the total number of queued items.
func (s *Set) Depth() int {
	n := 0
	for _, q := range s.All() {
		n += q.Len()
	}
	return n
}
