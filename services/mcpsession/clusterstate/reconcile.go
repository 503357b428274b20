package clusterstate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Scope is what one subscription watches, and so what its reconcile lists.
type Scope struct {
	// Cluster is the server's own name for the cluster, hashed into
	// faultId and carried as the faults' cluster: "" for a single-cluster
	// server, the context's name for a multi-cluster one (the subscribe
	// answer's cluster).
	Cluster string
	// Context is the tools' context argument; "" leaves it out (a
	// single-cluster server's tools take none).
	Context string
	// Namespaces narrow the namespaced kinds (Pods, Deployments, Jobs):
	// one list per namespace. None lists all namespaces. Nodes are
	// cluster-scoped and always listed. The server's faults mode watches
	// the whole cluster whatever a subscription's filters say; a narrower
	// scope reconciles less than it would send.
	Namespaces []string
	// LabelSelector narrows the namespaced kinds; nodes are not narrowed
	// by a workload's labels.
	LabelSelector string
	// Since is when the subscription was last known live: transitions
	// the state dates before it are left out, and a crash a container
	// has restarted from (lastState) counts only when it is after it.
	// Zero means the window is unknown (the first subscribe).
	Since time.Time
}

// Limits bound one reconcile.
type Limits struct {
	// MaxCalls is the most tool calls one reconcile makes; 0 means 100.
	MaxCalls int
	// MaxBytes is the most bytes of tool answers one reconcile reads; no
	// single answer is parsed past what is left of it. 0 means 8 MiB.
	MaxBytes int
	// CallTimeout bounds each tool call; 0 means 10 s.
	CallTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxCalls <= 0 {
		l.MaxCalls = 100
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 8 << 20
	}
	if l.CallTimeout <= 0 {
		l.CallTimeout = 10 * time.Second
	}
	return l
}

// Result is what one reconcile found and what it cost.
type Result struct {
	Faults []fault.Event
	// Calls and Bytes are the tool calls made and the answer bytes read.
	Calls int
	Bytes int
	// Candidates are the listed rows whose table cells showed a possible
	// fault state, each worth one get.
	Candidates int
	// Truncated says a limit stopped the reconcile before every list and
	// candidate was read: the faults are a part of what is there.
	Truncated bool
	// Failures are the calls that failed ("resources_list v1/Node: ...");
	// the reconcile goes on without what they would have said.
	Failures []string
	// Err is the first failure as an error (it wraps ErrToolError for a
	// refusal, the context's error for a timeout), so callers can tell
	// failures apart without reading Failures' text.
	Err error
}

// Complete says every list and candidate was read.
func (r Result) Complete() bool { return !r.Truncated && len(r.Failures) == 0 }

// Gate bounds how many reconciles run at once across every session, so
// that thousands of clusters reconnecting together after a network blip
// do not all list at the same moment.
type Gate struct{ slots chan struct{} }

// NewGate admits n reconciles at once; n < 1 means 1.
func NewGate(n int) *Gate {
	if n < 1 {
		n = 1
	}
	return &Gate{slots: make(chan struct{}, n)}
}

func (g *Gate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a reconcile slot: %w", ctx.Err())
	}
}

func (g *Gate) release() { <-g.slots }

// ReconcilerOptions shape a Reconciler.
type ReconcilerOptions struct {
	Limits Limits
	// Gate is shared by every session's reconciles; nil means one of 16.
	Gate *Gate
	// Now is the clock for faults whose state carries no time; nil
	// means time.Now.
	Now func() time.Time
}

// Reconciler lists a subscription's scope and builds the faults its
// current state shows. One serves every session.
type Reconciler struct {
	limits Limits
	gate   *Gate
	now    func() time.Time
}

