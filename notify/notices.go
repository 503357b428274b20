package notify

import (
	"sort"
	"sync"
	"time"
)

// BreakerWatch turns circuit breaker transitions into notices, once per
// episode: a breaker that keeps failing its probe goes open → half-open →
// open every cooldown, and people need to hear "degraded" once, "probing"
// once, and "recovered" when it closes, not every cycle.
type BreakerWatch struct {
	o DocOptions

	mu       sync.Mutex
	degraded bool
	probed   bool
	since    time.Time
}

// NewBreakerWatch starts with the breaker closed.
func NewBreakerWatch(o DocOptions) *BreakerWatch { return &BreakerWatch{o: o} }

// Transition is told every state the breaker enters ("open", "half-open",
// "closed", as breaker.State's String gives) at the time it did, and
// returns the notice to send, if any.
func (w *BreakerWatch) Transition(state string, at time.Time) (Notification, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch state {
	case "open":
		if w.degraded {
			return Notification{}, false
		}
		w.degraded, w.probed, w.since = true, false, at
	case "half-open":
		if !w.degraded || w.probed {
			return Notification{}, false
		}
		w.probed = true
	case "closed":
		if !w.degraded {
			return Notification{}, false
		}
		w.degraded, w.probed = false, false
	default:
		return Notification{}, false
	}
	n, err := NewBreakerNotice(state, at, w.since, w.o)
	return n, err == nil
}

// BlindWatch raises cluster_blind for a cluster without a session for
// longer than a threshold, once, and cluster_restored when a cluster that
// was reported blind is seen again. Its clock is whatever times it is
// given, so it is driven by the caller's ticker and tested without sleeps.
type BlindWatch struct {
	after time.Duration
	o     DocOptions

	mu       sync.Mutex
	lostAt   map[string]time.Time // cluster → when its session was lost
	reported map[string]bool      // cluster → a blind notice was raised
}

// NewBlindWatch raises blind notices after the given time; zero or less
// never raises any.
func NewBlindWatch(after time.Duration, o DocOptions) *BlindWatch {
	return &BlindWatch{after: after, o: o, lostAt: map[string]time.Time{}, reported: map[string]bool{}}
}

// Lost records that a cluster has no session since at. A cluster already
// lost keeps its first time.
func (w *BlindWatch) Lost(cluster string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.lostAt[cluster]; !ok {
		w.lostAt[cluster] = at
	}
}

// Seen records that a cluster has a session again at at, and returns
// cluster_restored if it had been reported blind.
func (w *BlindWatch) Seen(cluster string, at time.Time) (Notification, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	since, lost := w.lostAt[cluster]
	reported := w.reported[cluster]
	delete(w.lostAt, cluster)
	delete(w.reported, cluster)
	if !lost || !reported {
		return Notification{}, false
	}
	return NewBlindNotice(cluster, false, since, at, w.o), true
}

// Due returns a cluster_blind notice for every cluster lost for at least
// the threshold at now and not yet reported, in cluster order.
func (w *BlindWatch) Due(now time.Time) []Notification {
	if w.after <= 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var names []string
	for c, since := range w.lostAt {
		if !w.reported[c] && now.Sub(since) >= w.after {
			names = append(names, c)
		}
	}
	sort.Strings(names)
	out := make([]Notification, 0, len(names))
	for _, c := range names {
		w.reported[c] = true
		out = append(out, NewBlindNotice(c, true, w.lostAt[c], now, w.o))
	}
	return out
}
