// Package journal keeps the runner's queue and incident records on disk, so
// a restart, an upgrade or a crash loses nothing: queued faults come back in
// order with their original EnqueuedAt, the dedup memory comes back, and
// incidents that were running are re-queued with an attempt count.
//
// The store is bbolt (go.etcd.io/bbolt): a single-file, pure-Go B+tree with
// ACID transactions, the store etcd runs on. It needs no cgo (the release
// binaries stay static) and no server. Every write is a transaction that
// bbolt fsyncs before it returns, so what the runner acknowledges (in
// metrics and logs) is on disk. Writes from every cluster go through one
// group-commit writer (groupcommit.go), so concurrent writes share an fsync
// without waiting out a batching window.
package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// FileName is the store inside the state directory.
const FileName = "state.db"

// ErrLocked means another process holds the state directory.
var ErrLocked = errors.New("state directory is in use by another process")

var (
	bucketQueue    = []byte("queue")    // cluster → seq → queue.Item
	bucketInFlight = []byte("inflight") // incident id → InFlight
	bucketDedup    = []byte("dedup")    // cluster → fault id → unix nanos
	bucketHistory  = []byte("history")  // ended-at nanos + incident id → incident.Record
	// bucketDedupTime indexes the dedup marks by time, so pruning reads
	// only the marks it removes (dedup_index.go).
	bucketDedupTime = []byte("dedup-by-time") // seen-at nanos + cluster + 0 + fault id → ""
)

// InFlight is an incident whose agent was started and has not finished.
type InFlight struct {
	IncidentID string     `json:"incidentId"`
	Item       queue.Item `json:"entry"`
	StartedAt  time.Time  `json:"startedAt"`
	Workspace  string     `json:"workspace"`
	// Marker is the environment entry every process of the agent carries
	// (procutil.Marker); Pgid its process group, recorded once it started,
	// under the kernel boot BootID. Recovery kills what is left of both
	// before the incident runs again.
	Marker string `json:"marker,omitempty"`
	Pgid   int    `json:"pgid,omitempty"`
	BootID string `json:"bootId,omitempty"`
}

// Options bound the history and the dedup marks.
type Options struct {
	HistoryMaxAge     time.Duration
	HistoryMaxEntries int
	// DedupWindow is how long dedup marks are kept; older ones are pruned
	// every pruneEvery enqueues (at most pruneBatch marks at a time, read
	// from the time index) so the store does not grow for months.
	DedupWindow time.Duration
	Logger      *slog.Logger
	// OnCorrupt is told about a state file that was moved aside.
	OnCorrupt func()
	// OnPruned is told, after the transaction that pruned them committed,
	// the workspaces of history records pruned by age or count, so they
	// can go with their records.
	OnPruned func(workspaces []string)
}

// Store is the open journal. It is safe for concurrent use.
type Store struct {
	db       *bolt.DB
	w        *writer // every write transaction goes through it
	path     string
	o        Options
	enqueues atomic.Uint64
}

// pruneEvery is how many enqueues pass between prunes of the dedup marks.
const pruneEvery = 1000

// Open opens (or creates) the store in dir, created 0700. A file that is
// not a valid store (inconsistent, truncated, or holding records that do
// not decode) is moved aside as state.db.corrupt-<time>, reported through
// logger at ERROR and OnCorrupt, and replaced by an empty store: a bad file
// must never put the runner in a crash loop. Everything Load and History
// return is read once here, with memory faults turned into errors (see
// guard), so a damaged page is found while it can still be quarantined.
//
// A directory that cannot be created or written, or a state file the
// runner may not open, is ErrUnusableDir: nothing is moved aside and
// nothing is counted as corrupt. Another process holding the store is
// ErrLocked.
func Open(dir string, o Options) (*Store, error) {
	if err := usableDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	if err := usableFile(path); err != nil {
		return nil, err
	}
	db, err := openChecked(path)
	switch {
	case errors.Is(err, ErrLocked):
		return nil, err
	case err != nil && isIOError(err):
		return nil, fmt.Errorf("%w: %s: %w", ErrUnusableDir, dir, err)
	case err != nil:
		if db, err = quarantine(path, err, o); err != nil {
			return nil, err
		}
	}
	s := &Store{db: db, w: newWriter(db, writerOptions{}), path: path, o: o}
	if err := s.readAll(); err != nil {
		if qerr := s.Quarantine(err); qerr != nil {
			return nil, qerr
		}
	}
	return s, nil
}

