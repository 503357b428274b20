package mcpsession

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

type closedBreaker struct{}

func (closedBreaker) IsOpen() bool { return false }

type harness struct {
	session *Session
	m       *metrics.Metrics
	queue   *queue.Queue
	logs    *testlog.Buffer
	cancel  context.CancelFunc
	done    chan error
	stopped sync.Once
}

func startSession(t *testing.T, cluster config.Cluster, tweak func(*Options)) *harness {
	t.Helper()
	h := newHarness(cluster, 100, tweak)
	t.Cleanup(func() {
		h.stop(t)
		if t.Failed() {
			t.Logf("logs:\n%s", h.logs.String())
		}
	})
	return h
}

// startSessionB starts a session for a benchmark, with a queue large enough
// for every fault of the run.
func startSessionB(b *testing.B, src *faultsource.Server) *harness {
	b.Helper()
	return newHarness(streamable("prod", src.URL()), b.N+1, nil)
}

func newHarness(cluster config.Cluster, capacity int, tweak func(*Options)) *harness {
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{cluster.Name})
	queues := queue.NewSet([]string{cluster.Name}, capacity, m, time.Now)
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	in := intake.New(intake.Options{
		Logger: logger, Metrics: m, Queues: queues, Breaker: closedBreaker{},
		Clusters:    map[string]intake.ClusterPolicy{cluster.Name: {Triage: true}},
		MinSeverity: fault.SeverityWarning, DedupWindow: time.Minute, Now: time.Now,
	})
	o := Options{
		Cluster: cluster, Handler: in, Metrics: m, Logger: logger,
		InitialDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond,
		Keepalive: 10 * time.Second, ConnectTimeout: 5 * time.Second, MaxEventBytes: 1 << 20,
	}
	if tweak != nil {
		tweak(&o)
	}
	s := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{session: s, m: m, queue: queues.Get(cluster.Name), logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- s.Serve(ctx) }()
	return h
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.stopped.Do(func() {
		h.cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return after cancel")
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func streamable(name, url string) config.Cluster {
	return config.Cluster{Name: name, Endpoint: url, Transport: config.TransportStreamable, Triage: true}
}

func TestFaultsFlowIntoTheClustersQueue(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSession(t, streamable("prod", src.URL()), nil)
	waitFor(t, "subscription", func() bool { return src.Subscribers() == 1 && h.session.Connected() })
	if got := testutil.ToFloat64(h.m.SSEConnectionsActive.WithLabelValues("prod")); got != 1 {
		t.Errorf("sse_connections_active %v", got)
	}
	for i := range 5 {
		src.Emit(faultsource.Fault("prod", i, fault.TypeCrashLoop, "critical"))
	}
	src.EmitLog("ignored")
	waitFor(t, "five queued faults", func() bool { return h.queue.Len() == 5 })
	if got := testutil.ToFloat64(h.m.EventsReceived.WithLabelValues("prod", "critical")); got != 5 {
		t.Errorf("received %v", got)
	}
	if !strings.Contains(h.logs.String(), `"msg":"SSE connection established"`) {
		t.Error("no established log line")
	}
	h.stop(t)
	if h.session.Connected() || testutil.ToFloat64(h.m.SSEConnectionsActive.WithLabelValues("prod")) != 0 {
		t.Error("still connected after stop")
	}
	var d dto.Metric
	if err := h.m.SSEConnectionDuration.(prometheus.Metric).Write(&d); err != nil || d.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("connection duration observed %d times on disconnect (%v), want 1", d.GetHistogram().GetSampleCount(), err)
	}
}

func TestLegacySSETransport(t *testing.T) {
	// Other servers may deliver faults over the legacy transport.
	src := faultsource.NewWithOptions(faultsource.Options{Contexts: []string{"prod"}, LegacySSEDelivers: true})
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSession(t, config.Cluster{Name: "prod", Endpoint: src.SSEURL(), Transport: config.TransportSSE, Triage: true}, nil)
	waitFor(t, "subscription", func() bool { return src.Subscribers() == 1 })
	src.Emit(faultsource.Fault("prod", 1, fault.TypePodCrash, "warning"))
	waitFor(t, "queued fault", func() bool { return h.queue.Len() == 1 })
}

func TestLegacySSERefusalSaysWhereFaultsFlow(t *testing.T) {
	// kubernetes-mcp-server refuses subscriptions on /sse.
	src := faultsource.New("")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSession(t, config.Cluster{Name: "prod", Endpoint: src.SSEURL(), Transport: config.TransportSSE, Triage: true}, nil)
	waitFor(t, "subscribe_refused", func() bool {
		return testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonSubscribeRefused)) >= 1
	})
	logs := h.logs.String()
	if !strings.Contains(logs, faultsource.LegacySSERefusal) || !strings.Contains(logs, "only over Streamable HTTP at /mcp") {
		t.Errorf("refusal over /sse not logged with the server's words and where faults flow:\n%s", logs)
	}
}

