package dispatch

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
)

// TestAddedClusterGetsWorkers: a queue added while Serve runs is worked
// at once, and its agents get the kubeconfig given with it.
func TestAddedClusterGetsWorkers(t *testing.T) {
	f := start(t, settings{})
	f.m.AddCluster("edge")
	if err := f.d.AddCluster(f.queues.Add("edge"), "/etc/kube/edge.yaml"); err != nil {
		t.Fatal(err)
	}
	f.push(t, "edge", "ok-added")
	f.waitCompleted(t, "edge", incident.StatusSuccess, 1)
	rs := f.results(t, "edge")
	var doc incident.EventDocument
	data, _ := os.ReadFile(filepath.Join(f.root, "edge", rs[0].IncidentID, incident.EventFile))
	if err := json.Unmarshal(data, &doc); err != nil || doc.Kubeconfig != "/etc/kube/edge.yaml" {
		t.Errorf("event.json %s (%v), want the added cluster's kubeconfig", data, err)
	}
}

// TestRemovedClusterDrains: a removed cluster's running agent finishes,
// the fault still queued behind it runs, and only then is the removal
// reported done; a re-add while it drains is refused.
func TestRemovedClusterDrains(t *testing.T) {
	f := start(t, settings{clusters: []string{"prod", "old"}})
	f.push(t, "old", "slow-running")
	poll.Until(t, 20*time.Second, "the first agent to start", func() bool { return f.d.InFlight() == 1 })
	f.push(t, "old", "ok-queued")
	retired := make(chan struct{})
	f.d.RemoveCluster("old", func() { close(retired) })
	if !f.d.Draining("old") {
		t.Error("a removal with an agent running is not draining")
	}
	if err := f.d.AddCluster(f.queues.Get("old"), ""); err == nil {
		t.Error("re-adding a draining cluster was accepted")
	}
	select {
	case <-retired:
	case <-time.After(30 * time.Second):
		t.Fatal("the removed cluster never finished draining")
	}
	if got := f.completed("old", incident.StatusSuccess); got != 2 {
		t.Errorf("%v of the removed cluster's two incidents succeeded, want both", got)
	}
	if f.queues.Get("old").Len() != 0 || f.d.Draining("old") {
		t.Error("drained cluster still holds work")
	}
	// The other cluster is unaffected.
	f.push(t, "prod", "ok-after")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
}

// TestRemovedIdleClusterRetires: idle workers of a removed cluster stop
// and report the removal done without any work.
func TestRemovedIdleClusterRetires(t *testing.T) {
	f := start(t, settings{clusters: []string{"prod", "idle"}})
	poll.Until(t, 10*time.Second, "workers to start", func() bool {
		f.d.clusters.mu.Lock()
		defer f.d.clusters.mu.Unlock()
		return f.d.clusters.byCluster["idle"] != nil
	})
	retired := make(chan struct{})
	f.d.RemoveCluster("idle", func() { close(retired) })
	select {
	case <-retired:
	case <-time.After(10 * time.Second):
		t.Fatal("idle workers of a removed cluster did not stop")
	}
	if f.d.kubeconfig("idle") != "" || f.d.Draining("idle") {
		t.Error("the retired cluster is still known")
	}
}

// workerGoroutines counts the goroutines running a cluster's worker.
func workerGoroutines(t *testing.T) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Count(b.String(), "dispatch.(*Dispatcher).worker(")
}

// TestIdleClustersHoldNoWorkers: a worker runs only while its cluster has
// work, so thousands of idle clusters cost no goroutine each; a fault
// starts one, and it leaves once the queue is empty.
func TestIdleClustersHoldNoWorkers(t *testing.T) {
	var clusters []string
	for i := range 50 {
		clusters = append(clusters, "c"+strconv.Itoa(i))
	}
	f := start(t, settings{clusters: clusters})
	poll.Until(t, 10*time.Second, "every cluster to be known", func() bool {
		f.d.clusters.mu.Lock()
		defer f.d.clusters.mu.Unlock()
		return len(f.d.clusters.byCluster) == len(clusters)
	})
	if n := workerGoroutines(t); n != 0 {
		t.Fatalf("%d workers run for %d idle clusters, want none", n, len(clusters))
	}
	f.push(t, "c7", "slow-running")
	poll.Until(t, 20*time.Second, "the agent to start", func() bool { return f.d.InFlight() == 1 })
	if n := workerGoroutines(t); n != 1 {
		t.Errorf("%d workers run while one cluster has one fault, want 1", n)
	}
	f.waitCompleted(t, "c7", incident.StatusSuccess, 1)
	poll.Until(t, 10*time.Second, "the worker to leave", func() bool { return workerGoroutines(t) == 0 })
}

// TestFaultsArrivingAsWorkersLeaveAreAllRun: faults pushed one at a time
// into many clusters, each arriving about when the worker that ran the
// previous one finds its queue empty, all run: none is left in a queue
// that no worker will take.
func TestFaultsArrivingAsWorkersLeaveAreAllRun(t *testing.T) {
	var clusters []string
	for i := range 10 {
		clusters = append(clusters, "c"+strconv.Itoa(i))
	}
	f := start(t, settings{clusters: clusters, maxConcurrent: 10})
	const each = 6
	var wg sync.WaitGroup
	var mu sync.Mutex // push numbers faults from a shared counter
	for _, c := range clusters {
		wg.Go(func() {
			for i := range each {
				mu.Lock()
				f.push(t, c, "ok-"+c+"-"+strconv.Itoa(i))
				mu.Unlock()
				time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	for _, c := range clusters {
		f.waitCompleted(t, c, incident.StatusSuccess, each)
	}
	poll.Until(t, 10*time.Second, "every worker to leave", func() bool { return workerGoroutines(t) == 0 })
}
