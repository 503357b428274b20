// Command kubernetes-mcp-runner-load measures the runner on this machine
// and prints the Markdown tables of docs/benchmarks.md: connect time and
// memory for many simulated clusters in one process, faults per second and
// notification-to-queue latency through one session, the reconnection storm
// after every server restarts at once, and the time the built runner takes
// to shut down with many agents in flight. Its compare mode (compare.go)
// puts the built runner beside bare go-sdk sessions on the same simulated
// server and prints every scale figure with the floor and the ratio. It is
// operator tooling, shipped apart from the daemon (as promtool is apart
// from Prometheus).
//
//	kubernetes-mcp-runner-load [--clusters N] [--faults N] [--shutdown-agents N] [--runner PATH]
//	kubernetes-mcp-runner-load flood [--faults N] [--submit-delay D]
//	kubernetes-mcp-runner-load idle [--clusters N] [--keepalive D] [--settle D] [--profile-dir DIR]
//	kubernetes-mcp-runner-load readers [--readers N] [--incidents N] [--duration D] [--runner PATH]
//	kubernetes-mcp-runner-load compare [--clusters N,N] [--only intake,idle,storm] [--runs N] [--idle D] [--settle D] [--storm-clusters N --storm-faults N --storm-slots N] [--runner PATH]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// sourcesMode is the hidden first argument with which this command runs
// itself as the child that serves the simulated servers.
const sourcesMode = "sources"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case sourcesMode:
			os.Exit(runSources(os.Args[2:], os.Stdout, os.Stderr))
		case floodMode:
			os.Exit(runFlood(os.Args[2:], os.Stdout, os.Stderr))
		case idleMode:
			os.Exit(runIdle(os.Args[2:], os.Stdout, os.Stderr))
		case idleSideMode:
			os.Exit(runIdleSide(os.Args[2:], os.Stdout, os.Stderr))
		case floodSourcesMode:
			os.Exit(runFloodSources(os.Args[2:], os.Stdout, os.Stderr))
		case floorMode:
			os.Exit(runFloor(os.Args[2:], os.Stdout, os.Stderr))
		case compareMode:
			os.Exit(runCompare(os.Args[2:], os.Stdout, os.Stderr))
		case readersMode:
			os.Exit(runReaders(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(runLoad(os.Args[1:], os.Stdout, os.Stderr))
}

// runLoad measures the intake side on this machine: connect time and
// memory for many simulated clusters in one process, then faults per second
// and notification-to-queue latency through one session. It prints a
// Markdown table for docs/benchmarks.md. It stays one function because the
// phases share the one set of sessions and their figures go into one table,
// in the order they are measured.
func runLoad(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clusters := fs.Int("clusters", 1000, "simulated clusters (sessions) to connect")
	faults := fs.Int("faults", 20000, "faults sent through one session for the throughput figure")
	inFlight := fs.Int("shutdown-agents", 100, "agents in flight when measuring the time to shut down")
	runner := fs.String("runner", defaultRunner(), "the built kubernetes-mcp-runner, run for the shutdown figure")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	logger := slog.New(slog.DiscardHandler)

	// One simulated server, in a child process, hosts every cluster's
	// session, so the figures below are the runner's alone.
	endpoint, stopSources, err := startSourceProcess("127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return exitFailure
	}
	defer stopSources()

	names := make([]string, *clusters)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
	}
	m := metrics.New(metrics.NewRegistry(), metrics.BuildInfo{}, names)
	queues := queue.NewSet(names, *faults+1, m, time.Now)
	policies := map[string]intake.ClusterPolicy{}
	for _, n := range names {
		policies[n] = intake.ClusterPolicy{Triage: true}
	}
	in := intake.New(intake.Options{Logger: logger, Metrics: m, Queues: queues, Breaker: neverOpen{},
		Clusters: policies, MinSeverity: fault.SeverityInfo, DedupWindow: time.Minute, Now: time.Now})

	runtime.GC()
	rssBefore := rssBytes()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	sessions := make([]*mcpsession.Session, len(names))
	for i, n := range names {
		sessions[i] = mcpsession.New(mcpsession.Options{
			Cluster: config.Cluster{Name: n, Endpoint: endpoint, Transport: config.TransportStreamable, Triage: true},
			Handler: in, Metrics: m, Logger: logger, InitialDelay: time.Second, MaxDelay: 60 * time.Second,
			Keepalive: 30 * time.Second, ConnectTimeout: 60 * time.Second, MaxEventBytes: 1 << 20,
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = sessions[i].Serve(ctx)
		}()
	}
	connectedAt, pending := awaitConnected(sessions, start)
	if pending > 0 {
		fmt.Fprintf(stderr, "load: %d sessions still not connected after 5 minutes\n", pending)
		cancel()
		return exitFailure
	}
	allConnected := time.Since(start)
	runtime.GC()
	rssAfter := rssBytes()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goroutines := runtime.NumGoroutine()
	sort.Slice(connectedAt, func(i, j int) bool { return connectedAt[i] < connectedAt[j] })
	errors := 0.0
	for _, c := range names {
		for _, r := range metrics.ConnectionReasons {
			errors += counterValue(m.SSEConnectionErrors.WithLabelValues(c, r))
		}
	}
	// Every server restarts at once.
	var buckets []float64
	var allBack time.Duration
	buckets, allBack, stopSources = restartStorm(endpoint, stopSources, m, names, sessions, stderr)
	cancel()
	wg.Wait()

	// Throughput and latency through one session.
	rate, p50, p99, err := singleSessionThroughput(*faults)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}

	fmt.Fprintf(stdout, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(stdout, "| sessions connected and subscribed | %d |\n", len(names))
	fmt.Fprintf(stdout, "| time until all connected | %s |\n", allConnected.Round(time.Millisecond))
	fmt.Fprintf(stdout, "| per-session connect time p50 / p99 (from start of all) | %s / %s |\n",
		connectedAt[len(connectedAt)/2].Round(time.Millisecond), connectedAt[len(connectedAt)*99/100].Round(time.Millisecond))
	fmt.Fprintf(stdout, "| connection errors during the ramp | %.0f |\n", errors)
	fmt.Fprintf(stdout, "| runner RSS growth | %.1f MiB (%.1f KiB per session) |\n",
		float64(rssAfter-rssBefore)/(1<<20), float64(rssAfter-rssBefore)/1024/float64(len(names)))
	fmt.Fprintf(stdout, "| Go heap in use with all sessions | %.1f MiB |\n", float64(ms.HeapInuse)/(1<<20))
	fmt.Fprintf(stdout, "| runner goroutines with all sessions | %d |\n", goroutines)
	fmt.Fprintf(stdout, "| faults per second, one session into its queue | %.0f |\n", rate)
	fmt.Fprintf(stdout, "| notification-to-queue latency p50 / p99, at half that rate | %s / %s |\n", p50, p99)
	fmt.Fprintf(stdout, "| all servers restarted at once (down 3 s): every session back after | %s |\n", allBack.Round(100*time.Millisecond))
	took, interrupted, err := shutdownWithAgents(*runner, *inFlight)
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "| shutdown with %d agents in flight (shutdown timeout 2 s, kill grace 1 s) | %s, %d interrupted |\n",
		*inFlight, took.Round(time.Millisecond), interrupted)
	fmt.Fprintf(stdout, "\nReconnection attempts per second after every server went down at t=0 (back at t=3 s), in 250 ms buckets:\n\n| t (s) | attempts/s |\n|---|---|\n")
	for i, b := range buckets {
		if i >= 32 {
			break
		}
		fmt.Fprintf(stdout, "| %.2f | %.0f |\n", float64(i+1)*stormBucket.Seconds(), b/stormBucket.Seconds())
	}
	return exitOK
}

