// Package mcpsession is the MCP fault source: supervised MCP sessions to
// kubernetes-mcp-server instances. A session connects, subscribes to faults
// once for each configured cluster it serves (one subscription per
// kubeconfig context of a multi-cluster server), decodes every notification
// into a fault and hands it to intake under the configured cluster's name,
// and reconnects with backoff and jitter when the session fails. The runner
// owns reconnection (its backoff, metrics, logs and readiness), so the SDK's
// own stream retries are turned off. Fault notifications are taken off the
// event stream before the SDK reads it (stream.go): a bad frame is dropped
// on its own instead of ending the session, and a flood waits in a bounded
// queue (handoff.go) instead of the SDK's unbounded one.
//
// Everything MCP-specific stays here: the wire format, the subscription
// ids, the server's own cluster names. Intake sees only fault.Event.
package mcpsession

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// ProtocolVersion is the MCP version the runner speaks. Pinning it skips the
// server/discover probe that servers before it answer with 400, and keeps
// logging notifications (the channel faults travel on) and keepalive pings,
// which the 2026-07-28 revision deprecates (SEP-2577).
const ProtocolVersion = "2025-11-25"

// DefaultMaxSubscriptionsPerSession is kubernetes-mcp-server's own limit of
// subscriptions in one session.
const DefaultMaxSubscriptionsPerSession = 10

// Handler receives the faults a session hears. Intake implements it.
type Handler interface {
	Submit(cluster string, ev fault.Event) intake.Outcome
	Malformed(cluster, source string, err error) intake.Outcome
}

// Options configure sessions.
type Options struct {
	// Cluster is the one cluster of a session built with New; NewSet
	// takes its clusters as an argument instead.
	Cluster      config.Cluster
	Handler      Handler
	Metrics      *metrics.Metrics
	Logger       *slog.Logger
	InitialDelay time.Duration
	MaxDelay     time.Duration
	// Keepalive is the interval of MCP pings; a ping unanswered within
	// half of it ends the session as keepalive_timeout.
	Keepalive time.Duration
	// HealthyAfter is how long a session must stay subscribed before it
	// counts as healthy: only then does the reconnect backoff start again
	// from InitialDelay, and only then does a cluster whose previous two
	// sessions ended sooner count as connected for readiness. 0 means
	// Keepalive.
	HealthyAfter time.Duration
	// ConnectTimeout bounds connect, setLevel and the first subscribes
	// together, and each later subscribe retry alone.
	ConnectTimeout time.Duration
	MaxEventBytes  int
	// ConnectConcurrency bounds the handshakes a set runs at once (a
	// slow one gives its slot up after a second); 0 means
	// DefaultConnectConcurrency, negative no bound.
	ConnectConcurrency int
	// MaxReplyBytes bounds what is read of any response other than the
	// event stream (the SDK reads a JSON reply whole); 0 means
	// DefaultMaxReplyBytes.
	MaxReplyBytes int
	Version       string
	// MaxSubscriptionsPerSession bounds the clusters one session
	// subscribes for; more clusters sharing an endpoint open further
	// sessions. 0 means DefaultMaxSubscriptionsPerSession.
	MaxSubscriptionsPerSession int
	// BlindTick is how often blind time is added to
	// sse_disconnected_seconds_total while a cluster has no subscription;
	// 0 means one second.
	BlindTick time.Duration
	// BlindTicks, when set, replaces the BlindTick ticker; tests drive
	// blind-time accounting with it.
	BlindTicks <-chan time.Time
	// Now is the session's clock: blind-time accounting and when a
	// refused cluster is subscribed again; nil uses time.Now.
	Now func() time.Time
	// Rand feeds the backoff jitter; nil uses math/rand/v2.
	Rand func() float64
	// Topology looks up each fault's node and owner chain through the
	// session's tools before intake (topology.go); the runner sets it
	// when it groups faults.
	Topology bool
	// Sleep waits for d or ctx; nil uses a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Reconcile is the reconcile after a blind window (reconcile.go);
	// off without a Reconciler.
	Reconcile ReconcileOptions
}

