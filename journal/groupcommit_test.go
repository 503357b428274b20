package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// openWriter opens a bare bbolt file and its writer; the cleanup closes
// both.
func openWriter(t *testing.T, o writerOptions) (*bolt.DB, *writer) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "w.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(db, o)
	t.Cleanup(func() {
		w.close()
		db.Close()
	})
	return db, w
}

// hold submits an op that keeps the writer inside a transaction until
// the returned function is called, so that everything submitted in the
// meantime is pending when it commits.
func hold(t *testing.T, w *writer) (release func(), p *Pending) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	p = w.submit(func(*bolt.Tx) error {
		close(entered)
		<-gate
		return nil
	})
	<-entered
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release, p
}

// put writes key=value into bucket b.
func put(b, key, value string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(b))
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), []byte(value))
	}
}

// appendSeq appends value under the bucket's next sequence number, so
// the stored order is the order in which the ops were applied.
func appendSeq(b, value string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(b))
		if err != nil {
			return err
		}
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		return bk.Put(seqKey(seq), []byte(value))
	}
}

func values(t *testing.T, db *bolt.DB, b string) []string {
	t.Helper()
	var out []string
	err := db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(b))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(_, v []byte) error {
			out = append(out, string(v))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func get(t *testing.T, db *bolt.DB, b, key string) (string, bool) {
	t.Helper()
	var v []byte
	err := db.View(func(tx *bolt.Tx) error {
		if bk := tx.Bucket([]byte(b)); bk != nil {
			v = bk.Get([]byte(key))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(v), v != nil
}

// TestWriterCommitsWhatArrivedDuringACommitTogether: ops that arrive while
// a transaction runs all go into the next one, up to maxOps each.
func TestWriterCommitsWhatArrivedDuringACommitTogether(t *testing.T) {
	for _, tc := range []struct{ maxOps, ops, wantTxs int }{
		{maxOps: 1024, ops: 100, wantTxs: 1},
		{maxOps: 10, ops: 100, wantTxs: 10},
	} {
		t.Run(fmt.Sprintf("maxOps=%d", tc.maxOps), func(t *testing.T) {
			db, w := openWriter(t, writerOptions{maxOps: tc.maxOps, maxTxTime: time.Hour})
			release, first := hold(t, w)
			var ps []*Pending
			for i := range tc.ops {
				ps = append(ps, w.submit(appendSeq("b", strconv.Itoa(i))))
			}
			// Counted while the held op's transaction cannot commit, so
			// the count below is that transaction plus the ops' own.
			before := w.txs.Load()
			release()
			if err := first.Wait(); err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if err := p.Wait(); err != nil {
					t.Fatal(err)
				}
			}
			if got := int(w.txs.Load()-before) - 1; got != tc.wantTxs {
				t.Errorf("%d ops took %d transactions, want %d", tc.ops, got, tc.wantTxs)
			}
			if got := values(t, db, "b"); len(got) != tc.ops {
				t.Errorf("%d values stored, want %d", len(got), tc.ops)
			}
		})
	}
}

// TestWriterKeepsEachCallersOrder: ops submitted one after the other by
// one goroutine are applied in that order, while other goroutines' ops
// interleave with them in the same transactions.
func TestWriterKeepsEachCallersOrder(t *testing.T) {
	db, w := openWriter(t, writerOptions{maxOps: 7})
	const callers, each = 8, 300
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			b := "c" + strconv.Itoa(c)
			var ps []*Pending
			for i := range each {
				if i%50 == 49 { // now and then wait, as a sync caller does
					if err := w.update(appendSeq(b, strconv.Itoa(i))); err != nil {
						t.Error(err)
					}
					continue
				}
				ps = append(ps, w.submit(appendSeq(b, strconv.Itoa(i))))
			}
			for _, p := range ps {
				if err := p.Wait(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for c := range callers {
		got := values(t, db, "c"+strconv.Itoa(c))
		if len(got) != each {
			t.Fatalf("caller %d: %d values, want %d", c, len(got), each)
		}
		for i, v := range got {
			if v != strconv.Itoa(i) {
				t.Fatalf("caller %d: value %d is %s: applied out of order", c, i, v)
			}
		}
	}
	if w.txs.Load() >= callers*each {
		t.Errorf("%d ops in %d transactions: nothing was grouped", callers*each, w.txs.Load())
	}
}

// TestWriterIsolatesAFailingOp: an op that fails or panics in the middle
// of a group has no effect and gets its own error; the ops around it are
// committed, and those after it see the effects of those before it.
func TestWriterIsolatesAFailingOp(t *testing.T) {
	db, w := openWriter(t, writerOptions{})
	errBad := errors.New("bad op")
	release, _ := hold(t, w)
	a := w.submit(put("b", "a", "1"))
	bad := w.submit(func(tx *bolt.Tx) error {
		if err := put("b", "bad", "1")(tx); err != nil {
			return err
		}
		return errBad
	})
	panicky := w.submit(func(tx *bolt.Tx) error {
		if err := put("b", "panic", "1")(tx); err != nil {
			return err
		}
		var m map[string]int
		m["boom"]++ // nil map: panics
		return nil
	})
	var sawA string
	c := w.submit(func(tx *bolt.Tx) error {
		sawA = string(tx.Bucket([]byte("b")).Get([]byte("a")))
		return put("b", "c", "1")(tx)
	})
	release()

	if err := a.Wait(); err != nil {
		t.Errorf("a: %v", err)
	}
	if err := bad.Wait(); !errors.Is(err, errBad) {
		t.Errorf("failing op got %v, want its own error", err)
	}
	if err := panicky.Wait(); !errors.Is(err, ErrPanicked) {
		t.Errorf("panicking op got %v, want ErrPanicked", err)
	}
	if err := c.Wait(); err != nil {
		t.Errorf("c: %v", err)
	}
	if sawA != "1" {
		t.Errorf("the op after the failures saw a=%q, want the effect of the op before them", sawA)
	}
	for key, want := range map[string]bool{"a": true, "bad": false, "panic": false, "c": true} {
		if _, ok := get(t, db, "b", key); ok != want {
			t.Errorf("key %s stored: %v, want %v", key, ok, want)
		}
	}
	// The writer still works after a panic.
	if err := w.update(put("b", "after", "1")); err != nil {
		t.Fatal(err)
	}
}

// TestWriterCloseDrainsPendingOps: Close commits everything submitted
// before it, then refuses new writes.
func TestWriterCloseDrainsPendingOps(t *testing.T) {
	db, w := openWriter(t, writerOptions{maxOps: 16})
	release, _ := hold(t, w)
	var ps []*Pending
	for i := range 100 {
		ps = append(ps, w.submit(appendSeq("b", strconv.Itoa(i))))
	}
	closed := make(chan struct{})
	go func() {
		w.close()
		close(closed)
	}()
	release()
	<-closed
	for i, p := range ps {
		select {
		case <-p.Done():
		default:
			t.Fatalf("op %d still pending after close returned", i)
		}
		if err := p.Wait(); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	if got := values(t, db, "b"); len(got) != 100 {
		t.Errorf("%d values stored, want 100", len(got))
	}
	if err := w.update(put("b", "late", "1")); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v, want ErrClosed", err)
	}
	w.close() // a second close is harmless
}

// TestWriterBoundsPendingOps: past maxPending, submitting waits for the
// writer; Close releases a waiting submitter with ErrClosed.
func TestWriterBoundsPendingOps(t *testing.T) {
	_, w := openWriter(t, writerOptions{maxPending: 3})
	release, _ := hold(t, w) // one open op
	p1 := w.submit(put("b", "1", "1"))
	p2 := w.submit(put("b", "2", "1")) // three open: the bound
	third := make(chan *Pending)
	go func() { third <- w.submit(put("b", "3", "1")) }()
	time.Sleep(20 * time.Millisecond) // give a broken bound the chance to show
	select {
	case <-third:
		t.Fatal("submit past maxPending did not wait")
	default:
	}
	release()
	if err := (<-third).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Pending{p1, p2} {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}

	release, _ = hold(t, w)
	w.submit(put("b", "4", "1"))
	w.submit(put("b", "5", "1"))
	blocked := make(chan error)
	go func() { blocked <- w.submit(put("b", "6", "1")).Wait() }()
	closed := make(chan struct{})
	go func() { w.close(); close(closed) }()
	if err := <-blocked; !errors.Is(err, ErrClosed) {
		t.Errorf("submitter waiting for room got %v at close, want ErrClosed", err)
	}
	release()
	<-closed
}

// TestWriterReportsAFailedTransactionToEveryOp: when no transaction can
// be opened (here the database is closed under the writer), every op
// fails and none is reported done.
func TestWriterReportsAFailedTransactionToEveryOp(t *testing.T) {
	db, w := openWriter(t, writerOptions{})
	if err := w.update(put("b", "before", "1")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var ps []*Pending
	for i := range 5 {
		ps = append(ps, w.submit(put("b", strconv.Itoa(i), "1")))
	}
	for i, p := range ps {
		if err := p.Wait(); !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			t.Errorf("op %d on a closed database: %v", i, err)
		}
	}
}

// TestEnqueueAsyncIsDurableOnceWaited: faults enqueued without waiting
// are all on disk, in submission order, after Close and reopen, and each
// Wait gives the sequence number the store restores.
func TestEnqueueAsyncIsDurableOnceWaited(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	seqs := map[string][]uint64{}
	var mu sync.Mutex
	for _, cluster := range []string{"prod", "staging", "dev"} {
		wg.Go(func() {
			var pend []*Enqueued
			for i := range 500 {
				pend = append(pend, s.EnqueueAsync(entry(cluster, strconv.Itoa(i), base.Add(time.Duration(i)))))
			}
			for _, p := range pend {
				seq, err := p.Wait()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seqs[cluster] = append(seqs[cluster], seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueAsync(entry("prod", "late", base)).Wait(); !errors.Is(err, ErrClosed) {
		t.Errorf("enqueue after close: %v, want ErrClosed", err)
	}

	s = open(t, dir, Options{})
	defer s.Close()
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	for cluster, want := range seqs {
		got := st.Queued[cluster]
		if len(got) != 500 {
			t.Fatalf("%s: %d restored, want 500", cluster, len(got))
		}
		for i, e := range got {
			if e.Event.FaultID != strconv.Itoa(i) || e.Seq != want[i] {
				t.Fatalf("%s: restored #%d is %s seq %d, want %d seq %d", cluster, i, e.Event.FaultID, e.Seq, i, want[i])
			}
		}
		if len(st.Dedup[cluster]) != 500 {
			t.Errorf("%s: %d dedup marks, want 500", cluster, len(st.Dedup[cluster]))
		}
	}
}

// TestStoreCloseCommitsPendingEnqueues: Close waits for faults already
// submitted, so a graceful stop loses none of them.
func TestStoreCloseCommitsPendingEnqueues(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	release, _ := hold(t, s.w)
	var pend []*Enqueued
	for i := range 50 {
		pend = append(pend, s.EnqueueAsync(entry("prod", strconv.Itoa(i), time.Now())))
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for _, p := range pend {
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	s = open(t, dir, Options{})
	defer s.Close()
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Queued["prod"]) != 50 {
		t.Errorf("%d restored after close, want 50", len(st.Queued["prod"]))
	}
}

// TestConcurrentWritesOfEveryKind: enqueues from many clusters, removals,
// starts, finishes and requeues at once, under -race; the books balance
// after a reopen.
func TestConcurrentWritesOfEveryKind(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{DedupWindow: time.Hour, HistoryMaxEntries: 10000})
	const clusters, each = 20, 60
	var wg sync.WaitGroup
	for c := range clusters {
		wg.Go(func() {
			cluster := "c" + strconv.Itoa(c)
			for i := range each {
				e := entry(cluster, strconv.Itoa(i), time.Now())
				var err error
				if e.Seq, err = s.Enqueue(e); err != nil {
					t.Error(err)
					return
				}
				switch i % 4 {
				case 1: // expired
					err = s.Remove(cluster, e.Seq)
				case 2: // ran to the end
					id := cluster + "-" + strconv.Itoa(i)
					if err = s.Start(InFlight{IncidentID: id, Item: e}); err == nil {
						err = s.Finish(incident.Record{IncidentID: id, Cluster: cluster, EndedAt: time.Now()})
					}
				case 3: // interrupted, then back in the queue
					id := cluster + "-" + strconv.Itoa(i)
					if err = s.Start(InFlight{IncidentID: id, Item: e}); err == nil {
						_, err = s.Requeue(InFlight{IncidentID: id, Item: e})
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s.Close()

	s = open(t, dir, Options{HistoryMaxEntries: 10000})
	defer s.Close()
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.InFlight) != 0 {
		t.Errorf("%d left in flight", len(st.InFlight))
	}
	for c := range clusters {
		q := st.Queued["c"+strconv.Itoa(c)]
		if len(q) != each/2 {
			t.Fatalf("c%d: %d queued, want %d", c, len(q), each/2)
		}
		for i := 1; i < len(q); i++ {
			a, _ := strconv.Atoi(q[i-1].Event.FaultID)
			b, _ := strconv.Atoi(q[i].Event.FaultID)
			if a >= b {
				t.Fatalf("c%d: queue out of order: %s before %s", c, q[i-1].Event.FaultID, q[i].Event.FaultID)
			}
		}
	}
	h, err := s.History(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != clusters*each/4 {
		t.Errorf("%d history records, want %d", len(h), clusters*each/4)
	}
}

// waitOpen waits until n writes are open in w (submitted, not done).
func waitOpen(w *writer, n int) {
	for {
		w.mu.Lock()
		open := w.open
		w.mu.Unlock()
		if open >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRequeueRerunAfterARollbackTakesAFreshSequence: a re-queue without a
// sequence that shares its transaction with a failing write runs again
// after the rollback; it must not keep the sequence number it drew in the
// rolled-back transaction, which the next enqueue would draw again.
func TestRequeueRerunAfterARollbackTakesAFreshSequence(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	if _, err := s.Enqueue(entry("prod", "first", time.Now())); err != nil {
		t.Fatal(err)
	}
	release, _ := hold(t, s.w)
	requeued := make(chan error)
	go func() {
		_, err := s.Requeue(InFlight{IncidentID: "i1", Item: entry("prod", "again", time.Now())})
		requeued <- err
	}()
	waitOpen(s.w, 2) // the held write and the re-queue
	bad := s.w.submit(func(*bolt.Tx) error { return errors.New("bad op") })
	release()
	if err := <-requeued; err != nil {
		t.Fatal(err)
	}
	if bad.Wait() == nil {
		t.Fatal("the failing write succeeded")
	}
	if _, err := s.Enqueue(entry("prod", "next", time.Now())); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range st.Queued["prod"] {
		ids = append(ids, e.Event.FaultID)
	}
	if len(ids) != 3 {
		t.Fatalf("queue holds %v, want first, again and next", ids)
	}
}
