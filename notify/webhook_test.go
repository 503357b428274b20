package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
)

// receiver is a webhook receiver as a user would write one: it verifies
// the signature and the timestamp at its own clock, and dedupes on the
// idempotency key.
type receiver struct {
	key   []byte
	clock *clock

	mu       sync.Mutex
	requests int
	rejected []error
	seen     map[string]Notification
	raw      [][]byte
	headers  []http.Header
}

func newReceiver(key string, c *clock) *receiver {
	return &receiver{key: []byte(key), clock: c, seen: map[string]Notification{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	rc.raw = append(rc.raw, body)
	rc.headers = append(rc.headers, r.Header.Clone())
	if err := Verify(rc.key, r.Header, body, rc.clock.Now(), time.Minute); err != nil {
		rc.rejected = append(rc.rejected, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.seen[n.IdempotencyKey] = n
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhookSignedDeliveryVerifiesAndRejectsReplay(t *testing.T) {
	c := fakeclock.New(t0)
	rc := newReceiver("s3cret-key", c)
	srv := httptest.NewServer(rc)
	defer srv.Close()

	wh, err := NewWebhook(WebhookOptions{Name: "audit", URL: NewSecret(srv.URL + "/hook?token=abc"), SigningKey: NewSecret("s3cret-key"), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	n := NewIncident(sampleIncident(), DocOptions{ExternalURL: "https://runner.example.com/"})
	if r := Deliver(context.Background(), wh, n); r.Outcome != Delivered {
		t.Fatalf("first delivery: %v %v", r.Outcome, r.Err)
	}
	got, ok := rc.seen[n.IdempotencyKey]
	if !ok {
		t.Fatalf("receiver did not accept the delivery: %v", rc.rejected)
	}
	if got.Incident.ID != n.Incident.ID || got.Incident.Links.Incident != "https://runner.example.com/incidents/a1b2c3d4e5f60718-mx1abc" {
		t.Fatalf("document received: %+v", got.Incident)
	}
	h := rc.headers[0]
	if h.Get(HeaderIdempotencyKey) != n.IdempotencyKey || h.Get(HeaderSchemaVersion) != "1" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers: %v", h)
	}

	// An attacker replays the captured request ten minutes later: stale.
	c.Set(t0.Add(10 * time.Minute))
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(rc.raw[0]))
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !errors.Is(rc.rejected[len(rc.rejected)-1], ErrStale) {
		t.Fatalf("replay: status %d, rejections %v", resp.StatusCode, rc.rejected)
	}

	// A fresh timestamp with the old signature, or a changed body: bad
	// signature.
	req, _ = http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(bytes.Replace(rc.raw[0], []byte("prod-eu"), []byte("prod-us"), 1)))
	req.Header = h.Clone()
	req.Header.Set(HeaderTimestamp, fmt.Sprint(c.Now().Unix()))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !errors.Is(rc.rejected[len(rc.rejected)-1], ErrBadSignature) {
		t.Fatalf("tampered: status %d, rejections %v", resp.StatusCode, rc.rejected)
	}

	// The runner retrying later signs afresh: accepted, same key, deduped.
	if r := Deliver(context.Background(), wh, n); r.Outcome != Delivered {
		t.Fatalf("retry: %v %v", r.Outcome, r.Err)
	}
	if len(rc.seen) != 1 {
		t.Fatalf("receiver holds %d notifications, want 1 after dedup", len(rc.seen))
	}
}

func TestWebhookWrongKeyIsPermanent(t *testing.T) {
	c := fakeclock.New(t0)
	srv := httptest.NewServer(newReceiver("receiver-key", c))
	defer srv.Close()
	wh, err := NewWebhook(WebhookOptions{Name: "audit", URL: NewSecret(srv.URL), SigningKey: NewSecret("other-key"), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := Deliver(context.Background(), wh, NewIncident(sampleIncident(), DocOptions{}))
	if r.Outcome != Permanent || r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %v %d %v, want permanent 401", r.Outcome, r.StatusCode, r.Err)
	}
}

func TestVerifyRejectsMissingAndMalformed(t *testing.T) {
	body := []byte(`{}`)
	good := http.Header{}
	good.Set(HeaderTimestamp, fmt.Sprint(t0.Unix()))
	good.Set(HeaderSignature, Sign([]byte("k"), t0.Unix(), body))
	if err := Verify([]byte("k"), good, body, t0, 0); err != nil {
		t.Fatalf("good signature: %v", err)
	}
	for name, mutate := range map[string]func(h http.Header){
		"no signature":  func(h http.Header) { h.Del(HeaderSignature) },
		"no timestamp":  func(h http.Header) { h.Del(HeaderTimestamp) },
		"bad timestamp": func(h http.Header) { h.Set(HeaderTimestamp, "soon") },
		"other scheme":  func(h http.Header) { h.Set(HeaderSignature, "v0=00") },
		"not hex":       func(h http.Header) { h.Set(HeaderSignature, "v1=zz") },
		"future":        func(h http.Header) { h.Set(HeaderTimestamp, fmt.Sprint(t0.Add(time.Hour).Unix())) },
	} {
		h := good.Clone()
		mutate(h)
		if err := Verify([]byte("k"), h, body, t0, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const url = "https://hooks.example.com/T000/B000/XXXXSECRETXXXX"
	s := NewSecret(url)
	wh, err := NewWebhook(WebhookOptions{Name: "audit", URL: s, SigningKey: NewSecret("KEYSECRET")})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := NewSlack(SlackOptions{Name: "oncall", WebhookURL: s})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("x", "secret", s, "webhook", wh, "slack", sl, "opts", WebhookOptions{URL: s})
	js, _ := json.Marshal(struct{ S Secret }{s})
	out := strings.Join([]string{
		logs.String(), string(js), s.String(), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s),
		fmt.Sprintf("%v %+v", WebhookOptions{URL: s, SigningKey: s}, SlackOptions{WebhookURL: s}),
		wh.String(), sl.String(),
	}, "\n")
	for _, leak := range []string{"XXXXSECRETXXXX", "KEYSECRET"} {
		if strings.Contains(out, leak) {
			t.Fatalf("secret %q printed:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, redacted) {
		t.Fatalf("expected %q in:\n%s", redacted, out)
	}
}

func TestUnreachableReceiverIsRetryableWithoutURLInError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/path?token=TOKENSECRET"
	srv.Close()
	wh, err := NewWebhook(WebhookOptions{Name: "audit", URL: NewSecret(url), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := Deliver(context.Background(), wh, NewIncident(sampleIncident(), DocOptions{}))
	if r.Outcome != Retryable || r.Err == nil {
		t.Fatalf("got %v %v, want retryable", r.Outcome, r.Err)
	}
	if strings.Contains(r.Err.Error(), "TOKENSECRET") {
		t.Fatalf("error leaks the URL: %v", r.Err)
	}
}

func TestWebhookTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	wh, err := NewWebhook(WebhookOptions{Name: "slow", URL: NewSecret(srv.URL), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := Deliver(context.Background(), wh, NewIncident(sampleIncident(), DocOptions{}))
	if r.Outcome != Retryable || r.StatusCode != 0 {
		t.Fatalf("hung receiver: %v %d %v, want retryable", r.Outcome, r.StatusCode, r.Err)
	}
}

func TestWebhookTLSOptions(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	n := NewIncident(sampleIncident(), DocOptions{})
	for name, tc := range map[string]struct {
		tls  TLSOptions
		want Outcome
	}{
		"system roots do not know the test CA": {TLSOptions{}, Retryable},
		"caFile trusts it":                     {TLSOptions{CAFile: ca}, Delivered},
		"insecureSkipVerify":                   {TLSOptions{InsecureSkipVerify: true}, Delivered},
	} {
		wh, err := NewWebhook(WebhookOptions{Name: "tls", URL: NewSecret(srv.URL), TLS: tc.tls})
		if err != nil {
			t.Fatal(err)
		}
		if r := Deliver(context.Background(), wh, n); r.Outcome != tc.want {
			t.Errorf("%s: %v %v, want %v", name, r.Outcome, r.Err, tc.want)
		}
	}
	if _, err := NewWebhook(WebhookOptions{Name: "tls", URL: NewSecret(srv.URL), TLS: TLSOptions{CAFile: "/nonexistent/ca.pem"}}); err == nil {
		t.Error("missing caFile accepted")
	}
}
