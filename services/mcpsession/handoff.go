package mcpsession

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Bounds of what one session holds of faults that intake has not taken
// yet: at most HandoffMessages faults and HandoffBytes of them waiting, and
// the one intake is working on. When the queue is full the event stream
// reader waits up to HandoffWait for room, which slows the server down over
// TCP to the pace of intake; an intake that takes no fault in that time is
// stalled, and what arrives while the queue stays full is dropped
// and counted (events_filtered_total{reason="queue_full"}). So the runner's
// memory stays flat under any flood, and faults are lost only while intake
// is stalled.
const (
	HandoffMessages = 4096
	HandoffBytes    = 4 << 20
	HandoffWait     = time.Second
)

// handoff is the bounded queue between a session's event stream reader and
// the session's own goroutine, which hands its faults to intake in arrival
// order.
type handoff struct {
	wait time.Duration

	mu      sync.Mutex
	q       []json.RawMessage
	bytes   int
	stalled bool // a wait for room timed out; shed until intake takes one
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

// pop takes the oldest fault, and tells a waiting push there is room.
func (h *handoff) pop() (json.RawMessage, bool) {
	h.mu.Lock()
	if len(h.q) == 0 {
		h.mu.Unlock()
		return nil, false
	}
	d := h.q[0]
	h.q[0] = nil
	h.q = h.q[1:]
	h.bytes -= len(d)
	if len(h.q) == 0 {
		h.q = nil // give the memory of a burst back
	}
	h.stalled = false
	h.mu.Unlock()
	select {
	case h.room <- struct{}{}:
	default:
	}
	return d, true
}

// drain hands each queued fault to handle, oldest first, until the queue
// is empty.
func (h *handoff) drain(handle func(json.RawMessage)) {
	for d, ok := h.pop(); ok; d, ok = h.pop() {
		handle(d)
	}
}