// DefaultMaxReplyBytes is the bound on one reply when Options leave it 0.
const DefaultMaxReplyBytes = 16 << 20

func (o Options) withDefaults() Options {
	if o.MaxReplyBytes <= 0 {
		o.MaxReplyBytes = DefaultMaxReplyBytes
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BlindTick <= 0 {
		o.BlindTick = time.Second
	}
	if o.MaxSubscriptionsPerSession <= 0 {
		o.MaxSubscriptionsPerSession = DefaultMaxSubscriptionsPerSession
	}
	if o.HealthyAfter <= 0 {
		o.HealthyAfter = o.Keepalive
	}
	o.Reconcile = o.Reconcile.withDefaults()
	return o
}

// idleConnTimeout closes the connection a keepalive ping used a second
// after the ping, so an idle session holds one connection (its event
// stream) rather than two. Each ping then opens a connection of its own
// (one TCP, and with https one TLS, handshake per keepalive interval); the
// handshake's requests follow each other closely enough to share one.
func (o Options) idleConnTimeout() time.Duration {
	if o.Keepalive <= 0 {
		return 0
	}
	return min(o.Keepalive/2, time.Second)
}

// Session is the suture service for one MCP session, which serves one or
// more configured clusters.
type Session struct {
	o          Options
	logger     *slog.Logger
	bindings   []*binding
	name       string
	transports *transports
	clock      *blindClock
	// redact hides the endpoint's password in text that quotes it.
	redact func(string) string

	mu      sync.Mutex
	routes  map[string]*binding // subscription id → cluster
	pending *binding            // the cluster whose subscribe is in flight
	// unroutedLogged: a fault no subscription of this session claims
	// was logged; once per session, since a server may send many.
	unroutedLogged bool
	// runs are the current connection's reconciles; only the session's
	// own goroutine sets and reads it.
	runs *reconciles
	// topology is the live session's lookup stage (topology.go); nil
	// between sessions and when faults are not grouped.
	topology *topologyStage
}

// New returns the session service of a single cluster.
func New(o Options) *Session {
	o = o.withDefaults()
	return newSession([]*binding{newBinding(o.Cluster, o, o.Now())}, o, newTransports(o.idleConnTimeout(), o.ConnectConcurrency), newBlindClock(o))
}

func newSession(bs []*binding, o Options, ts *transports, clock *blindClock) *Session {
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.name
	}
	return &Session{
		o: o, logger: o.Logger.With("component", "sse"), bindings: bs,
		name: "sse[" + strings.Join(names, ",") + "]", routes: make(map[string]*binding),
		transports: ts, clock: clock, redact: redactor(bs[0].cluster.Endpoint),
	}
}

// String names the service in supervisor logs.
func (s *Session) String() string { return s.name }

// Connected reports whether every cluster of the session is subscribed.
func (s *Session) Connected() bool {
	for _, b := range s.bindings {
		if !b.isLive() {
			return false
		}
	}
	return true
}

// Clusters names the configured clusters the session serves.
func (s *Session) Clusters() []string {
	out := make([]string, len(s.bindings))
	for i, b := range s.bindings {
		out[i] = b.name
	}
	return out
}

// attemptFailure is why one cluster's subscription is not live.
type attemptFailure struct {
	reason string
	err    error
}

// Serve connects, and reconnects for as long as ctx lasts. It returns only
// when ctx ends.
func (s *Session) Serve(ctx context.Context) error {
	s.clock.acquire(s)
	defer s.clock.release(s)
	defer func() {
		now := s.o.Now()
		for _, b := range s.bindings {
			b.account(now)
		}
	}()

	backoff := NewBackoff(s.o.InitialDelay, s.o.MaxDelay, s.o.Rand)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var upAt time.Time
		end := s.connectAndListen(ctx, func() { upAt = s.o.Now() })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A server that accepts, subscribes and drops the stream at once
		// must not get a full handshake every InitialDelay: the backoff
		// starts again only after a session that stayed up.
		if !upAt.IsZero() && s.o.Now().Sub(upAt) >= s.o.HealthyAfter {
			backoff.Reset()
		}
		delay := backoff.Next()
		reasons := make(map[*binding]string, len(s.bindings))
		for _, b := range s.bindings {
			f, ok := end.refused[b]
			if !ok {
				f = attemptFailure{end.reason, end.err}
			}
			reasons[b] = f.reason
			s.failed(b, f, delay)
		}
		if err := s.o.Sleep(ctx, delay); err != nil {
			return err
		}
		for _, b := range s.bindings {
			s.o.Metrics.SSEReconnections.WithLabelValues(b.name, reasons[b]).Inc()
		}
	}
}

