package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// idleMode measures what idle clusters cost: the runner's sessions against
// the floor, bare go-sdk clients subscribed to the same server, in one run;
// each side runs in a child process of its own (idleSideMode), so neither
// inherits the other's heap.
const (
	idleMode     = "idle"
	idleSideMode = "idle-side"
)

// idleFigures is what one side holds with every cluster subscribed.
type idleFigures struct {
	Connected  time.Duration
	RSS        int64
	Heap       uint64
	Stacks     uint64
	Goroutines int
	FDs        int
}

// runIdle connects N clusters' worth of bare go-sdk sessions (the floor),
// measures, closes them, then runs the runner's sessions for N clusters
// (each cluster its own server address, 127.0.x.y, as in a fleet), waits a
// keepalive interval or more so pings have run, and measures again. With
// --profile-dir it writes heap and goroutine profiles of the runner side.
func runIdle(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(idleMode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("clusters", 5000, "simulated clusters, each with its own server address")
	keepalive := fs.Duration("keepalive", 30*time.Second, "the runner's --keepalive-interval")
	settle := fs.Duration("settle", 40*time.Second, "how long the runner's sessions stay idle before measuring")
	profiles := fs.String("profile-dir", "", "write heap and goroutine profiles of the runner's sessions here")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	endpoint, stop, err := startSourceProcess("0.0.0.0:0")
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return exitFailure
	}
	defer stop()
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(endpoint, "http://"), "/mcp"))
	endpoints := make([]string, *n)
	for i := range endpoints {
		// 127.0.0.0/8 is all loopback: a distinct host per cluster.
		endpoints[i] = fmt.Sprintf("http://127.%d.%d.%d:%s/mcp", (i+2)>>16&255, (i+2)>>8&255, (i+2)&255, port)
	}

	floor, err := idleSide("floor", endpoints, *keepalive, *settle, "")
	if err != nil {
		fmt.Fprintf(stderr, "load: floor: %v\n", err)
		return exitFailure
	}
	runner, err := idleSide("runner", endpoints, *keepalive, *settle, *profiles)
	if err != nil {
		fmt.Fprintf(stderr, "load: runner: %v\n", err)
		return exitFailure
	}
	per := func(v float64) float64 { return v / float64(*n) }
	fmt.Fprintf(stdout, "| %d idle clusters | runner | bare go-sdk floor | ratio |\n|---|---|---|---|\n", *n)
	fmt.Fprintf(stdout, "| all subscribed after | %s | %s | |\n", runner.Connected.Round(time.Millisecond), floor.Connected.Round(time.Millisecond))
	fmt.Fprintf(stdout, "| RSS growth | %.0f MiB (%.1f KiB/cluster) | %.0f MiB (%.1f KiB/cluster) | %.2f |\n",
		mib(runner.RSS), per(float64(runner.RSS))/1024, mib(floor.RSS), per(float64(floor.RSS))/1024, float64(runner.RSS)/float64(floor.RSS))
	fmt.Fprintf(stdout, "| Go heap in use | %.0f MiB | %.0f MiB | %.2f |\n", float64(runner.Heap)/(1<<20), float64(floor.Heap)/(1<<20), float64(runner.Heap)/float64(floor.Heap))
	fmt.Fprintf(stdout, "| goroutine stacks | %.0f MiB | %.0f MiB | %.2f |\n", float64(runner.Stacks)/(1<<20), float64(floor.Stacks)/(1<<20), float64(runner.Stacks)/float64(floor.Stacks))
	fmt.Fprintf(stdout, "| goroutines per cluster | %.2f | %.2f | %.2f |\n", per(float64(runner.Goroutines)), per(float64(floor.Goroutines)), float64(runner.Goroutines)/float64(floor.Goroutines))
	fmt.Fprintf(stdout, "| open fds per cluster | %.2f | %.2f | %.2f |\n", per(float64(runner.FDs)), per(float64(floor.FDs)), float64(runner.FDs)/float64(floor.FDs))
	return exitOK
}

