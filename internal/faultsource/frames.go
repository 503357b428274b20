package faultsource

import (
	"errors"
	"net/http"
	"sync"
)

// eventStreams tracks the open standalone GET event streams, so raw bytes
// can be written into them between the SDK's own events: frames the SDK
// would never write (oversized, not JSON, nested too deep).
type eventStreams struct {
	mu      sync.Mutex
	writers map[*streamWriter]bool
}

// streamWriter serialises the SDK's writes and injected frames on one
// response, so an injected frame lands between two whole events.
type streamWriter struct {
	http.ResponseWriter
	mu sync.Mutex
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ResponseWriter.Write(p)
}

func (w *streamWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (es *eventStreams) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		sw := &streamWriter{ResponseWriter: w}
		es.mu.Lock()
		if es.writers == nil {
			es.writers = make(map[*streamWriter]bool)
		}
		es.writers[sw] = true
		es.mu.Unlock()
		defer func() {
			es.mu.Lock()
			delete(es.writers, sw)
			es.mu.Unlock()
		}()
		next.ServeHTTP(sw, r)
	})
}

// EmitFrame writes frame as it is (it must end with a blank line to be one
// event) into every open event stream and returns how many took it.
func (s *Server) EmitFrame(frame []byte) (int, error) {
	s.streams.mu.Lock()
	writers := make([]*streamWriter, 0, len(s.streams.writers))
	for w := range s.streams.writers {
		writers = append(writers, w)
	}
	s.streams.mu.Unlock()
	if len(writers) == 0 {
		return 0, errors.New("faultsource: no open event stream")
	}
	n := 0
	for _, w := range writers {
		w.mu.Lock()
		_, err := w.ResponseWriter.Write(frame)
		if err == nil {
			err = http.NewResponseController(w.ResponseWriter).Flush()
		}
		w.mu.Unlock()
		if err == nil {
			n++
		}
	}
	return n, nil
}