// failed counts and logs one failed attempt of one cluster.
func (s *Session) failed(b *binding, f attemptFailure, delay time.Duration) {
	attempt := b.failedAttempt()
	s.o.Metrics.SSEConnectionErrors.WithLabelValues(b.name, f.reason).Inc()
	attrs := []any{"cluster", b.name, "error", s.redact(errString(f.err)), "reason", f.reason,
		"retry_in", delay.String(), "attempt_number", attempt}
	if b.cluster.Context != "" {
		attrs = append(attrs, "context", b.cluster.Context)
	}
	var refused *RefusedError
	if errors.As(f.err, &refused) {
		attrs = append(attrs, "server_message", s.redact(refused.Message))
		if b.cluster.Transport == config.TransportSSE {
			attrs = append(attrs, "hint", LegacyTransportHint)
		}
	}
	s.logger.Warn("SSE connection failed, retrying", attrs...)
}

// sessionEnd is why one session ended: the reason label and error of the
// session, and the clusters whose own subscribe failed (each keeps its own
// reason).
type sessionEnd struct {
	reason  string
	err     error
	refused map[*binding]attemptFailure
}

// connectAndListen runs one session from connect to its end and returns
// why it ended. onUp is called once the first subscription is live.
//
// The session's lifetime is a stack of defers whose order matters, so they
// are all here: the hand-off drains last, the connection context ends
// before the client session closes (so a reader waiting for room gives
// up), the legacy transport's session context outlives the handshake, and
// every cluster's blind window opens when the whole session ends. The
// steps are functions of their own: dial, subscribeAll, listen.
func (s *Session) connectAndListen(ctx context.Context, onUp func()) sessionEnd {
	// Faults are taken off the event stream before the SDK sees them
	// (streamFilter) and handed to intake, in order, by this goroutine
	// through a bounded queue (handoff): a flood slows the server down, or
	// is shed and counted while intake is stalled, instead of piling up in
	// memory. What is still queued when the session ends is handed over
	// then. The end of the event stream ends the session: the SDK's own
	// retries are off, so the stream does not come back.
	faults := newHandoff(HandoffWait)
	defer faults.drain(s.handleFault)
	connCtx, endConn := context.WithCancel(ctx)
	defer endConn()
	streamEnded := make(chan error, 1)
	// The handshake waits for one of the set's connect slots (gate.go),
	// held until every first subscribe has an answer.
	leave, err := s.transports.gate.enter(ctx)
	if err != nil {
		return sessionEnd{reason: ReasonOther, err: err}
	}
	// Through the variable: once the slot is given back, the session
	// keeps neither its closure nor its timer.
	defer func() {
		if leave != nil {
			leave()
		}
	}()
	rec, httpClient, err := s.httpClient(connCtx, faults, func(err error) {
		select {
		case streamEnded <- err:
		default:
		}
	})
	if err != nil {
		return sessionEnd{reason: ReasonOther, err: err}
	}
	hs := s.startHandshake(ctx, rec)
	defer hs.stop()
	var cs *mcp.ClientSession
	onFreshStack(func() { cs, err = s.dial(hs.sessionCtx, httpClient) })
	if err != nil {
		return hs.failed(err, "connect "+config.RedactURL(s.bindings[0].cluster.Endpoint), ReasonProtocol)
	}
	defer s.transports.client(s.o.Version).close(cs)
	s.runs = &reconciles{ctx: connCtx, caller: s.o.Reconcile.Caller(cs)}
	// Before the close: lookups still waiting fail and their faults go on.
	defer s.startTopology(cs).stop()
	// Before the close: a reader waiting for room in the hand-off gives
	// up, and the connection's reconciles stop and are waited for.
	defer func() {
		endConn()
		s.runs.wg.Wait()
	}()
	// Faults are sent at level warning whatever their severity; without
	// setLevel the server sends nothing at all.
	onFreshStack(func() { err = cs.SetLoggingLevel(hs.connectCtx, &mcp.SetLoggingLevelParams{Level: "warning"}) })
	if err != nil {
		return hs.failed(err, "logging/setLevel", ReasonProtocol)
	}
	defer func() {
		// The marks first: they are written only for live clusters.
		s.markLive()
		now := s.o.Now()
		for _, b := range s.bindings {
			b.down(now)
		}
	}()
	var refused map[*binding]attemptFailure
	var end sessionEnd
	var ok bool
	onFreshStack(func() { refused, end, ok = s.subscribeAll(hs, cs) })
	if !ok {
		return end
	}
	if !hs.done() {
		return sessionEnd{reason: ReasonTimeout, err: fmt.Errorf("handshake took longer than %s", s.o.ConnectTimeout)}
	}
	leave()
	leave = nil
	onUp()
	return s.listen(ctx, cs, rec, faults, streamEnded, refused)
}

