package mcpsession

import (
	"strconv"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
)

// BenchmarkSessionToQueue measures faults per second from one MCP session
// into its cluster's queue: the server's notification, the SDK's stream
// decoding, parsing, filtering and the enqueue.
func BenchmarkSessionToQueue(b *testing.B) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer src.Stop()
	h := startSessionB(b, src)
	defer h.cancel()
	for src.Subscribers() != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	events := make([]fault.Event, b.N)
	for i := range events {
		events[i] = faultsource.Fault("prod", i, fault.TypeCrashLoop, "critical")
		events[i].FaultID = "b" + strconv.Itoa(i)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range events {
		src.Emit(events[i])
	}
	for h.queue.Len() < b.N {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "faults/s")
}
