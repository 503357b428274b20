package queue

import "github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"

// Durable intake without waiting for each fsync
//
// A queue whose journal is an AsyncJournal takes faults with PushAsync: the
// write is handed to the journal at once, in arrival order, and the caller
// goes on to the next fault while the journal commits a whole batch with
// one fsync. Until its write is synced a fault is pending: it holds its
// place (capacity, FIFO position, duplicate detection) but is not visible
// to TryPop, not counted in events_queued_total or queue_depth. A
// completer goroutine, started while the cluster has pending writes and
// gone when it has none, waits for them in submission order and makes each
// fault visible and counted once its write is on disk, or reports the
// write's failure (the fault is then not queued). So the guarantee is that
// of Push, only without one fsync per fault:
//
//	PushAsync ──► pending (reserved, FIFO) ──► completer: write synced?
//	                                              yes → items (visible), queued++
//	                                              no  → NotPersisted
//
// A full queue sheds as Push does. The victim may itself be pending; it is
// then marked, and the completer removes it from the journal once its own
// write is synced instead of making it visible.

// Write is a journal write on its way to disk.
type Write interface {
	// Wait blocks until the write is on disk and returns the item's
	// sequence number, or the write's error.
	Wait() (uint64, error)
}

// AsyncJournal is a Journal that also takes enqueues without waiting for
// them: EnqueueAsync returns once the write is submitted, and writes of
// one caller are applied in submission order.
type AsyncJournal interface {
	Journal
	EnqueueAsync(it Item) Write
}

// Done receives the result of PushAsync: as Push's, once known.
type Done func(res PushResult, displaced Item, err error)

// pendingItem is a fault whose write is not synced yet.
type pendingItem struct {
	it    Item
	write Write
	done  Done
	// victim is the pending item this one displaced, if any: whether the
	// displacement happened is known only once the victim's write is.
	victim *pendingItem
	// displacedVisible is the visible item this one displaced at submit.
	displacedVisible *Item
	// displaced: a later, more severe fault took this one's place.
	displaced bool
	// stored: the write succeeded (set by the completer).
	stored bool
}

// PushAsync takes ev like Push, but with an AsyncJournal it returns as
// soon as the write is submitted; done is called once the outcome is
// known: at once for Full (and for a queue without an AsyncJournal),
// otherwise from the cluster's completer once the write is synced or has
// failed. Calls of done for one queue come in submission order, and one at
// a time.
func (q *Queue) PushAsync(ev fault.Event, done Done) {
	aj, ok := q.journal.(AsyncJournal)
	if !ok {
		res, displaced, err := q.Push(ev)
		done(res, displaced, err)
		return
	}
	it := Item{Cluster: q.cluster, Event: ev, EnqueuedAt: q.now()}
	q.mu.Lock()
	p := &pendingItem{it: it, done: done}
	if len(q.items)+q.live >= q.capacity {
		if !q.chooseVictim(p) {
			q.mu.Unlock()
			done(Full, Item{}, nil)
			return
		}
	}
	// Submitted under the lock, so the journal sees this cluster's faults
	// in queue order.
	p.write = aj.EnqueueAsync(it)
	q.pending = append(q.pending, p)
	q.live++
	q.held[ev.FaultID]++
	start := !q.completing
	q.completing = true
	q.mu.Unlock()
	if start {
		go q.complete()
	}
}

// chooseVictim finds the oldest item, visible or pending, of strictly
// lower severity than p and takes its place. Visible items come first:
// they are older than every pending one.
func (q *Queue) chooseVictim(p *pendingItem) bool {
	sev := p.it.Severity()
	for i, old := range q.items {
		if old.Severity() < sev {
			d := q.items[i]
			q.items = append(q.items[:i], q.items[i+1:]...)
			q.release(d.Event.FaultID)
			q.forget(d)
			q.depth.Set(float64(len(q.items)))
			p.displacedVisible = &d
			return true
		}
	}
	for _, old := range q.pending {
		if !old.displaced && old.it.Severity() < sev {
			old.displaced = true
			q.live--
			p.victim = old
			return true
		}
	}
	return false
}

// complete runs while the queue has pending writes: it waits for them in
// submission order and settles each.
func (q *Queue) complete() {
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.completing = false
			q.mu.Unlock()
			return
		}
		p := q.pending[0]
		q.mu.Unlock()

		seq, err := p.write.Wait()

		q.mu.Lock()
		q.pending[0] = nil
		q.pending = q.pending[1:]
		if len(q.pending) == 0 {
			q.pending = nil
		}
		res, displaced := q.settle(p, seq, err)
		q.mu.Unlock()
		p.done(res, displaced, err)
	}
}

// settle applies one finished write; q.mu is held.
func (q *Queue) settle(p *pendingItem, seq uint64, err error) (PushResult, Item) {
	if !p.displaced {
		q.live--
	}
	if err != nil {
		q.release(p.it.Event.FaultID)
		return NotPersisted, Item{}
	}
	p.it.Seq = seq
	p.stored = true
	// It is on disk: queued, even if a later fault has already taken
	// its place (it then leaves at once, as a displaced item does).
	q.queued.Inc()
	if p.displaced {
		q.release(p.it.Event.FaultID)
		q.forget(p.it)
		return Queued, Item{}
	}
	q.items = append(q.items, p.it)
	q.depth.Set(float64(len(q.items)))
	q.signal()
	switch {
	case p.displacedVisible != nil:
		return QueuedDisplacing, *p.displacedVisible
	case p.victim != nil && p.victim.stored:
		return QueuedDisplacing, p.victim.it
	}
	return Queued, Item{}
}
