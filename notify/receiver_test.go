package notify

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
)

func TestReceiverVerifiesAndDedupes(t *testing.T) {
	c := fakeclock.New(t0)
	var handled []string
	fail := true
	rc := &Receiver{Key: []byte("k"), Now: c.Now, Handle: func(n Notification) error {
		if fail {
			fail = false
			return errors.New("database down")
		}
		handled = append(handled, n.IdempotencyKey)
		return nil
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	wh, err := NewWebhook(WebhookOptions{Name: "demo", URL: NewSecret(srv.URL), SigningKey: NewSecret("k"), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	n := NewIncident(sampleIncident(), DocOptions{})
	if r := Deliver(context.Background(), wh, n); r.Outcome != Retryable || r.StatusCode != 500 {
		t.Fatalf("handler failure: %v %d", r.Outcome, r.StatusCode)
	}
	for range 3 {
		if r := Deliver(context.Background(), wh, n); r.Outcome != Delivered {
			t.Fatalf("delivery: %v %v", r.Outcome, r.Err)
		}
	}
	if len(handled) != 1 || handled[0] != n.IdempotencyKey {
		t.Fatalf("handled %v, want the key once", handled)
	}

	unsigned, _ := NewWebhook(WebhookOptions{Name: "demo", URL: NewSecret(srv.URL), Now: c.Now})
	if r := Deliver(context.Background(), unsigned, n); r.Outcome != Permanent || r.StatusCode != 401 {
		t.Fatalf("unsigned: %v %d", r.Outcome, r.StatusCode)
	}
	stale, _ := NewWebhook(WebhookOptions{Name: "demo", URL: NewSecret(srv.URL), SigningKey: NewSecret("k"), Now: func() time.Time { return t0.Add(-time.Hour) }})
	if r := Deliver(context.Background(), stale, n); r.Outcome != Permanent || r.StatusCode != 403 {
		t.Fatalf("stale: %v %d", r.Outcome, r.StatusCode)
	}
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(bytes.Repeat([]byte("x"), MaxDocumentBytes+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", resp.StatusCode)
	}
}

func TestReceiverForgetsOldestKeys(t *testing.T) {
	rc := &Receiver{Remember: 2}
	for _, k := range []string{"a", "b", "c"} {
		rc.remember(k)
	}
	if _, ok := rc.seen["a"]; ok || len(rc.seen) != 2 {
		t.Fatalf("seen %v", rc.seen)
	}
}
