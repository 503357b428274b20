package sweeper

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/thejerf/suture/v4"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/supervisor"
)

func setup(t *testing.T) (*queue.Set, *metrics.Metrics, *fakeclock.Clock) {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"a", "b"})
	c := fakeclock.New(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	return queue.NewSet([]string{"a", "b"}, 10, m, c.Now), m, c
}

func push(q *queue.Queue, id string) {
	q.Push(fault.Event{FaultID: id, FaultType: fault.TypeCrashLoop, Severity: "warning"})
}

func TestSweepExpiresOldAndKeepsFresh(t *testing.T) {
	queues, m, c := setup(t)
	logs := &testlog.Buffer{}
	push(queues.Get("a"), "old-a")
	push(queues.Get("b"), "old-b")
	c.Advance(8 * time.Minute)
	push(queues.Get("a"), "fresh-a")
	c.Advance(3 * time.Minute)

	ticks := make(chan time.Time)
	s := NewWithTicks(queues, ticks, 10*time.Minute, c.Now, slog.New(slog.NewJSONHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	ticks <- c.Now()
	ticks <- c.Now() // the second send returns only after the first sweep finished

	if queues.Get("a").Len() != 1 || queues.Get("b").Len() != 0 {
		t.Fatalf("queue lengths a=%d b=%d, want 1 and 0", queues.Get("a").Len(), queues.Get("b").Len())
	}
	for _, c := range []string{"a", "b"} {
		if got := testutil.ToFloat64(m.EventsExpired.WithLabelValues(c)); got != 1 {
			t.Errorf("expired{%s} = %v", c, got)
		}
	}
	if got := testutil.ToFloat64(m.QueueDepth.WithLabelValues("a")); got != 1 {
		t.Errorf("queue_depth{a} = %v after sweep", got)
	}
	out := logs.String()
	for _, w := range []string{`"msg":"Expired queued event"`, `"cluster":"a"`, `"event_id":"old-a"`, `"age":"11m0s"`, `"max_age":"10m0s"`, `"level":"WARN"`} {
		if !strings.Contains(out, w) {
			t.Errorf("logs lack %s", w)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("sweeper ignored context cancellation")
	}
}

func TestSweeperRestartedAfterPanic(t *testing.T) {
	queues, m, c := setup(t)
	var calls atomic.Int32
	panicOnce := func() time.Time {
		if calls.Add(1) == 1 {
			panic("clock exploded")
		}
		return c.Now()
	}
	push(queues.Get("a"), "old")
	c.Advance(time.Hour)
	ticks := make(chan time.Time)
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	sup := suture.New("test", suture.Spec{EventHook: supervisor.EventHook(logger, m), FailureBackoff: 10 * time.Millisecond})
	sup.Add(NewWithTicks(queues, ticks, time.Minute, panicOnce, logger))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := sup.ServeBackground(ctx)

	ticks <- time.Now() // panics inside the sweep
	deadline := time.After(5 * time.Second)
	for queues.Get("a").Len() != 0 {
		select {
		case ticks <- time.Now():
		case <-deadline:
			t.Fatal("sweeper not restarted after its panic")
		}
	}
	// The supervisor reports the restart to the hook on its own goroutine.
	poll.Until(t, 5*time.Second, "the counted restart", func() bool {
		return testutil.ToFloat64(m.ServiceRestarts.WithLabelValues("sweeper")) > 0
	})
	if got := testutil.ToFloat64(m.ServiceRestarts.WithLabelValues("sweeper")); got != 1 {
		t.Errorf("service_restarts_total{sweeper} = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "clock exploded") || !strings.Contains(logs.String(), "stacktrace") {
		t.Error("panic not logged with its stack")
	}
	cancel()
	<-errc
}