// onFreshStack runs fn on a goroutine of its own and waits for it. The
// calls of a handshake or a ping (the SDK's encoding, the HTTP round trip)
// grow a goroutine's stack to 16 KiB and more; on the session's own
// goroutine, which lives as long as the session, that stack would stay
// with every idle cluster. A goroutine that exits gives its stack back. A
// panic in fn is raised again here, where the supervisor recovers it.
func onFreshStack(fn func()) {
	var p any
	done := make(chan struct{})
	go func() {
		defer func() {
			p = recover()
			close(done)
		}()
		fn()
	}()
	<-done
	if p != nil {
		panic(p)
	}
}

// handshake bounds connect, setLevel and the first subscriptions by
// --connect-timeout. The legacy SSE transport ties its event stream to the
// context given to Connect, so that context (sessionCtx) must live as long
// as the session; the handshake is bounded by a timer that cancels it
// instead, and by connectCtx for the calls.
type handshake struct {
	sessionCtx    context.Context
	endSession    context.CancelFunc
	connectCtx    context.Context
	cancelConnect context.CancelFunc
	timer         *time.Timer
	timedOut      atomic.Bool
	rec           *recorder
}

func (s *Session) startHandshake(ctx context.Context, rec *recorder) *handshake {
	hs := &handshake{rec: rec}
	hs.sessionCtx, hs.endSession = context.WithCancel(ctx)
	hs.timer = time.AfterFunc(s.o.ConnectTimeout, func() {
		hs.timedOut.Store(true)
		hs.endSession()
	})
	hs.connectCtx, hs.cancelConnect = context.WithTimeout(hs.sessionCtx, s.o.ConnectTimeout)
	return hs
}

// done ends the handshake; false when its time ran out first. The
// session lives on for as long as it is subscribed, and so does hs: what
// only the handshake needed (its timer, connectCtx) is let go here.
func (hs *handshake) done() bool {
	if !hs.timer.Stop() {
		return false
	}
	hs.cancelConnect()
	hs.timer, hs.connectCtx, hs.cancelConnect = nil, nil, nil
	return true
}

func (hs *handshake) stop() {
	if hs.timer != nil {
		hs.timer.Stop()
		hs.cancelConnect()
	}
	hs.endSession()
}

// failed is a handshake step's failure, classified: a timeout wins, then
// what the wire showed, then the step's own fallback reason.
func (hs *handshake) failed(err error, what string, fallback string) sessionEnd {
	reason := classify(err, hs.rec)
	if hs.timedOut.Load() || errors.Is(err, context.DeadlineExceeded) {
		reason = ReasonTimeout
	} else if reason == ReasonOther && fallback != "" {
		reason = fallback
	}
	return sessionEnd{reason: reason, err: fmt.Errorf("%s: %w", what, err)}
}

