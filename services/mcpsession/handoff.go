package mcpsession

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Bounds of what one session holds of faults that intake has not taken
// yet: at most HandoffMessages faults and HandoffBytes of them waiting, and
// as much again in the batch intake is working through. When the queue is
// full the event stream reader waits up to HandoffWait for room, which
// slows the server down over TCP; an intake that does not make room in that
// time is stalled, and what arrives while the queue stays full is dropped
// and counted (events_filtered_total{reason="queue_full"}). So the runner's
// memory stays flat under any flood, and faults are lost only while intake
// is stalled.
const (
	HandoffMessages = 4096
	HandoffBytes    = 4 << 20
	HandoffWait     = time.Second
)

// handoff is the bounded queue between a session's event stream reader and
// the goroutine that hands its faults to intake, in arrival order.
type handoff struct {
	wait time.Duration

	mu      sync.Mutex
	q       []json.RawMessage
	bytes   int
	stalled bool // a wait for room timed out; shed until intake takes a batch
	wake    chan struct{}
	room    chan struct{}
}

func newHandoff(wait time.Duration) *handoff {
	return &handoff{wait: wait, wake: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// push queues data, waiting for room if need be, and reports whether it was
// queued. Only the session's stream reader calls it.
func (h *handoff) push(ctx context.Context, data json.RawMessage) bool {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		h.mu.Lock()
		if len(h.q) < HandoffMessages && h.bytes+len(data) <= HandoffBytes {
			h.q = append(h.q, data)
			h.bytes += len(data)
			h.mu.Unlock()
			select {
			case h.wake <- struct{}{}:
			default:
			}
			return true
		}
		stalled := h.stalled
		h.mu.Unlock()
		if stalled {
			return false
		}
		if timer == nil {
			timer = time.NewTimer(h.wait)
		}
		select {
		case <-h.room:
		case <-ctx.Done():
			return false
		case <-timer.C:
			h.mu.Lock()
			h.stalled = true
			h.mu.Unlock()
		}
	}
}

// take returns everything queued and empties the queue, giving its memory
// back.
func (h *handoff) take() []json.RawMessage {
	h.mu.Lock()
	q := h.q
	h.q, h.bytes, h.stalled = nil, 0, false
	h.mu.Unlock()
	select {
	case h.room <- struct{}{}:
	default:
	}
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