// awaitConnected polls the sessions until every one is connected and
// returns when each connected, counted from start; pending is how many were
// not after 5 minutes, when it gives up.
func awaitConnected(sessions []*mcpsession.Session, start time.Time) (connectedAt []time.Duration, pending int) {
	connectedAt = make([]time.Duration, len(sessions))
	for pending = len(sessions); pending > 0; time.Sleep(2 * time.Millisecond) {
		pending = 0
		for i, s := range sessions {
			if connectedAt[i] == 0 {
				if s.Connected() {
					connectedAt[i] = time.Since(start)
				} else {
					pending++
				}
			}
		}
		if pending > 0 && time.Since(start) > 5*time.Minute {
			return connectedAt, pending
		}
	}
	return connectedAt, 0
}

// stormBucket is the width of the reconnection histogram.
const stormBucket = 250 * time.Millisecond

// restartStorm kills the source process, brings a new one up on the same
// address 3 s later, and counts reconnection attempts per stormBucket to
// show how the jitter spreads them. It returns the counts, the time until
// every session was back, and the new source process's stop.
func restartStorm(endpoint string, stop func(), m *metrics.Metrics, names []string, sessions []*mcpsession.Session, stderr io.Writer) ([]float64, time.Duration, func()) {
	stop()
	addr := strings.TrimSuffix(strings.TrimPrefix(endpoint, "http://"), "/mcp")
	stormStart := time.Now()
	restarted := make(chan func(), 1)
	time.AfterFunc(3*time.Second, func() {
		_, stop, err := startSourceProcess(addr)
		if err != nil {
			fmt.Fprintf(stderr, "load: restart sources: %v\n", err)
			stop = func() {}
		}
		restarted <- stop
	})
	var buckets []float64
	last := reconnections(m, names)
	allBack := time.Duration(0)
	for time.Since(stormStart) < 12*time.Second || allBack == 0 {
		time.Sleep(stormBucket)
		now := reconnections(m, names)
		buckets = append(buckets, now-last)
		last = now
		if allBack == 0 && time.Since(stormStart) > 3*time.Second && connectedCount(sessions) == len(sessions) {
			allBack = time.Since(stormStart)
		}
		if time.Since(stormStart) > 5*time.Minute {
			break
		}
	}
	return buckets, allBack, <-restarted
}

