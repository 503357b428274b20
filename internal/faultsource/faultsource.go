// Package faultsource is a kubernetes-mcp-server stand-in built on the MCP
// go-sdk server. It answers like the real server (the fork with
// events_subscribe) does on the wire, as recorded in the conformance
// fixtures: the same tools and schemas, the prose-wrapped subscribe answer,
// the refusals, the notification shapes of the five fault types, the
// list_changed notifications sent when its API server goes away, the
// multi-cluster mode with one subscription per kubeconfig context, and a
// legacy /sse endpoint that refuses subscriptions. Tests, the demo and the
// load command share it.
//
// It can also emit malformed payloads, raw event stream frames (oversized,
// not JSON, nested too deep) and subscription errors, refuse
// subscriptions, stall without closing, drop every session soon after it
// subscribes, and be stopped and restarted on the same address.
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
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// The server's notification loggers.
const (
	LoggerFaults            = "kubernetes/faults"
	LoggerSubscriptionError = "kubernetes/subscription_error"
)

// LegacySSERefusal is the real server's answer to events_subscribe over its
// legacy SSE transport, which passes the tool no session to notify.
const LegacySSERefusal = "event subscriptions require an HTTP/SSE transport. Start the server with --port and connect via HTTP"

// Options shape a stand-in.
type Options struct {
	// Contexts are the kubeconfig contexts of a multi-cluster server (the
	// real server's default mode): events_subscribe takes "context" and
	// each notification's cluster is the context's name. None means
	// single-cluster mode (--disable-multi-cluster): cluster is "".
	Contexts []string
	// DefaultContext is the context used when a subscribe names none;
	// empty means Contexts[0].
	DefaultContext string
	// MaxSubscriptionsPerSession is the server's per-session limit; 0
	// means 10, the server's default.
	MaxSubscriptionsPerSession int
	// LegacySSEDelivers makes /sse accept subscriptions and deliver
	// faults, as other servers may; the real server refuses there.
	LegacySSEDelivers bool
	// Now is the clock of the tables' AGE and DURATION cells; nil means
	// time.Now.
	Now func() time.Time
}

// Server simulates a kubernetes-mcp-server.
type Server struct {
	o Options

	refuse atomic.Bool
	// flap, when positive, closes every session that long after each
	// subscribe it accepts.
	flap atomic.Int64
	// stall, when set, holds every new request open without an answer.
	stall   atomic.Bool
	stallMu sync.Mutex
	unstall chan struct{}

	mu      sync.Mutex
	addr    string
	httpSrv *http.Server
	servers []*mcp.Server
	subs    map[string]*subscription // id → subscription
	// bySession holds each session's subscriptions, from its first
	// subscribe until it ends: a load run closes ten thousand sessions at
	// once, and finding each one's subscriptions among all of them made
	// the stand-in's work grow with the square of the sessions.
	bySession map[*mcp.ServerSession]map[string]*subscription
	sessions  map[*mcp.ServerSession]bool
	subSeq    int
	sent      atomic.Int64
	history   []Subscribe
	streams   eventStreams
	state     []object // the cluster the read-only tools answer about
	events    []corev1.Event
}

type subscription struct {
	id      string
	context string
	session *mcp.ServerSession
	mode    string
	filters map[string]any
	created time.Time
}

// Subscribe is one subscribe the server accepted, as it was asked for.
type Subscribe struct {
	Context string
	Filters map[string]any
}

// New returns a stopped server. A non-empty cluster makes it a
// multi-cluster server whose one (default) context is cluster, so payloads
// carry cluster as their cluster field; "" makes it a single-cluster
// server, whose payloads carry "".
func New(cluster string) *Server {
	if cluster == "" {
		return NewWithOptions(Options{})
	}
	return NewWithOptions(Options{Contexts: []string{cluster}})
}

