package journal_test

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// A source hands its faults to the store as they arrive and a completer
// acknowledges them in order once they are on disk: the source never waits
// for an fsync, and nothing counts as queued before its commit.
func ExampleStore_EnqueueAsync() {
	dir, _ := os.MkdirTemp("", "journal-example-")
	defer os.RemoveAll(dir)
	s, err := journal.Open(dir, journal.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	pending := make(chan *journal.Enqueued, 128)
	done := make(chan struct{})
	go func() { // the completer: counts and dispatches, in order
		defer close(done)
		for p := range pending {
			seq, err := p.Wait()
			if err != nil {
				fmt.Println("not queued:", err)
				continue
			}
			fmt.Println("queued", seq)
		}
	}()
	for _, id := range []string{"a1b2c3d4e5f60718", "1122334455667788", "99aabbccddeeff00"} {
		pending <- s.EnqueueAsync(queue.Item{Cluster: "prod", EnqueuedAt: time.Now(),
			Event: fault.Event{FaultID: id, FaultType: fault.TypeCrashLoop, Severity: "critical"}})
	}
	close(pending)
	<-done
	// Output:
	// queued 1
	// queued 2
	// queued 3
}
