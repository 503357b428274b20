// Package faultsource is a kubernetes-mcp-server stand-in built on the MCP
// go-sdk server: it offers the events_subscribe tool and sends faults as
// notifications/message with the real payload shape. Tests, the demo and
// the load command share it.
//
// It can emit faults on demand or at a rate, emit malformed payloads and
// subscription errors, refuse subscriptions, stall without closing, and be
// stopped and restarted on the same address.
package faultsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Server simulates one cluster's kubernetes-mcp-server.
type Server struct {
	cluster string

	refuse atomic.Bool
	// stall, when set, holds every new request open without an answer.
	stall   atomic.Bool
	stallMu sync.Mutex
	unstall chan struct{}

	mu      sync.Mutex
	addr    string
	httpSrv *http.Server
	subs    map[*mcp.ServerSession]string // session → subscription id
	subSeq  int
	sent    atomic.Int64
}

// New returns a stopped server for a cluster; cluster is what payloads
// carry in their cluster field ("" mimics a single-cluster server).
func New(cluster string) *Server {
	return &Server{cluster: cluster, subs: make(map[*mcp.ServerSession]string), unstall: make(chan struct{})}
}

// Start listens on addr ("127.0.0.1:0" for any port). After Stop, Start
// with the previous Addr() restarts on the same port, as a restarted
// server would.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("faultsource: listen %s: %w", addr, err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "kubernetes-mcp-server-simulator", Version: "test"}, &mcp.ServerOptions{
		Logger: slog.New(slog.DiscardHandler),
	})
	srv.AddTool(&mcp.Tool{
		Name:        "events_subscribe",
		Description: "Subscribe to Kubernetes fault events",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"mode":{"type":"string"}}}`),
	}, s.subscribe)
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Logger: slog.New(slog.DiscardHandler)}))
	mux.Handle("/sse", mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	httpSrv := &http.Server{Handler: s.stallable(mux), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.httpSrv = httpSrv
	s.mu.Unlock()
	go func() { _ = httpSrv.Serve(ln) }()
	return nil
}

// Stop closes the listener and every connection at once, like a crash.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.httpSrv
	s.httpSrv = nil
	subs := s.subs
	s.subs = make(map[*mcp.ServerSession]string)
	s.mu.Unlock()
	s.SetStall(false)
	if srv != nil {
		_ = srv.Close()
	}
	for ss := range subs {
		_ = ss.Close()
	}
}

// Addr is the listening address, host:port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is the Streamable HTTP endpoint.
func (s *Server) URL() string { return "http://" + s.Addr() + "/mcp" }

// SSEURL is the legacy SSE endpoint.
func (s *Server) SSEURL() string { return "http://" + s.Addr() + "/sse" }

// SetRefuse makes events_subscribe answer with isError:true.
func (s *Server) SetRefuse(v bool) { s.refuse.Store(v) }

// SetStall makes the server hold new requests (pings included) without
// answering, while keeping connections open; false releases them.
func (s *Server) SetStall(v bool) {
	s.stallMu.Lock()
	defer s.stallMu.Unlock()
	if s.stall.Load() == v {
		return
	}
	s.stall.Store(v)
	if !v {
		close(s.unstall)
		s.unstall = make(chan struct{})
	}
}

func (s *Server) stallable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.stall.Load() {
			s.stallMu.Lock()
			release := s.unstall
			s.stallMu.Unlock()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Subscribers is the number of live subscribed sessions.
func (s *Server) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// Sent is the number of notifications sent so far.
func (s *Server) Sent() int64 { return s.sent.Load() }

func (s *Server) subscribe(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if s.refuse.Load() {
		return refusal("failed to create subscription: subscriptions refused by test"), nil
	}
	var args struct {
		Mode string `json:"mode"`
	}
	_ = json.Unmarshal(req.Params.Arguments, &args)
	if args.Mode != "faults" && args.Mode != "events" && args.Mode != "" {
		return refusal("failed to create subscription: invalid mode: must be 'events' or 'faults'"), nil
	}
	ss := req.Session
	s.mu.Lock()
	s.subSeq++
	id := fmt.Sprintf("sub-%08x", s.subSeq)
	s.subs[ss] = id
	s.mu.Unlock()
	go func() {
		_ = ss.Wait()
		s.mu.Lock()
		delete(s.subs, ss)
		s.mu.Unlock()
	}()
	return subscribed(map[string]any{
		"subscriptionId": id, "cluster": s.cluster, "mode": args.Mode, "filters": map[string]any{},
		"createdAt": time.Now().UTC().Format(time.RFC3339), "status": "active",
	}), nil
}

// subscribed answers like the real server: a markdown header, the
// pretty-printed subscription and a trailing sentence, in one text content.
func subscribed(body map[string]any) *mcp.CallToolResult {
	pretty, _ := json.MarshalIndent(body, "", "  ")
	text := "# Event Subscription Created\n\n" + string(pretty) + "\n\nYou will receive event notifications via the logging/message protocol."
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

func refusal(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// send delivers a notification to every subscribed session and returns how
// many took it.
func (s *Server) send(logger, level string, data any) int {
	s.mu.Lock()
	targets := make([]*mcp.ServerSession, 0, len(s.subs))
	for ss := range s.subs {
		targets = append(targets, ss)
	}
	s.mu.Unlock()
	n := 0
	for _, ss := range targets {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ss.Log(ctx, &mcp.LoggingMessageParams{Level: mcp.LoggingLevel(level), Logger: logger, Data: data})
		cancel()
		if err == nil {
			n++
			s.sent.Add(1)
		}
	}
	return n
}

// Emit sends a fault to every subscriber.
func (s *Server) Emit(ev fault.Event) int {
	s.mu.Lock()
	ev.Cluster = s.cluster
	s.mu.Unlock()
	return s.send(fault.LoggerFaults, "warning", ev)
}

// EmitRaw sends any data as a kubernetes/faults notification, for
// malformed-input tests.
func (s *Server) EmitRaw(data any) int { return s.send(fault.LoggerFaults, "warning", data) }

// EmitLog sends an ordinary log line, which the runner must ignore.
func (s *Server) EmitLog(msg string) int { return s.send("kubernetes/watch", "warning", msg) }

// EmitSubscriptionError reports that the server's own watch is failing.
func (s *Server) EmitSubscriptionError(msg string) int {
	return s.send(fault.LoggerSubscriptionError, "error", fault.SubscriptionError{
		SubscriptionID: "sub", Cluster: s.cluster, Error: msg, Degraded: true,
	})
}

// EmitAtRate emits gen(i) for i = 0, 1, ... at perSecond until ctx ends
// and returns how many faults were sent.
func (s *Server) EmitAtRate(ctx context.Context, perSecond float64, gen func(i int) fault.Event) int {
	if perSecond <= 0 {
		return 0
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
	defer t.Stop()
	sent := 0
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return sent
		case <-t.C:
			sent += s.Emit(gen(i))
		}
	}
}

// Fault builds a realistic fault: faultId is 16 hex characters derived,
// like the real server's, from the cluster, type, resource uid and
// container.
func Fault(cluster string, n int, faultType, severity string) fault.Event {
	kind, ns := "Pod", "default"
	if faultType == fault.TypeNodeUnhealthy {
		kind, ns = "Node", ""
	}
	name := fmt.Sprintf("app-%d", n)
	uid := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	sum := sha256.Sum256([]byte(cluster + "/" + faultType + "/" + uid + "/main"))
	ctxJSON, _ := json.Marshal(fmt.Sprintf("container main of %s exited with code 137 (OOMKilled); restarted %d times", name, n%7+1))
	return fault.Event{
		SubscriptionID: "sub",
		Cluster:        cluster,
		FaultID:        hex.EncodeToString(sum[:8]),
		FaultType:      faultType,
		Severity:       severity,
		Resource:       fault.Resource{APIVersion: "v1", Kind: kind, Name: name, Namespace: ns, UID: uid},
		Context:        ctxJSON,
		Timestamp:      time.Now().UTC().Truncate(time.Second),
	}
}
