package metrics

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkScrape times one /metrics answer for a fleet whose every
// cluster has received, filtered, completed and reconnected, against the
// handler's 1 s timeout.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run("clusters="+strconv.Itoa(n), func(b *testing.B) {
			reg := NewRegistry()
			names := make([]string, n)
			for i := range names {
				names[i] = "cluster-" + strconv.Itoa(i)
			}
			m := New(reg, BuildInfo{}, names)
			for _, c := range names {
				m.EventsReceived.WithLabelValues(c, "critical").Inc()
				m.EventsFiltered.WithLabelValues(c, "duplicate").Inc()
				m.AgentsCompleted.WithLabelValues(c, "success").Inc()
				m.AgentDuration.WithLabelValues(c, "success").Observe(42)
				m.SSEReconnections.WithLabelValues(c, "stream_closed").Inc()
				m.SSEConnectionErrors.WithLabelValues(c, "stream_closed").Inc()
				m.SSEConnectionDuration.WithLabelValues(c).Observe(3600)
			}
			h := Handler(reg, 0, slog.New(slog.DiscardHandler))
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
			b.ReportMetric(float64(size)/(1<<20), "MiB/scrape")
		})
	}
}
