package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
)

// compareMode runs the side-by-side measurement: the built runner and the
// bare go-sdk floor against the same simulated server, in one run.
const compareMode = "compare"

// runCompare prints the scale table of docs/benchmarks.md: every figure of
// the built runner (a real process, measured from outside through /proc
// and /metrics) with the bare go-sdk floor (runFloor, also a process of
// its own) beside it and their ratio. The simulated server runs in a third
// process and serves both, one after the other.
func runCompare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	idleClusters := fs.Int("clusters", 5000, "clusters for the idle memory, CPU, /metrics and SIGTERM figures")
	faults := fs.Int("faults", 20000, "faults sent to one cluster for the one-cluster intake figures")
	perCluster := fs.Int("faults-per-cluster", 1000, "faults sent to each of 50 clusters for the 50-cluster intake figures")
	idle := fs.Duration("idle", 60*time.Second, "how long idle CPU is measured")
	runner := fs.String("runner", defaultRunner(), "the built kubernetes-mcp-runner")
	var runnerArgs []string
	fs.Func("runner-arg", "an extra flag for every runner started (repeatable), e.g. --runner-arg=--debug-address=127.0.0.1:6060 to profile it", func(v string) error {
		runnerArgs = append(runnerArgs, v)
		return nil
	})
	runs := fs.Int("runs", 3, "repetitions of each intake figure (printed as a range)")
	stateRoot := fs.String("state-root", os.TempDir(), "directory the durable runs keep their state under: a real disk, not a tmpfs")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "load compare: %v\n", err)
		return exitFailure
	}
	root, err := os.MkdirTemp(*stateRoot, "kmr-compare-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(root)
	src, err := startChild(sourcesMode, "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	defer src.stop()
	endpoint := src.first
	r := &compare{src: src, endpoint: endpoint, runner: *runner, root: root, extra: runnerArgs}

	var rows []row
	for _, c := range []struct {
		name     string
		clusters int
		faults   int
	}{{"one cluster", 1, *faults}, {"50 clusters (summed)", 50, *perCluster}} {
		// Runs alternate floor, in memory, durable, so that a change in
		// the machine's load touches all three alike.
		var floor, mem, disk []float64
		for range max(*runs, 1) {
			f, err := r.floorIntake(c.clusters, c.faults)
			if err != nil {
				return fail(fmt.Errorf("floor intake, %d clusters: %w", c.clusters, err))
			}
			m, err := r.runnerIntake(c.clusters, c.faults, false)
			if err != nil {
				return fail(fmt.Errorf("runner intake in memory, %d clusters: %w", c.clusters, err))
			}
			d, err := r.runnerIntake(c.clusters, c.faults, true)
			if err != nil {
				return fail(fmt.Errorf("runner intake durable, %d clusters: %w", c.clusters, err))
			}
			floor, mem, disk = append(floor, f), append(mem, m), append(disk, d)
		}
		rows = append(rows,
			row{"intake, " + c.name + `, in memory (--state-dir "")`, span(mem, "faults/s"), span(floor, "/s"), ratios(mem, floor)},
			row{"intake, " + c.name + ", durable (state dir on disk)", span(disk, "faults/s"), span(floor, "/s"), ratios(disk, floor)})
	}

	n := *idleClusters
	rn, err := r.runnerIdle(n, *idle)
	if err != nil {
		return fail(fmt.Errorf("runner, %d idle clusters: %w", n, err))
	}
	fl, err := r.floorIdle(n, *idle)
	if err != nil {
		return fail(fmt.Errorf("floor, %d idle sessions: %w", n, err))
	}
	rows = append(rows,
		row{fmt.Sprintf("all %d connected and subscribed, from start", n), fmt.Sprintf("%.1f s", rn.connect.Seconds()),
			fmt.Sprintf("%.1f s", fl.connect.Seconds()), fmt.Sprintf("%.2f", rn.connect.Seconds()/fl.connect.Seconds())},
		row{fmt.Sprintf("idle memory, %d clusters", n),
			fmt.Sprintf("%.0f MB RSS, %d fds, %d goroutines", float64(rn.rss)/1e6, rn.fds, rn.goroutines),
			fmt.Sprintf("%.0f MB, %d fds, %d goroutines", float64(fl.rss)/1e6, fl.fds, fl.goroutines),
			fmt.Sprintf("%.2f× RSS, %.2f× fds, %.2f× goroutines", float64(rn.rss)/float64(fl.rss), float64(rn.fds)/float64(fl.fds), float64(rn.goroutines)/float64(fl.goroutines))},
		row{fmt.Sprintf("idle memory per cluster, %d clusters", n),
			fmt.Sprintf("%.0f KB, %.1f fds, %.1f goroutines", float64(rn.rss)/1e3/float64(n), float64(rn.fds)/float64(n), float64(rn.goroutines)/float64(n)),
			fmt.Sprintf("%.0f KB, %.1f fds, %.1f goroutines", float64(fl.rss)/1e3/float64(n), float64(fl.fds)/float64(n), float64(fl.goroutines)/float64(n)), "—"},
		row{fmt.Sprintf("idle CPU, %d clusters, %s", n, idle.String()),
			fmt.Sprintf("%d ticks (%.1f %% of a core)", rn.ticks, pctOfCore(rn.ticks, *idle)),
			fmt.Sprintf("%d ticks (%.1f %%)", fl.ticks, pctOfCore(fl.ticks, *idle)), "—"},
		row{fmt.Sprintf("/metrics at %d clusters", n),
			fmt.Sprintf("%.2f s, %.1f MB (%.2f s gzip, %.0f KB)", rn.scrape.Seconds(), float64(rn.scrapeBytes)/1e6, rn.scrapeGzip.Seconds(), float64(rn.scrapeGzipBytes)/1e3), "—", "—"},
		row{fmt.Sprintf("SIGTERM to exit, %d clusters", n), fmt.Sprintf("%.2f s", rn.sigterm.Seconds()), "—", "—"},
	)
	storm, floorStorm, err := r.storm(10)
	if err != nil {
		return fail(fmt.Errorf("storm: %w", err))
	}
	rows = append(rows, row{"storm, 10 clusters × 1 fault, 1 s agent, --max-concurrent-agents 10",
		fmt.Sprintf("%.2f s", storm.Seconds()), fmt.Sprintf("%.2f s (10 in parallel)", floorStorm.Seconds()), fmt.Sprintf("%.2f", storm.Seconds()/floorStorm.Seconds())})

	fmt.Fprintln(stdout, "| measure | runner | floor | ratio |")
	fmt.Fprintln(stdout, "|---|---|---|---|")
	for _, rw := range rows {
		fmt.Fprintf(stdout, "| %s | %s | %s | %s |\n", rw.measure, rw.runner, rw.floor, rw.ratio)
	}
	return exitOK
}

// scrapeEvery is how often the runner's /metrics is read while waiting.
const scrapeEvery = 25 * time.Millisecond

type row struct{ measure, runner, floor, ratio string }

// span prints the range of xs.
func span(xs []float64, unit string) string {
	lo, hi := slices.Min(xs), slices.Max(xs)
	if len(xs) == 1 || int(lo) == int(hi) {
		return fmt.Sprintf("%.0f %s", lo, unit)
	}
	return fmt.Sprintf("%.0f–%.0f %s", lo, hi, unit)
}

// ratios prints the range of a[i]/b[i], each run against the floor of the
// same round.
func ratios(a, b []float64) string {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	lo, hi := slices.Min(r), slices.Max(r)
	if fmt.Sprintf("%.2f", lo) == fmt.Sprintf("%.2f", hi) {
		return fmt.Sprintf("%.2f", lo)
	}
	return fmt.Sprintf("%.2f–%.2f", lo, hi)
}

func pctOfCore(ticks int64, d time.Duration) float64 {
	return float64(ticks) / float64(clockTicks) / d.Seconds() * 100
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

type compare struct {
	src      *child
	endpoint string
	runner   string
	root     string
	extra    []string // flags for every runner
	runs     int
}

// waitSubscribed waits until the server holds n subscribed sessions.
func (c *compare) waitSubscribed(n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		got, err := c.src.askInt("subs")
		if err != nil {
			return err
		}
		if int(got) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d sessions subscribed after %s", got, n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until the server holds no session, so that the next
// measurement starts alone.
func (c *compare) waitGone() error { return c.waitSubscribed(0, time.Minute) }

// floorIntake sends faults to every one of clusters bare sessions and
// returns the summed rate at which they arrive.
func (c *compare) floorIntake(clusters, faults int) (float64, error) {
	f, err := startChild(floorMode, c.endpoint, strconv.Itoa(clusters))
	if err != nil {
		return 0, err
	}
	defer func() { f.stop(); _ = c.waitGone() }()
	if err := c.waitSubscribed(clusters, time.Minute); err != nil {
		return 0, err
	}
	total := int64(clusters * faults)
	start := time.Now()
	if _, err := c.src.ask("emit %d f", faults); err != nil {
		return 0, err
	}
	for {
		got, err := f.askInt("count")
		if err != nil {
			return 0, err
		}
		if got >= total {
			return float64(total) / time.Since(start).Seconds(), nil
		}
		if time.Since(start) > 5*time.Minute {
			return 0, fmt.Errorf("%d of %d faults arrived", got, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runnerIntake does the same through the built runner and counts a fault
// once events_queued_total has it: durable, that is once it is on disk.
func (c *compare) runnerIntake(clusters, faults int, durable bool) (float64, error) {
	p, err := c.startRunner(clusters, durable, nil, "--queue-capacity", strconv.Itoa(faults+1))
	if err != nil {
		return 0, err
	}
	defer func() { p.stop(); _ = c.waitGone() }()
	if err := c.waitSubscribed(clusters, time.Minute); err != nil {
		return 0, err
	}
	total := float64(clusters * faults)
	start := time.Now()
	if _, err := c.src.ask("emit %d f", faults); err != nil {
		return 0, err
	}
	for {
		got := scrape.Sum(scrape.Get(p.metrics), "kubernetes_mcp_runner_events_queued_total")
		if got >= total {
			return total / time.Since(start).Seconds(), nil
		}
		if time.Since(start) > 5*time.Minute {
			return 0, fmt.Errorf("%.0f of %.0f faults queued", got, total)
		}
		// A scrape costs the runner CPU: poll gently (the error is at
		// most this interval over a run of seconds).
		time.Sleep(scrapeEvery)
	}
}

type compareIdle struct {
	connect            time.Duration
	rss                int64
	fds                int
	goroutines         int64
	ticks              int64
	scrape, scrapeGzip time.Duration
	scrapeBytes        int
	scrapeGzipBytes    int
	sigterm            time.Duration
}

// settle lets a ramp's garbage and buffers go before memory is read.
const settle = 5 * time.Second

func (c *compare) runnerIdle(n int, idle time.Duration) (compareIdle, error) {
	var fig compareIdle
	start := time.Now()
	p, err := c.startRunner(n, true, nil, "--metrics-timeout", "60")
	if err != nil {
		return fig, err
	}
	defer func() { p.stop(); _ = c.waitGone() }()
	if err := c.waitSubscribed(n, 5*time.Minute); err != nil {
		return fig, err
	}
	fig.connect = time.Since(start)
	time.Sleep(settle)
	pid := p.cmd.Process.Pid
	fig.rss, fig.fds = rssOf(pid), fdsOf(pid)
	fig.goroutines = int64(scrape.Sum(scrape.Get(p.metrics), "go_goroutines"))
	before := ticksOf(pid)
	time.Sleep(idle)
	fig.ticks = ticksOf(pid) - before
	var err2 error
	if fig.scrape, fig.scrapeBytes, err2 = timedGet(p.metrics, false); err2 != nil {
		return fig, err2
	}
	if fig.scrapeGzip, fig.scrapeGzipBytes, err2 = timedGet(p.metrics, true); err2 != nil {
		return fig, err2
	}
	t0 := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fig, err
	}
	if err := p.cmd.Wait(); err != nil {
		return fig, fmt.Errorf("runner exit: %w", err)
	}
	fig.sigterm = time.Since(t0)
	return fig, nil
}

func (c *compare) floorIdle(n int, idle time.Duration) (compareIdle, error) {
	var fig compareIdle
	start := time.Now()
	f, err := startChild(floorMode, c.endpoint, strconv.Itoa(n))
	if err != nil {
		return fig, err
	}
	defer func() { f.stop(); _ = c.waitGone() }()
	fig.connect = time.Since(start)
	time.Sleep(settle)
	pid := f.cmd.Process.Pid
	fig.rss, fig.fds = rssOf(pid), fdsOf(pid)
	if fig.goroutines, err = f.askInt("goroutines"); err != nil {
		return fig, err
	}
	before := ticksOf(pid)
	time.Sleep(idle)
	fig.ticks = ticksOf(pid) - before
	return fig, nil
}

// storm: one fault on each of n clusters, each agent a 1 s sleep, as many
// agents allowed as clusters: the time until every agent has finished,
// against n sleeps started at once.
func (c *compare) storm(n int) (time.Duration, time.Duration, error) {
	p, err := c.startRunner(n, true, []string{"/bin/sleep", "1"},
		"--max-concurrent-agents", strconv.Itoa(n), "--circuit-breaker-threshold", strconv.Itoa(10*n))
	if err != nil {
		return 0, 0, err
	}
	defer func() { p.stop(); _ = c.waitGone() }()
	if err := c.waitSubscribed(n, time.Minute); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if _, err := c.src.ask("emit 1 storm"); err != nil {
		return 0, 0, err
	}
	for scrape.Sum(scrape.Get(p.metrics), "kubernetes_mcp_runner_agents_completed_total") < float64(n) {
		if time.Since(start) > time.Minute {
			return 0, 0, errors.New("the agents did not finish within a minute")
		}
		time.Sleep(scrapeEvery)
	}
	took := time.Since(start)

	start = time.Now()
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmds[i] = exec.Command("/bin/sleep", "1")
		if err := cmds[i].Start(); err != nil {
			return 0, 0, err
		}
	}
	for _, cmd := range cmds {
		_ = cmd.Wait()
	}
	return took, time.Since(start), nil
}

type runnerProc struct {
	cmd     *exec.Cmd
	metrics string
}

// startRunner starts the built runner on n clusters of the simulated
// server (endpoint?c=<i>, one session each, as n servers would be), its
// agent (default: a hanging sample agent) at most one at a time unless
// extra says otherwise (later flags win).
func (c *compare) startRunner(n int, durable bool, agent []string, extra ...string) (*runnerProc, error) {
	if agent == nil {
		agent = []string{c.runner, "sample-agent", "--hang"}
	}
	c.runs++
	dir := filepath.Join(c.root, "run-"+strconv.Itoa(c.runs))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("clusters:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: c%d\n    endpoint: %s?c=%d\n", i, c.endpoint, i)
	}
	clusters := filepath.Join(dir, "clusters.yaml")
	if err := os.WriteFile(clusters, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	ports := make([]int, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	state := ""
	if durable {
		state = filepath.Join(dir, "state")
	}
	args := append([]string{
		"--clusters-file", clusters, "--agent-command", agent[0],
		"--agents-per-cluster", "1", "--max-concurrent-agents", "1",
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", state, "--log-level", "warn",
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1",
		"--health-port", strconv.Itoa(ports[0]), "--metrics-port", strconv.Itoa(ports[1]),
		"--shutdown-timeout", "2", "--agent-kill-grace", "1",
	}, extra...)
	args = append(args, c.extra...)
	for _, a := range agent[1:] {
		args = append(args, "--agent-arg", a)
	}
	cmd := exec.Command(c.runner, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (build it first, or pass --runner): %w", c.runner, err)
	}
	return &runnerProc{cmd: cmd, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])}, nil
}

func (p *runnerProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// timedGet fetches url whole and returns the time it took and the bytes
// on the wire.
func timedGet(url string, gz bool) (time.Duration, int, error) {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	if gz && resp.Header.Get("Content-Encoding") == "gzip" {
		if _, err := gzip.NewReader(strings.NewReader(string(body))); err != nil {
			return 0, 0, err
		}
	}
	return took, len(body), nil
}

// rssOf is a process's resident set size, in bytes.
func rssOf(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
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

// fdsOf counts a process's open file descriptors.
func fdsOf(pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(entries)
}

// ticksOf is a process's user plus system CPU time, in clock ticks.
func ticksOf(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after its ')'.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}
