package mcpsession

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
)

// TestConnectGateBoundsHandshakes: no more handshakes than slots hold one
// at once; a slot given back lets the next in; a slot its holder never
// gives back returns by itself, so a slow server cannot hold the others.
func TestConnectGateBoundsHandshakes(t *testing.T) {
	g := newConnectGate(2)
	ctx := context.Background()
	leave1, err := g.enter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.enter(ctx); err != nil {
		t.Fatal(err)
	}
	full, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.enter(full); err == nil {
		t.Fatal("a third handshake entered a gate of two")
	}
	leave1()
	leave1() // twice is harmless
	leave3, err := g.enter(ctx)
	if err != nil {
		t.Fatalf("a slot given back did not let the next in: %v", err)
	}
	defer leave3()
	// Both slots are held; the second holder never leaves.
	patient, cancel2 := context.WithTimeout(ctx, time.Minute)
	defer cancel2()
	if _, err := g.enter(patient); err != nil {
		t.Fatalf("a held slot never came back by itself: %v", err)
	}
	if len(g.slots) != 2 {
		t.Fatalf("%d slots taken, want 2", len(g.slots))
	}
}

func TestConnectGateUnbounded(t *testing.T) {
	g := newConnectGate(-1)
	for range 1000 {
		if _, err := g.enter(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestShutdownClosesSessionsThroughTheGate: a shutdown closes every session
// at once, and each close is a DELETE on a fresh connection; no more of
// them run together than the set has connect slots, and every session is
// still closed (none skipped for want of a slot).
func TestShutdownClosesSessionsThroughTheGate(t *testing.T) {
	src := faultsource.Started(t, "prod")
	target, err := url.Parse("http://" + src.Addr())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1 // the event stream
	var inFlight, most, deletes atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(100 * time.Millisecond) // long enough for the others to pile up
			deletes.Add(1)
			defer inFlight.Add(-1)
		}
		// Each cluster has a path of its own (so a session of its own);
		// the server has one.
		r.URL.Path = "/mcp"
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	const clusters, slots = 8, 2
	var cs []config.Cluster
	for i := range clusters {
		cs = append(cs, streamable(fmt.Sprintf("c%d", i), fmt.Sprintf("%s/c%d/mcp", front.URL, i)))
	}
	h := startSet(t, cs, func(o *Options) { o.ConnectConcurrency = slots })
	waitFor(t, "every cluster subscribed", func() bool { return src.Subscribers() == clusters })
	h.stop()
	if got := deletes.Load(); got != clusters {
		t.Errorf("%d sessions closed with a DELETE, want %d", got, clusters)
	}
	if got := most.Load(); got > slots {
		t.Errorf("%d DELETEs ran at once, want at most the %d connect slots", got, slots)
	}
}
