package notify

import (
	"testing"
	"time"
)

func TestBreakerWatchNotifiesOncePerEpisode(t *testing.T) {
	w := NewBreakerWatch(DocOptions{})
	var got []string
	step := func(state string, at time.Duration) {
		if n, ok := w.Transition(state, t0.Add(at)); ok {
			got = append(got, n.Notice.Type)
			if state != "open" && !n.Notice.Since.Equal(t0.Add(time.Minute)) {
				t.Errorf("%s notice: since %v, want when it opened", state, n.Notice.Since)
			}
		}
	}
	step("closed", 0) // already closed: nothing
	step("open", time.Minute)
	step("half-open", 2*time.Minute)
	step("open", 3*time.Minute) // probe failed: still the same episode
	step("half-open", 4*time.Minute)
	step("closed", 5*time.Minute)
	step("open", 6*time.Minute) // a new episode
	want := []string{NoticeTriageDegraded, NoticeTriageProbing, NoticeTriageRecovered, NoticeTriageDegraded}
	if len(got) != len(want) {
		t.Fatalf("notices %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("notices %v, want %v", got, want)
		}
	}
}

func TestBlindWatch(t *testing.T) {
	w := NewBlindWatch(5*time.Minute, DocOptions{ExternalURL: "https://r.example"})
	w.Lost("prod-eu", t0)
	w.Lost("prod-eu", t0.Add(time.Minute)) // still lost since t0
	w.Lost("staging", t0.Add(3*time.Minute))
	if n := w.Due(t0.Add(4 * time.Minute)); len(n) != 0 {
		t.Fatalf("blind before the threshold: %+v", n)
	}
	due := w.Due(t0.Add(5 * time.Minute))
	if len(due) != 1 || due[0].Notice.Type != NoticeClusterBlind || due[0].Notice.Cluster != "prod-eu" || due[0].Notice.BlindSeconds != 300 {
		t.Fatalf("due at 5m: %+v", due)
	}
	if n := w.Due(t0.Add(6 * time.Minute)); len(n) != 0 {
		t.Fatalf("reported twice: %+v", n)
	}
	if _, ok := w.Seen("staging", t0.Add(7*time.Minute)); ok {
		t.Fatal("restored raised for a cluster never reported blind")
	}
	r, ok := w.Seen("prod-eu", t0.Add(10*time.Minute))
	if !ok || r.Notice.Type != NoticeClusterRestored || r.Notice.BlindSeconds != 600 || r.Notice.Links.Incident != "https://r.example/" {
		t.Fatalf("restored: %+v", r.Notice)
	}
	if n := w.Due(t0.Add(time.Hour)); len(n) != 0 {
		t.Fatalf("blind after restored: %+v", n)
	}
	if n := NewBlindWatch(0, DocOptions{}); len(n.Due(t0)) != 0 {
		t.Fatal("disabled watch raised")
	}
}
