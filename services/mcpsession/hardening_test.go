package mcpsession

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
)

func faultFrame(data string) []byte {
	return []byte(`data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"warning","logger":"kubernetes/faults","data":` + data + "}}\n\n")
}

func TestBadFramesAreDroppedAndTheSessionKept(t *testing.T) {
	src := faultsource.Started(t, "prod")
	h := startSession(t, streamable("prod", src.URL()), func(o *Options) { o.MaxEventBytes = 64 << 10 })
	waitFor(t, "subscription", func() bool { return src.Subscribers() == 1 && h.session.Connected() })

	bad := map[string][]byte{
		"over --sse-max-event-bytes": faultFrame(`{"filler":"` + strings.Repeat("x", 80<<10) + `"}`),
		"not JSON":                   []byte("event: message\ndata: this is not JSON {\n\n"),
		"nested 1,001 deep":          faultFrame(strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1)),
		"a line without a field":     []byte("data: {}\nnot a field\n\n"),
	}
	n := 0
	for what, frame := range bad {
		if src.Emit(faultsource.Fault("prod", n, fault.TypeCrashLoop, "critical")) != 1 {
			t.Fatal("fault not sent")
		}
		n++
		if got, err := src.EmitFrame(frame); err != nil || got != 1 {
			t.Fatalf("frame %s not sent: %d, %v", what, got, err)
		}
		if src.Emit(faultsource.Fault("prod", n, fault.TypeCrashLoop, "critical")) != 1 {
			t.Fatal("fault not sent")
		}
		n++
	}
	waitFor(t, "every good fault", func() bool { return h.queue.Len() == n })
	waitFor(t, "every bad frame counted", func() bool {
		return testutil.ToFloat64(h.m.EventsFiltered.WithLabelValues("prod", string(intake.Malformed))) == float64(len(bad))
	})
	if got := len(src.History()); got != 1 {
		t.Errorf("%d subscribes, want the first session kept", got)
	}
	if got := testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("prod", ReasonStreamClosed)); got != 0 {
		t.Errorf("session ended %v times as stream_closed", got)
	}
	if !h.session.Connected() {
		t.Error("session not connected after the bad frames")
	}
}

// gate is a Handler whose Submit waits until the gate opens: an intake that
// has fallen behind.
type gate struct {
	next      Handler
	open      chan struct{}
	submitted atomic.Int64
}

func (g *gate) Submit(cluster string, ev fault.Event) intake.Outcome {
	<-g.open
	g.submitted.Add(1)
	return g.next.Submit(cluster, ev)
}

func (g *gate) Malformed(cluster, source string, err error) intake.Outcome {
	return g.next.Malformed(cluster, source, err)
}

func TestFloodBeyondTheHandoffIsShedAndCounted(t *testing.T) {
	src := faultsource.Started(t, "prod")
	g := &gate{open: make(chan struct{})}
	flood := 3*HandoffMessages + 100
	h := newHarness(streamable("prod", src.URL()), flood+1, func(o *Options) {
		g.next = o.Handler
		o.Handler = g
	})
	t.Cleanup(func() { h.stop(t) })
	waitFor(t, "subscription", func() bool { return src.Subscribers() == 1 && h.session.Connected() })

	for i := range flood {
		if src.Emit(faultsource.Fault("prod", i, fault.TypeCrashLoop, "critical")) != 1 {
			t.Fatalf("fault %d not sent", i)
		}
	}
	shed := func() float64 {
		return testutil.ToFloat64(h.m.EventsFiltered.WithLabelValues("prod", string(intake.QueueFull)))
	}
	// At most a full queue and the fault in the hands of intake are
	// held; everything past that is dropped and counted.
	waitFor(t, "the excess shed", func() bool { return shed() >= float64(flood-HandoffMessages-1) })
	close(g.open)
	waitFor(t, "every fault accounted for", func() bool { return float64(g.submitted.Load())+shed() == float64(flood) })
	if got := testutil.ToFloat64(h.m.EventsReceived.WithLabelValues("prod", "unknown")); got != shed() {
		t.Errorf("received{unknown} = %v, want the %v shed faults, so the books balance", got, shed())
	}
	if got := len(src.History()); got != 1 {
		t.Errorf("%d subscribes, want the session kept through the flood", got)
	}
}

func TestFlappingServerBacksOff(t *testing.T) {
	src := faultsource.Started(t, "prod")
	src.SetFlap(100 * time.Millisecond)
	var mu sync.Mutex
	var delays []time.Duration
	h := startSession(t, streamable("prod", src.URL()), func(o *Options) {
		o.InitialDelay, o.MaxDelay = 10*time.Millisecond, time.Minute
		o.Rand = func() float64 { return 0.5 } // no jitter
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			delays = append(delays, d)
			mu.Unlock()
			return ctx.Err()
		}
	})
	waitFor(t, "five flaps", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delays) >= 5
	})
	h.stop(t)
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < 5; i++ {
		if delays[i] != 2*delays[i-1] {
			t.Fatalf("delays %v: a session that never stayed up for the keepalive interval must not reset the backoff", delays[:5])
		}
	}
}

