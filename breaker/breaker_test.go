package breaker

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestLifecycle(t *testing.T) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "state"})
	b := New(3, 50*time.Millisecond, gauge, slog.New(slog.DiscardHandler))
	defer b.Stop()
	for range 2 {
		b.Record(false, false)
	}
	b.Record(true, false) // a success resets the count
	for range 2 {
		b.Record(false, false)
	}
	if b.State() != Closed {
		t.Fatal("opened before three consecutive failures")
	}
	b.Record(false, false)
	if b.State() != Open || !b.IsOpen() || testutil.ToFloat64(gauge) != 1 {
		t.Fatalf("state %v gauge %v, want open/1", b.State(), testutil.ToFloat64(gauge))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	if _, err := b.Acquire(ctx); err == nil {
		t.Fatal("Acquire succeeded while open")
	}
	cancel()

	// After the cooldown, exactly one probe.
	probe, err := b.Acquire(context.Background())
	if err != nil || !probe || b.State() != HalfOpen || testutil.ToFloat64(gauge) != 0.5 {
		t.Fatalf("probe %v err %v state %v", probe, err, b.State())
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	if _, err := b.Acquire(ctx); err == nil {
		t.Fatal("second launch admitted while the probe runs")
	}
	cancel()
	b.Record(false, true)
	if b.State() != Open {
		t.Fatalf("failed probe: state %v, want open", b.State())
	}
	probe, _ = b.Acquire(context.Background())
	b.Record(true, probe)
	if b.State() != Closed || testutil.ToFloat64(gauge) != 0 {
		t.Fatalf("successful probe: state %v", b.State())
	}
	if probe, err := b.Acquire(context.Background()); err != nil || probe {
		t.Fatal("closed breaker should admit without probing")
	}
}

func TestCancelReturnsProbe(t *testing.T) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "state"})
	b := New(1, 10*time.Millisecond, gauge, slog.New(slog.DiscardHandler))
	defer b.Stop()
	b.Record(false, false)
	probe, _ := b.Acquire(context.Background())
	b.Cancel(probe)
	again, err := b.Acquire(context.Background())
	if err != nil || !again {
		t.Fatal("cancelled probe permit not returned")
	}
}

// Every change of state is reported once, in order, with its reason; a
// watcher that does not read loses changes past the buffer, and the
// breaker does not block.
func TestTransitionsReportEveryChange(t *testing.T) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "state"})
	b := New(1, time.Hour, gauge, slog.New(slog.DiscardHandler))
	defer b.Stop()
	b.Record(false, false) // closed → open
	b.mu.Lock()
	b.transition(HalfOpen, "cooldown elapsed")
	b.mu.Unlock()
	b.Record(true, true) // half-open → closed
	want := []struct{ from, to State }{{Closed, Open}, {Open, HalfOpen}, {HalfOpen, Closed}}
	for i, w := range want {
		select {
		case tr := <-b.Transitions():
			if tr.From != w.from || tr.To != w.to || tr.Reason == "" || tr.At.IsZero() {
				t.Errorf("transition %d: %+v, want %v → %v with a reason and a time", i, tr, w.from, w.to)
			}
		default:
			t.Fatalf("transition %d (%v → %v) not reported", i, w.from, w.to)
		}
	}
	select {
	case tr := <-b.Transitions():
		t.Fatalf("unexpected transition %+v", tr)
	default:
	}
	for range 3 * transitionBuffer { // nobody reads: must not block
		b.Record(false, false)
		b.mu.Lock()
		b.transition(Closed, "test")
		b.mu.Unlock()
	}
	if n := len(b.Transitions()); n != transitionBuffer {
		t.Errorf("%d transitions buffered, want the buffer full at %d", n, transitionBuffer)
	}
}