// dial connects the MCP client over the cluster's transport.
func (s *Session) dial(sessionCtx context.Context, httpClient *http.Client) (*mcp.ClientSession, error) {
	c := s.bindings[0].cluster
	var transport mcp.Transport
	switch c.Transport {
	case config.TransportSSE:
		transport = &mcp.SSEClientTransport{Endpoint: c.Endpoint, HTTPClient: httpClient, MaxEventSize: s.o.MaxEventBytes}
	default:
		transport = &mcp.StreamableClientTransport{
			Endpoint:   c.Endpoint,
			HTTPClient: httpClient,
			// The runner owns reconnection: a dropped stream must end the
			// session at once, not after the SDK's silent retries.
			MaxRetries:   -1,
			MaxEventSize: s.o.MaxEventBytes,
		}
	}
	cs, err := s.transports.client(s.o.Version).connect(sessionCtx, transport, s)
	if err != nil {
		return nil, errors.New(s.redact(err.Error()))
	}
	return cs, nil
}

// subscribeAll subscribes every cluster of the session: subscriptions die
// with the session. ok is false when none is live or the session itself
// failed; end then says why.
func (s *Session) subscribeAll(hs *handshake, cs *mcp.ClientSession) (refused map[*binding]attemptFailure, end sessionEnd, ok bool) {
	s.mu.Lock()
	clear(s.routes)
	s.unroutedLogged = false
	s.mu.Unlock()
	refused = make(map[*binding]attemptFailure)
	live := 0
	for _, b := range s.bindings {
		f, sessionErr := s.subscribe(hs.connectCtx, cs, b)
		if sessionErr != nil {
			return nil, hs.failed(sessionErr, "events_subscribe", ReasonSubscribeFailed), false
		}
		if f != nil {
			refused[b] = *f
			continue
		}
		live++
	}
	if live == 0 {
		first := refused[s.bindings[0]]
		return nil, sessionEnd{reason: first.reason, err: first.err, refused: refused}, false
	}
	return refused, sessionEnd{}, true
}

// listen serves a live session until it ends: faults handed over, the
// keepalive ping, and the clusters the server refused subscribed again on
// their own backoff.
func (s *Session) listen(ctx context.Context, cs *mcp.ClientSession, rec *recorder, faults *handoff, streamEnded <-chan error, refused map[*binding]attemptFailure) sessionEnd {
	retries := newResubscribes(s.o.InitialDelay, s.o.MaxDelay, s.o.Rand)
	for _, b := range s.bindings {
		if f, ok := refused[b]; ok {
			s.failed(b, f, retries.schedule(b, f.reason, s.o.Now()))
		}
	}

	// Keepalive: our own ping loop rather than ClientOptions.KeepAlive, so
	// a missed ping is reported as its own reason.
	ticker := time.NewTicker(s.o.Keepalive)
	defer ticker.Stop()
	marks := time.NewTicker(s.o.Reconcile.MarkInterval)
	defer marks.Stop()
	retryTimer := time.NewTimer(time.Hour)
	defer retryTimer.Stop()
	for {
		retryTimer.Stop()
		if next, ok := retries.next(); ok {
			retryTimer.Reset(next.Sub(s.o.Now()))
		}
		select {
		case <-ctx.Done():
			_ = cs.Close()
			return sessionEnd{err: ctx.Err()}
		case <-faults.wake:
			faults.drain(s.handleFault)
		case err := <-streamEnded:
			// Not classify: after the stream ends the SDK's best-effort
			// DELETE may fail too, and that is not why the session ended.
			reason := ReasonStreamClosed
			if err != nil {
				if r := classifyNetwork(err); r != ReasonOther {
					reason = r
				}
			}
			return sessionEnd{reason: reason, err: sessionEnded(err)}
		case <-ticker.C:
			var err error
			onFreshStack(func() {
				pingCtx, cancel := context.WithTimeout(ctx, s.o.Keepalive/2)
				err = cs.Ping(pingCtx, nil)
				cancel()
			})
			if err != nil && ctx.Err() == nil {
				_ = cs.Close()
				return sessionEnd{reason: ReasonKeepaliveTimeout, err: fmt.Errorf("keepalive ping unanswered within %s: %w", s.o.Keepalive/2, err)}
			}
		case <-marks.C:
			s.markLive()
		case <-retryTimer.C:
			if end, ok := s.resubscribeDue(ctx, cs, rec, retries); !ok {
				return end
			}
		}
	}
}

