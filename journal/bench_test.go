package journal

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// BenchmarkPush compares faults per second into the in-memory queue and
// into the durable one (every push fsynced before it returns; concurrent
// pushes from different clusters share an fsync through bbolt's Batch).
func BenchmarkPush(b *testing.B) {
	for _, durable := range []bool{false, true} {
		for _, clusters := range []int{1, 16} {
			name := "memory"
			if durable {
				name = "durable"
			}
			b.Run(name+"/clusters="+strconv.Itoa(clusters), func(b *testing.B) {
				names := make([]string, clusters)
				for i := range names {
					names[i] = "c" + strconv.Itoa(i)
				}
				m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, names)
				var set *queue.Set
				if durable {
					s := open(&testing.T{}, b.TempDir(), Options{})
					defer s.Close()
					h := Writer{Store: s, Metrics: m}
					set = queue.NewDurableSet(names, b.N+1, m, time.Now, h, nil)
				} else {
					set = queue.NewSet(names, b.N+1, m, time.Now)
				}
				var n atomic.Int64
				b.SetParallelism(clusters) // goroutines per CPU; each takes one cluster
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					q := set.Get(names[int(n.Add(1))%clusters])
					for i := 0; pb.Next(); i++ {
						id := "f" + strconv.FormatInt(n.Add(1), 10)
						if res, _, err := q.Push(fault.Event{FaultID: id, FaultType: fault.TypeCrashLoop, Severity: "critical"}); res != queue.Queued || err != nil {
							b.Fatalf("push: %v %v", res, err)
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "faults/s")
			})
		}
	}
}
