package intake

import (
	"sync"
	"time"
)

// dedupMemory remembers fault ids for a window, bounded in entries: when
// full, the oldest id is forgotten first. Memory is O(entries).
type dedupMemory struct {
	window time.Duration
	max    int

	mu     sync.Mutex
	seenAt map[string]time.Time
	// order is a FIFO of (id, time) in remember order; stale entries whose
	// time no longer matches seenAt are skipped on eviction.
	order []dedupEntry
}

type dedupEntry struct {
	id string
	at time.Time
}

func newDedupMemory(window time.Duration, max int) *dedupMemory {
	return &dedupMemory{window: window, max: max, seenAt: make(map[string]time.Time)}
}

func (d *dedupMemory) seen(id string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.seenAt[id]
	return ok && now.Sub(at) < d.window
}

func (d *dedupMemory) remember(id string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seenAt[id] = now
	d.order = append(d.order, dedupEntry{id, now})
	for len(d.order) > 0 {
		head := d.order[0]
		current, ok := d.seenAt[head.id]
		stale := !ok || !current.Equal(head.at)
		expired := now.Sub(head.at) >= d.window
		if !stale && !expired && len(d.seenAt) <= d.max {
			break
		}
		d.order[0] = dedupEntry{}
		d.order = d.order[1:]
		if !stale {
			delete(d.seenAt, head.id)
		}
	}
	// Let the backing array shrink once it is mostly consumed.
	if cap(d.order) > 1024 && len(d.order) < cap(d.order)/4 {
		d.order = append([]dedupEntry(nil), d.order...)
	}
}

// Len is the number of remembered ids.
func (d *dedupMemory) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seenAt)
}
