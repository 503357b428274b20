package dispatch

import (
	"context"
	"fmt"
	"sync"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// clusterWorkers tracks each cluster's workers while Serve runs, so a
// configuration reload can add a cluster (its workers start at once) or
// remove one (its workers drain its queue, their running agents finish,
// then they stop).
type clusterWorkers struct {
	mu          sync.Mutex
	kubeconfigs map[string]string
	// ctx and wg are Serve's while it runs, nil otherwise.
	ctx       context.Context
	wg        *sync.WaitGroup
	byCluster map[string]*clusterWork
}

type clusterWork struct {
	q *queue.Queue
	// ctx ends when the cluster is removed: its workers then take what is
	// left in the queue and stop when it is empty.
	ctx       context.Context
	retire    context.CancelFunc
	running   int
	retiring  bool
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
	defer c.mu.Unlock()
	c.ctx, c.wg = ctx, wg
	if ctx == nil {
		return
	}
	// A restarted Serve: new contexts, removals still under way stay so.
	for _, w := range c.byCluster {
		w.ctx, w.retire = context.WithCancel(ctx)
		w.running = 0
		if w.retiring {
			w.retire()
		}
	}
}

// startWorkers starts --agents-per-cluster workers for q if Serve runs.
func (d *Dispatcher) startWorkers(q *queue.Queue) {
	c := &d.clusters
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return
	}
	w := c.byCluster[q.Cluster()]
	if w == nil {
		w = &clusterWork{q: q}
		w.ctx, w.retire = context.WithCancel(c.ctx)
		c.byCluster[q.Cluster()] = w
	}
	ctx, wg, clusterCtx := c.ctx, c.wg, w.ctx
	for range d.o.AgentsPerCluster {
		wg.Add(1)
		w.running++
		go func() {
			defer wg.Done()
			d.work(ctx, q, clusterCtx)
			d.workerDone(ctx, w)
		}()
	}
}

// workerDone completes a removal when the cluster's last worker stops
// with its queue drained.
func (d *Dispatcher) workerDone(ctx context.Context, w *clusterWork) {
	c := &d.clusters
	c.mu.Lock()
	w.running--
	var done func()
	if w.running == 0 && w.retiring && ctx.Err() == nil {
		delete(c.byCluster, w.q.Cluster())
		delete(c.kubeconfigs, w.q.Cluster())
		done = w.onRetired
	}
	c.mu.Unlock()
	if done != nil {
		done()
	}
}

// AddCluster starts workers for a cluster a reload added (or sets the
// kubeconfig of one it kept). It fails for a cluster whose removal is
// still draining.
func (d *Dispatcher) AddCluster(q *queue.Queue, kubeconfig string) error {
	c := &d.clusters
	c.mu.Lock()
	if w := c.byCluster[q.Cluster()]; w != nil && w.retiring {
		c.mu.Unlock()
		return fmt.Errorf("cluster %q is still draining after its removal", q.Cluster())
	}
	c.kubeconfigs[q.Cluster()] = kubeconfig
	_, running := c.byCluster[q.Cluster()]
	c.mu.Unlock()
	if !running {
		d.startWorkers(q)
	}
	return nil
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
	return w != nil && w.retiring
}

// RemoveCluster retires a cluster's workers: they run what is left in its
// queue (no new faults reach it once its session is gone), their agents
// finish as usual, and then they stop and onRetired is called (from the
// last worker). Without running workers onRetired is called at once.
func (d *Dispatcher) RemoveCluster(cluster string, onRetired func()) {
	c := &d.clusters
	c.mu.Lock()
	w := c.byCluster[cluster]
	if w == nil || w.running == 0 {
		delete(c.byCluster, cluster)
		delete(c.kubeconfigs, cluster)
		c.mu.Unlock()
		onRetired()
		return
	}
	w.retiring, w.onRetired = true, onRetired
	w.retire()
	c.mu.Unlock()
}

func (d *Dispatcher) kubeconfig(cluster string) string {
	c := &d.clusters
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kubeconfigs[cluster]
}
