package dispatch

import (
	"context"
	"fmt"
	"sync"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// clusterWorkers tracks each cluster's workers while Serve runs, so a
// configuration reload can add a cluster (its queue is worked at once) or
// remove one (its workers drain its queue, their running agents finish,
// then they stop).
//
// Workers run only while their cluster has work. Most clusters are idle
// most of the time, and a worker parked on every idle queue was a
// goroutine (4 KiB of stack) and its state for each of thousands of
// clusters: a queue's OnReady starts a worker when a fault arrives (up to
// --agents-per-cluster), and a worker that finds its queue empty leaves.
type clusterWorkers struct {
	mu          sync.Mutex
	kubeconfigs map[string]string
	// ctx and wg are Serve's while it runs, nil otherwise.
	ctx       context.Context
	wg        *sync.WaitGroup
	byCluster map[string]*clusterWork
}

// clusterWork is one cluster's workers. Its lock is the innermost: the
// queue calls wake with its own lock held, and the set's lock may be held
// around it; nothing is called while it is held but the go statement.
type clusterWork struct {
	q *queue.Queue

	mu sync.Mutex
	// serveCtx and wg are Serve's while it runs (nil otherwise): workers
	// start only then.
	serveCtx context.Context
	wg       *sync.WaitGroup
	// ctx ends when the cluster is removed: its workers then take what is
	// left in the queue and stop when it is empty.
	ctx      context.Context
	retire   context.CancelFunc
	running  int
	retiring bool
	// retired: the removal is complete; nothing starts again.
	retired   bool
	onRetired func()
}

func (c *clusterWorkers) init(kubeconfigs map[string]string) {
	c.kubeconfigs = make(map[string]string, len(kubeconfigs))
	for k, v := range kubeconfigs {
		c.kubeconfigs[k] = v
	}
	c.byCluster = map[string]*clusterWork{}
}

// serving records Serve's context and worker group (nil when it returns).
func (d *Dispatcher) serving(ctx context.Context, wg *sync.WaitGroup) {
	c := &d.clusters
	c.mu.Lock()
	c.ctx, c.wg = ctx, wg
	ws := make([]*clusterWork, 0, len(c.byCluster))
	for _, w := range c.byCluster {
		w.mu.Lock()
		w.serveCtx, w.wg = ctx, wg
		if ctx != nil {
			// A restarted Serve: new contexts, removals still under way
			// stay so.
			w.ctx, w.retire = context.WithCancel(ctx)
			w.running = 0
			if w.retiring {
				w.retire()
			}
		}
		w.mu.Unlock()
		ws = append(ws, w)
	}
	c.mu.Unlock()
	if ctx == nil {
		return
	}
	for _, w := range ws {
		if w.q.Len() > 0 {
			d.wake(w)
		}
	}
}

// startWorkers makes q's cluster known to the workers: a worker starts
// whenever it has work while Serve runs, at once if it has some now.
func (d *Dispatcher) startWorkers(q *queue.Queue) {
	c := &d.clusters
	c.mu.Lock()
	w := c.byCluster[q.Cluster()]
	if w == nil {
		w = &clusterWork{q: q}
		w.ctx, w.retire = context.WithCancel(context.Background())
		if c.ctx != nil {
			w.ctx, w.retire = context.WithCancel(c.ctx)
		}
		w.serveCtx, w.wg = c.ctx, c.wg
		c.byCluster[q.Cluster()] = w
	}
	c.mu.Unlock()
	q.OnReady(func() { d.wake(w) })
	if q.Len() > 0 {
		d.wake(w)
	}
}

// wake starts a worker for w if Serve runs and fewer than
// --agents-per-cluster do. The queue calls it with its lock held.
func (d *Dispatcher) wake(w *clusterWork) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.serveCtx == nil || w.serveCtx.Err() != nil || w.retired || w.running >= d.o.AgentsPerCluster {
		return
	}
	w.running++
	w.wg.Add(1)
	go d.worker(w.serveCtx, w, w.ctx, w.wg)
}