// NewWithOptions returns a stopped server shaped by o.
func NewWithOptions(o Options) *Server {
	if o.MaxSubscriptionsPerSession <= 0 {
		o.MaxSubscriptionsPerSession = 10
	}
	if o.DefaultContext == "" && len(o.Contexts) > 0 {
		o.DefaultContext = o.Contexts[0]
	}
	return &Server{
		o: o, subs: make(map[string]*subscription), bySession: make(map[*mcp.ServerSession]map[string]*subscription),
		sessions: make(map[*mcp.ServerSession]bool), unstall: make(chan struct{}),
	}
}

func (s *Server) newMCPServer(legacySSE bool) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{
		Name: "kubernetes-mcp-server", Title: "kubernetes-mcp-server", Version: "0.0.0",
		WebsiteURL: "https://github.com/containers/kubernetes-mcp-server",
	}, &mcp.ServerOptions{
		Logger: slog.New(slog.DiscardHandler),
		Capabilities: &mcp.ServerCapabilities{
			Logging: &mcp.LoggingCapabilities{},
			Prompts: &mcp.PromptCapabilities{ListChanged: true},
			Tools:   &mcp.ToolCapabilities{ListChanged: true},
		},
		InitializedHandler: func(_ context.Context, req *mcp.InitializedRequest) {
			s.mu.Lock()
			s.sessions[req.Session] = true
			s.mu.Unlock()
			go func() {
				_ = req.Session.Wait()
				s.mu.Lock()
				delete(s.sessions, req.Session)
				s.mu.Unlock()
			}()
		},
	})
	for _, t := range s.Tools() {
		var h mcp.ToolHandler
		switch t.Name {
		case "events_subscribe":
			h = func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return s.subscribe(ctx, req, legacySSE)
			}
		case "events_list_subscriptions":
			h = s.listSubscriptions
		case "events_unsubscribe":
			h = s.unsubscribe
		case "pods_get", "pods_list", "resources_get", "resources_list":
			h = s.readTool(t.Name)
		case "events_list":
			h = s.eventsList
		default:
			h = func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "# No events found"}}}, nil
			}
		}
		srv.AddTool(t, h)
	}
	return srv
}

// Start listens on addr ("127.0.0.1:0" for any port). After Stop, Start
// with the previous Addr() restarts on the same port, as a restarted
// server would.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("faultsource: listen %s: %w", addr, err)
	}
	streamable, legacy := s.newMCPServer(false), s.newMCPServer(!s.o.LegacySSEDelivers)
	mux := http.NewServeMux()
	mux.Handle("/mcp", s.streams.wrap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return streamable }, &mcp.StreamableHTTPOptions{Logger: slog.New(slog.DiscardHandler)})))
	mux.Handle("/sse", mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return legacy }, nil))
	httpSrv := &http.Server{Handler: s.stallable(mux), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.httpSrv = httpSrv
	s.servers = []*mcp.Server{streamable, legacy}
	s.mu.Unlock()
	go func() { _ = httpSrv.Serve(ln) }()
	return nil
}

// Stop closes the listener and every connection at once, like a crash.
// Subscriptions die with it: the real server keeps none across restarts.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.httpSrv
	s.httpSrv = nil
	var sessions []*mcp.ServerSession
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.subs = make(map[string]*subscription)
	s.bySession = make(map[*mcp.ServerSession]map[string]*subscription)
	s.mu.Unlock()
	s.SetStall(false)
	if srv != nil {
		_ = srv.Close()
	}
	for _, ss := range sessions {
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

// SetFlap makes the server close each session d after every subscribe it
// accepts, as a server that accepts, subscribes and then drops the stream
// does; 0 stops it.
func (s *Server) SetFlap(d time.Duration) { s.flap.Store(int64(d)) }

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

// Subscribers is the number of live sessions holding a subscription.
func (s *Server) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, mine := range s.bySession {
		if len(mine) > 0 {
			n++
		}
	}
	return n
}

// Subscriptions is the number of live subscriptions on context ("" counts
// every context).
func (s *Server) Subscriptions(context string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sub := range s.subs {
		if context == "" || sub.context == context {
			n++
		}
	}
	return n
}

// Sessions is the number of live MCP sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// History lists every subscribe the server accepted, oldest first.
func (s *Server) History() []Subscribe {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history)
}

