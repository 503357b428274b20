package journal

import (
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestPruneDedupReadsOnlyWhatItRemoves: a prune walks the time index from
// the oldest mark and stops inside the window, a mark set again keeps its
// newer time, and each prune is bounded.
func TestPruneDedupReadsOnlyWhatItRemoves(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	now := time.Now()
	for i := range pruneBatch + 10 {
		if _, err := s.Enqueue(entry("prod", "old"+strconv.Itoa(i), now.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	// Seen again, recently: the old index key must not remove it.
	if _, err := s.Enqueue(entry("prod", "old0", now)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(entry("dev", "fresh", now)); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneDedup(15*time.Minute, now); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Load()
	// One prune removes at most pruneBatch index keys: 10 old marks (and
	// the renewed one) remain for the next.
	if n := len(st.Dedup["prod"]); n != 11 {
		t.Fatalf("%d marks after one prune, want 11", n)
	}
	if err := s.PruneDedup(15*time.Minute, now); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Load()
	if len(st.Dedup["prod"]) != 1 || st.Dedup["prod"]["old0"].IsZero() || len(st.Dedup["dev"]) != 1 {
		t.Fatalf("after two prunes: %v", st.Dedup)
	}
	if n := indexLen(t, s); n != 2 {
		t.Errorf("time index holds %d keys, want the 2 live marks", n)
	}
}

// TestPruneAllDedupRebuildsTheIndex: a store whose marks have no index
// keys (written before the index) is pruned in full at start, and its
// remaining marks are indexed so later prunes find them.
func TestPruneAllDedupRebuildsTheIndex(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	now := time.Now()
	for i, at := range []time.Time{now.Add(-time.Hour), now.Add(-time.Minute)} {
		if _, err := s.Enqueue(entry("prod", "f"+strconv.Itoa(i), at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { // as an older release left it
		if err := tx.DeleteBucket(bucketDedupTime); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketDedupTime)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneAllDedup(15*time.Minute, now); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Load()
	if len(st.Dedup["prod"]) != 1 || indexLen(t, s) != 1 {
		t.Fatalf("marks %v, index %d: want f1 alone, indexed", st.Dedup["prod"], indexLen(t, s))
	}
	if err := s.PruneDedup(time.Second, now); err != nil {
		t.Fatal(err)
	}
	if st, _ = s.Load(); len(st.Dedup["prod"]) != 0 {
		t.Fatalf("the rebuilt index did not let a later prune find %v", st.Dedup["prod"])
	}
}

func indexLen(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDedupTime).ForEach(func(_, _ []byte) error { n++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
