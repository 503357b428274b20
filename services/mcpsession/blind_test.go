package mcpsession

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
)

// Blind time grows from start until the first subscribe and during every
// outage, and stops while the cluster is subscribed; each reconnect logs
// the window that may have been missed.
func TestBlindTimeIsCountedWhileDisconnected(t *testing.T) {
	start := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	clock := fakeclock.New(start)
	ticks := make(chan time.Time)
	// tick makes the accounting run at the fake time; the second send
	// returns only once the first tick has been handled.
	tick := func() {
		ticks <- clock.Now()
		ticks <- clock.Now()
	}
	src := faultsource.New("")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := src.Addr()
	src.Stop() // down from the start
	h := startSet(t, []config.Cluster{{Name: "prod", Endpoint: "http://" + addr + "/mcp", Transport: config.TransportStreamable, Triage: true}},
		func(o *Options) { o.Now, o.BlindTicks = clock.Now, ticks })
	blind := func() float64 { return testutil.ToFloat64(h.m.SSEDisconnectedSeconds.WithLabelValues("prod")) }

	waitFor(t, "a failed connect", func() bool { return strings.Contains(h.logs.String(), "SSE connection failed") })
	clock.Advance(30 * time.Second)
	tick()
	if got := blind(); got != 30 {
		t.Fatalf("blind seconds before the first subscribe = %v, want 30", got)
	}
	if w := h.set.BlindWindows(); len(w) != 1 || w[0] != "cluster prod blind since 2026-11-27T01:00:00Z (30s)" {
		t.Errorf("open window %q", w)
	}

	if err := src.Start(addr); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	waitFor(t, "subscribed", func() bool { return h.set.Connected("prod") })
	clock.Advance(60 * time.Second)
	tick()
	if got := blind(); got != 30 {
		t.Fatalf("blind seconds grew to %v while subscribed, want 30", got)
	}
	if w := h.set.BlindWindows(); len(w) != 0 {
		t.Errorf("open window %q while subscribed", w)
	}

	src.Stop()
	waitFor(t, "the outage seen", func() bool { return !h.set.Connected("prod") })
	clock.Advance(15 * time.Second)
	tick()
	if got := blind(); got != 45 {
		t.Fatalf("blind seconds after a 15 s outage = %v, want 45", got)
	}
	if err := src.Start(addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscribed again", func() bool { return h.set.Connected("prod") })
	clock.Advance(time.Hour)
	tick()
	if got := blind(); got != 45 {
		t.Errorf("blind seconds grew to %v after the reconnect, want 45", got)
	}
	logs := h.logs.String()
	for _, want := range []string{
		`"msg":"Faults in this window may have been missed: the cluster had no live subscription"`,
		`"missed_from":"2026-11-27T01:01:30Z","missed_to":"2026-11-27T01:01:45Z","missed_duration":"15s"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("reconnect log lacks %s", want)
		}
	}
	if n := strings.Count(logs, "may have been missed"); n != 1 {
		t.Errorf("%d missed-window lines, want 1 (the first subscribe is not a reconnect)", n)
	}
}
