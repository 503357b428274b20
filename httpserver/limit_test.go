package httpserver

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// No more than n requests run at once; those that find no room in time
// are refused with 503 and Retry-After, and the handler never sees them.
func TestLimitBoundsConcurrentRequests(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	h := Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
	}), 3, 10*time.Millisecond)
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	var refused atomic.Int32
	for range 20 {
		wg.Go(func() {
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
				refused.Add(1)
			}
		})
	}
	// The three admitted requests hold their slots until the others have
	// been refused.
	deadline := time.Now().Add(30 * time.Second)
	for refused.Load() < 17 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 3 {
		t.Errorf("peak of %d requests at once, want the limit 3", p)
	}
	if r := refused.Load(); r != 17 {
		t.Errorf("%d refused, want 17", r)
	}
}
