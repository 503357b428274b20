package mcpsession

import (
	"runtime/pprof"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
)

// topologyGoroutines counts the goroutines running a topology worker.
func topologyGoroutines(t *testing.T) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Count(b.String(), "(*topologyStage).work(")
}

func (t *topologyStage) idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.workers == 0 && t.jobs == nil && t.resolvers == nil
}

// Most sessions are idle, so the topology stage of one that hears nothing
// holds no worker, no buffer and no resolver; faults start workers, each fault still
// gets its lookup, and the workers are gone again once they are done.
func TestTopologyStageHoldsNothingWhileIdle(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSession(t, streamable("prod", src.URL()), func(o *Options) { o.Topology = true })
	waitFor(t, "subscription", func() bool { return src.Subscribers() == 1 && h.session.Connected() })
	stage := func() *topologyStage {
		h.session.mu.Lock()
		defer h.session.mu.Unlock()
		return h.session.topology
	}
	if stage() == nil {
		t.Fatal("no topology stage on a live session with Topology set")
	}
	if n := topologyGoroutines(t); n != 0 || !stage().idle() {
		t.Fatalf("an idle session runs %d topology workers (idle %v), want none", n, stage().idle())
	}

	const faults = 3 * TopologyWorkers
	for i := range faults {
		src.Emit(faultsource.Fault("prod", i, fault.TypeCrashLoop, "critical"))
	}
	waitFor(t, "every fault queued", func() bool { return h.queue.Len() == faults })
	for _, it := range h.queue.Snapshot() {
		if it.Event.Topology == nil {
			t.Errorf("fault %s was queued without its topology lookup", it.Event.FaultID)
		}
	}
	waitFor(t, "the workers to exit", func() bool {
		st := stage()
		st.mu.Lock()
		defer st.mu.Unlock()
		return topologyGoroutines(t) == 0 && st.workers == 0 && st.jobs == nil
	})
	h.stop(t)
	if stage() != nil {
		t.Error("the stage outlived its session")
	}
}
