package journal

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

func open(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HistoryMaxEntries == 0 {
		o.HistoryMaxEntries = 100
	}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func entry(cluster, id string, at time.Time) queue.Item {
	return queue.Item{Cluster: cluster, EnqueuedAt: at, Event: fault.Event{FaultID: id, FaultType: fault.TypeCrashLoop, Severity: "critical"}}
}

func TestQueueSurvivesReopenInOrder(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	base := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	var seqs []uint64
	for i, id := range []string{"a", "b", "c", "d"} {
		seq, err := s.Enqueue(entry("prod", id, base.Add(time.Duration(i)*time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if err := s.Remove("prod", seqs[1]); err != nil { // b expired
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir, Options{})
	defer s.Close()
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range st.Queued["prod"] {
		ids = append(ids, e.Event.FaultID)
	}
	if strings.Join(ids, ",") != "a,c,d" {
		t.Fatalf("restored %v, want a,c,d", ids)
	}
	if got := st.Queued["prod"][0].EnqueuedAt; !got.Equal(base) {
		t.Fatalf("EnqueuedAt %v, want %v", got, base)
	}
	if len(st.Dedup["prod"]) != 4 {
		t.Fatalf("dedup marks %v", st.Dedup["prod"])
	}
}

func TestInFlightRequeuesInItsOriginalPlace(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	now := time.Now()
	first := entry("prod", "first", now)
	first.Seq, _ = s.Enqueue(first)
	second := entry("prod", "second", now)
	second.Seq, _ = s.Enqueue(second)
	first.Attempts = 1
	if err := s.Start(InFlight{IncidentID: "inc-1", Item: first, StartedAt: now}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Load()
	if len(st.Queued["prod"]) != 1 || len(st.InFlight) != 1 {
		t.Fatalf("after start: %d queued, %d in flight", len(st.Queued["prod"]), len(st.InFlight))
	}
	if _, err := s.Requeue(st.InFlight[0]); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Load()
	if len(st.InFlight) != 0 || len(st.Queued["prod"]) != 2 || st.Queued["prod"][0].Event.FaultID != "first" || st.Queued["prod"][0].Attempts != 1 {
		t.Fatalf("after requeue: %+v", st)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	s := open(t, t.TempDir(), Options{HistoryMaxEntries: 3, HistoryMaxAge: time.Hour})
	defer s.Close()
	now := time.Now()
	for i := range 5 {
		if err := s.Finish(incident.Record{IncidentID: "n" + string(rune('0'+i)), Status: "success", EndedAt: now.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := s.History(0)
	if len(h) != 3 || h[0].IncidentID != "n4" || h[2].IncidentID != "n2" {
		t.Fatalf("history %+v, want the newest three, newest first", h)
	}
	// A record two hours newer pushes everything older than an hour out.
	if err := s.Finish(incident.Record{IncidentID: "late", Status: "success", EndedAt: now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h, _ = s.History(0)
	if len(h) != 1 || h[0].IncidentID != "late" {
		t.Fatalf("history %+v, want only the recent record", h)
	}
}

func TestCorruptFilesAreQuarantined(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 4096), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated", func(t *testing.T, path string) {
			s := open(t, filepath.Dir(path), Options{})
			for i := range 200 {
				_, _ = s.Enqueue(entry("prod", "f"+strings.Repeat("x", i%50), time.Now()))
			}
			s.Close()
			st, _ := os.Stat(path)
			if err := os.Truncate(path, st.Size()/3); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			tc.corrupt(t, path)
			var logs bytes.Buffer
			corruptions := 0
			s, err := Open(dir, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), OnCorrupt: func() { corruptions++ }, HistoryMaxEntries: 10})
			if tc.name == "empty" && err == nil && corruptions == 0 {
				// An empty file is a fresh store to bbolt; nothing to quarantine.
				s.Close()
				return
			}
			if err != nil {
				t.Fatalf("Open did not recover: %v", err)
			}
			defer s.Close()
			if corruptions != 1 {
				t.Fatalf("OnCorrupt called %d times", corruptions)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("corrupt file not moved aside: %v", aside)
			}
			if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), path) {
				t.Errorf("no ERROR naming %s: %s", path, logs.String())
			}
			if _, err := s.Enqueue(entry("prod", "after", time.Now())); err != nil {
				t.Fatalf("fresh store unusable: %v", err)
			}
		})
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	defer s.Close()
	if _, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if _, err := ReadHistory(dir, 10); !errors.Is(err, ErrLocked) {
		t.Fatalf("ReadHistory while open: %v, want ErrLocked", err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "*.corrupt-*")); len(aside) != 0 {
		t.Fatalf("a locked store was quarantined: %v", aside)
	}
}

func TestStateDirIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := open(t, dir, Options{})
	defer s.Close()
	for _, p := range []string{dir, filepath.Join(dir, FileName)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if st.IsDir() {
			want = 0o700
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
}

func TestPruneDedup(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	now := time.Now()
	_, _ = s.Enqueue(entry("prod", "old", now.Add(-time.Hour)))
	_, _ = s.Enqueue(entry("prod", "new", now))
	if err := s.PruneDedup(15*time.Minute, now); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Load()
	if _, ok := st.Dedup["prod"]["old"]; ok || len(st.Dedup["prod"]) != 1 {
		t.Fatalf("dedup after prune %v", st.Dedup["prod"])
	}
}

func TestDedupMarksArePrunedWhileRunning(t *testing.T) {
	s := open(t, t.TempDir(), Options{DedupWindow: time.Minute})
	defer s.Close()
	start := time.Now()
	for i := range pruneEvery {
		// All but the last are two minutes older than the last.
		at := start
		if i == pruneEvery-1 {
			at = start.Add(2 * time.Minute)
		}
		if _, err := s.Enqueue(entry("prod", "f"+strconv.Itoa(i), at)); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := s.Load()
	if n := len(st.Dedup["prod"]); n != 1 {
		t.Fatalf("%d dedup marks after %d enqueues, want only the fresh one", n, pruneEvery)
	}
}