// idleSide runs one side in a child process and reads its figures.
func idleSide(side string, endpoints []string, keepalive, settle time.Duration, profiles string) (idleFigures, error) {
	self, err := os.Executable()
	if err != nil {
		return idleFigures{}, err
	}
	cmd := exec.Command(self, idleSideMode, side, keepalive.String(), settle.String(), profiles)
	cmd.Stdin = strings.NewReader(strings.Join(endpoints, "\n"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return idleFigures{}, err
	}
	var f idleFigures
	return f, json.Unmarshal(out, &f)
}

// runIdleSide is the child: it reads the endpoints from stdin, measures
// one side and prints its figures as JSON.
func runIdleSide(args []string, stdout, stderr io.Writer) int {
	if len(args) != 4 {
		fmt.Fprintln(stderr, "usage: idle-side floor|runner KEEPALIVE SETTLE PROFILE-DIR")
		return exitUsage
	}
	keepalive, err1 := time.ParseDuration(args[1])
	settle, err2 := time.ParseDuration(args[2])
	data, err3 := io.ReadAll(os.Stdin)
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	endpoints := strings.Fields(string(data))
	if args[3] != "" {
		// Every allocation in the heap profile, not a sample.
		runtime.MemProfileRate = 1
	}
	var f idleFigures
	var err error
	if args[0] == "floor" {
		f, err = measureFloor(endpoints, keepalive, settle)
	} else {
		f, err = measureRunner(endpoints, keepalive, settle, args[3])
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	_ = json.NewEncoder(stdout).Encode(f)
	return exitOK
}

type baseline struct {
	rss        int64
	heap       uint64
	stacks     uint64
	goroutines int
	fds        int
}

func takeBaseline() baseline {
	// Three collections, as the runtime's own forced collections (one
	// every two minutes) would do to an idle process in six: each halves
	// the goroutine stacks that use less than a quarter of theirs.
	for range 3 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return baseline{rssBytes(), ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine(), openFDs()}
}

func (b baseline) since() idleFigures {
	now := takeBaseline()
	return idleFigures{RSS: now.rss - b.rss, Heap: now.heap - b.heap, Stacks: now.stacks - b.stacks, Goroutines: now.goroutines - b.goroutines, FDs: now.fds - b.fds}
}

// measureFloor subscribes a bare go-sdk client to each endpoint as the
// compare mode's floor does (floor.go: the runner's protocol version, the
// SDK's keepalive at the runner's interval, idle connections closed after
// a second), and measures after the
// same settle time, at most as many handshakes at once as the runner.
func measureFloor(endpoints []string, keepalive, settle time.Duration) (idleFigures, error) {
	base := takeBaseline()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	httpClient := &http.Client{Transport: &http.Transport{IdleConnTimeout: min(keepalive/2, time.Second), MaxIdleConnsPerHost: 8}}
	var mu sync.Mutex
	var closers []func()
	err := forEach(endpoints, mcpsession.DefaultConnectConcurrency, func(ep string) error {
		closeFn, err := sdkSubscribe(ctx, httpClient, ep, keepalive, func() {})
		if err == nil {
			mu.Lock()
			closers = append(closers, closeFn)
			mu.Unlock()
		}
		return err
	})
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	if err != nil {
		return idleFigures{}, err
	}
	connected := time.Since(start)
	time.Sleep(settle)
	f := base.since()
	f.Connected = connected
	return f, nil
}

func measureRunner(endpoints []string, keepalive, settle time.Duration, profiles string) (idleFigures, error) {
	names := make([]string, len(endpoints))
	clusters := make([]config.Cluster, len(endpoints))
	policies := map[string]intake.ClusterPolicy{}
	for i, ep := range endpoints {
		names[i] = "c" + strconv.Itoa(i)
		clusters[i] = config.Cluster{Name: names[i], Endpoint: ep, Transport: config.TransportStreamable, Triage: true}
		policies[names[i]] = intake.ClusterPolicy{Triage: true}
	}
	logger := slog.New(slog.DiscardHandler)
	base := takeBaseline()
	m := metrics.New(metrics.NewRegistry(), metrics.BuildInfo{}, names)
	queues := queue.NewSet(names, 100, m, time.Now)
	in := intake.New(intake.Options{Logger: logger, Metrics: m, Queues: queues, Breaker: neverOpen{},
		Clusters: policies, MinSeverity: fault.SeverityInfo, DedupWindow: time.Minute, Now: time.Now})
	set := mcpsession.NewSet(clusters, mcpsession.Options{
		Handler: in, Metrics: m, Logger: logger, InitialDelay: time.Second, MaxDelay: 60 * time.Second,
		Keepalive: keepalive, ConnectTimeout: 60 * time.Second, MaxEventBytes: 1 << 20,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	start := time.Now()
	for _, s := range set.Sessions() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Serve(ctx)
		}()
	}
	_, pending := awaitConnected(set.Sessions(), start)
	if pending > 0 {
		return idleFigures{}, fmt.Errorf("%d sessions not connected after 5 minutes", pending)
	}
	connected := time.Since(start)
	time.Sleep(settle)
	f := base.since()
	f.Connected = connected
	if profiles != "" {
		if err := writeProfiles(profiles); err != nil {
			return idleFigures{}, err
		}
	}
	return f, nil
}

func writeProfiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(dir, p+".pprof"))
		if err != nil {
			return err
		}
		err = pprof.Lookup(p).WriteTo(f, 0)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(entries)
}
