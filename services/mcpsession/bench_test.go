package mcpsession

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/recordings"
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

// BenchmarkStreamFilterFaults measures the event stream filter alone on
// the real server's recorded fault notifications: reading each SSE event,
// checking it and taking its fault off the stream (ns per event).
func BenchmarkStreamFilterFaults(b *testing.B) {
	rec, err := fs.ReadFile(recordings.Upstream(), "stream.notifications.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	events, wantFaults := 0, 0
	for body.Len() < 1<<20 {
		for line := range bytes.Lines(rec) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				fmt.Fprintf(&body, "event: message\ndata: %s\n\n", line)
				events++
				if _, ok := faultNotification(line); ok {
					wantFaults++
				}
			}
		}
	}
	b.SetBytes(int64(body.Len()))
	b.ResetTimer()
	for b.Loop() {
		faults := 0
		f := newStreamFilter(io.NopCloser(bytes.NewReader(body.Bytes())), 0, func(err error) { b.Fatal(err) },
			func(json.RawMessage) { faults++ }, func(error) {})
		if _, err := io.Copy(io.Discard, f); err != nil {
			b.Fatal(err)
		}
		if faults != wantFaults {
			b.Fatalf("%d faults taken off the stream, %d in it", faults, wantFaults)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}
