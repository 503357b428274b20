// Package mcpsession holds one supervised MCP session per cluster: it connects to
// the cluster's kubernetes-mcp-server, subscribes to faults, hands every
// notification to intake, and reconnects with backoff and jitter when the
// session fails. The runner owns reconnection (its backoff, metrics, logs and
// readiness), so the SDK's own stream retries are turned off.
package mcpsession

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
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
// logging notifications and keepalive pings, which later versions deprecate.
const ProtocolVersion = "2025-11-25"

// Handler receives what a session hears. Intake implements it.
type Handler interface {
	HandleFault(cluster string, payload []byte) intake.Outcome
	HandleSubscriptionError(cluster string, payload []byte) error
}

// Options configure one cluster's session.
type Options struct {
	Cluster      config.Cluster
	Handler      Handler
	Metrics      *metrics.Metrics
	Logger       *slog.Logger
	InitialDelay time.Duration
	MaxDelay     time.Duration
	// Keepalive is the interval of MCP pings; a ping unanswered within
	// half of it ends the session as keepalive_timeout.
	Keepalive time.Duration
	// ConnectTimeout bounds connect, setLevel and subscribe together.
	ConnectTimeout time.Duration
	MaxEventBytes  int
	Version        string
	// Rand feeds the backoff jitter; nil uses math/rand/v2.
	Rand func() float64
	// Sleep waits for d or ctx; nil uses a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Session is the suture service for one cluster.
type Session struct {
	o         Options
	logger    *slog.Logger
	connected atomic.Bool
}

// New returns a cluster's session service.
func New(o Options) *Session {
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return &Session{o: o, logger: o.Logger.With("component", "sse")}
}

// String names the service in supervisor logs.
func (s *Session) String() string { return "sse[" + s.o.Cluster.Name + "]" }

// Connected reports whether the session is live and subscribed.
func (s *Session) Connected() bool { return s.connected.Load() }

// Serve connects, and reconnects for as long as ctx lasts. It returns only
// when ctx ends.
func (s *Session) Serve(ctx context.Context) error {
	name := s.o.Cluster.Name
	backoff := NewBackoff(s.o.InitialDelay, s.o.MaxDelay, s.o.Rand)
	downSince := time.Now()
	attempt := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		reason, err := s.connectAndListen(ctx, func() {
			backoff.Reset()
			attempt = 0
			s.logger.Info("SSE connection established",
				"cluster", name, "downtime_duration", time.Since(downSince).String())
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == 0 {
			downSince = time.Now()
		}
		attempt++
		s.o.Metrics.SSEConnectionErrors.WithLabelValues(name, reason).Inc()
		delay := backoff.Next()
		attrs := []any{"cluster", name, "error", errString(err), "reason", reason,
			"retry_in", delay.String(), "attempt_number", attempt}
		var refused *RefusedError
		if errors.As(err, &refused) {
			attrs = append(attrs, "server_message", refused.Message)
			if s.o.Cluster.Transport == config.TransportSSE {
				attrs = append(attrs, "hint", LegacyTransportHint)
			}
		}
		s.logger.Warn("SSE connection failed, retrying", attrs...)
		if err := s.o.Sleep(ctx, delay); err != nil {
			return err
		}
		s.o.Metrics.SSEReconnections.WithLabelValues(name, reason).Inc()
	}
}

// connectAndListen runs one session from connect to its end and returns
// why it ended. onUp is called once the subscription is live.
func (s *Session) connectAndListen(ctx context.Context, onUp func()) (string, error) {
	name := s.o.Cluster.Name
	rec, httpClient, err := s.httpClient()
	if err != nil {
		return ReasonOther, err
	}
	// Notifications are handled inline, in order; the SDK calls the
	// handler from its reader, so a slow intake applies backpressure to
	// this session only.
	client := mcp.NewClient(&mcp.Implementation{Name: "kubernetes-mcp-runner", Version: s.o.Version}, &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{},
		Logger:       slog.New(slog.DiscardHandler),
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			s.handleMessage(req.Params)
		},
	})
	var transport mcp.Transport
	switch s.o.Cluster.Transport {
	case config.TransportSSE:
		transport = &mcp.SSEClientTransport{Endpoint: s.o.Cluster.Endpoint, HTTPClient: httpClient, MaxEventSize: s.o.MaxEventBytes}
	default:
		transport = &mcp.StreamableClientTransport{
			Endpoint:   s.o.Cluster.Endpoint,
			HTTPClient: httpClient,
			// The runner owns reconnection: a dropped stream must end the
			// session at once, not after the SDK's silent retries.
			MaxRetries:   -1,
			MaxEventSize: s.o.MaxEventBytes,
		}
	}

	// The legacy SSE transport ties its event stream to the context given
	// to Connect, so that context must live as long as the session; the
	// handshake is bounded by a timer that cancels it instead.
	sessionCtx, endSession := context.WithCancel(ctx)
	defer endSession()
	var handshakeTimedOut atomic.Bool
	handshakeTimer := time.AfterFunc(s.o.ConnectTimeout, func() {
		handshakeTimedOut.Store(true)
		endSession()
	})
	defer handshakeTimer.Stop()
	connectCtx, cancelConnect := context.WithTimeout(sessionCtx, s.o.ConnectTimeout)
	defer cancelConnect()
	failed := func(err error, what string, fallback string) (string, error) {
		reason := classify(err, rec)
		if handshakeTimedOut.Load() || errors.Is(err, context.DeadlineExceeded) {
			reason = ReasonTimeout
		} else if reason == ReasonOther && fallback != "" {
			reason = fallback
		}
		return reason, fmt.Errorf("%s: %w", what, err)
	}
	cs, err := client.Connect(sessionCtx, transport, &mcp.ClientSessionOptions{ProtocolVersion: ProtocolVersion})
	if err != nil {
		return failed(err, "connect "+s.o.Cluster.Endpoint, ReasonProtocol)
	}
	defer cs.Close()
	// Faults are sent at level warning whatever their severity; without
	// setLevel the server sends nothing at all.
	if err := cs.SetLoggingLevel(connectCtx, &mcp.SetLoggingLevelParams{Level: "warning"}); err != nil {
		return failed(err, "logging/setLevel", ReasonProtocol)
	}
	res, err := cs.CallTool(connectCtx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: map[string]any{"mode": "faults"}})
	if err != nil {
		if err := subscribeCallError(err); isRefusal(err) {
			return ReasonSubscribeRefused, err
		}
		return failed(err, "events_subscribe", ReasonSubscribeFailed)
	}
	sub, err := parseSubscribeResult(res)
	if err != nil {
		if isRefusal(err) {
			return ReasonSubscribeRefused, err
		}
		return ReasonSubscribeFailed, err
	}
	subID := sub.SubscriptionID
	if !handshakeTimer.Stop() {
		return ReasonTimeout, fmt.Errorf("handshake took longer than %s", s.o.ConnectTimeout)
	}
	cancelConnect()

	start := time.Now()
	s.connected.Store(true)
	s.o.Metrics.SSEConnectionsActive.WithLabelValues(name).Set(1)
	s.logger.Debug("Subscribed to faults", "subscription_id", subID)
	onUp()
	defer func() {
		s.connected.Store(false)
		s.o.Metrics.SSEConnectionsActive.WithLabelValues(name).Set(0)
		s.o.Metrics.SSEConnectionDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}()

	// Keepalive: our own ping loop rather than ClientOptions.KeepAlive, so
	// a missed ping is reported as its own reason.
	ended := make(chan error, 1)
	go func() { ended <- cs.Wait() }()
	ticker := time.NewTicker(s.o.Keepalive)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = cs.Close()
			<-ended
			return "", ctx.Err()
		case err := <-ended:
			// Not classify: after the stream ends the SDK's best-effort
			// DELETE may fail too, and that is not why the session ended.
			reason := ReasonStreamClosed
			if err != nil {
				if r := classifyNetwork(err); r != ReasonOther {
					reason = r
				}
			}
			return reason, sessionEnded(err)
		case <-ticker.C:
			pingCtx, cancel := context.WithTimeout(ctx, s.o.Keepalive/2)
			err := cs.Ping(pingCtx, nil)
			cancel()
			if err != nil && ctx.Err() == nil {
				_ = cs.Close()
				<-ended
				return ReasonKeepaliveTimeout, fmt.Errorf("keepalive ping unanswered within %s: %w", s.o.Keepalive/2, err)
			}
		}
	}
}

