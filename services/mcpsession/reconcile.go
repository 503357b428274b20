package mcpsession

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// The server sends only what happens while a subscription exists, and keeps
// no history. So whenever a cluster's subscription becomes live after a
// window in which it was not (a reconnect, a resubscribe, a start on a
// state dir whose live marks say when the cluster was last heard), the
// session lists the cluster's current state through the server's read-only
// tools (clusterstate) and submits the faults the server would have sent,
// with its own faultIds, through the same intake path as live faults. The
// reconcile runs beside the session's reader, so live faults and keepalive
// go on meanwhile; it ends with the session.

// ReconcileOptions turn on and bound the reconcile after a blind window.
type ReconcileOptions struct {
	// Reconciler lists a scope and builds its faults. One serves every
	// session of a runner, so its Gate bounds reconciles across all of
	// them. nil turns reconcile off.
	Reconciler *clusterstate.Reconciler
	// Timeout bounds one reconcile, its wait for a gate slot included;
	// 0 means a minute.
	Timeout time.Duration
	// OnFirstStart reconciles a cluster with no earlier live mark too,
	// on its first subscribe: it investigates what is broken now.
	OnFirstStart bool
	// LastLive is each cluster's live mark left by an earlier run: the
	// start of the window it was blind while the runner was away.
	LastLive map[string]time.Time
	// Marks keeps live marks across restarts; nil keeps none.
	Marks LiveMarks
	// MarkInterval is how often live clusters' marks are written; 0
	// means a minute. A crash loses at most that much of a mark, which
	// only makes the next window look longer.
	MarkInterval time.Duration
	// Submit hands a reconciled fault to intake and says where it went
	// (queued, duplicate, ...); nil uses Handler.Submit.
	Submit func(cluster string, ev fault.Event) intake.Outcome
	// Caller turns the session into the tools' caller; nil means
	// clusterstate.SessionCaller.
	Caller func(*mcp.ClientSession) clusterstate.Caller
}

// LiveMarks keeps, per cluster, until when its subscription was last known
// live and reconciled. The journal implements it.
type LiveMarks interface {
	Mark(marks map[string]time.Time) error
}

// ReconcileSlack widens each window backwards: the transitions reconcile
// dates come from the API server's clock, not the runner's, and a
// transition reported twice is dropped by intake's dedup anyway.
const ReconcileSlack = 2 * time.Minute

func (r ReconcileOptions) withDefaults() ReconcileOptions {
	if r.Timeout <= 0 {
		r.Timeout = time.Minute
	}
	if r.MarkInterval <= 0 {
		r.MarkInterval = time.Minute
	}
	if r.Caller == nil {
		r.Caller = clusterstate.SessionCaller
	}
	return r
}

// reconciles are one connection's reconcile goroutines: they end with the
// connection's context, and the session waits for them before it closes.
type reconciles struct {
	ctx    context.Context
	caller clusterstate.Caller
	wg     sync.WaitGroup
}

// reconcileWindow decides whether b's subscription, live again, needs a
// reconcile, and from when. from is the start of the blind window the
// session knows of, reconnect whether b was live before in this process.
// A window whose reconcile did not finish stays owed: the next one looks
// back to its start.
func (s *Session) reconcileWindow(b *binding, from time.Time, reconnect bool) (since, missedFrom time.Time, ok bool) {
	ro := s.o.Reconcile
	if ro.Reconciler == nil {
		return time.Time{}, time.Time{}, false
	}
	mark, marked := ro.LastLive[b.name]
	switch {
	case reconnect:
		missedFrom = from
	case marked:
		missedFrom = mark
	case !ro.OnFirstStart:
		return time.Time{}, time.Time{}, false
	}
	since = b.owe(missedFrom)
	if !since.IsZero() {
		since = since.Add(-ReconcileSlack)
	}
	return since, missedFrom, true
}

// startReconcile runs b's reconcile beside the reader.
func (s *Session) startReconcile(b *binding, sub subscription, since, missedFrom, upAt time.Time) {
	runs := s.runs
	scope := clusterstate.Scope{
		Cluster: sub.Cluster, Context: b.cluster.Context,
		Namespaces: b.cluster.Filters.Namespaces, LabelSelector: b.cluster.Filters.LabelSelector, Since: since,
	}
	runs.wg.Go(func() { s.reconcile(runs.ctx, runs.caller, b, scope, missedFrom, upAt) })
}

