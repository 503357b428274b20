package mcpsession

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// setHarness runs a Set of sessions into a real intake and real queues.
type setHarness struct {
	set    *Set
	m      *metrics.Metrics
	queues *queue.Set
	logs   *testlog.Buffer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startSet(t *testing.T, clusters []config.Cluster, tweak func(*Options)) *setHarness {
	t.Helper()
	names := make([]string, len(clusters))
	policies := map[string]intake.ClusterPolicy{}
	for i, c := range clusters {
		names[i] = c.Name
		policies[c.Name] = intake.ClusterPolicy{Triage: true}
	}
	h := &setHarness{logs: &testlog.Buffer{}}
	h.m = metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, names)
	h.queues = queue.NewSet(names, 100, h.m, time.Now)
	logger := slog.New(slog.NewJSONHandler(h.logs, nil))
	in := intake.New(intake.Options{Logger: logger, Metrics: h.m, Queues: h.queues, Breaker: closedBreaker{},
		Clusters: policies, MinSeverity: fault.SeverityWarning, DedupWindow: time.Minute, Now: time.Now})
	o := Options{
		Handler: in, Metrics: h.m, Logger: logger,
		InitialDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond,
		Keepalive: 10 * time.Second, ConnectTimeout: 5 * time.Second, MaxEventBytes: 1 << 20,
	}
	if tweak != nil {
		tweak(&o)
	}
	h.set = NewSet(clusters, o)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	for _, s := range h.set.Sessions() {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			_ = s.Serve(ctx)
		}()
	}
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("logs:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *setHarness) stop() {
	h.cancel()
	h.wg.Wait()
}

func onContext(name, endpoint, context string) config.Cluster {
	return config.Cluster{Name: name, Endpoint: endpoint, Transport: config.TransportStreamable, Triage: true, Context: context}
}

// Two clusters naming two contexts of one multi-cluster server share one
// MCP session with two subscriptions; each fault lands once, in its own
// cluster's queue; a server restart resubscribes both.
func TestMultiContextServerSharesOneSession(t *testing.T) {
	src := faultsource.NewWithOptions(faultsource.Options{Contexts: []string{"eu-prod", "us-prod"}})
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	eu := onContext("eu", src.URL(), "eu-prod")
	eu.Filters = config.Filters{Namespaces: []string{"default"}, Type: "Warning"}
	h := startSet(t, []config.Cluster{eu, onContext("us", src.URL(), "us-prod")}, nil)

	bothUp := func() bool {
		return h.set.Connected("eu") && h.set.Connected("us") &&
			src.Subscriptions("eu-prod") == 1 && src.Subscriptions("us-prod") == 1
	}
	waitFor(t, "both contexts subscribed", bothUp)
	if n := src.Sessions(); n != 1 {
		t.Fatalf("%d MCP sessions to one server, want 1", n)
	}
	euFault := faultsource.Fault("eu-prod", 1, fault.TypeCrashLoop, "critical")
	usFault := faultsource.Fault("us-prod", 1, fault.TypeNodeUnhealthy, "critical")
	if src.EmitTo("eu-prod", euFault) != 1 || src.EmitTo("us-prod", usFault) != 1 {
		t.Fatal("a fault did not reach exactly one subscription")
	}
	waitFor(t, "one fault in each queue", func() bool { return h.queues.Get("eu").Len() == 1 && h.queues.Get("us").Len() == 1 })
	if !h.queues.Get("eu").Holds(euFault.FaultID) || !h.queues.Get("us").Holds(usFault.FaultID) {
		t.Error("a fault is in the other cluster's queue")
	}
	for _, c := range []string{"eu", "us"} {
		if got := testutil.ToFloat64(h.m.EventsReceived.WithLabelValues(c, "critical")); got != 1 {
			t.Errorf("received{%s} = %v, want 1", c, got)
		}
	}

	addr := src.Addr()
	src.Stop()
	waitFor(t, "both marked disconnected", func() bool { return !h.set.Connected("eu") && !h.set.Connected("us") })
	if err := src.Start(addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both resubscribed after the restart", bothUp)
	if n := src.Sessions(); n != 1 {
		t.Errorf("%d MCP sessions after the restart, want 1", n)
	}
	// Every (re)subscribe carried the cluster's context and filters.
	for _, sub := range src.History() {
		switch sub.Context {
		case "eu-prod":
			if !reflect.DeepEqual(sub.Filters, map[string]any{"namespaces": []string{"default"}, "type": "Warning"}) {
				t.Errorf("eu subscribed with filters %v", sub.Filters)
			}
		case "us-prod":
			if len(sub.Filters) != 0 {
				t.Errorf("us subscribed with filters %v", sub.Filters)
			}
		default:
			t.Errorf("subscribe on context %q", sub.Context)
		}
	}
	if n := len(src.History()); n != 4 {
		t.Errorf("%d subscribes, want 4 (two contexts, twice)", n)
	}
	src.EmitTo("us-prod", faultsource.Fault("us-prod", 2, fault.TypePodCrash, "warning"))
	waitFor(t, "a fault after the restart", func() bool { return h.queues.Get("us").Len() == 2 })
	if h.queues.Get("eu").Len() != 1 {
		t.Errorf("the us fault reached eu")
	}
	for _, c := range []string{"eu", "us"} {
		if got := testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues(c, ReasonStreamClosed)) +
			testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues(c, ReasonConnectionRefused)); got < 1 {
			t.Errorf("the restart is not counted for %s", c)
		}
	}
}

