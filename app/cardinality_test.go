package app

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// seriesBudgetPerCluster is the cardinality budget of docs/metrics.md: the
// series one configured, connected and idle cluster may add to /metrics.
const seriesBudgetPerCluster = 25

// TestOneIdleClusterAddsAtMostTheBudgetOfSeries runs the daemon with two and
// then three connected, idle clusters and counts the series each /metrics
// answer holds: the difference is what one cluster costs every scrape, at
// every cluster count.
func TestOneIdleClusterAddsAtMostTheBudgetOfSeries(t *testing.T) {
	two, _ := idleSeries(t, 2)
	three, _ := idleSeries(t, 3)
	perCluster := three - two
	t.Logf("series: %d with 2 idle clusters, %d with 3: %d per cluster", two, three, perCluster)
	if perCluster <= 0 {
		t.Fatalf("a third cluster added %d series; the count does not see clusters", perCluster)
	}
	if perCluster > seriesBudgetPerCluster {
		t.Fatalf("one idle cluster adds %d series, over the budget of %d", perCluster, seriesBudgetPerCluster)
	}
	// Within the budget, the count is the one docs/metrics.md states.
	if perCluster != metrics.PreCreatedPerCluster {
		t.Errorf("one idle cluster adds %d series; docs/metrics.md and metrics.PreCreatedPerCluster say %d", perCluster, metrics.PreCreatedPerCluster)
	}
}

// goroutinesPerIdleCluster is what one bare go-sdk subscriber holds (the
// SDK's event stream reader, its JSON-RPC reader and keepalive, the HTTP
// connection's read and write loops): the floor of the load command's
// compare mode (docs/benchmarks.md). Every goroutine more is kept by each
// of thousands of idle clusters, with its stack.
const goroutinesPerIdleCluster = 5

// TestOneIdleClusterHoldsNoMoreGoroutinesThanABareSubscriber counts the
// runner's goroutines with two and with three connected, idle clusters.
// A worker or lookup stage parked on every idle cluster fails it.
func TestOneIdleClusterHoldsNoMoreGoroutinesThanABareSubscriber(t *testing.T) {
	_, two := idleSeries(t, 2)
	_, three := idleSeries(t, 3)
	perCluster := three - two
	t.Logf("runner goroutines: %d with 2 idle clusters, %d with 3: %d per cluster", two, three, perCluster)
	if perCluster <= 0 {
		t.Fatalf("a third cluster added %d goroutines; the count does not see clusters", perCluster)
	}
	if perCluster > goroutinesPerIdleCluster {
		t.Fatalf("one idle cluster holds %d goroutines, more than a bare subscriber's %d", perCluster, goroutinesPerIdleCluster)
	}
}

// runnerGoroutines counts the goroutines of the process that are not the
// stand-in servers' (which run in the test process too).
func runnerGoroutines(t *testing.T) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if !serverSide(g) {
			n++
		}
	}
	return n
}

// serverSide: a goroutine of a stand-in server, or of the test.
func serverSide(stack string) bool {
	for _, mark := range []string{"internal/faultsource", "mcp.(*streamableServerConn)", "mcp.(*StreamableHTTPHandler)",
		"mcp.(*ServerSession)", "mcp.(*Server)", "net/http.(*conn)", "net/http.(*connReader)", "net/http.(*Server)", "testing.", "app.TestMain"} {
		if strings.Contains(stack, mark) {
			return true
		}
	}
	return false
}

// idleSeries starts the daemon with n clusters, each on its own stand-in
// server, waits until every one is subscribed and then counts the samples
// of one scrape and the runner's goroutines. Go runtime and process
// series are the same in both runs.
func idleSeries(t *testing.T, n int) (series, goroutines int) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state")}
	var srcs []*faultsource.Server
	for i := range n {
		name := "idle-" + strconv.Itoa(i)
		src := faultsource.New(name)
		if err := src.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(src.Stop)
		srcs = append(srcs, src)
		args = append(args, "--cluster", name+"="+src.URL())
	}
	cfg, err := config.Parse(args, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d := startInProcess(t, cfg, nil)
	poll.Until(t, 30*time.Second, "every cluster to subscribe", func() bool {
		for _, s := range srcs {
			if s.Subscribers() != 1 {
				return false
			}
		}
		return d.metric("kubernetes_mcp_runner_sse_connections_active") == float64(n)
	})
	// Goroutines that end with the handshake, and the connections the
	// handshake's requests used (closed a second after their last use,
	// as a keepalive ping's are), are gone once the clusters settle.
	time.Sleep(2 * time.Second)
	goroutines = runnerGoroutines(t)
	body := scrape.Get(d.metricsURL)
	samples, clusterSamples := 0, 0
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		samples++
		if strings.Contains(line, `cluster="idle-`) {
			clusterSamples++
		}
	}
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("%d clusters: %d samples, %d labelled with a configured cluster", n, samples, clusterSamples)
	return samples, goroutines
}
