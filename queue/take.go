package queue

import "slices"

// Take removes the queued items with the given sequence numbers, for a
// consumer that chose them itself (a group of faults run as one incident),
// and returns those still queued, oldest first. Like TryPop, each taken
// fault id stays held until Release and the journal keeps the items: the
// consumer moves them on in the journal (to an incident) itself.
func (q *Queue) Take(seqs []uint64) []Item {
	return q.take(seqs, false)
}

// Discard removes the queued items with the given sequence numbers because
// they need no agent of their own (they joined an incident already
// investigated) and deletes them from the journal. Their fault ids are
// released. It returns the items it removed.
func (q *Queue) Discard(seqs []uint64) []Item {
	return q.take(seqs, true)
}

func (q *Queue) take(seqs []uint64, discard bool) []Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	var taken []Item
	kept := q.items[:0]
	for _, it := range q.items {
		if it.Seq != 0 && slices.Contains(seqs, it.Seq) {
			taken = append(taken, it)
			q.dequeued.Inc()
			if discard {
				q.release(it.Event.FaultID)
			}
			continue
		}
		kept = append(kept, it)
	}
	for i := len(kept); i < len(q.items); i++ {
		q.items[i] = Item{}
	}
	q.items = kept
	if discard {
		q.forget(taken...)
	}
	q.depth.Set(float64(len(q.items)))
	if len(taken) > 0 && len(q.items) > 0 {
		q.signal()
	}
	return taken
}

// Changed returns a channel that is closed the next time an item is added
// to the queue (or one is left behind for another consumer). A consumer that waits for a group to fill sleeps on it and
// its own timer, rather than on Wait, which returns at once while anything
// is queued.
func (q *Queue) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.changed
}