func (s *Session) reconcile(ctx context.Context, caller clusterstate.Caller, b *binding, scope clusterstate.Scope, missedFrom, upAt time.Time) {
	ro := s.o.Reconcile
	start := s.o.Now()
	rctx, cancel := context.WithTimeout(ctx, ro.Timeout)
	defer cancel()
	res, err := ro.Reconciler.Reconcile(rctx, caller, scope)
	s.o.Metrics.ReconcileDuration.Observe(s.o.Now().Sub(start).Seconds())
	if ctx.Err() != nil {
		s.logger.Info("Reconcile stopped: the session ended; the next subscribe reconciles the window",
			"cluster", b.name, "missed_from", timeOrEmpty(missedFrom))
		return
	}
	submit := ro.Submit
	if submit == nil {
		submit = s.o.Handler.Submit
	}
	recovered, known := 0, 0
	for _, ev := range res.Faults {
		s.o.Metrics.EventsReconciled.WithLabelValues(b.name).Inc()
		switch submit(b.name, ev) {
		case intake.Queued, intake.Accepted:
			recovered++
		case intake.Duplicate:
			known++
		}
	}
	reason := reconcileFailure(rctx, err, res)
	outcome := "complete"
	if reason != "" {
		outcome = "failed"
		if reason == ReconcileOverLimit {
			outcome = "partial"
		}
		s.o.Metrics.ReconcileFailures.WithLabelValues(b.name, reason).Inc()
		if err == nil {
			err = res.Err
		}
		s.logger.Warn("Reconcile after a blind window failed", "cluster", b.name, "reason", reason,
			"error", truncate(s.redact(errString(err)), 512), "calls", res.Calls, "bytes", res.Bytes,
			"candidates", res.Candidates, "faults_found", len(res.Faults))
	}
	// A partial reconcile read all its bounds allow; trying the same
	// bounds again would stop at the same place, so only a failed one
	// stays owed.
	if outcome != "failed" {
		b.reconciled()
		s.markLive(b)
	}
	s.logMissed(b, missedFrom, upAt, "reconcile", outcome, "recovered", recovered, "already_known", known,
		"candidates", res.Candidates)
}

// Reasons of reconcile_failures_total.
const (
	ReconcileToolRefused = "tool_refused"
	ReconcileTimeout     = "timeout"
	ReconcileOverLimit   = "over_limit"
	ReconcileOther       = "other"
)

// reconcileFailure classifies a reconcile that failed or stopped short;
// "" when it read everything.
func reconcileFailure(rctx context.Context, err error, res clusterstate.Result) string {
	first := err
	if first == nil {
		first = res.Err
	}
	var wire *jsonrpc.Error
	switch {
	case first == nil && res.Truncated:
		return ReconcileOverLimit
	case first == nil:
		return ""
	case errors.Is(rctx.Err(), context.DeadlineExceeded) || errors.Is(first, context.DeadlineExceeded):
		return ReconcileTimeout
	case errors.Is(first, clusterstate.ErrToolError) || errors.As(first, &wire):
		// An unknown tool (a server without the read-only tools) is a
		// JSON-RPC error rather than isError.
		return ReconcileToolRefused
	}
	return ReconcileOther
}

// logMissed logs the blind window a cluster had, with what is known of
// what was recovered.
func (s *Session) logMissed(b *binding, from, to time.Time, extra ...any) {
	attrs := append([]any{"cluster", b.name, "missed_from", timeOrEmpty(from),
		"missed_to", to.UTC().Format(time.RFC3339Nano), "missed_duration", to.Sub(from).String()}, extra...)
	s.logger.Warn("Faults in this window may have been missed: the cluster had no live subscription", attrs...)
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// markLive writes the live marks of the given clusters (every live cluster
// of the session when none is given).
func (s *Session) markLive(bs ...*binding) {
	ro := s.o.Reconcile
	if ro.Marks == nil {
		return
	}
	if len(bs) == 0 {
		bs = s.bindings
	}
	now := s.o.Now()
	marks := make(map[string]time.Time, len(bs))
	for _, b := range bs {
		if at, ok := b.liveMark(now); ok {
			marks[b.name] = at
		}
	}
	if err := ro.Marks.Mark(marks); err != nil {
		s.logger.Warn("Could not save when the clusters were last live; a restart may not know its blind window", "error", err.Error())
	}
}
