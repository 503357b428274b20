package dispatch

import (
	"strconv"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// BenchmarkDispatch runs b.N incidents with a trivial agent (this test
// binary, writing its report and exiting) and reports sustained agents per
// second and the dispatch overhead: from the enqueue into an idle queue to
// the agent's process start, which covers the worker's wake-up, the global
// slot, the workspace and event.json, and fork/exec.
func BenchmarkDispatch(b *testing.B) {
	for _, conc := range []int{1, 4} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			clusters := make([]string, conc)
			for i := range clusters {
				clusters[i] = "c" + strconv.Itoa(i)
			}
			t := b
			f := start(t, settings{clusters: clusters, maxConcurrent: conc, capacity: b.N + 100})

			// Overhead: one incident at a time into an idle queue.
			var overhead time.Duration
			probes := min(b.N, 20)
			for i := range probes {
				f.pushItem(clusters[0], "ok-o"+strconv.Itoa(i))
				f.waitCompleted(t, clusters[0], incident.StatusSuccess, float64(i+1))
			}
			for _, r := range f.results(t, clusters[0]) {
				overhead += r.StartedAt.Sub(testagent.Event(t, f.root, r).EnqueuedAt)
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				f.pushItem(clusters[i%conc], "ok-"+strconv.Itoa(i))
			}
			for _, c := range clusters {
				want := float64(b.N / conc)
				if c == clusters[0] {
					want += float64(probes)
				}
				if i := indexOf(clusters, c); i < b.N%conc {
					want++
				}
				f.waitCompleted(t, c, incident.StatusSuccess, want)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "agents/s")
			b.ReportMetric(float64(overhead.Microseconds())/float64(probes)/1000, "overhead-ms")
		})
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

var benchSeq int

func (f *fixture) pushItem(cluster, resource string) {
	benchSeq++
	f.queues.Get(cluster).Push(fault.Event{
		FaultID: "bench" + strconv.Itoa(benchSeq), FaultType: fault.TypeCrashLoop, Severity: "critical",
		Resource: fault.Resource{Kind: "Pod", Name: resource, Namespace: "ns"},
	})
}