func TestMoreContextsThanTheSessionLimitOpenMoreSessions(t *testing.T) {
	src := faultsource.NewWithOptions(faultsource.Options{Contexts: []string{"a", "b", "c"}})
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSet(t, []config.Cluster{onContext("a", src.URL(), "a"), onContext("b", src.URL(), "b"), onContext("c", src.URL(), "c")},
		func(o *Options) { o.MaxSubscriptionsPerSession = 2 })
	if n := len(h.set.Sessions()); n != 2 {
		t.Fatalf("%d sessions for three contexts at two per session, want 2", n)
	}
	waitFor(t, "three subscriptions", func() bool { return src.Subscriptions("") == 3 })
	if n := src.Sessions(); n != 2 {
		t.Errorf("the server sees %d sessions, want 2", n)
	}
}

// An unknown context is refused in the server's words and retried with
// backoff while the session's other cluster stays subscribed.
func TestUnknownContextIsRetriedWhileOthersFlow(t *testing.T) {
	src := faultsource.NewWithOptions(faultsource.Options{Contexts: []string{"eu-prod"}})
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSet(t, []config.Cluster{onContext("eu", src.URL(), "eu-prod"), onContext("later", src.URL(), "later")}, nil)
	waitFor(t, "two refusals of the unknown context", func() bool {
		return testutil.ToFloat64(h.m.SSEConnectionErrors.WithLabelValues("later", ReasonSubscribeRefused)) >= 2
	})
	if !h.set.Connected("eu") || h.set.Connected("later") {
		t.Fatal("the unknown context took the known one down, or counted as subscribed")
	}
	if !strings.Contains(h.logs.String(), `context \"later\" does not exist`) {
		t.Error("refusal not logged in the server's words")
	}
	src.EmitTo("eu-prod", faultsource.Fault("eu-prod", 1, fault.TypeCrashLoop, "critical"))
	waitFor(t, "faults still flowing for eu", func() bool { return h.queues.Get("eu").Len() == 1 })
}

// A server calling the cluster something else is logged once per session,
// never turned into a label.
func TestServerClusterNameMismatchIsLoggedOncePerSession(t *testing.T) {
	src := faultsource.New("kind-kind")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	h := startSet(t, []config.Cluster{{Name: "prod", Endpoint: src.URL(), Transport: config.TransportStreamable, Triage: true}}, nil)
	waitFor(t, "subscription", func() bool { return h.set.Connected("prod") })
	for i := range 3 {
		src.Emit(faultsource.Fault("kind-kind", i, fault.TypeCrashLoop, "critical"))
	}
	waitFor(t, "three faults", func() bool { return h.queues.Get("prod").Len() == 3 })
	if n := strings.Count(h.logs.String(), `"reported_cluster":"kind-kind"`); n != 1 {
		t.Errorf("mismatch logged %d times in one session, want 1", n)
	}
	// Only the configured cluster's series exists (severities appear on
	// first use: one, critical).
	if n := testutil.CollectAndCount(h.m.EventsReceived); n != 1 {
		t.Errorf("%d received series; the server's name became a label", n)
	}
	if v := testutil.ToFloat64(h.m.EventsReceived.WithLabelValues("prod", "critical")); v != 3 {
		t.Errorf("received{cluster=prod,severity=critical} = %v, want 3", v)
	}
}