// singleSessionThroughput sends n faults as fast as the server sends them
// and measures the rate at which they reach the queue and the latency from
// the server's send to the enqueue.
func singleSessionThroughput(n int) (float64, time.Duration, time.Duration, error) {
	logger := slog.New(slog.DiscardHandler)
	src := faultsource.New("one")
	if err := src.Start("127.0.0.1:0"); err != nil {
		return 0, 0, 0, err
	}
	defer src.Stop()
	m := metrics.New(metrics.NewRegistry(), metrics.BuildInfo{}, []string{"one"})
	queues := queue.NewSet([]string{"one"}, n+n/4+1, m, time.Now)
	in := intake.New(intake.Options{Logger: logger, Metrics: m, Queues: queues, Breaker: neverOpen{},
		Clusters: map[string]intake.ClusterPolicy{"one": {Triage: true}}, MinSeverity: fault.SeverityInfo,
		DedupWindow: time.Minute, Now: time.Now})
	s := mcpsession.New(mcpsession.Options{
		Cluster: config.Cluster{Name: "one", Endpoint: src.URL(), Transport: config.TransportStreamable, Triage: true},
		Handler: in, Metrics: m, Logger: logger, InitialDelay: time.Second, MaxDelay: time.Minute,
		Keepalive: 30 * time.Second, MaxEventBytes: 1 << 20,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Serve(ctx) }()
	for src.Subscribers() != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	q := queues.Get("one")
	// Send times by fault ID, for the latency figure: the stand-in, as
	// the real server, stamps faults with whole seconds.
	sent := make(map[string]time.Time, n+n/4)
	send := func(from, to int, interval time.Duration) error {
		next := time.Now()
		for i := from; i < to; i++ {
			if interval > 0 {
				time.Sleep(time.Until(next))
				next = next.Add(interval)
			}
			ev := faultsource.Fault("one", i, fault.TypeCrashLoop, "critical")
			ev.FaultID = "l" + strconv.Itoa(i)
			sent[ev.FaultID] = time.Now()
			src.Emit(ev)
		}
		deadline := time.Now().Add(5 * time.Minute)
		for q.Len() < to {
			if time.Now().After(deadline) {
				return fmt.Errorf("only %d of %d faults arrived", q.Len(), to)
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	// Saturation: as fast as the server can send.
	start := time.Now()
	if err := send(0, n, 0); err != nil {
		return 0, 0, 0, err
	}
	rate := float64(n) / time.Since(start).Seconds()
	// Latency at half that rate, where nothing queues up in transit.
	paced := n / 4
	if err := send(n, n+paced, time.Duration(float64(time.Second)/(rate/2))); err != nil {
		return 0, 0, 0, err
	}
	lat := make([]time.Duration, 0, paced)
	for _, it := range q.Snapshot()[n:] {
		lat = append(lat, it.EnqueuedAt.Sub(sent[it.Event.FaultID]))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return rate, lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), nil
}

type neverOpen struct{}

func (neverOpen) IsOpen() bool { return false }

func counterValue(c prometheus.Counter) float64 {
	var out dto.Metric
	if err := c.Write(&out); err != nil {
		return 0
	}
	return out.GetCounter().GetValue()
}

// rssBytes reads the resident set size from /proc.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// startSourceProcess runs this command in its sources mode as a child and returns its MCP
// endpoint. The child exits when its stdin closes, so it cannot outlive us.
func startSourceProcess(listen string) (string, func(), error) {
	c, err := startChild(sourcesMode, listen)
	if err != nil {
		return "", nil, err
	}
	return c.first, c.stop, nil
}

// child is this command run in one of its hidden modes: it prints one
// line when ready, then answers one line per line asked on its stdin, and
// exits when stdin closes.
type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	first string
	mu    sync.Mutex
}

func startChild(args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: stdin, out: bufio.NewReader(stdout)}
	line, err := c.out.ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s: %w", args[0], err)
	}
	c.first = strings.TrimSpace(line)
	return c, nil
}

// ask sends one request line and returns the answer line.
func (c *child) ask(format string, args ...any) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintf(c.in, format+"\n", args...); err != nil {
		return "", err
	}
	line, err := c.out.ReadString('\n')
	return strings.TrimSpace(line), err
}

