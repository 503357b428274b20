package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Outcome
		wait time.Duration
	}{
		{nil, Delivered, 0},
		{&StatusError{Code: 500}, Retryable, 0},
		{&StatusError{Code: 502}, Retryable, 0},
		{&StatusError{Code: 408}, Retryable, 0},
		{&StatusError{Code: 429}, Retryable, 0},
		{&StatusError{Code: 429, RetryAfter: 30 * time.Second}, RetryLater, 30 * time.Second},
		{&StatusError{Code: 503, RetryAfter: time.Minute}, RetryLater, time.Minute},
		{&StatusError{Code: 400}, Permanent, 0},
		{&StatusError{Code: 401}, Permanent, 0},
		{&StatusError{Code: 404}, Permanent, 0},
		{&StatusError{Code: 410}, Permanent, 0},
		{&StatusError{Code: 302}, Permanent, 0},
		{fmt.Errorf("wrapped: %w", &StatusError{Code: 403}), Permanent, 0},
		{fmt.Errorf("%w: bad document", ErrPermanent), Permanent, 0},
		{errors.New("connection refused"), Retryable, 0},
		{context.DeadlineExceeded, Retryable, 0},
	} {
		r := Classify(tc.err)
		if r.Outcome != tc.want || r.RetryAfter != tc.wait {
			t.Errorf("Classify(%v) = %v %v, want %v %v", tc.err, r.Outcome, r.RetryAfter, tc.want, tc.wait)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"":     0,
		"0":    0,
		"-3":   0,
		"12":   12 * time.Second,
		"soon": 0,
		t0.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		t0.Add(-time.Hour).Format(http.TimeFormat):       0,
		"99999999999999999999":                           0,
	} {
		if got := ParseRetryAfter(v, t0); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestBackoffGrowsWithinJitterAndCap(t *testing.T) {
	p := DefaultPolicy()
	for attempt, base := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 8: 10 * time.Minute, 50: 10 * time.Minute} {
		lo, hi := p.Backoff(attempt, 0), p.Backoff(attempt, 0.999999)
		if lo != time.Duration(float64(base)*0.8) || hi < time.Duration(float64(base)*1.19) || hi > time.Duration(float64(base)*1.2) {
			t.Errorf("attempt %d: backoff in [%v, %v], want ±20%% around %v", attempt, lo, hi, base)
		}
	}
}

func TestApplyStateMachine(t *testing.T) {
	p := Policy{InitialBackoff: time.Second, MaxBackoff: time.Minute, Multiplier: 2, MaxAttempts: 3, MaxAge: time.Hour, MaxRetryAfter: 10 * time.Minute}
	rec := NewRecords(Notification{IdempotencyKey: "k"}, []string{"s"}, t0)[0]

	r := p.Apply(rec, Result{Outcome: Retryable, Err: errors.New("boom")}, t0, 0.5)
	if r.State != StatePending || r.Attempts != 1 || !r.NextAttemptAt.Equal(t0.Add(time.Second)) || r.LastError != "boom" {
		t.Fatalf("after retryable: %+v", r)
	}
	r = p.Apply(r, Result{Outcome: RetryLater, RetryAfter: 3 * time.Hour}, t0, 0.5)
	if r.State != StatePending || !r.NextAttemptAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("Retry-After above the cap: next %v", r.NextAttemptAt)
	}
	r = p.Apply(r, Result{Outcome: Retryable}, t0, 0.5)
	if r.State != StateDead || r.DeadReason != DeadMaxAttempts || r.Attempts != 3 {
		t.Fatalf("after 3 attempts: %+v", r)
	}
	if again := p.Apply(r, Result{Outcome: Delivered}, t0, 0.5); again.State != StateDead || again.Attempts != 3 {
		t.Fatalf("a dead record changed: %+v", again)
	}

	r = p.Apply(rec, Result{Outcome: Permanent, StatusCode: 404}, t0, 0.5)
	if r.State != StateDead || r.DeadReason != DeadPermanent || r.LastStatus != 404 {
		t.Fatalf("permanent: %+v", r)
	}

	// Age: the last retry is scheduled at the deadline, not after it, and
	// a failure at the deadline dead-letters.
	p.MaxAttempts = 0
	r = p.Apply(rec, Result{Outcome: RetryLater, RetryAfter: 5 * time.Minute}, t0.Add(58*time.Minute), 0.5)
	if !r.NextAttemptAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("retry past the age limit scheduled at %v", r.NextAttemptAt)
	}
	r = p.Apply(r, Result{Outcome: Retryable}, t0.Add(time.Hour), 0.5)
	if r.State != StateDead || r.DeadReason != DeadMaxAge {
		t.Fatalf("at the age limit: %+v", r)
	}

	r = p.Apply(rec, Result{Outcome: Delivered}, t0.Add(time.Second), 0.5)
	if r.State != StateDelivered || !r.DeliveredAt.Equal(t0.Add(time.Second)) || !r.NextAttemptAt.IsZero() {
		t.Fatalf("delivered: %+v", r)
	}
}

