package mcpsession

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/thejerf/suture/v4"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// Set is every session of a runner: the configured clusters grouped by the
// server they reach.
type Set struct {
	o   Options
	now func() time.Time
	// transports are shared by every session of the set, one per CA
	// bundle; clock counts the blind time of all of them.
	transports *transports
	clock      *blindClock

	// mu guards the lists, which Reconcile replaces (reload.go).
	mu       sync.RWMutex
	sessions []*Session
	bindings []*binding
	byName   map[string]*binding
}

// sessionKey is what clusters must share to share a session: the endpoint
// and the credentials it is reached with.
func sessionKey(c config.Cluster) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s", c.Endpoint, c.Transport, c.BearerTokenFile, c.CAFile)
}

// NewSet builds the sessions for clusters: clusters that share an endpoint
// and credentials share one MCP session with one subscription each (the
// way a multi-cluster kubernetes-mcp-server serves many kubeconfig
// contexts), up to o.MaxSubscriptionsPerSession; more open further
// sessions. Metrics, logs and readiness stay per configured cluster.
func NewSet(clusters []config.Cluster, o Options) *Set {
	o = o.withDefaults()
	now := o.Now()
	set := &Set{o: o, byName: make(map[string]*binding, len(clusters)), now: o.Now, transports: newTransports(o.idleConnTimeout(), o.ConnectConcurrency), clock: newBlindClock(o)}
	for _, group := range groupClusters(clusters, o.MaxSubscriptionsPerSession) {
		bs := make([]*binding, len(group))
		for i, c := range group {
			bs[i] = newBinding(c, o, now)
			set.bindings = append(set.bindings, bs[i])
			set.byName[c.Name] = bs[i]
		}
		set.sessions = append(set.sessions, newSession(bs, o, set.transports, set.clock))
	}
	return set
}

// groupClusters splits clusters into the groups that share a session:
// same endpoint and credentials, at most max per group, in configuration
// order.
func groupClusters(clusters []config.Cluster, max int) [][]config.Cluster {
	var order []string
	groups := make(map[string][]config.Cluster)
	for _, c := range clusters {
		k := sessionKey(c)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	var out [][]config.Cluster
	for _, k := range order {
		cs := groups[k]
		for len(cs) > 0 {
			n := min(len(cs), max)
			out = append(out, cs[:n:n])
			cs = cs[n:]
		}
	}
	return out
}

// Sessions are the set's sessions, in configuration order.
func (s *Set) Sessions() []*Session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.sessions)
}

// Services are the sessions as suture services.
func (s *Set) Services() []suture.Service {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]suture.Service, len(s.sessions))
	for i, ss := range s.sessions {
		out[i] = ss
	}
	return out
}

// Connected reports whether a configured cluster has a live subscription.
func (s *Set) Connected(cluster string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.byName[cluster]
	return ok && b.isLive()
}

// Ready is the readiness check: at least one cluster is subscribed.
func (s *Set) Ready() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, b := range s.bindings {
		if b.isLive() {
			return nil
		}
	}
	return errors.New("no active SSE connections")
}

// BlindWindows describes each open blind window, for /readyz?verbose:
// faults the server detects in it are never delivered.
func (s *Set) BlindWindows() []string {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, b := range s.bindings {
		if from, open := b.blindWindow(); open {
			out = append(out, fmt.Sprintf("cluster %s blind since %s (%s)", b.name,
				from.UTC().Format(time.RFC3339), now.Sub(from).Round(time.Second)))
		}
	}
	return out
}

// blindClock adds each blind cluster's time to the counter every tick, for
// every serving session of a set with one goroutine rather than one per
// session: the first session to serve starts it, the last to stop ends it.
type blindClock struct {
	tick  time.Duration
	ticks <-chan time.Time // injected by tests; replaces the ticker
	now   func() time.Time

	mu      sync.Mutex
	serving map[*Session]bool
	stop    context.CancelFunc
	done    chan struct{}
}

func newBlindClock(o Options) *blindClock {
	return &blindClock{tick: o.BlindTick, ticks: o.BlindTicks, now: o.Now, serving: make(map[*Session]bool)}
}

// acquire is called by a session starting to serve.
func (c *blindClock) acquire(s *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serving[s] = true
	if len(c.serving) > 1 {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	c.stop, c.done = stop, make(chan struct{})
	go c.run(ctx, c.done)
}

// release is called by a session that stopped serving; the last one stops
// the clock and waits for it.
func (c *blindClock) release(s *Session) {
	c.mu.Lock()
	delete(c.serving, s)
	var stop context.CancelFunc
	var done chan struct{}
	if len(c.serving) == 0 {
		stop, done = c.stop, c.done
	}
	c.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

func (c *blindClock) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	ticks := c.ticks
	if ticks == nil {
		t := time.NewTicker(c.tick)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			now := c.now()
			c.mu.Lock()
			var bs []*binding
			for s := range c.serving {
				bs = append(bs, s.bindings...)
			}
			c.mu.Unlock()
			for _, b := range bs {
				b.account(now)
			}
		}
	}
}
