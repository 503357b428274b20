package mcpsession

import (
	"context"
	"sync"
	"time"
)

// DefaultConnectConcurrency bounds the handshakes a set runs at once when
// Options leave ConnectConcurrency 0. Each handshake holds its event
// stream and a request connection at once; ten thousand clusters
// connecting together after a start needed more than two file
// descriptors each and ran into the open file limit.
const DefaultConnectConcurrency = 256

// connectHold is how long one handshake keeps its slot at most: a server
// that answers slowly (a blackholed address waits out the dial timeout)
// must not hold back the clusters behind it, so a slow handshake goes on
// without its slot.
const connectHold = time.Second

// connectGate bounds the handshakes running at once across a set.
type connectGate struct {
	slots chan struct{} // nil: no bound
}

func newConnectGate(n int) *connectGate {
	if n < 0 {
		return &connectGate{}
	}
	if n == 0 {
		n = DefaultConnectConcurrency
	}
	return &connectGate{slots: make(chan struct{}, n)}
}

// enter waits for a slot and returns the function that gives it back,
// which the slot's own timer also calls after connectHold; it is safe to
// call more than once.
func (g *connectGate) enter(ctx context.Context) (leave func(), err error) {
	if g == nil || g.slots == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	release := func() { once.Do(func() { <-g.slots }) }
	t := time.AfterFunc(connectHold, release)
	return func() {
		t.Stop()
		release()
	}, nil
}
