package journal

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

type closedBreaker struct{}

func (closedBreaker) IsOpen() bool { return false }

// TestWriteFailureIsReportedAndAccounted: when the store cannot take a
// fault, it is not queued, the drop is logged and counted as
// persist_failed, and the failed write is counted by operation.
func TestWriteFailureIsReportedAndAccounted(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"prod"})
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	s := open(t, t.TempDir(), Options{})
	writer := Writer{Store: s, Metrics: m, Logger: logger}
	queues := queue.NewDurableSet([]string{"prod"}, 10, m, time.Now, writer, writer.RemoveFailed)
	in := intake.New(intake.Options{Logger: logger, Metrics: m, Queues: queues, Breaker: closedBreaker{},
		Clusters: map[string]intake.ClusterPolicy{"prod": {Triage: true}}, MinSeverity: fault.SeverityInfo,
		DedupWindow: time.Minute, Now: time.Now})
	payload := func(id string) fault.Event {
		return fault.Event{Source: fault.SourceMCP, FaultID: id, FaultType: fault.TypeCrashLoop, Severity: "critical"}
	}
	if got := in.Submit("prod", payload("ok")); got != intake.Queued {
		t.Fatalf("before the failure: %s", got)
	}
	s.Close() // every write now fails, as on a dead disk
	if got := in.Submit("prod", payload("lost")); got != intake.PersistFailed {
		t.Fatalf("outcome %s, want persist_failed", got)
	}
	if got := testutil.ToFloat64(m.EventsFiltered.WithLabelValues("prod", "persist_failed")); got != 1 {
		t.Errorf("filtered{persist_failed} = %v", got)
	}
	if got := testutil.ToFloat64(m.StateWriteErrors.WithLabelValues("enqueue")); got != 1 {
		t.Errorf("state_write_errors_total{op=enqueue} = %v", got)
	}
	if got := testutil.ToFloat64(m.EventsQueued.WithLabelValues("prod")); got != 1 {
		t.Errorf("queued %v: the lost fault must not count as queued", got)
	}
	if queues.Get("prod").Len() != 1 || queues.Get("prod").Holds("lost") {
		t.Error("the unpersisted fault is in the queue")
	}
	if !strings.Contains(logs.String(), `"fault_id":"lost"`) || !strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("drop not logged: %s", logs.String())
	}
	received := testutil.ToFloat64(m.EventsReceived.WithLabelValues("prod", "critical"))
	filtered := testutil.ToFloat64(m.EventsFiltered.WithLabelValues("prod", "persist_failed"))
	queued := testutil.ToFloat64(m.EventsQueued.WithLabelValues("prod"))
	if received != filtered+queued {
		t.Errorf("books: received %v != filtered %v + queued %v", received, filtered, queued)
	}
}
