package notify

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// Receiver is a webhook receiver: it verifies each delivery's signature
// and age, drops redeliveries of a key it has seen, and hands each
// notification once to Handle. The demo uses it to show deliveries, and it
// is the reference for receivers written elsewhere.
type Receiver struct {
	// Key is the signing key; empty accepts unsigned deliveries.
	Key []byte
	// Tolerance bounds the timestamp's age; 0 means DefaultTolerance.
	Tolerance time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Handle is called once per idempotency key. An error answers 500, so
	// the runner retries.
	Handle func(Notification) error
	// Remember bounds the keys kept for dedup; default 10000.
	Remember int

	mu    sync.Mutex
	seen  map[string]struct{}
	order []string
}

// MaxDocumentBytes bounds what a Receiver reads of a request.
const MaxDocumentBytes = 1 << 20

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxDocumentBytes))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	now := time.Now
	if rc.Now != nil {
		now = rc.Now
	}
	if len(rc.Key) > 0 {
		if err := Verify(rc.Key, r.Header, body, now(), rc.Tolerance); err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, ErrStale) {
				status = http.StatusForbidden
			}
			http.Error(w, err.Error(), status)
			return
		}
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil || n.IdempotencyKey == "" {
		http.Error(w, "not a notification document", http.StatusBadRequest)
		return
	}
	if n.SchemaVersion != SchemaVersion {
		http.Error(w, "unsupported schemaVersion", http.StatusBadRequest)
		return
	}
	// Handling is serialised so two concurrent deliveries of one key
	// cannot both be handled.
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if _, dup := rc.seen[n.IdempotencyKey]; dup {
		w.WriteHeader(http.StatusOK)
		return
	}
	if rc.Handle != nil {
		if err := rc.Handle(n); err != nil {
			http.Error(w, "could not handle the notification", http.StatusInternalServerError)
			return
		}
	}
	rc.remember(n.IdempotencyKey)
	w.WriteHeader(http.StatusNoContent)
}

// remember adds a key to the dedup memory; rc.mu is held.
func (rc *Receiver) remember(key string) {
	if rc.seen == nil {
		rc.seen = map[string]struct{}{}
	}
	if _, ok := rc.seen[key]; ok {
		return
	}
	limit := rc.Remember
	if limit <= 0 {
		limit = 10000
	}
	rc.seen[key] = struct{}{}
	rc.order = append(rc.order, key)
	for len(rc.order) > limit {
		delete(rc.seen, rc.order[0])
		rc.order = rc.order[1:]
	}
}
