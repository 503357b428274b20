package sdnotify

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWatchdogPingsAtHalfTheInterval(t *testing.T) {
	var mu sync.Mutex
	var pings []time.Time
	w := NewWatchdog(200*time.Millisecond, func(s string) {
		if s != "WATCHDOG=1" {
			t.Errorf("notify %q", s)
		}
		mu.Lock()
		pings = append(pings, time.Now())
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 650*time.Millisecond)
	defer cancel()
	if err := w.Serve(ctx); err == nil {
		t.Fatal("Serve returned nil; suture would restart it")
	}
	mu.Lock()
	defer mu.Unlock()
	// One at start, then every 100 ms: about 7 in 650 ms. Fewer than 5
	// would let systemd's watchdog fire between pings.
	if len(pings) < 5 {
		t.Fatalf("%d watchdog pings in 650 ms at a 200 ms interval", len(pings))
	}
}