func TestReconnectsAfterServerRestart(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := src.Addr()
	defer src.Stop()
	h := startSession(t, streamable("prod", src.URL()), nil)
	waitFor(t, "first subscription", func() bool { return src.Subscribers() == 1 })
	src.Emit(faultsource.Fault("prod", 1, fault.TypeCrashLoop, "critical"))
	waitFor(t, "first fault", func() bool { return h.queue.Len() == 1 })

	src.Stop()
	waitFor(t, "disconnect noticed", func() bool { return !h.session.Connected() })
	waitFor(t, "a refused reconnection", func() bool {
		return testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonConnectionRefused)) >= 1
	})
	if err := src.Start(addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "re-subscription", func() bool { return src.Subscribers() == 1 && h.session.Connected() })
	src.Emit(faultsource.Fault("prod", 2, fault.TypeCrashLoop, "critical"))
	waitFor(t, "fault after restart", func() bool { return h.queue.Len() == 2 })

	if got := testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonStreamClosed)); got != 1 {
		t.Errorf("stream_closed errors %v, want 1", got)
	}
	reconnects := 0.0
	for _, r := range metrics.ConnectionReasons {
		reconnects += testutil.ToFloat64(h.m.SSEReconnections.WithLabelValues("prod", r))
	}
	if reconnects < 2 {
		t.Errorf("sse_reconnections_total %v, want at least 2", reconnects)
	}
	logs := h.logs.String()
	for _, w := range []string{`"msg":"SSE connection failed, retrying"`, `"retry_in"`, `"attempt_number":1`, `"attempt_number":2`, `"downtime_duration"`} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %s", w)
		}
	}
	if strings.Count(logs, `"msg":"SSE connection established"`) != 2 {
		t.Errorf("want two established lines")
	}
}

func TestStalledServerIsDetectedByKeepalive(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSession(t, streamable("prod", src.URL()), func(o *Options) {
		o.Keepalive = 200 * time.Millisecond
		o.ConnectTimeout = 500 * time.Millisecond
	})
	waitFor(t, "subscription", func() bool { return h.session.Connected() })
	src.SetStall(true)
	waitFor(t, "keepalive failure", func() bool {
		return testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonKeepaliveTimeout)) == 1
	})
	if h.session.Connected() {
		t.Error("still marked connected to a stalled server")
	}
	// Reconnect attempts time out while it stays stalled...
	waitFor(t, "connect timeout", func() bool {
		return testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonTimeout)) >= 1
	})
	// ...and succeed once it answers again.
	src.SetStall(false)
	waitFor(t, "recovery", func() bool { return h.session.Connected() })
}

func TestIdleStreamIsNotTornDown(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSession(t, streamable("prod", src.URL()), func(o *Options) { o.Keepalive = 100 * time.Millisecond })
	waitFor(t, "subscription", func() bool { return h.session.Connected() })
	time.Sleep(time.Second) // ten keepalive rounds with no traffic
	if !h.session.Connected() {
		t.Fatal("an idle but healthy session was dropped")
	}
	for _, r := range metrics.ConnectionReasons {
		if v := testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", r)); v != 0 {
			t.Errorf("connection error %s = %v on an idle healthy session", r, v)
		}
	}
}

