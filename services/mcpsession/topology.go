package mcpsession

import (
	"context"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// Bounds of the topology stage of one session: TopologyWorkers lookups
// run at once (the resolver bounds its own calls too), and at most
// TopologyQueue faults wait for one. A fault that finds the queue full is
// handed to intake at once without a topology and counted
// (topology_lookups_skipped_total): grouping then keys it on its resource
// alone. The session's own goroutine never waits for a lookup, so a slow
// server's tools cannot stall its event stream.
const (
	TopologyWorkers = 4
	TopologyQueue   = 1024
)

// topologyStage finds each fault's node and owner chain through the live
// session's read-only tools (clusterstate.Resolver) between the hand-off
// and intake. It lives as long as one client session.
//
// An idle session must cost next to nothing, and most sessions are idle:
// the waiting faults are a slice that grows only when faults come, and
// the workers start with the first fault and exit when none is left, so
// a session that hears nothing holds no worker goroutine and no buffer
// (a channel of TopologyQueue faults was 235 KB for every session).
type topologyStage struct {
	s      *Session
	caller clusterstate.Caller
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	jobs    []topologyJob // oldest first, at most TopologyQueue
	workers int           // running, at most TopologyWorkers
	stopped bool
	// resolvers are made with each cluster's first fault: their caches
	// are of no use to a cluster that has none.
	resolvers map[*binding]*clusterstate.Resolver
}

type topologyJob struct {
	b  *binding
	r  *clusterstate.Resolver
	ev fault.Event
}

// startTopology starts the stage over cs, or returns nil when the
// runner does not group faults (nothing would read the topology).
func (s *Session) startTopology(cs *mcp.ClientSession) *topologyStage {
	if !s.o.Topology {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &topologyStage{s: s, caller: clusterstate.SessionCaller(cs), ctx: ctx, cancel: cancel}
	s.mu.Lock()
	s.topology = t
	s.mu.Unlock()
	return t
}

// work looks up queued faults until none is left, then exits.
func (t *topologyStage) work() {
	defer t.wg.Done()
	for {
		j, ok := t.next()
		if !ok {
			return
		}
		topo := j.r.Resolve(t.ctx, j.ev)
		j.ev.Topology = bounded(topo)
		t.s.o.Handler.Submit(j.b.name, j.ev)
	}
}

// next takes the oldest waiting fault; false (and the worker is counted
// out) when there is none.
func (t *topologyStage) next() (topologyJob, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.jobs) == 0 {
		t.workers--
		return topologyJob{}, false
	}
	j := t.jobs[0]
	t.jobs[0] = topologyJob{}
	t.jobs = t.jobs[1:]
	if len(t.jobs) == 0 {
		t.jobs = nil // an idle session keeps no buffer
	}
	return j, true
}

// submit queues a fault for its lookup, starting a worker if fewer than
// TopologyWorkers run; false when the queue is full or the stage stopped.
func (t *topologyStage) submit(b *binding, ev fault.Event) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || len(t.jobs) >= TopologyQueue {
		return false
	}
	r := t.resolvers[b]
	if r == nil {
		if t.resolvers == nil {
			t.resolvers = make(map[*binding]*clusterstate.Resolver, len(t.s.bindings))
		}
		r = clusterstate.NewResolver(t.caller, clusterstate.ResolverOptions{Context: b.cluster.Context})
		t.resolvers[b] = r
	}
	t.jobs = append(t.jobs, topologyJob{b: b, r: r, ev: ev})
	if t.workers < TopologyWorkers {
		t.workers++
		t.wg.Add(1)
		go t.work()
	}
	return true
}

// stop ends the stage with its session: lookups still queued fail at
// once (their faults go to intake with the failure named), and stop
// returns once every queued fault has been handed over.
func (t *topologyStage) stop() {
	if t == nil {
		return
	}
	t.s.mu.Lock()
	t.s.topology = nil
	t.s.mu.Unlock()
	t.cancel()
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	t.wg.Wait()
}

// bounded keeps a topology within what fault.Validate accepts: failure
// texts quote names from the payload and the server's errors.
func bounded(t fault.Topology) *fault.Topology {
	if len(t.Owners) > fault.MaxOwners {
		t.Owners = t.Owners[:fault.MaxOwners]
	}
	if len(t.Failures) > fault.MaxFailures {
		t.Failures = t.Failures[:fault.MaxFailures]
	}
	for i, f := range t.Failures {
		t.Failures[i] = truncate(f, fault.MaxFieldBytes)
	}
	return &t
}
