package journal

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Group commit
//
// Every write of the store goes through one writer goroutine, which owns
// bbolt's write transaction (bbolt allows one at a time anyway). A caller
// hands it a write function and is told the outcome once the transaction
// holding that function is committed and fsynced:
//
//	caller ──op──►  pending (FIFO)  ──►  writer goroutine
//	                                      begin tx
//	                                      run ops in arrival order
//	                                      commit + fsync
//	caller ◄──err──────────────────────── completes every op of the tx
//
// There is no fixed batching window. When the writer is idle an op is
// committed at once, alone. While a commit runs, whatever arrives (from any
// cluster, any kind of write) waits in pending, and the next transaction
// takes all of it, so one fsync covers as many ops as arrived during the
// previous one. A transaction takes at most maxOps ops and stops taking
// more once its ops have run for maxTxTime; the rest goes to the next
// transaction. Right after a commit that completed several waiting
// callers, the writer gives them up to maxGather to resubmit (see run).
// An op therefore waits for at most the commit in progress, maxGather and
// its own commit, unless the writer is behind by more than one full
// transaction. Pending is bounded too (maxPending): past it, submitting
// blocks, which pushes back on intake instead of buffering without bound.
//
// Semantics, which are those of running every op in its own transaction
// in submission order:
//   - Ops run in the order they were submitted; an op sees the effects of
//     every op submitted before it that succeeded. Ops submitted one after
//     the other by the same goroutine are applied in that order.
//   - An op that returns an error (or panics: the panic becomes an error
//     wrapping ErrPanicked) has no effect and gets its own error; the
//     others do not fail with it. bbolt has no savepoints, so, as bbolt's
//     own Batch does, the transaction is rolled back and the remaining ops
//     re-run in a fresh one without the failing op. An op may therefore
//     run more than once and must only set its results, never accumulate
//     them. A failing op is not retried.
//   - An op counts as done only when its transaction is committed and
//     fsynced; if the commit fails, every op of that transaction gets the
//     commit's error and none of them is on disk.
//   - An op must not call the store or the bbolt DB (that would wait for
//     the writer, which waits for the op), must not keep the *bolt.Tx or
//     anything read through it past its return, and must not commit or
//     roll back the transaction.

// ErrClosed is the error of a write submitted after the store was closed.
var ErrClosed = errors.New("journal is closed")

// ErrPanicked wraps the panic of a write function.
var ErrPanicked = errors.New("journal write panicked")

// Defaults of the writer's bounds. An enqueue runs in about 10 µs, so a
// full transaction holds a few milliseconds of work; a commit costs a
// fraction of a millisecond on an SSD, so 1,024 ops make its cost per op
// negligible.
const (
	defaultMaxOps     = 1024
	defaultMaxTxTime  = 5 * time.Millisecond
	defaultMaxPending = 16384

	// maxGather bounds the wait for callers just woken by a commit.
	maxGather = time.Millisecond
)

// writerOptions bound the writer's transactions; zero values take the
// defaults.
type writerOptions struct {
	maxOps     int           // ops per transaction
	maxTxTime  time.Duration // stop taking ops into a transaction after this
	maxPending int           // ops submitted and not yet done; past it, Submit blocks
}

// writer is the store's single writer. See "Group commit" above.
type writer struct {
	db *bolt.DB
	o  writerOptions

	mu      sync.Mutex
	work    *sync.Cond // signalled when pending grows or closing is set
	space   *sync.Cond // signalled when ops are done
	pending []*Pending
	// open is how many ops were submitted and are not done yet: pending
	// plus those in the running transaction.
	open    int
	closing bool
	stopped chan struct{}

	txs atomic.Uint64 // transactions committed, for benchmarks
}

// Pending is a write on its way to disk.
type Pending struct {
	op   func(*bolt.Tx) error
	done chan struct{}
	err  error
}

// Done is closed once the write is committed and fsynced, or has failed.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Wait blocks until the write is committed and fsynced, or has failed,
// and returns its error. It may be called any number of times.
func (p *Pending) Wait() error {
	<-p.done
	return p.err
}

func (p *Pending) finish(err error) {
	p.err = err
	close(p.done)
}

func failed(err error) *Pending {
	p := &Pending{done: make(chan struct{})}
	p.finish(err)
	return p
}