// Sent is the number of notifications sent so far.
func (s *Server) Sent() int64 { return s.sent.Load() }

type subscribeArgs struct {
	Mode              string   `json:"mode"`
	Context           *string  `json:"context"`
	Namespaces        []string `json:"namespaces"`
	LabelSelector     string   `json:"labelSelector"`
	InvolvedKind      string   `json:"involvedKind"`
	InvolvedName      string   `json:"involvedName"`
	InvolvedNamespace string   `json:"involvedNamespace"`
	Reason            string   `json:"reason"`
	Type              string   `json:"type"`
}

func (a subscribeArgs) filters() map[string]any {
	f := map[string]any{}
	if len(a.Namespaces) > 0 {
		f["namespaces"] = a.Namespaces
	}
	for k, v := range map[string]string{
		"labelSelector": a.LabelSelector, "involvedKind": a.InvolvedKind, "involvedName": a.InvolvedName,
		"involvedNamespace": a.InvolvedNamespace, "reason": a.Reason, "type": a.Type,
	} {
		if v != "" {
			f[k] = v
		}
	}
	return f
}

func (s *Server) subscribe(_ context.Context, req *mcp.CallToolRequest, legacySSE bool) (*mcp.CallToolResult, error) {
	var args subscribeArgs
	_ = json.Unmarshal(req.Params.Arguments, &args)
	context := ""
	if len(s.o.Contexts) > 0 {
		context = s.o.DefaultContext
		if args.Context != nil && *args.Context != "" {
			context = *args.Context
		}
		if !slices.Contains(s.o.Contexts, context) {
			// Not a tool error: the real server fails building the
			// context's client before the tool runs.
			return nil, &jsonrpc.Error{Code: 0, Message: fmt.Sprintf("failed to create kubernetes rest config from kubeconfig: context %q does not exist", context)}
		}
	}
	if legacySSE {
		return refusal(LegacySSERefusal), nil
	}
	if s.refuse.Load() {
		return refusal("failed to create subscription: subscriptions refused by test"), nil
	}
	if args.Mode == "" {
		args.Mode = "events"
	}
	// The server's order: filters, then mode, then limits.
	if args.Type != "" && args.Type != "Normal" && args.Type != "Warning" {
		return refusal("invalid subscription filters: invalid type: must be 'Normal', 'Warning', or empty"), nil
	}
	if args.Mode == "faults" && args.Type == "Normal" {
		return refusal("invalid subscription filters: faults mode cannot filter for Normal events"), nil
	}
	if args.Mode != "faults" && args.Mode != "events" {
		return refusal("failed to create subscription: invalid mode: must be 'events' or 'faults'"), nil
	}
	ss := req.Session
	s.mu.Lock()
	if len(s.bySession[ss]) >= s.o.MaxSubscriptionsPerSession {
		s.mu.Unlock()
		return refusal(fmt.Sprintf("failed to create subscription: session has reached maximum subscriptions (%d)", s.o.MaxSubscriptionsPerSession)), nil
	}
	s.subSeq++
	sum := sha256.Sum256(fmt.Appendf(nil, "%p/%d", s, s.subSeq))
	sub := &subscription{
		id: "sub-" + hex.EncodeToString(sum[:4]), context: context, session: ss, mode: args.Mode,
		filters: args.filters(), created: time.Now().UTC().Truncate(time.Second),
	}
	s.subs[sub.id] = sub
	s.history = append(s.history, Subscribe{Context: context, Filters: sub.filters})
	mine, watched := s.bySession[ss]
	if !watched {
		mine = make(map[string]*subscription)
		s.bySession[ss] = mine
	}
	mine[sub.id] = sub
	s.mu.Unlock()
	if d := time.Duration(s.flap.Load()); d > 0 {
		time.AfterFunc(d, func() { _ = ss.Close() })
	}
	if !watched {
		go func() {
			// Subscriptions die with their session.
			_ = ss.Wait()
			s.mu.Lock()
			for id := range s.bySession[ss] {
				delete(s.subs, id)
			}
			delete(s.bySession, ss)
			s.mu.Unlock()
		}()
	}
	return prose("# Event Subscription Created", map[string]any{
		"subscriptionId": sub.id, "cluster": context, "mode": sub.mode, "filters": sub.filters,
		"createdAt": sub.created.Format(time.RFC3339), "status": "active",
	}, "You will receive event notifications via the logging/message protocol."), nil
}