// Quarantine closes a store whose content turned out to be unreadable,
// moves its file aside (reported like a corrupt file found by Open) and
// continues on a fresh, empty file. It is for start-up, before the store is
// shared: the caller must not use the store concurrently.
func (s *Store) Quarantine(cause error) error {
	s.w.close()
	_ = s.db.Close()
	db, err := quarantine(s.path, cause, s.o)
	if err != nil {
		return err
	}
	s.db, s.w = db, newWriter(db, writerOptions{})
	return nil
}

// openChecked opens the file and reads every page once, so corruption
// shows up here rather than as a crash later. bbolt panics on some corrupt
// pages and faults on reads past the end of a truncated file; guard turns
// both into ErrCorrupt.
func openChecked(path string) (db *bolt.DB, err error) {
	if err := prechecked(path, true, time.Second); err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	err = guard(path, func() error {
		var oerr error
		db, oerr = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if errors.Is(oerr, bolterrors.ErrTimeout) {
			return fmt.Errorf("%w: %s", ErrLocked, path)
		}
		if oerr != nil {
			return oerr
		}
		// The walk runs on this goroutine and touches every reachable page;
		// only then may bbolt's checker (on a goroutine of its own) run.
		return db.View(func(tx *bolt.Tx) error {
			if err := walk(tx); err != nil {
				return err
			}
			// Drain the whole channel: Check's walker blocks on it otherwise.
			var first error
			for err := range tx.Check() {
				if first == nil {
					first = fmt.Errorf("%w: %w", ErrCorrupt, err)
				}
			}
			return first
		})
	})
	if err == nil {
		err = guard(path, func() error {
			return db.Update(func(tx *bolt.Tx) error {
				for _, b := range [][]byte{bucketQueue, bucketInFlight, bucketDedup, bucketHistory, bucketOutbox, bucketDedupTime} {
					if _, err := tx.CreateBucketIfNotExists(b); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	if err != nil {
		if db != nil {
			_ = db.Close()
		}
		if errors.Is(err, ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return db, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close commits the writes already submitted, then closes the store.
// Later writes fail with ErrClosed.
func (s *Store) Close() error {
	if s.w != nil {
		s.w.close()
	}
	return s.db.Close()
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func clusterBucket(tx *bolt.Tx, top []byte, cluster string) (*bolt.Bucket, error) {
	return tx.Bucket(top).CreateBucketIfNotExists([]byte(cluster))
}

// Enqueue stores a queued fault and its dedup mark, and returns the
// sequence number that orders it. It returns only once the write is on disk.
func (s *Store) Enqueue(e queue.Item) (uint64, error) {
	var seq uint64
	err := s.w.update(enqueueOp(e, &seq))
	if err != nil {
		return 0, fmt.Errorf("journal enqueue: %w", err)
	}
	if s.o.DedupWindow > 0 && s.enqueues.Add(1)%pruneEvery == 0 {
		if err := s.PruneDedup(s.o.DedupWindow, e.EnqueuedAt); err != nil {
			return seq, nil // the fault is stored; pruning retries later
		}
	}
	return seq, nil
}

// enqueueOp stores a queued fault and its dedup mark and sets *seq to the
// sequence number that orders it. The fault is encoded here, by the
// caller, so that the one writer goroutine only does the puts.
func enqueueOp(e queue.Item, seq *uint64) func(*bolt.Tx) error {
	data, encodeErr := json.Marshal(e)
	return func(tx *bolt.Tx) error {
		if encodeErr != nil {
			return encodeErr
		}
		q, err := clusterBucket(tx, bucketQueue, e.Cluster)
		if err != nil {
			return err
		}
		if *seq, err = q.NextSequence(); err != nil {
			return err
		}
		if err := q.Put(seqKey(*seq), data); err != nil {
			return err
		}
		d, err := clusterBucket(tx, bucketDedup, e.Cluster)
		if err != nil {
			return err
		}
		ts := make([]byte, 8)
		binary.BigEndian.PutUint64(ts, uint64(e.EnqueuedAt.UnixNano()))
		if err := d.Put([]byte(e.Event.FaultID), ts); err != nil {
			return err
		}
		return indexMark(tx, ts, e.Cluster, e.Event.FaultID)
	}
}

// Remove deletes queued faults that left the queue without an agent
// (expired or displaced).
func (s *Store) Remove(cluster string, seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := s.w.update(func(tx *bolt.Tx) error {
		q, err := clusterBucket(tx, bucketQueue, cluster)
		if err != nil {
			return err
		}
		for _, seq := range seqs {
			if err := q.Delete(seqKey(seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal remove: %w", err)
	}
	return nil
}

// Start moves a queued fault, and the other members of its group, to the
// in-flight records in one transaction, before its agent starts.
func (s *Store) Start(f InFlight) error {
	err := s.w.update(func(tx *bolt.Tx) error {
		q, err := clusterBucket(tx, bucketQueue, f.Item.Cluster)
		if err != nil {
			return err
		}
		for _, it := range f.Item.Covered() {
			if err := q.Delete(seqKey(it.Seq)); err != nil {
				return err
			}
		}
		data, err := json.Marshal(f)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketInFlight).Put([]byte(f.IncidentID), data)
	})
	if err != nil {
		return fmt.Errorf("journal start %s: %w", f.IncidentID, err)
	}
	return nil
}

// SetGroup records the process group of an in-flight incident's agent.
func (s *Store) SetGroup(incidentID string, pgid int, bootID string) error {
	err := s.w.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInFlight)
		v := b.Get([]byte(incidentID))
		if v == nil {
			return nil // finished or never recorded: nothing to update
		}
		var f InFlight
		if err := json.Unmarshal(v, &f); err != nil {
			return err
		}
		f.Pgid, f.BootID = pgid, bootID
		data, err := json.Marshal(f)
		if err != nil {
			return err
		}
		return b.Put([]byte(incidentID), data)
	})
	if err != nil {
		return fmt.Errorf("journal running %s: %w", incidentID, err)
	}
	return nil
}

// Finish ends an in-flight incident and adds it to the history, pruned by
// age and count.
func (s *Store) Finish(r incident.Record) error { return s.FinishNotify(r, nil) }

// addHistory adds r and prunes the oldest records, appending the
// workspaces of the pruned ones to pruned.
func (s *Store) addHistory(tx *bolt.Tx, r incident.Record, pruned *[]string) error {
	h := tx.Bucket(bucketHistory)
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	key := append(seqKey(uint64(r.EndedAt.UnixNano())), []byte(r.IncidentID)...)
	if err := h.Put(key, data); err != nil {
		return err
	}
	// Prune from the oldest: past the age limit, or over the count.
	// (Bucket.Stats does not see this transaction's writes: count keys.)
	n := 0
	c := h.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	excess := n - s.o.HistoryMaxEntries
	cutoff := uint64(r.EndedAt.Add(-s.o.HistoryMaxAge).UnixNano())
	for k, v := c.First(); k != nil; k, v = c.First() {
		old := binary.BigEndian.Uint64(k[:8]) < cutoff && s.o.HistoryMaxAge > 0
		if !old && (s.o.HistoryMaxEntries <= 0 || excess <= 0) {
			break
		}
		var gone incident.Record
		if json.Unmarshal(v, &gone) == nil && gone.Workspace != "" {
			*pruned = append(*pruned, gone.Workspace)
		}
		if err := c.Delete(); err != nil {
			return err
		}
		excess--
	}
	return nil
}

// State is everything Load brings back.
type State struct {
	// Queued faults per cluster, in enqueue order.
	Queued map[string][]queue.Item
	// InFlight incidents a crash or shutdown interrupted.
	InFlight []InFlight
	// Dedup marks per cluster: fault id → time seen.
	Dedup map[string]map[string]time.Time
}

// Load reads the queue, the interrupted incidents and the dedup marks.
func (s *Store) Load() (State, error) {
	st := State{Queued: map[string][]queue.Item{}, Dedup: map[string]map[string]time.Time{}}
	err := guard(s.path, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			err := tx.Bucket(bucketQueue).ForEachBucket(func(cluster []byte) error {
				return tx.Bucket(bucketQueue).Bucket(cluster).ForEach(func(k, v []byte) error {
					var e queue.Item
					if err := json.Unmarshal(v, &e); err != nil {
						return fmt.Errorf("%w: queue entry %x of %s: %w", ErrCorrupt, k, cluster, err)
					}
					e.Seq = binary.BigEndian.Uint64(k)
					st.Queued[string(cluster)] = append(st.Queued[string(cluster)], e)
					return nil
				})
			})
			if err != nil {
				return err
			}
			err = tx.Bucket(bucketInFlight).ForEach(func(k, v []byte) error {
				var f InFlight
				if err := json.Unmarshal(v, &f); err != nil {
					return fmt.Errorf("%w: in-flight record %x: %w", ErrCorrupt, k, err)
				}
				st.InFlight = append(st.InFlight, f)
				return nil
			})
			if err != nil {
				return err
			}
			return tx.Bucket(bucketDedup).ForEachBucket(func(cluster []byte) error {
				m := map[string]time.Time{}
				st.Dedup[string(cluster)] = m
				return tx.Bucket(bucketDedup).Bucket(cluster).ForEach(func(k, v []byte) error {
					if len(v) == 8 {
						m[string(k)] = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
					}
					return nil
				})
			})
		})
	})
	return st, err
}

// Requeue turns an interrupted incident back into queued faults at the
// head of its cluster's queue, with its attempt count, in one transaction:
// every member of its group becomes a queued fault of its own again, so
// they group afresh and run as one incident.
func (s *Store) Requeue(f InFlight) (queue.Item, error) {
	e := f.Item
	err := s.w.update(func(tx *bolt.Tx) error {
		q, err := clusterBucket(tx, bucketQueue, e.Cluster)
		if err != nil {
			return err
		}
		// The original sequences put them back where they were, ahead of
		// everything enqueued after them. (Read from f, not e: the writer
		// may run this function again after a rollback.)
		for i, it := range f.Item.Covered() {
			seq := it.Seq
			if seq == 0 {
				if seq, err = q.NextSequence(); err != nil {
					return err
				}
			}
			it.Seq, it.Attempts, it.Cluster = seq, f.Item.Attempts, f.Item.Cluster
			if i == 0 {
				e = it
			}
			data, err := json.Marshal(it)
			if err != nil {
				return err
			}
			if err := q.Put(seqKey(seq), data); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketInFlight).Delete([]byte(f.IncidentID))
	})
	if err != nil {
		return e, fmt.Errorf("journal requeue %s: %w", f.IncidentID, err)
	}
	return e, nil
}

// History lists finished incidents, newest first, at most limit (0: all).
func (s *Store) History(limit int) ([]incident.Record, error) {
	var out []incident.Record
	err := guard(s.path, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			h := tx.Bucket(bucketHistory)
			if h == nil {
				return nil
			}
			c := h.Cursor()
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				var r incident.Record
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("%w: history record %x: %w", ErrCorrupt, k, err)
				}
				out = append(out, r)
				if limit > 0 && len(out) >= limit {
					break
				}
			}
			return nil
		})
	})
	return out, err
}

// Workspaces lists the workspaces the store still names: those of the
// history records and of the in-flight incidents. A workspace not among
// them has lost its record. oldest is when the oldest record kept ended
// (zero for an empty history): the history prunes from the oldest, so a
// workspace without a record that finished before it was pruned with its
// record, while one that finished later came from elsewhere (a state file
// replaced or quarantined since).
func (s *Store) Workspaces() (named map[string]bool, oldest time.Time, err error) {
	named = map[string]bool{}
	err = s.db.View(func(tx *bolt.Tx) error {
		var r struct {
			Workspace string `json:"workspace"`
		}
		if h := tx.Bucket(bucketHistory); h != nil {
			if k, _ := h.Cursor().First(); len(k) >= 8 {
				oldest = time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
			}
		}
		for _, name := range [][]byte{bucketHistory, bucketInFlight} {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			err := b.ForEach(func(k, v []byte) error {
				r.Workspace = ""
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("%s record %q: %w", name, k, err)
				}
				if r.Workspace != "" {
					named[filepath.Clean(r.Workspace)] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return named, oldest, err
}

// ReadHistory opens the store in dir read-only and lists its history. It
// returns ErrLocked while a runner holds the store, and an ErrCorrupt error
// (never a crash) for a damaged file; it moves nothing aside.
func ReadHistory(dir string, limit int) ([]incident.Record, error) {
	db, path, err := openReadOnly(dir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return (&Store{db: db, path: path}).History(limit)
}

// ReadRunning reads the incidents a stopped runner left running (they run
// again at its next start) from the store in dir.
func ReadRunning(dir string) ([]InFlight, error) {
	db, path, err := openReadOnly(dir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return (&Store{db: db, path: path}).Running()
}

// openReadOnly opens the store in dir for reading; ErrLocked while a
// runner holds it.
func openReadOnly(dir string) (*bolt.DB, string, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, "", err
	}
	var db *bolt.DB
	err := prechecked(path, false, 500*time.Millisecond)
	if err == nil {
		err = guard(path, func() error {
			var err error
			db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
			return err
		})
	}
	switch {
	case errors.Is(err, ErrLocked):
		return nil, "", err
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, "", fmt.Errorf("%w: %s", ErrLocked, path)
	case err != nil:
		if db != nil {
			_ = db.Close()
		}
		if !errors.Is(err, ErrCorrupt) && !isIOError(err) {
			err = fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
		}
		return nil, "", err
	}
	return db, path, nil
}
