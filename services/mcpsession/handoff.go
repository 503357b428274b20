package mcpsession

import (
	"context"
	"encoding/json"
	"sync"
)

// Bounds of what one session holds of faults that intake has not taken
// yet. A server sending faster than intake takes them gets the excess
// dropped and counted (events_filtered_total{reason="queue_full"}), so the
// runner's memory stays flat under any flood: at most HandoffMessages
// faults and HandoffBytes of them per session.
const (
	HandoffMessages = 4096
	HandoffBytes    = 4 << 20
)

// handoff is the bounded queue between a session's event stream reader and
// the goroutine that hands its faults to intake, in arrival order.
type handoff struct {
	mu    sync.Mutex
	q     []json.RawMessage
	bytes int
	wake  chan struct{}
}

func newHandoff() *handoff { return &handoff{wake: make(chan struct{}, 1)} }

// push queues data and reports whether there was room.
func (h *handoff) push(data json.RawMessage) bool {
	h.mu.Lock()
	if len(h.q) >= HandoffMessages || h.bytes+len(data) > HandoffBytes {
		h.mu.Unlock()
		return false
	}
	h.q = append(h.q, data)
	h.bytes += len(data)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns everything queued and empties the queue, giving its memory
// back.
func (h *handoff) take() []json.RawMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.q
	h.q, h.bytes = nil, 0
	return q
}

// run hands each queued fault to handle until ctx ends; what is still
// queued then is handled first, so a fault read before the session ended
// is not lost.
func (h *handoff) run(ctx context.Context, handle func(json.RawMessage)) {
	for {
		select {
		case <-ctx.Done():
			for _, d := range h.take() {
				handle(d)
			}
			return
		case <-h.wake:
			for _, d := range h.take() {
				handle(d)
			}
		}
	}
}