func (s *Server) listSubscriptions(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	s.mu.Lock()
	list := []map[string]any{}
	var subs []*subscription
	for _, sub := range s.bySession[req.Session] {
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].id < subs[j].id })
	for _, sub := range subs {
		list = append(list, map[string]any{
			"subscriptionId": sub.id, "cluster": sub.context, "mode": sub.mode, "filters": sub.filters,
			"createdAt": sub.created.Format(time.RFC3339), "degraded": false,
		})
	}
	s.mu.Unlock()
	return prose("# Active Subscriptions", map[string]any{"subscriptions": list, "total": len(list)}, ""), nil
}

func (s *Server) unsubscribe(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var args struct {
		SubscriptionID string `json:"subscriptionId"`
	}
	_ = json.Unmarshal(req.Params.Arguments, &args)
	s.mu.Lock()
	sub, ok := s.subs[args.SubscriptionID]
	if ok && sub.session == req.Session {
		delete(s.subs, args.SubscriptionID)
		delete(s.bySession[req.Session], args.SubscriptionID)
	}
	s.mu.Unlock()
	if !ok {
		return refusal(fmt.Sprintf("failed to cancel subscription: subscription %s not found", args.SubscriptionID)), nil
	}
	return prose("# Subscription Cancelled", map[string]any{"subscriptionId": args.SubscriptionID, "cancelled": true, "status": "success"}, ""), nil
}

// prose answers like the real server: a markdown header, the
// pretty-printed object and, when given, a trailing sentence, in one text
// content.
func prose(header string, body map[string]any, trailer string) *mcp.CallToolResult {
	pretty, _ := json.MarshalIndent(body, "", "  ")
	text := header + "\n\n" + string(pretty)
	if trailer != "" {
		text += "\n\n" + trailer
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

func refusal(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// send delivers a notification built for each matching subscription and
// returns how many took it.
func (s *Server) send(logger, level string, match func(*subscription) bool, data func(*subscription) any) int {
	s.mu.Lock()
	var targets []*subscription
	for _, sub := range s.subs {
		if match(sub) {
			targets = append(targets, sub)
		}
	}
	s.mu.Unlock()
	sort.Slice(targets, func(i, j int) bool { return targets[i].id < targets[j].id })
	n := 0
	for _, sub := range targets {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := sub.session.Log(ctx, &mcp.LoggingMessageParams{Level: mcp.LoggingLevel(level), Logger: logger, Data: data(sub)})
		cancel()
		if err == nil {
			n++
			s.sent.Add(1)
		}
	}
	return n
}

// Emit sends a fault on the default context (every subscription of a
// single-cluster server).
func (s *Server) Emit(ev fault.Event) int { return s.EmitTo(s.o.DefaultContext, ev) }

// EmitTo sends a fault detected in context to every subscription on it
// whose filters let it through, with that subscription's id and the
// context's name as cluster, as the real server does.
func (s *Server) EmitTo(context string, ev fault.Event) int {
	return s.send(LoggerFaults, "warning", func(sub *subscription) bool {
		return sub.context == context && sub.mode == "faults" && admits(sub.filters, ev)
	}, func(sub *subscription) any {
		e := ev
		e.Source = ""
		e.SubscriptionID = sub.id
		e.Cluster = sub.context
		return wireFault(e)
	})
}

// admits applies the namespace filter, the one that matters to tests.
func admits(filters map[string]any, ev fault.Event) bool {
	ns, ok := filters["namespaces"].([]string)
	if !ok || ev.Resource.Namespace == "" {
		return true
	}
	return slices.Contains(ns, ev.Resource.Namespace)
}

// wireFault is a fault as the server sends it: namespace and context left
// out when empty (a Node has no namespace).
func wireFault(e fault.Event) map[string]any {
	res := map[string]any{"apiVersion": e.Resource.APIVersion, "kind": e.Resource.Kind, "name": e.Resource.Name, "uid": e.Resource.UID}
	if e.Resource.Namespace != "" {
		res["namespace"] = e.Resource.Namespace
	}
	out := map[string]any{
		"subscriptionId": e.SubscriptionID, "cluster": e.Cluster, "faultId": e.FaultID, "faultType": e.FaultType,
		"severity": e.Severity, "resource": res, "timestamp": e.Timestamp.UTC().Format(time.RFC3339),
	}
	if len(e.Context) > 0 && string(e.Context) != `""` {
		out["context"] = e.Context
	}
	return out
}

// EmitRaw sends any data as a kubernetes/faults notification to every
// subscription, for malformed-input tests.
func (s *Server) EmitRaw(data any) int {
	return s.send(LoggerFaults, "warning", func(*subscription) bool { return true }, func(*subscription) any { return data })
}

// EmitLog sends an ordinary log line, which the runner must ignore.
func (s *Server) EmitLog(msg string) int {
	return s.send("kubernetes/watch", "warning", func(*subscription) bool { return true }, func(*subscription) any { return msg })
}

// EmitSubscriptionError reports that the server's own watch is failing.
func (s *Server) EmitSubscriptionError(msg string) int {
	return s.send(LoggerSubscriptionError, "error", func(*subscription) bool { return true }, func(sub *subscription) any {
		return map[string]any{"subscriptionId": sub.id, "cluster": sub.context, "error": msg, "degraded": true}
	})
}

// LoseAPIServer does what the real server does when its API server goes
// away: it reloads its tools and prompts, which sends every session
// notifications/tools/list_changed and notifications/prompts/list_changed.
func (s *Server) LoseAPIServer() {
	s.mu.Lock()
	servers := slices.Clone(s.servers)
	s.mu.Unlock()
	for _, srv := range servers {
		srv.AddTool(s.Tools()[0], func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "# No events found"}}}, nil
		})
		srv.AddPrompt(&mcp.Prompt{Name: "cluster-health-check", Description: "Check the health of the cluster"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{}, nil
		})
	}
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

