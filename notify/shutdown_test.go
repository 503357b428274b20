package notify

import (
	"context"
	"testing"
	"time"
)

// blockingSink holds every delivery until its context ends.
type blockingSink struct{ started chan struct{} }

func (b blockingSink) Name() string { return "slow" }
func (b blockingSink) Send(ctx context.Context, _ Notification) error {
	b.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// An attempt cut short by shutdown is not counted against the record: it
// stays pending with no attempt, so the next start delivers it in full.
func TestShutdownDuringAnAttemptLeavesTheRecordUntouched(t *testing.T) {
	n := NewIncident(sampleIncident(), DocOptions{})
	rec := NewRecords(n, []string{"slow"}, time.Now())[0]
	store := newMemStore(t, rec)
	sink := blockingSink{started: make(chan struct{}, 1)}
	attempts := 0
	p, err := NewPump(PumpOptions{Store: store, Sinks: map[string]Sink{"slow": sink}, Policy: DefaultPolicy(),
		OnAttempt: func(string, Result, OutboxRecord) { attempts++ }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	<-sink.started
	cancel()
	<-done
	got := store.get("slow", rec.Key)
	if got.State != StatePending || got.Attempts != 0 || got.LastError != "" || attempts != 0 {
		t.Fatalf("after shutdown mid-attempt: %+v (%d attempts reported)", got, attempts)
	}
}