func TestFlappingClusterIsNotReadyUntilItStaysUp(t *testing.T) {
	src := faultsource.Started(t, "prod")
	h := startSession(t, streamable("prod", src.URL()), func(o *Options) {
		o.InitialDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
		o.HealthyAfter = 500 * time.Millisecond
	})
	waitFor(t, "first subscription", func() bool { return h.session.Connected() })
	src.SetFlap(100 * time.Millisecond)
	src.Stop() // end the healthy session; every later one flaps
	if err := src.Start(src.Addr()); err != nil {
		t.Fatal(err)
	}
	// Two sessions in a row that end early make a flapping cluster.
	waitFor(t, "two flaps", func() bool { return len(src.History()) >= 4 })
	subscribed, ready := 0, 0
	for start := time.Now(); time.Since(start) < time.Second; time.Sleep(5 * time.Millisecond) {
		if src.Subscribers() == 1 {
			subscribed++
			if h.session.Connected() {
				ready++
			}
		}
	}
	if subscribed == 0 {
		t.Fatal("never saw the flapping session subscribed")
	}
	if ready != 0 {
		t.Errorf("readiness followed a flapping server: ready in %d of %d samples while subscribed", ready, subscribed)
	}
	src.SetFlap(0)
	waitFor(t, "ready once a session stays up", func() bool { return h.session.Connected() })
}

// tokenSink is an HTTP server that records the Authorization headers it
// receives.
type tokenSink struct {
	mu   sync.Mutex
	auth []string
}

func (s *tokenSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	http.Error(w, "not here", http.StatusNotFound)
}

func (s *tokenSink) tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.auth {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

func redirectTo(target string, hits *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
}

func writeToken(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBearerTokenIsNotSentOnARedirectToAnotherHost(t *testing.T) {
	sink := &tokenSink{}
	other := httptest.NewServer(sink)
	defer other.Close()
	var hits atomic.Int64
	endpoint := httptest.NewServer(redirectTo(other.URL+"/mcp", &hits))
	defer endpoint.Close()
	c := streamable("prod", endpoint.URL+"/mcp")
	c.BearerTokenFile = writeToken(t)
	h := startSession(t, c, nil)
	waitFor(t, "attempts", func() bool { return hits.Load() >= 3 })
	h.stop(t)
	if got := sink.tokens(); len(got) > 0 {
		t.Errorf("another host received the bearer token: %q", got)
	}
	if !strings.Contains(h.logs.String(), "redirect leaves the configured endpoint") {
		t.Errorf("the refused redirect is not named in the logs:\n%s", h.logs.String())
	}
}

func TestBearerTokenIsNotSentOnARedirectFromHTTPSToHTTP(t *testing.T) {
	sink := &tokenSink{}
	plain := httptest.NewServer(sink)
	defer plain.Close()
	var hits atomic.Int64
	endpoint := httptest.NewTLSServer(redirectTo(plain.URL+"/mcp", &hits))
	defer endpoint.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: endpoint.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := streamable("prod", endpoint.URL+"/mcp")
	c.BearerTokenFile, c.CAFile = writeToken(t), ca
	h := startSession(t, c, nil)
	waitFor(t, "attempts", func() bool { return hits.Load() >= 3 })
	h.stop(t)
	if got := sink.tokens(); len(got) > 0 {
		t.Errorf("the plain-http endpoint received the bearer token: %q", got)
	}
}

func TestSessionsOfASetUseTheClustersTokenAndCA(t *testing.T) {
	sink := &tokenSink{}
	endpoint := httptest.NewTLSServer(sink)
	defer endpoint.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: endpoint.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := streamable("prod", endpoint.URL+"/mcp")
	c.BearerTokenFile, c.CAFile = writeToken(t), ca
	sh := startSet(t, []config.Cluster{c}, nil)
	waitFor(t, "a request with the token", func() bool { return len(sink.tokens()) > 0 })
	if got := sink.tokens()[0]; got != "Bearer s3cret-token" {
		t.Errorf("Authorization %q", got)
	}
	_ = sh
}

func TestEndpointPasswordIsNeverLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every connect fails and is logged
	src := faultsource.Started(t, "prod")
	for _, endpoint := range []string{
		fmt.Sprintf("http://runner:hunter2pw@%s/mcp", addr),
		strings.Replace(src.URL(), "http://", "http://runner:hunter2pw@", 1) + "-missing",
	} {
		h := startSession(t, streamable("prod", endpoint), nil)
		waitFor(t, "a logged failure", func() bool { return strings.Contains(h.logs.String(), "SSE connection failed") })
		h.stop(t)
		if logs := h.logs.String(); strings.Contains(logs, "hunter2pw") {
			t.Errorf("password logged:\n%s", logs)
		}
		if !strings.Contains(h.logs.String(), "runner:xxxxx@") {
			t.Errorf("the endpoint is not named, redacted, in the logs:\n%s", h.logs.String())
		}
	}
}

// A server faster than intake is slowed down, not shed: while intake is
// behind but still taking faults within HandoffWait, nothing is lost.
func TestFloodIntoAnIntakeThatCatchesUpLosesNothing(t *testing.T) {
	src := faultsource.Started(t, "prod")
	g := &gate{open: make(chan struct{})}
	flood := HandoffMessages + 200
	h := newHarness(streamable("prod", src.URL()), flood+1, func(o *Options) {
		g.next = o.Handler
		o.Handler = g
	})
	t.Cleanup(func() { h.stop(t) })
	waitFor(t, "subscription", func() bool { return src.Subscribers() == 1 && h.session.Connected() })
	// Intake is held while the server sends more than the hand-off
	// holds, then catches up at once, well within HandoffWait.
	for i := range flood {
		if src.Emit(faultsource.Fault("prod", i, fault.TypeCrashLoop, "critical")) != 1 {
			t.Fatalf("fault %d not sent", i)
		}
	}
	close(g.open)
	waitFor(t, "every fault queued", func() bool { return h.queue.Len() == flood })
	if got := testutil.ToFloat64(h.m.EventsFiltered.WithLabelValues("prod", string(intake.QueueFull))); got != 0 {
		t.Errorf("%v faults shed from an intake that caught up", got)
	}
}
