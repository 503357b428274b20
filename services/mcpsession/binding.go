package mcpsession

import (
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// binding is one configured cluster inside a session: its subscription
// state, and its blind time, the time it has no live subscription. The
// server keeps no history, so whatever it detects in that time is lost.
type binding struct {
	name    string
	cluster config.Cluster
	m       *metrics.Metrics
	now     func() time.Time
	// healthyAfter is how long a subscription must last to count as
	// healthy (Options.HealthyAfter).
	healthyAfter time.Duration

	mu       sync.Mutex
	live     bool
	everUp   bool
	upSince  time.Time
	blindAt  time.Time // start of the open blind window
	counted  time.Time // blind time is in the counter up to here
	attempt  int
	mismatch bool // the server's name for the cluster was logged this session
	shedLog  bool // shedding was logged this session
	// shortRuns counts the subscriptions in a row that ended before they
	// were healthy (lasted healthyAfter). From two on the cluster is
	// flapping: readiness does not count it as connected until the
	// current subscription has lasted healthyAfter, so a server that drops
	// every session within a second shows as down, not up and down every
	// second. One early drop (a server restart) does not hold readiness.
	shortRuns int
	// owed says a reconcile of the window starting at owedSince (zero:
	// a window of unknown start) has not finished yet.
	owed      bool
	owedSince time.Time
}

func newBinding(c config.Cluster, o Options, now time.Time) *binding {
	// Blind from the start: nothing is heard until the first subscribe.
	return &binding{name: c.Name, cluster: c, m: o.Metrics, now: o.Now, healthyAfter: o.HealthyAfter, blindAt: now, counted: now}
}

// isLive reports whether the cluster counts as connected: subscribed, and,
// if it is flapping, subscribed for healthyAfter already.
func (b *binding) isLive() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.live {
		return false
	}
	return b.shortRuns < 2 || b.now().Sub(b.upSince) >= b.healthyAfter
}

// up ends the blind window and returns its start, and whether it was an
// outage rather than the wait for the first subscription.
func (b *binding) up(now time.Time) (from time.Time, reconnect bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addBlind(now)
	from, reconnect = b.blindAt, b.everUp
	b.live, b.everUp, b.upSince, b.attempt = true, true, now, 0
	return from, reconnect
}

// down opens a blind window if the cluster was live; its session ended.
func (b *binding) down(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mismatch = false
	b.shedLog = false
	if !b.live {
		return
	}
	b.live = false
	if now.Sub(b.upSince) < b.healthyAfter {
		b.shortRuns++
	} else {
		b.shortRuns = 0
	}
	b.blindAt, b.counted = now, now
	b.m.SSEConnectionsActive.WithLabelValues(b.name).Set(0)
	b.m.SSEConnectionDuration.Observe(now.Sub(b.upSince).Seconds())
}

// account adds the blind time since the last call to the counter, so a
// scrape is at most one tick behind.
func (b *binding) account(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.live {
		b.addBlind(now)
	}
}

func (b *binding) addBlind(now time.Time) {
	if d := now.Sub(b.counted); d > 0 {
		b.m.SSEDisconnectedSeconds.WithLabelValues(b.name).Add(d.Seconds())
		b.counted = now
	}
}

// blindWindow is the open blind window's start, if there is one.
func (b *binding) blindWindow() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.blindAt, !b.live
}

func (b *binding) failedAttempt() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.attempt++
	return b.attempt
}

// claimMismatchLog reports whether the caller should log the server's
// name for the cluster: once per session.
func (b *binding) claimMismatchLog() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mismatch {
		return false
	}
	b.mismatch = true
	return true
}

// claimShedLog reports whether the caller should log that faults are being
// shed: once per session.
func (b *binding) claimShedLog() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shedLog {
		return false
	}
	b.shedLog = true
	return true
}

// owe records that the window starting at from must be reconciled, and
// returns the start of the oldest window still owed: a reconcile that did
// not finish leaves its window to the next one.
func (b *binding) owe(from time.Time) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.owed {
		b.owed, b.owedSince = true, from
	}
	return b.owedSince
}

// reconciled says the owed window has been reconciled.
func (b *binding) reconciled() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.owed, b.owedSince = false, time.Time{}
}

// liveMark is the live mark to keep for b: now while it is live with
// nothing owed; the start of the owed window while one is; none when it is
// not live, or when what is owed has no known start.
func (b *binding) liveMark(now time.Time) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.live:
		return time.Time{}, false
	case b.owed:
		return b.owedSince, !b.owedSince.IsZero()
	}
	return now, true
}
