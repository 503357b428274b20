package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// TestThreeShardsOwnEveryClusterOnce runs three runners on one
// configuration of nine clusters, as three StatefulSet replicas would:
// each server is subscribed to exactly once, each fault is queued and
// triaged by exactly one runner, the one its cluster hashes to, and each
// runner's metrics hold its own clusters only and its shard.
func TestThreeShardsOwnEveryClusterOnce(t *testing.T) {
	const clusters, shards = 9, 3
	var args []string
	srcs := map[string]*faultsource.Server{}
	for i := range clusters {
		name := "cluster-" + strconv.Itoa(i)
		src := faultsource.New(name)
		if err := src.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer src.Stop()
		srcs[name] = src
		args = append(args, "--cluster", name+"="+src.URL())
	}
	dir := t.TempDir()
	regs := make([]*prometheus.Registry, shards)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, shards)
	for shard := range shards {
		cfg, err := config.Parse(append(append([]string{}, args...),
			"--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
			"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state-"+strconv.Itoa(shard)),
			"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1", "--ui-address", "127.0.0.1:0",
			"--total-shards", strconv.Itoa(shards),
		), func(env string) string {
			if env == "POD_NAME" { // the StatefulSet ordinal gives the shard
				return "kubernetes-mcp-runner-" + strconv.Itoa(shard)
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg.HealthPort, cfg.MetricsPort = 0, 0
		regs[shard] = metrics.NewRegistry()
		started := make(chan struct{})
		go func() {
			var logs testlog.Buffer
			done <- Run(ctx, cfg, Deps{
				Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Notify: func(string) {}, Registry: regs[shard],
				Started: func(_, _, _ *httpserver.Server) { close(started) },
			})
		}()
		<-started
	}

	poll.Until(t, 30*time.Second, "every server to be subscribed to", func() bool {
		for _, src := range srcs {
			if src.Subscribers() == 0 {
				return false
			}
		}
		return true
	})
	owned := map[string][]int{}
	for name, src := range srcs {
		if n := src.Subscribers(); n != 1 {
			t.Errorf("%s has %d subscribers, want exactly 1", name, n)
		}
		ev := faultsource.Fault(name, 1, fault.TypeCrashLoop, "critical")
		src.Emit(ev)
	}
	poll.Until(t, 60*time.Second, "every fault to be triaged", func() bool {
		n := 0.0
		for _, reg := range regs {
			n += sumOf(t, reg, "kubernetes_mcp_runner_agents_completed_total")
		}
		return n == clusters
	})
	for shard, reg := range regs {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range families {
			switch mf.GetName() {
			case "kubernetes_mcp_runner_sse_connections_active":
				for _, m := range mf.GetMetric() {
					name := m.GetLabel()[0].GetValue()
					owned[name] = append(owned[name], shard)
					if want := config.ShardOf(name, shards); want != shard {
						t.Errorf("shard %d exports %s, which hashes to shard %d", shard, name, want)
					}
				}
			case "kubernetes_mcp_runner_shard_info":
				var got []string
				for _, lp := range mf.GetMetric()[0].GetLabel() {
					got = append(got, lp.GetName()+"="+lp.GetValue())
				}
				if want := fmt.Sprintf("shard=%d total_shards=3", shard); strings.Join(got, " ") != want {
					t.Errorf("shard %d exports shard_info %v, want %s", shard, got, want)
				}
			}
		}
		for name := range srcs {
			q := testutil.ToFloat64(metricsOf(t, reg, "kubernetes_mcp_runner_events_queued_total", name))
			if mine := config.ShardOf(name, shards) == shard; (q == 1) != mine {
				t.Errorf("shard %d queued %v faults of %s (owner: shard %d)", shard, q, name, config.ShardOf(name, shards))
			}
		}
	}
	for name := range srcs {
		if len(owned[name]) != 1 {
			t.Errorf("%s is owned by shards %v, want exactly one", name, owned[name])
		}
	}
	cancel()
	for range shards {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a runner did not stop")
		}
	}
}

