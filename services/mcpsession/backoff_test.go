package mcpsession

import (
	"testing"
	"time"
)

func TestBackoffDoublesAndCaps(t *testing.T) {
	mid := func() float64 { return 0.5 } // factor exactly 1
	b := NewBackoff(time.Second, 60*time.Second, mid)
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if got := b.Next(); got != w*time.Second {
			t.Fatalf("attempt %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
	b.Reset()
	if got := b.Next(); got != time.Second {
		t.Fatalf("after Reset: %v, want 1s", got)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	low := NewBackoff(time.Second, 60*time.Second, func() float64 { return 0 })
	high := NewBackoff(time.Second, 60*time.Second, func() float64 { return 0.999999 })
	for i := range 10 {
		base := time.Second << i
		if base > 60*time.Second {
			base = 60 * time.Second
		}
		l, h := low.Next(), high.Next()
		if l != time.Duration(float64(base)*0.75) {
			t.Errorf("attempt %d low %v, want %v", i+1, l, time.Duration(float64(base)*0.75))
		}
		wantHigh := time.Duration(float64(base) * 1.25)
		if wantHigh > 60*time.Second {
			// Past the cap the jitter spreads below it instead.
			if h > 60*time.Second || h < 45*time.Second {
				t.Errorf("attempt %d high %v, want within [45s, 60s]", i+1, h)
			}
			continue
		}
		if h > wantHigh || h < wantHigh-time.Millisecond {
			t.Errorf("attempt %d high %v, want just under %v", i+1, h, wantHigh)
		}
	}
}

func TestBackoffJitterSpreads(t *testing.T) {
	// With the real source, 1000 first delays spread over ±25 % of 1 s.
	var min, max time.Duration = time.Hour, 0
	for range 1000 {
		d := NewBackoff(time.Second, time.Minute, nil).Next()
		if d < 750*time.Millisecond || d > 1250*time.Millisecond {
			t.Fatalf("delay %v outside ±25 %%", d)
		}
		min, max = minDur(min, d), maxDur(max, d)
	}
	if max-min < 400*time.Millisecond {
		t.Fatalf("delays span only %v: jitter is not spreading reconnections", max-min)
	}
}

func TestBackoffNeverExceedsTheCap(t *testing.T) {
	b := NewBackoff(time.Second, 60*time.Second, nil)
	var max time.Duration
	for range 10000 {
		d := b.Next()
		if d > 60*time.Second {
			t.Fatalf("delay %v exceeds the 60s cap", d)
		}
		max = maxDur(max, d)
	}
	if max < 50*time.Second {
		t.Fatalf("longest delay %v: the cap is never approached", max)
	}
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}
