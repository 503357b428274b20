package httpserver

import (
	"net/http"
	"time"
)

// Limit serves at most n requests of h at once. A request that finds no
// room within wait is answered 503 with Retry-After, at once and without
// touching h: a crowd of readers of an expensive page costs a bounded
// amount of memory and CPU, and the probes and metrics on their own
// listeners stay fast.
func Limit(h http.Handler, n int, wait time.Duration) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			t := time.NewTimer(wait)
			select {
			case slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				w.Header().Set("Retry-After", "1")
				http.Error(w, "busy: too many requests at once, try again", http.StatusServiceUnavailable)
				return
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		defer func() { <-slots }()
		h.ServeHTTP(w, r)
	})
}
