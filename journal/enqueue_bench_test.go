package journal

import (
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// benchStore opens a store for a benchmark. The durable figures are only
// meaningful on a real disk: JOURNAL_BENCH_DIR points the store at a
// directory there when the temporary directory is a tmpfs. Dedup pruning
// is off: it scans every mark, so its cost grows with b.N.
func benchStore(b *testing.B) *Store {
	b.Helper()
	dir := b.TempDir()
	if d := os.Getenv("JOURNAL_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "journal-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 100})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// share splits n faults over k senders.
func share(n, k, i int) int {
	if i < n%k {
		return n/k + 1
	}
	return n / k
}

// BenchmarkDurableEnqueue: faults per second into the store with Enqueue,
// every caller waiting for its own fsync, as an MCP session that handles
// each notification inline does. clusters senders run at once, one per
// cluster.
func BenchmarkDurableEnqueue(b *testing.B) {
	for _, clusters := range []int{1, 50} {
		b.Run("clusters="+strconv.Itoa(clusters), func(b *testing.B) {
			s := benchStore(b)
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := range clusters {
				wg.Go(func() {
					cluster := "c" + strconv.Itoa(c)
					for i := range share(b.N, clusters, c) {
						if _, err := s.Enqueue(entry(cluster, strconv.Itoa(i), time.Now())); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "faults/s")
			reportGrouping(b, s)
		})
	}
}

// BenchmarkDurableEnqueueAsync: the same through EnqueueAsync. Each
// sender submits without waiting and hands the pending faults, in order,
// to a completer that waits for them and would count and dispatch them
// (the session's reader never blocks on a fsync; a fault still counts as
// queued only once its commit is on disk). The clock stops when the last
// fault is durable.
func BenchmarkDurableEnqueueAsync(b *testing.B) {
	for _, clusters := range []int{1, 50} {
		b.Run("clusters="+strconv.Itoa(clusters), func(b *testing.B) {
			s := benchStore(b)
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := range clusters {
				completions := make(chan *Enqueued, 1024)
				wg.Go(func() {
					defer close(completions)
					cluster := "c" + strconv.Itoa(c)
					for i := range share(b.N, clusters, c) {
						completions <- s.EnqueueAsync(entry(cluster, strconv.Itoa(i), time.Now()))
					}
				})
				wg.Go(func() {
					for p := range completions {
						if _, err := p.Wait(); err != nil {
							b.Error(err)
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "faults/s")
			reportGrouping(b, s)
		})
	}
}

func reportGrouping(b *testing.B, s *Store) {
	if s.w == nil { // a store without the group-commit writer
		return
	}
	if txs := s.w.txs.Load(); txs > 0 {
		b.ReportMetric(float64(b.N)/float64(txs), "faults/commit")
		b.ReportMetric(float64(writes(s))/float64(txs), "writes/commit")
	}
}

// writes is how many page writes the store's transactions made.
func writes(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}