// worker is one of a cluster's workers, from the fault that woke it until
// its queue is empty or Serve ends.
func (d *Dispatcher) worker(ctx context.Context, w *clusterWork, clusterCtx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	if d.work(ctx, w, clusterCtx) {
		return // left with its queue empty (leave)
	}
	w.mu.Lock()
	w.running--
	w.mu.Unlock()
}

// leave counts the worker out if its queue is empty (true: the worker
// must return) and completes a removal when it was the last. Checked and
// counted under the queue's lock, so a fault arriving now finds the worker
// gone and starts another.
func (d *Dispatcher) leave(w *clusterWork) bool {
	var done bool
	left := w.q.WhenEmpty(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.running--
		if w.running == 0 && w.retiring && !w.retired && w.serveCtx != nil && w.serveCtx.Err() == nil {
			w.retired, done = true, true
		}
	})
	if done {
		d.retired(w)
	}
	return left
}

// retired forgets a cluster whose removal is complete and says so.
func (d *Dispatcher) retired(w *clusterWork) {
	c := &d.clusters
	c.mu.Lock()
	if c.byCluster[w.q.Cluster()] == w {
		delete(c.byCluster, w.q.Cluster())
		delete(c.kubeconfigs, w.q.Cluster())
	}
	c.mu.Unlock()
	w.q.OnReady(nil)
	if w.onRetired != nil {
		w.onRetired()
	}
}

// AddCluster starts working a queue a reload added (or sets the
// kubeconfig of one it kept). It fails for a cluster whose removal is
// still draining.
func (d *Dispatcher) AddCluster(q *queue.Queue, kubeconfig string) error {
	c := &d.clusters
	c.mu.Lock()
	if w := c.byCluster[q.Cluster()]; w != nil && w.draining() {
		c.mu.Unlock()
		return fmt.Errorf("cluster %q is still draining after its removal", q.Cluster())
	}
	c.kubeconfigs[q.Cluster()] = kubeconfig
	_, known := c.byCluster[q.Cluster()]
	c.mu.Unlock()
	if !known {
		d.startWorkers(q)
	}
	return nil
}

func (w *clusterWork) draining() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.retiring && !w.retired
}

// SetKubeconfig changes the kubeconfig handed to a cluster's next agents.
func (d *Dispatcher) SetKubeconfig(cluster, kubeconfig string) {
	c := &d.clusters
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kubeconfigs[cluster] = kubeconfig
}

// Draining reports whether a removed cluster's workers are still at work.
func (d *Dispatcher) Draining(cluster string) bool {
	c := &d.clusters
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.byCluster[cluster]
	return w != nil && w.draining()
}

// RemoveCluster retires a cluster's workers: they run what is left in its
// queue (no new faults reach it once its session is gone), their agents
// finish as usual, and then they stop and onRetired is called (from the
// last worker). With nothing to do, or while Serve is not running,
// onRetired is called at once; a fault put back into the queue after that
// (an agent's deferral) stays in the journal for the next start.
func (d *Dispatcher) RemoveCluster(cluster string, onRetired func()) {
	c := &d.clusters
	c.mu.Lock()
	w := c.byCluster[cluster]
	c.mu.Unlock()
	if w == nil {
		d.forget(cluster)
		onRetired()
		return
	}
	w.mu.Lock()
	w.retiring, w.onRetired = true, onRetired
	w.retire()
	serving := w.serveCtx != nil && w.serveCtx.Err() == nil
	w.mu.Unlock()
	var now bool
	idle := w.q.WhenEmpty(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.running == 0 && !w.retired {
			w.retired, now = true, true
		}
	})
	if !now && !serving {
		w.mu.Lock()
		now = !w.retired
		w.retired = true
		w.mu.Unlock()
	}
	if now {
		d.retired(w)
		return
	}
	if !idle {
		d.wake(w) // the last worker to leave completes the removal
	}
}

func (d *Dispatcher) forget(cluster string) {
	c := &d.clusters
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byCluster, cluster)
	delete(c.kubeconfigs, cluster)
}

func (d *Dispatcher) kubeconfig(cluster string) string {
	c := &d.clusters
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kubeconfigs[cluster]
}
