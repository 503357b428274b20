package metrics

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkScrape times one uncompressed /metrics answer (to compare with
// the handler's 1 s default timeout) for fleets of idle clusters (what every
// cluster costs every scrape) and of clusters that have each received,
// filtered, completed an agent and reconnected once (the first-use series
// created).
func BenchmarkScrape(b *testing.B) {
	for _, c := range []struct {
		clusters int
		active   bool
	}{{1000, false}, {5000, false}, {10000, false}, {5000, true}, {10000, true}} {
		name := "idle"
		if c.active {
			name = "active"
		}
		b.Run(name+"/clusters="+strconv.Itoa(c.clusters), func(b *testing.B) {
			reg := NewRegistry()
			names := make([]string, c.clusters)
			for i := range names {
				names[i] = "cluster-" + strconv.Itoa(i)
			}
			m := New(reg, BuildInfo{}, names)
			for _, n := range names {
				m.SSEConnectionsActive.WithLabelValues(n).Set(1)
				if !c.active {
					continue
				}
				m.EventsReceived.WithLabelValues(n, "critical").Inc()
				m.EventsFiltered.WithLabelValues(n, "duplicate").Inc()
				m.AgentsCompleted.WithLabelValues(n, "success").Inc()
				m.AgentDuration.WithLabelValues("success").Observe(42)
				m.SSEReconnections.WithLabelValues(n, "stream_closed").Inc()
				m.SSEConnectionErrors.WithLabelValues(n, "stream_closed").Inc()
				m.SSEConnectionDuration.Observe(3600)
			}
			h := Handler(reg, time.Minute, slog.New(slog.DiscardHandler)) // measured, not cut at the default
			var size int
			b.ResetTimer()
			for range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
				size = rec.Body.Len()
				_, _ = io.Copy(io.Discard, rec.Body)
			}
			b.ReportMetric(float64(size)/1e6, "MB/scrape")
		})
	}
}

// BenchmarkClusterSeries reports the heap one configured cluster's
// pre-created series hold (bytes/op is one AddCluster, B/cluster the live
// heap after a collection per cluster over 1,000 clusters).
func BenchmarkClusterSeries(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		m := New(NewRegistry(), BuildInfo{}, nil)
		names := make([]string, 1000)
		for i := range names {
			names[i] = "cluster-" + strconv.Itoa(i)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for _, n := range names {
			m.AddCluster(n)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(names)), "B/cluster")
		runtime.KeepAlive(m)
		runtime.KeepAlive(names)
		b.StartTimer()
	}
}
