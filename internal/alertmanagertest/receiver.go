package alertmanagertest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Notification is one request a Receiver got.
type Notification struct {
	Header http.Header
	Body   []byte
}

// Receiver is a webhook endpoint on a loopback port that records every
// request and answers each with the status Status returns (200 when nil).
type Receiver struct {
	// URL is where Alertmanager should post.
	URL string
	// Status, when set, chooses the answer to each request.
	Status func(n Notification) int

	srv  *httptest.Server
	mu   sync.Mutex
	got  []Notification
	wake chan struct{}
}

// NewReceiver starts a Receiver; Close stops it.
func NewReceiver() *Receiver {
	r := &Receiver{wake: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/alertmanager"
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := Notification{Header: req.Header.Clone(), Body: body}
	code := http.StatusOK
	if r.Status != nil {
		code = r.Status(n)
	}
	r.mu.Lock()
	r.got = append(r.got, n)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	w.WriteHeader(code)
}

// Next waits for the notification after the first n already received and
// returns it, or ctx's error.
func (r *Receiver) Next(ctx context.Context, n int) (Notification, error) {
	for {
		r.mu.Lock()
		if len(r.got) > n {
			got := r.got[n]
			r.mu.Unlock()
			return got, nil
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return Notification{}, ctx.Err()
		case <-r.wake:
		}
	}
}

// Received returns every notification so far.
func (r *Receiver) Received() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.got...)
}

// Close stops the server.
func (r *Receiver) Close() { r.srv.Close() }