func TestRefusedSubscriptionIsAFailedConnect(t *testing.T) {
	src := faultsource.New("prod")
	src.SetRefuse(true)
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSession(t, streamable("prod", src.URL()), nil)
	waitFor(t, "subscribe_refused", func() bool {
		return testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonSubscribeRefused)) >= 2
	})
	if got := testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonSubscribeFailed)); got != 0 {
		t.Errorf("a refusal was counted as subscribe_failed %v times", got)
	}
	if !strings.Contains(h.logs.String(), `"server_message":"failed to create subscription: subscriptions refused by test"`) {
		t.Errorf("refusal logged without the server's words:\n%s", h.logs.String())
	}
	if h.session.Connected() {
		t.Error("connected without a subscription")
	}
	src.SetRefuse(false)
	waitFor(t, "subscription once allowed", func() bool { return h.session.Connected() })
}

func TestSubscriptionErrorIsLoggedAndCounted(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSession(t, streamable("prod", src.URL()), nil)
	waitFor(t, "subscription", func() bool { return h.session.Connected() })
	src.EmitSubscriptionError("watch pods: forbidden")
	waitFor(t, "subscription_error counted", func() bool {
		return testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonSubscriptionError)) == 1
	})
	if !strings.Contains(h.logs.String(), "watch pods: forbidden") || !strings.Contains(h.logs.String(), `"degraded":true`) {
		t.Errorf("subscription error not logged with its fields")
	}
}

func TestHTTPErrorsAreClassified(t *testing.T) {
	for _, tc := range []struct {
		status int
		reason string
	}{{500, ReasonHTTP5xx}, {503, ReasonHTTP5xx}, {404, ReasonHTTP4xx}, {401, ReasonHTTP4xx}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "nope", tc.status)
		}))
		h := startSession(t, streamable("prod", srv.URL+"/mcp"), nil)
		waitFor(t, tc.reason, func() bool {
			return testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", tc.reason)) >= 1
		})
		h.stop(t)
		srv.Close()
	}
}

func TestGarbageServerIsAProtocolError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{not json at all"))
	}))
	defer srv.Close()
	h := startSession(t, streamable("prod", srv.URL+"/mcp"), nil)
	waitFor(t, "a failed connect", func() bool {
		n := 0.0
		for _, r := range metrics.ConnectionReasons {
			n += testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", r))
		}
		return n >= 2
	})
	if h.session.Connected() {
		t.Fatal("connected to garbage")
	}
	if got := testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonProtocol)); got < 1 {
		t.Errorf("garbage answers counted as protocol errors: %v", got)
	}
}

func TestShutdownDuringBackoffReturnsAtOnce(t *testing.T) {
	h := startSession(t, streamable("prod", "http://127.0.0.1:1/mcp"), func(o *Options) {
		o.InitialDelay, o.MaxDelay = 60*time.Second, 60*time.Second
	})
	waitFor(t, "in backoff", func() bool {
		return strings.Contains(h.logs.String(), `"retry_in"`)
	})
	start := time.Now()
	h.stop(t)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned after %v", el)
	}
}

func TestBearerTokenIsSentAndReReadOnReconnect(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	defer srv.Close()
	tokenFile := t.TempDir() + "/token"
	writeToken := func(s string) {
		if err := writeFileAtomic(tokenFile, s); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("first\n")
	c := streamable("prod", srv.URL+"/mcp")
	c.BearerTokenFile = tokenFile
	h := startSession(t, c, nil)
	waitFor(t, "first token", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0
	})
	writeToken("second")
	waitFor(t, "rotated token", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen[len(seen)-1] == "Bearer second"
	})
	mu.Lock()
	first := seen[0]
	mu.Unlock()
	if first != "Bearer first" {
		t.Errorf("first Authorization %q", first)
	}
	_ = h
}