// sumOf adds every sample of a counter family.
func sumOf(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range families {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// metricsOf is a counter of one cluster as a collector, 0 when absent.
func metricsOf(t *testing.T, reg *prometheus.Registry, name, cluster string) prometheus.Collector {
	t.Helper()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "absent"})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == cluster {
				c.Add(m.GetCounter().GetValue())
			}
		}
	}
	return c
}

// TestAShardWithoutClustersIsReady: a shard that owns none of the
// configured clusters connects to nothing and is ready, so a StatefulSet
// with more replicas than clusters rolls out.
func TestAShardWithoutClustersIsReady(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	other := 1 - config.ShardOf("prod", 2) // the shard that does not own prod
	dir := t.TempDir()
	cfg, err := config.Parse([]string{
		"--cluster", "prod=" + src.URL(), "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state"),
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1",
		"--shard", strconv.Itoa(other), "--total-shards", "2", "--ui-address", "127.0.0.1:0",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.HealthPort, cfg.MetricsPort = 0, 0
	ctx, cancel := context.WithCancel(context.Background())
	servers := make(chan *httpserver.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Logger: slog.New(slog.DiscardHandler), Notify: func(string) {},
			Started: func(_, h, _ *httpserver.Server) { servers <- h }})
	}()
	var h *httpserver.Server
	select {
	case h = <-servers:
	case err := <-done:
		cancel()
		t.Fatalf("Run ended before serving: %v", err)
	}
	<-h.Listening()
	poll.Until(t, 10*time.Second, "/readyz to answer 200", func() bool { return statusOf("http://"+h.Addr()+"/readyz") == 200 })
	if n := src.Sessions(); n != 0 {
		t.Errorf("the shard without clusters opened %d sessions", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestReloadKeepsItsShard: a SIGHUP that adds clusters gives a sharded
// runner only those of its own shard: it subscribes to its new cluster
// and neither connects to nor labels the other.
func TestReloadKeepsItsShard(t *testing.T) {
	var own, foreign []string
	for i := 0; len(own) < 2 || len(foreign) < 1; i++ {
		name := "cluster-" + strconv.Itoa(i)
		if config.ShardOf(name, 2) == 0 {
			own = append(own, name)
		} else {
			foreign = append(foreign, name)
		}
	}
	srcs := map[string]*faultsource.Server{}
	for _, n := range append(append([]string{}, own...), foreign[0]) {
		srcs[n] = faultsource.Started(t, n)
	}
	dir := t.TempDir()
	clustersFile := filepath.Join(dir, "clusters.yaml")
	writeClusters(t, clustersFile, srcs, own[0])
	args := []string{
		"--clusters-file", clustersFile, "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state"),
		"--shard", "0", "--total-shards", "2",
	}
	load := func() (config.Config, error) { return config.Parse(args, func(string) string { return "" }) }
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	hangup := make(chan os.Signal, 1)
	d := startInProcessWith(t, cfg, load, hangup)
	poll.Until(t, 30*time.Second, own[0]+" to subscribe", func() bool { return srcs[own[0]].Subscribers() == 1 })

	writeClusters(t, clustersFile, srcs, own[0], own[1], foreign[0])
	hangup <- syscall.SIGHUP
	poll.Until(t, 30*time.Second, own[1]+" to subscribe", func() bool { return srcs[own[1]].Subscribers() == 1 })
	if n := srcs[foreign[0]].Sessions(); n != 0 {
		t.Errorf("shard 0 opened %d sessions to %s, which shard 1 owns", n, foreign[0])
	}
	if exp := scrape.Get(d.metricsURL); strings.Contains(exp, `cluster="`+foreign[0]+`"`) {
		t.Errorf("shard 0 exports series of %s, which shard 1 owns", foreign[0])
	}
}
