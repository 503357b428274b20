package journal

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// TestAcceptedFaultsAreQueuedOnceOnDiskInOrder: faults accepted without
// waiting reach the queue in arrival order, each counted once, and what
// the queue shows is what the store holds after a reopen.
func TestAcceptedFaultsAreQueuedOnceOnDiskInOrder(t *testing.T) {
	const n = 3000
	dir := t.TempDir()
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"prod", "dev"})
	logger := slog.New(slog.DiscardHandler)
	s := open(t, dir, Options{DedupWindow: time.Hour})
	writer := Writer{Store: s, Metrics: m, Logger: logger}
	queues := queue.NewDurableSet([]string{"prod", "dev"}, n, m, time.Now, writer, writer.RemoveFailed)
	in := intake.New(intake.Options{Logger: logger, Metrics: m, Queues: queues, Breaker: closedBreaker{},
		Clusters:    map[string]intake.ClusterPolicy{"prod": {Triage: true}, "dev": {Triage: true}},
		MinSeverity: fault.SeverityInfo, DedupWindow: time.Hour, Now: time.Now})

	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[intake.Outcome]int{}
	for _, cluster := range []string{"prod", "dev"} {
		go func() {
			for i := range n {
				wg.Add(1)
				ev := fault.Event{Source: fault.SourceMCP, FaultID: cluster + strconv.Itoa(i), FaultType: fault.TypeCrashLoop, Severity: "critical"}
				in.Accept(cluster, ev, func(o intake.Outcome) {
					mu.Lock()
					outcomes[o]++
					mu.Unlock()
					wg.Done()
				})
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(m.EventsQueued.WithLabelValues("prod"))+testutil.ToFloat64(m.EventsQueued.WithLabelValues("dev")) < 2*n {
		if time.Now().After(deadline) {
			t.Fatalf("queued %v of %d", outcomes, 2*n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	if outcomes[intake.Queued] != 2*n || len(outcomes) != 1 {
		t.Fatalf("outcomes %v, want %d queued", outcomes, 2*n)
	}
	if w := s.w.txs.Load(); w >= 2*n {
		t.Errorf("%d transactions for %d faults: the writes were not grouped", w, 2*n)
	}
	for _, cluster := range []string{"prod", "dev"} {
		snap := queues.Get(cluster).Snapshot()
		if len(snap) != n {
			t.Fatalf("%s holds %d, want %d", cluster, len(snap), n)
		}
		for i, it := range snap {
			if it.Event.FaultID != cluster+strconv.Itoa(i) || (i > 0 && it.Seq <= snap[i-1].Seq) {
				t.Fatalf("%s item %d is %s seq %d: not in arrival order", cluster, i, it.Event.FaultID, it.Seq)
			}
		}
	}
	s.Close()
	s = open(t, dir, Options{})
	defer s.Close()
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, cluster := range []string{"prod", "dev"} {
		if len(st.Queued[cluster]) != n || st.Queued[cluster][n-1].Event.FaultID != cluster+strconv.Itoa(n-1) {
			t.Fatalf("%s: %d stored after reopen, want %d in order", cluster, len(st.Queued[cluster]), n)
		}
	}
}

// TestRecoverHandsOverAReshardedCluster: at start, queued faults of a
// cluster another shard owns now leave the store, counted and logged;
// those of a cluster this shard owns come back.
func TestRecoverHandsOverAReshardedCluster(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	now := time.Now()
	for i, c := range []string{"mine", "moved", "moved"} {
		if _, err := s.Enqueue(entry(c, "f"+strconv.Itoa(i), now)); err != nil {
			t.Fatal(err)
		}
	}
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"mine"})
	var logs testlogBuffer
	w := Writer{Store: s, Metrics: m, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		OwnedBy: func(c string) (int, bool) {
			return map[string]int{"mine": 0, "moved": 2}[c], c == "mine" || c == "moved"
		}}
	queues := queue.NewDurableSet([]string{"mine"}, 10, m, time.Now, w, nil)
	if _, err := w.Recover(queues, 3, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.EventsHandedOver); got != 2 {
		t.Errorf("events_handed_over_total %v, want 2", got)
	}
	if queues.Get("mine").Len() != 1 {
		t.Errorf("own cluster's queue holds %d, want 1", queues.Get("mine").Len())
	}
	if !strings.Contains(logs.String(), `"owner_shard":2`) {
		t.Errorf("hand-over not logged with its new owner: %s", logs.String())
	}
	st, _ := s.Load()
	if len(st.Queued["moved"]) != 0 {
		t.Errorf("the old owner's store still holds %d faults of the moved cluster", len(st.Queued["moved"]))
	}
	s.Close()
}

type testlogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *testlogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *testlogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
