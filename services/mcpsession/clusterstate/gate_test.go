package clusterstate_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// crowd is a cluster of many crash-looping pods behind a caller that
// counts calls per reconcile (by the context argument) and the most calls
// in flight at once.
type crowd struct {
	pods     string
	inFlight atomic.Int64
	peak     atomic.Int64
	mu       sync.Mutex
	calls    map[string]int
}

func newCrowd(n int) *crowd {
	var b strings.Builder
	b.WriteString("NAMESPACE   APIVERSION   KIND   NAME         READY   STATUS             RESTARTS   AGE   IP       NODE   NOMINATED NODE   READINESS GATES   LABELS\n")
	for i := range n {
		fmt.Fprintf(&b, "default     v1           Pod    p-%07d    0/1     CrashLoopBackOff   1          46s   <none>   n1     <none>           <none>            <none>\n", i)
	}
	return &crowd{pods: b.String(), calls: map[string]int{}}
}

func (c *crowd) CallTool(_ context.Context, name string, args map[string]any) (string, error) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	c.mu.Lock()
	c.calls[args["context"].(string)]++
	c.mu.Unlock()
	switch {
	case name == "resources_list" && args["kind"] == "Pod":
		return c.pods, nil
	case name == "resources_list":
		return "", nil
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: default\n  uid: u-%s\nstatus:\n  containerStatuses:\n  - name: app\n    restartCount: 1\n    state:\n      waiting:\n        reason: CrashLoopBackOff\n", args["name"], args["name"]), nil
}

// A thousand sessions reconnect at once over clusters of ten thousand
// crash-looping pods: each reconcile stops at its call cap, and no more
// run at once than the shared gate admits.
func TestReconcileCapsAndGateHoldUnderAStampede(t *testing.T) {
	const sessions, gateSize, maxCalls = 1000, 8, 20
	c := newCrowd(10000)
	rec := newReconciler(clusterstate.Limits{MaxCalls: maxCalls, MaxBytes: 4 << 20}, clusterstate.NewGate(gateSize))
	results := make([]clusterstate.Result, sessions)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			res, err := rec.Reconcile(context.Background(), c, clusterstate.Scope{Context: fmt.Sprintf("c%d", i)})
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	for i, res := range results {
		// 4 lists, then gets until the cap: 16 crash-looping pods found.
		if res.Calls != maxCalls || !res.Truncated || res.Candidates != 10000 || len(res.Faults) != maxCalls-4 {
			t.Fatalf("reconcile %d: calls %d truncated %v candidates %d faults %d", i, res.Calls, res.Truncated, res.Candidates, len(res.Faults))
		}
	}
	for ctx, n := range c.calls {
		if n != maxCalls {
			t.Fatalf("%s: the server saw %d calls, cap %d", ctx, n, maxCalls)
		}
	}
	if len(c.calls) != sessions {
		t.Errorf("%d reconciles reached the server", len(c.calls))
	}
	// Each reconcile calls one tool at a time: calls in flight are
	// reconciles running.
	if p := c.peak.Load(); p > gateSize {
		t.Errorf("%d calls in flight at once, gate of %d", p, gateSize)
	}
}