// NewReconciler returns a Reconciler.
func NewReconciler(o ReconcilerOptions) *Reconciler {
	if o.Gate == nil {
		o.Gate = NewGate(16)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Reconciler{limits: o.Limits.withDefaults(), gate: o.Gate, now: o.Now}
}

// A list to make: one kind, in one namespace or all.
type listing struct {
	apiVersion, kind, namespace string
	namespaced                  bool
}

// candidate is a listed object whose row shows a possible fault state.
type candidate struct{ kind, namespace, name string }

// Reconcile waits for a slot of the gate, lists nodes, then pods,
// deployments and jobs of the scope, and gets each object whose table
// row shows a possible fault state, until done or a limit is reached. It
// returns an error only when ctx ends before it could start; failed calls
// are in Result.Failures and a reached limit in Result.Truncated.
func (r *Reconciler) Reconcile(ctx context.Context, c Caller, s Scope) (Result, error) {
	if err := r.gate.acquire(ctx); err != nil {
		return Result{}, err
	}
	defer r.gate.release()
	run := &reconcile{r: r, c: c, s: s, det: detector{cluster: s.Cluster, since: s.Since, now: r.now()}}
	namespaces := s.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	lists := []listing{{apiVersion: "v1", kind: kindNode}}
	for _, k := range []listing{{"v1", kindPod, "", true}, {"apps/v1", kindDeployment, "", true}, {"batch/v1", kindJob, "", true}} {
		for _, ns := range namespaces {
			k.namespace = ns
			lists = append(lists, k)
		}
	}
	var cands []candidate
	for _, l := range lists {
		if ctx.Err() != nil {
			break
		}
		found, ok := run.list(ctx, l)
		if !ok {
			break
		}
		cands = append(cands, found...)
	}
	run.res.Candidates = len(cands)
	for _, cd := range cands {
		if ctx.Err() != nil || run.res.Truncated {
			break
		}
		o, ok := run.get(ctx, cd)
		if !ok {
			continue
		}
		run.res.Faults = append(run.res.Faults, run.det.faults(o)...)
	}
	if ctx.Err() != nil && !run.res.Truncated {
		run.fail(fmt.Errorf("reconcile: %w", ctx.Err()))
	}
	return run.res, nil
}

type reconcile struct {
	r   *Reconciler
	c   Caller
	s   Scope
	det detector
	res Result
}

func (run *reconcile) fail(err error) {
	run.res.Failures = append(run.res.Failures, err.Error())
	if run.res.Err == nil {
		run.res.Err = err
	}
}

// call makes one bounded call. ok is false when a limit stopped it
// (Truncated is then set) or it failed (listed in Failures).
func (run *reconcile) call(ctx context.Context, what, tool string, args map[string]any) (string, bool) {
	l := run.r.limits
	if run.res.Calls >= l.MaxCalls || run.res.Bytes >= l.MaxBytes {
		run.res.Truncated = true
		return "", false
	}
	if run.s.Context != "" {
		args["context"] = run.s.Context
	}
	run.res.Calls++
	cctx, cancel := context.WithTimeout(ctx, l.CallTimeout)
	text, err := run.c.CallTool(cctx, tool, args)
	cancel()
	if err != nil {
		run.fail(fmt.Errorf("%s %s: %w", tool, what, err))
		return "", false
	}
	left := l.MaxBytes - run.res.Bytes
	if len(text) > left {
		run.res.Bytes = l.MaxBytes
		run.res.Truncated = true
		return "", false
	}
	run.res.Bytes += len(text)
	return text, true
}

// list lists one kind and returns its candidates. ok is false when a
// limit was reached and nothing more should be listed.
func (run *reconcile) list(ctx context.Context, l listing) ([]candidate, bool) {
	args := map[string]any{"apiVersion": l.apiVersion, "kind": l.kind}
	if l.namespace != "" {
		args["namespace"] = l.namespace
	}
	if l.namespaced && run.s.LabelSelector != "" {
		args["labelSelector"] = run.s.LabelSelector
	}
	if l.kind == kindPod {
		// A Succeeded pod's containers all exited 0: no fault state.
		args["fieldSelector"] = "status.phase!=Succeeded"
	}
	what := l.apiVersion + "/" + l.kind
	if l.namespace != "" {
		what += " in " + l.namespace
	}
	text, ok := run.call(ctx, what, "resources_list", args)
	if !ok {
		return nil, !run.res.Truncated
	}
	t, err := ParseTable(text)
	if err != nil {
		run.fail(fmt.Errorf("resources_list %s: %w", what, err))
		return nil, true
	}
	var out []candidate
	for i := range t.Len() {
		if rowShowsFault(l.kind, t, i, !run.s.Since.IsZero()) {
			ns := t.Cell(i, "NAMESPACE")
			if ns == "" {
				ns = l.namespace
			}
			out = append(out, candidate{kind: l.kind, namespace: ns, name: t.Cell(i, "NAME")})
		}
	}
	return out, true
}

func (run *reconcile) get(ctx context.Context, cd candidate) (Object, bool) {
	tool, args := "resources_get", map[string]any{"apiVersion": apiVersionOf(cd.kind), "kind": cd.kind, "name": cd.name}
	if cd.kind == kindPod {
		tool, args = "pods_get", map[string]any{"name": cd.name}
	}
	if cd.namespace != "" {
		args["namespace"] = cd.namespace
	}
	what := cd.kind + " " + cd.name
	if cd.namespace != "" {
		what = cd.kind + " " + cd.namespace + "/" + cd.name
	}
	text, ok := run.call(ctx, what, tool, args)
	if !ok {
		return Object{}, false
	}
	o, err := ParseObject(text)
	if err != nil {
		run.fail(fmt.Errorf("%s %s: %w", tool, what, err))
		return Object{}, false
	}
	return o, true
}

// rowShowsFault says whether a list row may be in a fault state, from the
// cells the table has; only such rows are worth a get. It errs towards a
// get: a missing column makes every row a candidate.
func rowShowsFault(kind string, t Table, i int, windowKnown bool) bool {
	switch kind {
	case kindNode:
		if !t.Has("STATUS") {
			return true
		}
		// "NotReady", "Unknown", either with ",SchedulingDisabled".
		st, _, _ := strings.Cut(t.Cell(i, "STATUS"), ",")
		return st == "NotReady" || st == "Unknown"
	case kindPod:
		if !t.Has("STATUS") || !t.Has("RESTARTS") {
			return true
		}
		st := t.Cell(i, "STATUS")
		if strings.Contains(st, "CrashLoopBackOff") {
			return true
		}
		// "3 (5m ago)": the count comes first. Every PodCrash needs a
		// restart; without a window only a container terminated now
		// counts, and a pod whose containers all run shows "Running".
		restarts, _, _ := strings.Cut(t.Cell(i, "RESTARTS"), " ")
		if n, err := strconv.Atoi(restarts); err == nil && n == 0 {
			return false
		}
		return windowKnown || (st != "Running" && st != "Completed")
	case kindDeployment:
		// READY ready/desired, UP-TO-DATE, AVAILABLE: a rollout past its
		// deadline leaves one of them short of desired.
		ready, desired, ok := strings.Cut(t.Cell(i, "READY"), "/")
		want, err := strconv.Atoi(desired)
		if !ok || err != nil {
			return true
		}
		for _, v := range []string{ready, t.Cell(i, "UP-TO-DATE"), t.Cell(i, "AVAILABLE")} {
			if n, err := strconv.Atoi(v); err != nil || n < want {
				return true
			}
		}
		return false
	case kindJob:
		if !t.Has("STATUS") {
			return true
		}
		st := t.Cell(i, "STATUS")
		return st == "Failed" || st == "FailureTarget"
	}
	return false
}