// resubscribeDue subscribes again the refused clusters whose retry is due.
// ok is false when the session itself failed; end then says why.
func (s *Session) resubscribeDue(ctx context.Context, cs *mcp.ClientSession, rec *recorder, retries *resubscribes) (end sessionEnd, ok bool) {
	for _, due := range retries.due(s.o.Now(), s.bindings) {
		b := due.b
		s.o.Metrics.SSEReconnections.WithLabelValues(b.name, due.reason).Inc()
		subCtx, cancel := context.WithTimeout(ctx, s.o.ConnectTimeout)
		f, sessionErr := s.subscribe(subCtx, cs, b)
		cancel()
		if sessionErr != nil {
			if ctx.Err() != nil {
				return sessionEnd{err: ctx.Err()}, false
			}
			_ = cs.Close()
			reason := classify(sessionErr, rec)
			if errors.Is(sessionErr, context.DeadlineExceeded) {
				reason = ReasonTimeout
			}
			return sessionEnd{reason: reason, err: fmt.Errorf("events_subscribe: %w", sessionErr)}, false
		}
		if f != nil {
			s.failed(b, *f, retries.schedule(b, f.reason, s.o.Now()))
			continue
		}
		retries.forget(b)
	}
	return sessionEnd{}, true
}

// resubscribes is the retry state of the clusters a live session's server
// refused (an unknown context, a filter it rejects): each on a backoff of
// its own, while the others stay subscribed, since a kubeconfig can gain
// the context later.
type resubscribes struct {
	initial, max time.Duration
	rand         func() float64
	pending      map[*binding]*resubscribe
}

type resubscribe struct {
	b       *binding
	backoff *Backoff
	at      time.Time // zero once taken by due
	reason  string    // why the last attempt failed
}

func newResubscribes(initial, max time.Duration, rand func() float64) *resubscribes {
	return &resubscribes{initial: initial, max: max, rand: rand, pending: map[*binding]*resubscribe{}}
}

// schedule sets b's next attempt after its backoff's next delay, which it
// returns; the backoff grows with each refusal until forget.
func (r *resubscribes) schedule(b *binding, reason string, now time.Time) time.Duration {
	p, ok := r.pending[b]
	if !ok {
		p = &resubscribe{b: b, backoff: NewBackoff(r.initial, r.max, r.rand)}
		r.pending[b] = p
	}
	delay := p.backoff.Next()
	p.at, p.reason = now.Add(delay), reason
	return delay
}

// next is the earliest scheduled attempt.
func (r *resubscribes) next() (time.Time, bool) {
	var first time.Time
	for _, p := range r.pending {
		if !p.at.IsZero() && (first.IsZero() || p.at.Before(first)) {
			first = p.at
		}
	}
	return first, !first.IsZero()
}

// due takes the attempts scheduled at or before now, in the session's
// order of clusters.
func (r *resubscribes) due(now time.Time, order []*binding) []resubscribe {
	var out []resubscribe
	for _, b := range order {
		if p, ok := r.pending[b]; ok && !p.at.IsZero() && !p.at.After(now) {
			out = append(out, *p)
			p.at = time.Time{}
		}
	}
	return out
}

// forget drops b's retry state once it is subscribed.
func (r *resubscribes) forget(b *binding) { delete(r.pending, b) }

