package mcpsession

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/tcpproxy"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// liveFault is the fault the server sends for a crash-looping pod made by
// faultsource.CrashLoopPod, with the id a reconcile would build for it.
func liveFault(cluster, name, uid string) fault.Event {
	ev := faultsource.Fault(cluster, 0, fault.TypeCrashLoop, "critical")
	ev.FaultID = clusterstate.FaultID(cluster, fault.TypeCrashLoop, uid, "app")
	ev.Resource = fault.Resource{APIVersion: "v1", Kind: "Pod", Name: name, Namespace: "default", UID: uid}
	return ev
}

func queuedNames(h *harness) []string {
	var out []string
	for _, it := range h.queue.Snapshot() {
		out = append(out, it.Event.Resource.Name)
	}
	return out
}

// A session dropped by the network while the server stays up (its
// subscription gone with it) reconciles when it is live again: what broke
// meanwhile is queued with the server's own faultIds and the reconciled
// source, what was heard live before is dropped as a duplicate, and the
// blind-window line says so. The first subscribe of a first start does
// not reconcile.
func TestReconnectReconcilesWhatBrokeMeanwhile(t *testing.T) {
	src := faultsource.Started(t, "")
	src.SetState(faultsource.ClusterState{Pods: []corev1.Pod{faultsource.CrashLoopPod("default", "first", "uid-first")}})
	proxy, err := tcpproxy.Start(src.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	h := startSession(t, streamable("prod", "http://"+proxy.Addr()+"/mcp"), func(o *Options) {
		o.Reconcile = ReconcileOptions{Reconciler: clusterstate.NewReconciler(clusterstate.ReconcilerOptions{Gate: clusterstate.NewGate(1)})}
	})
	waitFor(t, "subscribed", func() bool { return h.session.Connected() })
	src.Emit(liveFault("", "first", "uid-first"))
	waitFor(t, "the live fault queued", func() bool { return h.queue.Len() == 1 })
	if got := testutil.ToFloat64(h.m.EventsReconciled.WithLabelValues("prod")); got != 0 {
		t.Fatalf("a first start without --reconcile-on-first-start reconciled %v faults", got)
	}

	proxy.Cut(tcpproxy.Refuse)
	waitFor(t, "the drop seen", func() bool { return !h.session.Connected() })
	src.SetState(faultsource.ClusterState{
		Pods: []corev1.Pod{faultsource.CrashLoopPod("default", "first", "uid-first"), faultsource.CrashLoopPod("default", "second", "uid-second")},
		Jobs: []batchv1.Job{faultsource.FailedJob("default", "batch", "uid-batch", time.Now())},
	})
	proxy.Restore()
	waitFor(t, "the window reconciled", func() bool { return strings.Contains(h.logs.String(), `"reconcile":"complete"`) })

	if got := strings.Join(queuedNames(h), ","); got != "first,second,batch" {
		t.Errorf("queued %s, want first,second,batch", got)
	}
	for _, it := range h.queue.Snapshot()[1:] {
		ev := it.Event
		want := clusterstate.FaultID("", ev.FaultType, ev.Resource.UID, map[string]string{fault.TypeCrashLoop: "app"}[ev.FaultType])
		if ev.Source != clusterstate.SourceReconcile || ev.FaultID != want {
			t.Errorf("%s: source %q faultId %s, want %s %s", ev.Resource.Name, ev.Source, ev.FaultID, clusterstate.SourceReconcile, want)
		}
	}
	if got := testutil.ToFloat64(h.m.EventsReconciled.WithLabelValues("prod")); got != 3 {
		t.Errorf("events_reconciled_total %v, want 3", got)
	}
	line := lineContaining(h.logs.String(), "may have been missed")
	for _, want := range []string{`"recovered":2`, `"already_known":1`, `"candidates":3`} {
		if !strings.Contains(line, want) {
			t.Errorf("blind-window line lacks %s: %s", want, line)
		}
	}
}

// A server without the read-only tools (or refusing them) fails the
// reconcile: counted as tool_refused, logged, the window reported as
// before, and the session stays up and keeps taking live faults.
func TestFailedReconcileLeavesTheSessionServing(t *testing.T) {
	src := faultsource.Started(t, "")
	proxy, err := tcpproxy.Start(src.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	refuse := func(*mcp.ClientSession) clusterstate.Caller { return refusingCaller{} }
	h := startSession(t, streamable("prod", "http://"+proxy.Addr()+"/mcp"), func(o *Options) {
		o.Reconcile = ReconcileOptions{Reconciler: clusterstate.NewReconciler(clusterstate.ReconcilerOptions{}), Caller: refuse}
	})
	waitFor(t, "subscribed", func() bool { return h.session.Connected() })
	proxy.Cut(tcpproxy.Refuse)
	waitFor(t, "the drop seen", func() bool { return !h.session.Connected() })
	proxy.Restore()
	waitFor(t, "the failure counted", func() bool {
		return testutil.ToFloat64(h.m.ReconcileFailures.WithLabelValues("prod", ReconcileToolRefused)) == 1
	})
	if line := lineContaining(h.logs.String(), "may have been missed"); !strings.Contains(line, `"reconcile":"failed"`) {
		t.Errorf("blind-window line %s", line)
	}
	src.Emit(liveFault("", "live", "uid-live"))
	waitFor(t, "a live fault after the failed reconcile", func() bool { return h.queue.Len() == 1 && h.session.Connected() })
}

type refusingCaller struct{}

func (refusingCaller) CallTool(context.Context, string, map[string]any) (string, error) {
	return "", fmt.Errorf("resources_list: %w: tool not found", clusterstate.ErrToolError)
}

// countingCaller counts the tool calls in flight across every session.
type countingCaller struct {
	next           clusterstate.Caller
	inFlight, peak *atomic.Int64
}

func (c countingCaller) CallTool(ctx context.Context, name string, args map[string]any) (string, error) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	// Long enough that reconciles of other sessions overlap if let.
	time.Sleep(5 * time.Millisecond)
	return c.next.CallTool(ctx, name, args)
}

// Thirty clusters on one multi-cluster server, over three sessions, all
// reconciling on their first start: one Reconciler serves the whole Set,
// so its gate bounds reconciles across sessions.
func TestOneGateBoundsEverySessionsReconciles(t *testing.T) {
	var contexts []string
	var clusters []config.Cluster
	for i := range 30 {
		ctx := fmt.Sprintf("c%02d", i)
		contexts = append(contexts, ctx)
	}
	src := faultsource.NewWithOptions(faultsource.Options{Contexts: contexts})
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	src.SetState(faultsource.ClusterState{Pods: []corev1.Pod{faultsource.CrashLoopPod("default", "p", "uid-p")}})
	for _, ctx := range contexts {
		c := streamable(ctx, src.URL())
		c.Context = ctx
		clusters = append(clusters, c)
	}
	var inFlight, peak atomic.Int64
	var mu sync.Mutex
	sessionsSeen := map[*mcp.ClientSession]bool{}
	h := startSet(t, clusters, func(o *Options) {
		o.Reconcile = ReconcileOptions{
			Reconciler:   clusterstate.NewReconciler(clusterstate.ReconcilerOptions{Gate: clusterstate.NewGate(2)}),
			OnFirstStart: true,
			Caller: func(cs *mcp.ClientSession) clusterstate.Caller {
				mu.Lock()
				sessionsSeen[cs] = true
				mu.Unlock()
				return countingCaller{next: clusterstate.SessionCaller(cs), inFlight: &inFlight, peak: &peak}
			},
		}
	})
	waitFor(t, "every cluster reconciled", func() bool {
		n := 0.0
		for _, ctx := range contexts {
			n += testutil.ToFloat64(h.m.EventsReconciled.WithLabelValues(ctx))
		}
		return n == 30
	})
	if len(sessionsSeen) != 3 {
		t.Errorf("%d sessions reconciled, want 3", len(sessionsSeen))
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d tool calls in flight at once across sessions, gate of 2", p)
	}
	// Each context's fault carries its own server cluster name.
	q := h.queues.Get("c07").Snapshot()
	if len(q) != 1 || q[0].Event.FaultID != clusterstate.FaultID("c07", fault.TypeCrashLoop, "uid-p", "app") {
		t.Errorf("c07 queued %+v", q)
	}
}

func lineContaining(logs, needle string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, needle) {
			return l
		}
	}
	return ""
}
