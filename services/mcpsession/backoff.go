package mcpsession

import (
	"math/rand/v2"
	"time"
)

// Backoff is exponential backoff with jitter: the base delay starts at
// Initial, doubles after every failure up to Max, and each returned delay is
// the base scaled by a random factor in [1-Jitter, 1+Jitter]. Jitter spreads
// the reconnections of a fleet whose servers all restarted at once.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	// Jitter is the relative spread, 0.25 for ±25 %.
	Jitter float64
	// Float64 returns a number in [0, 1); injectable for tests.
	Float64 func() float64

	base time.Duration
}

// NewBackoff returns the seed's backoff: ±25 % jitter around a base that
// doubles from initial to max.
func NewBackoff(initial, max time.Duration, float64Source func() float64) *Backoff {
	if float64Source == nil {
		float64Source = rand.Float64
	}
	return &Backoff{Initial: initial, Max: max, Jitter: 0.25, Float64: float64Source}
}

// Next returns the delay before the next attempt and doubles the base. The
// delay never exceeds Max: where jitter would carry it past the cap it is
// spread below the cap instead, so a fleet at the cap still does not
// reconnect in step.
func (b *Backoff) Next() time.Duration {
	if b.base == 0 {
		b.base = b.Initial
	}
	base := b.base
	if b.base < b.Max {
		b.base *= 2
		if b.base > b.Max {
			b.base = b.Max
		}
	}
	factor := 1 + b.Jitter*(2*b.Float64()-1)
	d := time.Duration(float64(base) * factor)
	if d > b.Max {
		d = time.Duration(float64(b.Max) * (1 - b.Jitter*b.Float64()))
	}
	return d
}

// Reset starts again from Initial, after a successful connection.
func (b *Backoff) Reset() { b.base = 0 }