// subscribe subscribes one cluster. A refusal or an answer without a
// subscription id is that cluster's failure; any other error means the
// session itself is failing and is returned as sessionErr.
func (s *Session) subscribe(ctx context.Context, cs *mcp.ClientSession, b *binding) (f *attemptFailure, sessionErr error) {
	args := b.cluster.Filters.Arguments()
	args["mode"] = "faults"
	if b.cluster.Context != "" {
		args["context"] = b.cluster.Context
	}
	s.mu.Lock()
	s.pending = b
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.pending = nil
		s.mu.Unlock()
	}()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: args})
	if err != nil {
		if err := subscribeCallError(err); isRefusal(err) {
			return &attemptFailure{ReasonSubscribeRefused, err}, nil
		}
		return nil, err
	}
	sub, err := parseSubscribeResult(res)
	if err != nil {
		if isRefusal(err) {
			return &attemptFailure{ReasonSubscribeRefused, err}, nil
		}
		return &attemptFailure{ReasonSubscribeFailed, err}, nil
	}
	s.mu.Lock()
	s.routes[sub.SubscriptionID] = b
	s.mu.Unlock()
	s.up(b, sub)
	return nil, nil
}

// up marks a cluster subscribed and logs the window in which it was blind.
func (s *Session) up(b *binding, sub subscription) {
	now := s.o.Now()
	from, reconnect := b.up(now)
	s.o.Metrics.SSEConnectionsActive.WithLabelValues(b.name).Set(1)
	attrs := []any{"cluster", b.name, "downtime_duration", now.Sub(from).String(),
		"blind_from", from.UTC().Format(time.RFC3339Nano), "blind_to", now.UTC().Format(time.RFC3339Nano),
		"subscription_id", truncate(sub.SubscriptionID, 64)}
	if b.cluster.Context != "" {
		attrs = append(attrs, "context", b.cluster.Context)
	}
	s.logger.Info("SSE connection established", attrs...)
	// The server keeps no history: what it detected in the window was
	// never sent and will not be, unless a reconcile finds it; that
	// reconcile logs the window with what it recovered.
	if since, missedFrom, ok := s.reconcileWindow(b, from, reconnect); ok {
		s.startReconcile(b, sub, since, missedFrom, now)
	} else if reconnect {
		s.logMissed(b, from, now)
	}
	s.markLive(b)
	s.checkClusterName(b, sub.Cluster)
}

// checkClusterName logs, once per session and cluster, when the server
// calls the cluster something other than what the runner expects: the
// configured context, or else the configured name. The configured name
// stays the only label.
func (s *Session) checkClusterName(b *binding, reported string) {
	want := b.cluster.Context
	if want == "" {
		want = b.name
	}
	if reported == "" || reported == want || !b.claimMismatchLog() {
		return
	}
	s.logger.Warn("Server names the cluster differently than configured; using the configured name",
		"cluster", b.name, "reported_cluster", truncate(reported, 64), "context", b.cluster.Context)
}

func sessionEnded(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return errors.New("server closed the session")
	}
	return fmt.Errorf("session ended: %w", err)
}

// route finds the cluster a notification is for: by its subscriptionId;
// failing that, the session's only cluster, or the one whose subscribe is
// in flight (a fault can overtake the subscribe answer).
func (s *Session) route(payload []byte) *binding {
	var head struct {
		SubscriptionID string `json:"subscriptionId"`
	}
	_ = json.Unmarshal(payload, &head)
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.routes[head.SubscriptionID]; ok {
		return b
	}
	if len(s.bindings) == 1 {
		return s.bindings[0]
	}
	return s.pending
}

