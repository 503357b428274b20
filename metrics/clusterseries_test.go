package metrics

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// TestClusterSeriesExposeAsClientGolangDoes: the per-cluster record's
// families read in a scrape exactly as client_golang's vectors of the same
// values do (type, help, labels, values), so dashboards and alerts see no
// change.
func TestClusterSeriesExposeAsClientGolangDoes(t *testing.T) {
	ours := prometheus.NewRegistry()
	records := newClusterRecords()
	queued := newClusterVec(records, idxQueued, prometheus.CounterValue, "events_queued_total", "Queued.")
	depth := newClusterVec(records, idxQueueDepth, prometheus.GaugeValue, "queue_depth", "Depth.")
	ours.MustRegister(queued, depth)

	theirs := prometheus.NewRegistry()
	queuedVec := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "events_queued_total", Help: "Queued."}, []string{"cluster"})
	depthVec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "queue_depth", Help: "Depth."}, []string{"cluster"})
	theirs.MustRegister(queuedVec, depthVec)

	for _, c := range []string{"prod", "dev", "a-b.c"} {
		queued.WithLabelValues(c).Add(2.5)
		queuedVec.WithLabelValues(c).Add(2.5)
		depth.WithLabelValues(c).Set(7)
		depth.WithLabelValues(c).Dec()
		depthVec.WithLabelValues(c).Set(6)
	}
	queued.WithLabelValues("prod").Inc()
	queuedVec.WithLabelValues("prod").Inc()

	want, err := testutil.CollectAndFormat(queuedVec, expfmt.TypeTextPlain, "kubernetes_mcp_runner_events_queued_total")
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(ours, strings.NewReader(string(want)), "kubernetes_mcp_runner_events_queued_total"); err != nil {
		t.Error(err)
	}
	want, err = testutil.CollectAndFormat(depthVec, expfmt.TypeTextPlain, "kubernetes_mcp_runner_queue_depth")
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(ours, strings.NewReader(string(want)), "kubernetes_mcp_runner_queue_depth"); err != nil {
		t.Error(err)
	}
	// A cluster given a value in one family has the series of every family.
	if n := testutil.CollectAndCount(depth); n != 3 {
		t.Errorf("queue_depth has %d series, want 3", n)
	}
}

// TestClusterSeriesCountConcurrentAdds: adds from many goroutines are all
// counted (the value is a compare-and-swap loop over float64 bits).
func TestClusterSeriesCountConcurrentAdds(t *testing.T) {
	v := newClusterVec(newClusterRecords(), idxQueued, prometheus.CounterValue, "events_queued_total", "Queued.")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				v.WithLabelValues("prod").Inc()
			}
		})
	}
	wg.Wait()
	if got := testutil.ToFloat64(v.WithLabelValues("prod")); got != 8000 {
		t.Fatalf("counted %v, want 8000", got)
	}
}

// TestClusterCounterRefusesToDecrease: a counter of the record panics on a
// negative add, as client_golang's counters do; a gauge goes down.
func TestClusterCounterRefusesToDecrease(t *testing.T) {
	records := newClusterRecords()
	gauge := newClusterVec(records, idxActive, prometheus.GaugeValue, "agents_active", "Active.")
	gauge.WithLabelValues("prod").Sub(1)
	if got := gauge.WithLabelValues("prod").Value(); got != -1 {
		t.Errorf("gauge after Sub(1): %v", got)
	}
	counter := newClusterVec(records, idxSpawned, prometheus.CounterValue, "agents_spawned_total", "Spawned.")
	defer func() {
		if recover() == nil {
			t.Error("a counter took a negative add")
		}
	}()
	counter.WithLabelValues("prod").Add(-1)
}