// newWriter starts the writer goroutine; close stops it.
func newWriter(db *bolt.DB, o writerOptions) *writer {
	if o.maxOps <= 0 {
		o.maxOps = defaultMaxOps
	}
	if o.maxTxTime <= 0 {
		o.maxTxTime = defaultMaxTxTime
	}
	if o.maxPending <= 0 {
		o.maxPending = defaultMaxPending
	}
	w := &writer{db: db, o: o, stopped: make(chan struct{})}
	w.work = sync.NewCond(&w.mu)
	w.space = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// submit queues op and returns at once; the returned Pending tells when
// it is durable. It blocks only while maxPending writes are already
// waiting.
func (w *writer) submit(op func(*bolt.Tx) error) *Pending {
	w.mu.Lock()
	for w.open >= w.o.maxPending && !w.closing {
		w.space.Wait()
	}
	if w.closing {
		w.mu.Unlock()
		return failed(ErrClosed)
	}
	p := &Pending{op: op, done: make(chan struct{})}
	w.pending = append(w.pending, p)
	w.open++
	w.mu.Unlock()
	w.work.Signal()
	return p
}

// update runs op in a transaction and returns once it is durable.
func (w *writer) update(op func(*bolt.Tx) error) error {
	return w.submit(op).Wait()
}

// close lets the writer commit everything already submitted, then stops
// it. Writes submitted afterwards fail with ErrClosed. It is safe to call
// more than once.
func (w *writer) close() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	w.work.Broadcast()
	w.space.Broadcast()
	<-w.stopped
}

func (w *writer) run() {
	defer close(w.stopped)
	var lastDone int           // ops the last transaction completed
	var lastTook time.Duration // and how long it took
	for {
		w.mu.Lock()
		for len(w.pending) == 0 && !w.closing {
			w.work.Wait()
		}
		if len(w.pending) == 0 { // closing and drained
			w.mu.Unlock()
			return
		}
		// Callers that wait for each write come back right after their
		// commit. When several were just woken, let them run and
		// resubmit before starting the next transaction, so that they
		// share it instead of splitting into two groups that take turns
		// (each caller would then wait two commits per write). This is
		// PostgreSQL's commit_siblings idea without its fixed
		// commit_delay: a lone caller (lastDone < 2) never waits, and the
		// wait ends as soon as as many ops are pending as the last
		// transaction completed, or after a quarter of that transaction's
		// time (at most maxGather), yielding the CPU meanwhile.
		if lastDone >= 2 {
			until := time.Now().Add(min(lastTook/4, maxGather))
			for len(w.pending) < lastDone && !w.closing && time.Now().Before(until) {
				w.mu.Unlock()
				runtime.Gosched()
				w.mu.Lock()
			}
		}
		n := min(len(w.pending), w.o.maxOps)
		batch := make([]*Pending, n)
		copy(batch, w.pending)
		rest := copy(w.pending, w.pending[n:])
		clear(w.pending[rest:])
		w.pending = w.pending[:rest]
		w.mu.Unlock()

		start := time.Now()
		done, left := w.commit(batch)
		lastDone, lastTook = done, time.Since(start)

		w.mu.Lock()
		if len(left) > 0 { // the transaction was full: they go first next time
			w.pending = append(left, w.pending...)
		}
		w.open -= done
		w.mu.Unlock()
		w.space.Broadcast()
	}
}

// commit runs batch in one transaction, leaving out the ops that fail,
// and finishes every op it ran. It returns how many ops it finished and
// those it did not get to (the transaction reached maxTxTime).
func (w *writer) commit(batch []*Pending) (done int, left []*Pending) {
	for {
		tx, err := w.db.Begin(true)
		if err != nil {
			for _, p := range batch {
				p.finish(err)
			}
			return done + len(batch), nil
		}
		start := time.Now()
		ran, bad := 0, -1
		var badErr error
		for i, p := range batch {
			if i > 0 && time.Since(start) >= w.o.maxTxTime {
				break
			}
			if err := apply(p.op, tx); err != nil {
				bad, badErr = i, err
				break
			}
			ran = i + 1
		}
		if bad >= 0 {
			// No savepoints: drop the whole transaction, report the
			// failing op, and run the others again without it.
			_ = tx.Rollback()
			batch[bad].finish(badErr)
			done++
			batch = append(batch[:bad:bad], batch[bad+1:]...)
			if len(batch) == 0 {
				return done, nil
			}
			continue
		}
		err = tx.Commit()
		if err == nil {
			w.txs.Add(1)
		}
		for _, p := range batch[:ran] {
			p.finish(err)
		}
		return done + ran, batch[ran:]
	}
}

// apply runs one op, turning a panic into an error.
func apply(op func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrPanicked, r, debug.Stack())
		}
	}()
	return op(tx)
}