// Fault builds a realistic fault of one of the five types, shaped like the
// recorded ones: faultId is 16 hex characters derived, like the real
// server's, from the cluster, type, resource uid and container; a Node has
// no namespace; Deployments and Jobs carry their API group.
func Fault(cluster string, n int, faultType, severity string) fault.Event {
	apiVersion, kind, ns := "v1", "Pod", "default"
	detail := fmt.Sprintf("Container crashed with exit code 1, reason: Error, message: app-%d failed", n)
	switch faultType {
	case fault.TypeNodeUnhealthy:
		kind, ns = "Node", ""
		detail = "Node became unhealthy: Ready=False, reason: KubeletNotReady, message: PLEG is not healthy"
	case fault.TypeDeploymentFailure:
		apiVersion, kind = "apps/v1", "Deployment"
		detail = "Deployment rollout failed: ProgressDeadlineExceeded"
	case fault.TypeJobFailure:
		apiVersion, kind = "batch/v1", "Job"
		detail = "Job failed, reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit"
	case fault.TypeCrashLoop:
		detail = fmt.Sprintf("Container entered CrashLoopBackOff state, restart count: %d", n%7+1)
	}
	name := fmt.Sprintf("app-%d", n)
	uid := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	sum := sha256.Sum256([]byte(cluster + "/" + faultType + "/" + uid + "/main"))
	ctxJSON, _ := json.Marshal(detail)
	return fault.Event{
		Cluster:   cluster,
		FaultID:   hex.EncodeToString(sum[:8]),
		FaultType: faultType,
		Severity:  severity,
		Resource:  fault.Resource{APIVersion: apiVersion, Kind: kind, Name: name, Namespace: ns, UID: uid},
		Context:   ctxJSON,
		Timestamp: time.Now().UTC().Truncate(time.Second),
	}
}