// flaky answers 500 to its first fails requests, then 204, and counts the
// idempotency keys it accepted.
type flaky struct {
	fails    int32
	requests atomic.Int32
	mu       sync.Mutex
	accepted map[string]int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.requests.Add(1) <= f.fails {
		http.Error(w, "unavailable", http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	f.accepted[r.Header.Get(HeaderIdempotencyKey)]++
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// TestReceiverFailingFiveTimesIsRetriedPerPolicy drives the pump with a
// clock that jumps to each record's next attempt: the receiver fails five
// times, the delays follow the policy, and the sixth attempt delivers.
func TestReceiverFailingFiveTimesIsRetriedPerPolicy(t *testing.T) {
	f := &flaky{fails: 5, accepted: map[string]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := fakeclock.New(t0)
	wh, err := NewWebhook(WebhookOptions{Name: "audit", URL: NewSecret(srv.URL), SigningKey: NewSecret("k"), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	n := NewIncident(sampleIncident(), DocOptions{})
	store := newMemStore(t, NewRecords(n, []string{"audit"}, t0)...)
	policy := DefaultPolicy()
	p, err := NewPump(PumpOptions{Store: store, Sinks: map[string]Sink{"audit": wh}, Policy: policy, Now: c.Now, Rand: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		k, err := p.RunOnce(context.Background(), "audit", c.Now())
		if err != nil || k != 1 {
			t.Fatalf("pass %d: attempted %d, %v", i, k, err)
		}
		rec := store.get("audit", n.IdempotencyKey)
		if i < 6 {
			if rec.State != StatePending || rec.Attempts != i || rec.LastStatus != 500 {
				t.Fatalf("after failure %d: %+v", i, rec)
			}
			if want := c.Now().Add(policy.Backoff(i, 0.5)); !rec.NextAttemptAt.Equal(want) {
				t.Fatalf("after failure %d: next attempt %v, want %v", i, rec.NextAttemptAt, want)
			}
			// Nothing is due before then.
			if k, _ := p.RunOnce(context.Background(), "audit", rec.NextAttemptAt.Add(-time.Millisecond)); k != 0 {
				t.Fatalf("attempted early after failure %d", i)
			}
			c.Set(rec.NextAttemptAt)
			continue
		}
		if rec.State != StateDelivered || rec.Attempts != 6 {
			t.Fatalf("after the sixth attempt: %+v", rec)
		}
	}
	if got := f.requests.Load(); got != 6 {
		t.Fatalf("receiver saw %d requests, want 6", got)
	}
	if f.accepted[n.IdempotencyKey] != 1 || len(f.accepted) != 1 {
		t.Fatalf("accepted %v", f.accepted)
	}
	// Delivered is final: another pass sends nothing.
	c.Set(c.Now().Add(time.Hour))
	if k, _ := p.RunOnce(context.Background(), "audit", c.Now()); k != 0 {
		t.Fatalf("delivered record attempted again")
	}
}

// TestPermanentFailureDeadLettersWithoutHoldingOtherSink: one sink's
// receiver refuses for good (403), the other accepts; the refused record
// is dead on its first attempt and the other sink delivers everything.
func TestPermanentFailureDeadLettersWithoutHoldingOtherSink(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "action_prohibited", http.StatusForbidden)
	}))
	defer refusing.Close()
	good := &flaky{accepted: map[string]int{}}
	goodSrv := httptest.NewServer(good)
	defer goodSrv.Close()

	sl, err := NewSlack(SlackOptions{Name: "oncall", WebhookURL: NewSecret(refusing.URL)})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := NewWebhook(WebhookOptions{Name: "audit", URL: NewSecret(goodSrv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	router := Router{Routes: []Route{{Match: Match{Kinds: []string{KindIncident}}, Sinks: []string{"oncall", "audit"}}}}
	store := newMemStore(t)
	var keys []string
	for i := range 3 {
		in := sampleIncident()
		in.ID = fmt.Sprintf("inc-%d", i)
		n := NewIncident(in, DocOptions{})
		keys = append(keys, n.IdempotencyKey)
		for _, r := range NewRecords(n, router.Sinks(n), t0.Add(time.Duration(i)*time.Second)) {
			if err := store.Save(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	var dead, delivered atomic.Int32
	p, err := NewPump(PumpOptions{
		Store: store, Sinks: map[string]Sink{"oncall": sl, "audit": wh}, Policy: DefaultPolicy(),
		Now: func() time.Time { return t0.Add(time.Minute) },
		OnAttempt: func(_ string, _ Result, r OutboxRecord) {
			switch r.State {
			case StateDead:
				dead.Add(1)
			case StateDelivered:
				delivered.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"oncall", "audit"} {
		if _, err := p.RunOnce(context.Background(), sink, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		if r := store.get("oncall", k); r.State != StateDead || r.DeadReason != DeadPermanent || r.LastStatus != 403 || r.Attempts != 1 {
			t.Errorf("oncall %s: %+v", k, r)
		}
		if r := store.get("audit", k); r.State != StateDelivered {
			t.Errorf("audit %s: %+v", k, r)
		}
		if good.accepted[k] != 1 {
			t.Errorf("audit receiver got %s %d times", k, good.accepted[k])
		}
	}
	if dead.Load() != 3 || delivered.Load() != 3 {
		t.Fatalf("dead %d delivered %d", dead.Load(), delivered.Load())
	}
}

// TestServeDeliversOnKickAndStops runs the pump's loops for real: a record
// written after start is delivered once Kick is called, and Serve returns
// with every goroutine it started gone.
func TestServeDeliversOnKickAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(HeaderIdempotencyKey)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	wh, err := NewWebhook(WebhookOptions{Name: "audit", URL: NewSecret(srv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore(t)
	p, err := NewPump(PumpOptions{Store: store, Sinks: map[string]Sink{"audit": wh}, Policy: DefaultPolicy(), Idle: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()

	n := NewIncident(sampleIncident(), DocOptions{})
	for _, r := range NewRecords(n, []string{"audit"}, time.Now()) {
		if err := store.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	p.Kick()
	select {
	case k := <-got:
		if k != n.IdempotencyKey {
			t.Fatalf("key %q", k)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("not delivered after Kick")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve returned %v", err)
	}
	wh.client.CloseIdleConnections()
}

// crashingStore fails the save that follows a delivery, as a runner killed
// between the receiver's answer and the store's write would.
type crashingStore struct {
	*memStore
	crash bool
}

func (s *crashingStore) Save(r OutboxRecord) error {
	if s.crash {
		return errors.New("killed")
	}
	return s.memStore.Save(r)
}

// TestCrashAfterDeliveryRedeliversWithSameKey: the receiver fails five
// times, accepts the sixth attempt, and the runner dies before recording
// it. The next runner delivers the notification once more, with the same
// idempotency key, and the receiver's dedup keeps one copy.
func TestCrashAfterDeliveryRedeliversWithSameKey(t *testing.T) {
	f := &flaky{fails: 5, accepted: map[string]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := fakeclock.New(t0)
	newSink := func() Sink {
		wh, err := NewWebhook(WebhookOptions{Name: "audit", URL: NewSecret(srv.URL), Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		return wh
	}
	n := NewIncident(sampleIncident(), DocOptions{})
	store := &crashingStore{memStore: newMemStore(t, NewRecords(n, []string{"audit"}, t0)...)}
	p1, err := NewPump(PumpOptions{Store: store, Sinks: map[string]Sink{"audit": newSink()}, Policy: DefaultPolicy(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := p1.RunOnce(context.Background(), "audit", c.Now()); err != nil {
			t.Fatal(err)
		}
		c.Set(store.get("audit", n.IdempotencyKey).NextAttemptAt)
	}
	store.crash = true
	if _, err := p1.RunOnce(context.Background(), "audit", c.Now()); err == nil {
		t.Fatal("the save after delivery did not fail")
	}
	if f.accepted[n.IdempotencyKey] != 1 {
		t.Fatalf("receiver accepted %d times before the crash", f.accepted[n.IdempotencyKey])
	}

	// A new runner over the same store.
	store.crash = false
	if rec := store.get("audit", n.IdempotencyKey); rec.State != StatePending || rec.Attempts != 5 {
		t.Fatalf("after the crash: %+v", rec)
	}
	p2, err := NewPump(PumpOptions{Store: store, Sinks: map[string]Sink{"audit": newSink()}, Policy: DefaultPolicy(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := p2.RunOnce(context.Background(), "audit", c.Now()); err != nil || k != 1 {
		t.Fatalf("after restart: attempted %d, %v", k, err)
	}
	if rec := store.get("audit", n.IdempotencyKey); rec.State != StateDelivered {
		t.Fatalf("after restart: %+v", rec)
	}
	if got := f.requests.Load(); got != 7 {
		t.Fatalf("receiver saw %d requests, want 5 failures + 1 lost answer + 1 redelivery", got)
	}
	if f.accepted[n.IdempotencyKey] != 2 || len(f.accepted) != 1 {
		t.Fatalf("accepted %v: want the same key twice (deduped by the receiver to one)", f.accepted)
	}
}
