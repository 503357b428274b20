package mcpsession

import (
	"context"
	"testing"
	"time"
)

// TestConnectGateBoundsHandshakes: no more handshakes than slots hold one
// at once; a slot given back lets the next in; a slot its holder never
// gives back returns by itself, so a slow server cannot hold the others.
func TestConnectGateBoundsHandshakes(t *testing.T) {
	g := newConnectGate(2)
	ctx := context.Background()
	leave1, err := g.enter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.enter(ctx); err != nil {
		t.Fatal(err)
	}
	full, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.enter(full); err == nil {
		t.Fatal("a third handshake entered a gate of two")
	}
	leave1()
	leave1() // twice is harmless
	leave3, err := g.enter(ctx)
	if err != nil {
		t.Fatalf("a slot given back did not let the next in: %v", err)
	}
	defer leave3()
	// Both slots are held; the second holder never leaves.
	patient, cancel2 := context.WithTimeout(ctx, time.Minute)
	defer cancel2()
	if _, err := g.enter(patient); err != nil {
		t.Fatalf("a held slot never came back by itself: %v", err)
	}
	if len(g.slots) != 2 {
		t.Fatalf("%d slots taken, want 2", len(g.slots))
	}
}

func TestConnectGateUnbounded(t *testing.T) {
	g := newConnectGate(-1)
	for range 1000 {
		if _, err := g.enter(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