// handleFault decodes one kubernetes/faults payload and hands it to intake
// under its configured cluster.
func (s *Session) handleFault(payload json.RawMessage) {
	b := s.route(payload)
	if b == nil {
		s.mu.Lock()
		first := !s.unroutedLogged
		s.unroutedLogged = true
		s.mu.Unlock()
		if first {
			s.logger.Warn("Dropping faults for a subscription this session does not hold (logged once per session)",
				"clusters", strings.Join(s.Clusters(), ","), "payload_bytes", len(payload))
		}
		return
	}
	ev, err := ParseFault(payload)
	if err != nil {
		s.o.Handler.Malformed(b.name, fault.SourceMCP, err)
		return
	}
	s.checkClusterName(b, ev.Cluster)
	s.mu.Lock()
	t := s.topology
	s.mu.Unlock()
	if t != nil {
		if t.submit(b, ev) {
			return
		}
		s.o.Metrics.TopologySkipped.WithLabelValues(b.name).Inc()
	}
	s.o.Handler.Submit(b.name, ev)
}

func (s *Session) handleMessage(p *mcp.LoggingMessageParams) {
	if p == nil {
		return
	}
	switch p.Logger {
	case LoggerFaults:
		payload, err := json.Marshal(p.Data)
		if err != nil {
			payload = nil
		}
		s.handleFault(payload)
	case LoggerSubscriptionError:
		payload, _ := json.Marshal(p.Data)
		b := s.route(payload)
		if b == nil {
			return
		}
		se, err := ParseSubscriptionError(payload)
		if err != nil {
			s.logger.Warn("Malformed subscription error notification", "cluster", b.name, "error", err.Error())
		} else {
			s.logger.Warn("Server reports its fault subscription is failing",
				"cluster", b.name, "subscription_id", se.SubscriptionID,
				"reported_cluster", se.Cluster, "error", se.Error, "degraded", se.Degraded)
		}
		s.o.Metrics.SSEConnectionErrors.WithLabelValues(b.name, ReasonSubscriptionError).Inc()
	}
	// Other loggers are the server's ordinary logs.
}

// httpClient builds the session's client. It has no overall timeout, which
// would cut the long-lived stream; dial, TLS and header timeouts bound the
// parts that can hang. The bearer token is read here, on every connect, so
// a rotated token is picked up; it is sent only to the endpoint's own scheme
// and host, and redirects elsewhere are refused.
func (s *Session) httpClient(ctx context.Context, faults *handoff, ended func(error)) (*recorder, *http.Client, error) {
	c := s.bindings[0].cluster
	base, err := s.transports.get(c.CAFile)
	if err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoint %s: %w", config.RedactURL(c.Endpoint), err)
	}
	rec := &recorder{next: base, origin: origin(u), maxReply: int64(s.o.MaxReplyBytes), stream: func(body io.ReadCloser) io.ReadCloser {
		return newStreamFilter(body, s.o.MaxEventBytes, s.malformedFrame, func(data json.RawMessage) {
			if !faults.push(ctx, data) {
				s.shed(data)
			}
		}, ended)
	}}
	if c.BearerTokenFile != "" {
		tok, err := os.ReadFile(c.BearerTokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read bearerTokenFile: %w", err)
		}
		rec.token = strings.TrimSpace(string(tok))
	}
	return rec, &http.Client{Transport: rec, CheckRedirect: checkRedirect(c.Endpoint)}, nil
}

// malformedFrame counts a message the event stream filter dropped. It
// cannot be routed to a subscription, so it is counted against the
// session's first cluster (a session's only one, unless several contexts
// share the server).
func (s *Session) malformedFrame(err error) {
	s.o.Handler.Malformed(s.bindings[0].name, fault.SourceMCP, err)
}

// shed counts a fault dropped because intake stalled with the hand-off
// full, under the books' reason for a fault intake had no room for.
func (s *Session) shed(data json.RawMessage) {
	b := s.route(data)
	if b == nil {
		b = s.bindings[0]
	}
	s.o.Metrics.EventsReceived.WithLabelValues(b.name, fault.SeverityUnknown.String()).Inc()
	s.o.Metrics.EventsFiltered.WithLabelValues(b.name, string(intake.QueueFull)).Inc()
	if b.claimShedLog() {
		s.logger.Warn("Shedding faults: intake has not taken any for a while and the session holds all it may (logged once per session)",
			"cluster", b.name, "held_faults", HandoffMessages, "held_bytes", HandoffBytes, "waited", HandoffWait.String())
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