// askInt asks for a number.
func (c *child) askInt(format string, args ...any) (int64, error) {
	line, err := c.ask(format, args...)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(line, 10, 64)
}

func (c *child) stop() {
	c.in.Close()
	_ = c.cmd.Wait()
}

// runSources serves one simulated kubernetes-mcp-server until stdin
// closes. It answers "subs" (sessions subscribed) and "emit N PREFIX"
// (send N faults, ids PREFIX0..., to every subscription, as fast as the
// server sends; answered once all are sent).
func runSources(args []string, stdout, stderr io.Writer) int {
	listen := "127.0.0.1:0"
	if len(args) > 0 {
		listen = args[0]
	}
	src := faultsource.New("")
	if err := src.Start(listen); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	defer src.Stop()
	fmt.Fprintln(stdout, src.URL())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "subs":
			fmt.Fprintln(stdout, src.Subscribers())
		case len(f) == 3 && f[0] == "emit":
			n, _ := strconv.Atoi(f[1])
			for i := range n {
				ev := faultsource.Fault("", i, fault.TypeCrashLoop, "critical")
				ev.FaultID = f[2] + strconv.Itoa(i)
				src.Emit(ev)
			}
			fmt.Fprintln(stdout, "ok")
		default:
			fmt.Fprintln(stdout, "?")
		}
	}
	return exitOK
}

func reconnections(m *metrics.Metrics, clusters []string) float64 {
	total := 0.0
	for _, c := range clusters {
		for _, r := range metrics.ConnectionReasons {
			total += counterValue(m.SSEReconnections.WithLabelValues(c, r))
		}
	}
	return total
}

func connectedCount(sessions []*mcpsession.Session) int {
	n := 0
	for _, s := range sessions {
		if s.Connected() {
			n++
		}
	}
	return n
}

// defaultRunner is the runner binary beside this one, else the one on PATH.
func defaultRunner() string {
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), "kubernetes-mcp-runner"); fileExists(p) {
			return p
		}
	}
	return "kubernetes-mcp-runner"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// shutdownWithAgents runs the built runner with n hanging sample agents in
// flight and measures how long its ordered shutdown takes from SIGTERM to
// exit; the interrupted count is the one its "Shutdown complete" line logs.
func shutdownWithAgents(runner string, n int) (time.Duration, int, error) {
	src := faultsource.New("one")
	if err := src.Start("127.0.0.1:0"); err != nil {
		return 0, 0, err
	}
	defer src.Stop()
	dir, err := os.MkdirTemp("", "kmr-load-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	ports := make([]int, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	cmd := exec.Command(runner,
		"--cluster", "one="+src.URL(), "--agent-command", runner, "--agent-arg", "sample-agent", "--agent-arg", "--hang",
		"--agents-per-cluster", strconv.Itoa(n), "--max-concurrent-agents", strconv.Itoa(n), "--queue-capacity", strconv.Itoa(n),
		"--shutdown-timeout", "2", "--agent-kill-grace", "1", "--workspace-root", dir, "--state-dir", filepath.Join(dir, "state"),
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1", "--ui-address", "",
		"--health-port", strconv.Itoa(ports[0]), "--metrics-port", strconv.Itoa(ports[1]),
	)
	logs, err := cmd.StderrPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start %s (build it first, or pass --runner): %w", runner, err)
	}
	interrupted := make(chan int, 1)
	go func() { interrupted <- interruptedAtShutdown(logs) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for src.Subscribers() != 1 {
		if time.Now().After(deadline) {
			stop()
			return 0, 0, fmt.Errorf("the runner did not subscribe")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range n {
		src.Emit(faultsource.Fault("one", i, fault.TypeCrashLoop, "critical"))
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])
	for scrape.Sum(scrape.Get(metricsURL), "kubernetes_mcp_runner_agents_active") < float64(n) {
		if time.Now().After(deadline) {
			stop()
			return 0, 0, fmt.Errorf("only %.0f of %d agents started", scrape.Sum(scrape.Get(metricsURL), "kubernetes_mcp_runner_agents_active"), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, 0, err
	}
	err = cmd.Wait()
	took := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("runner: %w", err)
	}
	return took, <-interrupted, nil
}

// interruptedAtShutdown reads the runner's JSON log to its end and returns
// agents_interrupted from its "Shutdown complete" line (-1 without one).
func interruptedAtShutdown(r io.Reader) int {
	n := -1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg         string `json:"msg"`
			Interrupted *int   `json:"agents_interrupted"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "Shutdown complete" && line.Interrupted != nil {
			n = *line.Interrupted
		}
	}
	return n
}