func sessionEnded(err error) error {
	if err == nil {
		return errors.New("server closed the session")
	}
	return fmt.Errorf("session ended: %w", err)
}

func (s *Session) handleMessage(p *mcp.LoggingMessageParams) {
	if p == nil {
		return
	}
	switch p.Logger {
	case fault.LoggerFaults:
		payload, err := json.Marshal(p.Data)
		if err != nil {
			payload = nil // intake reports it as malformed
		}
		s.o.Handler.HandleFault(s.o.Cluster.Name, payload)
	case fault.LoggerSubscriptionError:
		payload, _ := json.Marshal(p.Data)
		_ = s.o.Handler.HandleSubscriptionError(s.o.Cluster.Name, payload)
		s.o.Metrics.SSEConnectionErrors.WithLabelValues(s.o.Cluster.Name, ReasonSubscriptionError).Inc()
	}
	// Other loggers are the server's ordinary logs.
}

// httpClient builds the session's client. It has no overall timeout, which
// would cut the long-lived stream; dial, TLS and header timeouts bound the
// parts that can hang. The bearer token is read here, on every connect, so
// a rotated token is picked up.
func (s *Session) httpClient() (*recorder, *http.Client, error) {
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	if s.o.Cluster.CAFile != "" {
		pem, err := os.ReadFile(s.o.Cluster.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("caFile %s holds no PEM certificates", s.o.Cluster.CAFile)
		}
		base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	rec := &recorder{next: base}
	if s.o.Cluster.BearerTokenFile != "" {
		tok, err := os.ReadFile(s.o.Cluster.BearerTokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read bearerTokenFile: %w", err)
		}
		rec.token = strings.TrimSpace(string(tok))
	}
	return rec, &http.Client{Transport: rec}, nil
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
