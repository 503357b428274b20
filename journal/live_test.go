package journal_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
)

// A cluster's live mark survives a reopen, a later mark replaces an
// earlier one, and a store without marks knows no window.
func TestLiveMarksSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	open := func() *journal.Store {
		s, err := journal.Open(dir, journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 10})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	if got, err := s.Live().Load(); err != nil || len(got) != 0 {
		t.Fatalf("fresh store: %v %v", got, err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := s.Live().Mark(map[string]time.Time{"a": t0, "b": t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.Live().Mark(map[string]time.Time{"a": t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	got, err := s.Live().Load()
	if err != nil {
		t.Fatal(err)
	}
	if !got["a"].Equal(t0.Add(time.Minute)) || !got["b"].Equal(t0) || len(got) != 2 {
		t.Errorf("marks after reopen %v", got)
	}
}
