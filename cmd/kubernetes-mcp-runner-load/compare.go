package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/freeport"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// compareMode runs the side-by-side measurement: the built runner and a
// floor against the same simulated server, in one run.
const compareMode = "compare"

// runCompare prints the scale table of docs/benchmarks.md, one row as soon
// as it is measured: every figure of the built runner (a real process with
// default flags, measured from outside through /proc, /metrics and its
// /debug/pprof) beside a floor (floor.go: a process of its own) and their
// ratio. Intake rates are compared with the raw floor (a reader of the
// same event stream that parses the same fields), with bare go-sdk
// sessions beside it for reference; idle memory, connect time and CPU with
// bare go-sdk sessions that keep alive as the runner does. Every cluster
// has its own address (127.0.0.0/8 is all loopback), so no connection is
// pooled across clusters. A side that fails prints its error in its cell
// and the run goes on.
func runCompare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clusterList := fs.String("clusters", "5000", "comma-separated cluster counts for the idle figures (memory, connect, CPU, /metrics, SIGTERM)")
	faults := fs.Int("faults", 20000, "faults sent to one cluster for the one-cluster intake figures")
	perCluster := fs.Int("faults-per-cluster", 1000, "faults sent to each of 50 clusters for the 50-cluster intake figures")
	idle := fs.Duration("idle", 20*time.Second, "how long idle CPU is measured")
	settleFor := fs.Duration("settle", 10*time.Second, "how long both sides stay idle after the last subscribe before memory is read")
	keepalive := fs.Duration("keepalive", 30*time.Second, "the keepalive interval of both sides (the runner's default --sse-keepalive-interval)")
	concurrency := fs.Int("connect-concurrency", mcpsession.DefaultConnectConcurrency, "handshakes the floor runs at once: the runner's own bound by default")
	stormClusters := fs.Int("storm-clusters", 50, "clusters of the storm")
	stormFaults := fs.Int("storm-faults", 4, "faults sent to each storm cluster")
	stormSlots := fs.Int("storm-slots", 10, "--max-concurrent-agents of the storm (fewer than its clusters, so faults queue)")
	profiles := fs.String("profile-dir", "", "save the runner's heap and goroutine profiles after the forced GC of each idle run here")
	logs := fs.String("runner-logs", "", "keep each runner's log here (run-N.log, N counting the runners started), e.g. to read where a shutdown's time goes")
	only := fs.String("only", "intake,idle,storm", "which parts to run")
	runner := fs.String("runner", defaultRunner(), "the built kubernetes-mcp-runner")
	var runnerArgs []string
	fs.Func("runner-arg", "an extra flag for every runner started (repeatable), e.g. --runner-arg=--metrics-timeout=5", func(v string) error {
		runnerArgs = append(runnerArgs, v)
		return nil
	})
	runs := fs.Int("runs", 3, "repetitions of each figure")
	stateRoot := fs.String("state-root", os.TempDir(), "directory the durable runs keep their state under: a real disk, not a tmpfs")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	var counts []int
	for _, f := range strings.Split(*clusterList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "load compare: --clusters %q\n", *clusterList)
			return exitUsage
		}
		counts = append(counts, n)
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
	// The stand-in listens on every address so each cluster can have one
	// of its own in 127.0.0.0/8.
	src, err := startChild(sourcesMode, "0.0.0.0:0")
	if err != nil {
		return fail(err)
	}
	defer src.stop()
	u, err := url.Parse(src.first)
	if err != nil {
		return fail(err)
	}
	// Agents run in their workspace: the runner's path must not be relative.
	runnerPath, err := filepath.Abs(*runner)
	if err != nil {
		return fail(err)
	}
	c := &compare{src: src, port: u.Port(), runner: runnerPath, root: root, extra: runnerArgs,
		keepalive: *keepalive, concurrency: *concurrency, settle: *settleFor, profiles: *profiles, logs: *logs}
	out := &table{w: stdout}
	parts := strings.Split(*only, ",")
	reps := max(*runs, 1)

	if slices.Contains(parts, "intake") {
		out.header("intake: faults/s until queued", "runner", "raw floor", "ratio to the raw floor", "go-sdk floor (reference)")
		for _, cs := range []struct {
			name     string
			clusters int
			faults   int
		}{{"one cluster", 1, *faults}, {"50 clusters (summed)", 50, *perCluster}} {
			for run := range reps {
				raw, rawErr := c.floorIntake("raw", cs.clusters, cs.faults)
				sdk, sdkErr := c.floorIntake("sdk", cs.clusters, cs.faults)
				for _, durable := range []bool{false, true} {
					got, err := c.runnerIntake(cs.clusters, cs.faults, durable)
					what := `in memory (--state-dir "")`
					if durable {
						what = "durable (state dir on disk)"
					}
					out.row(fmt.Sprintf("%s, %s, run %d/%d", cs.name, what, run+1, reps),
						cell(got, err, "%.0f/s"), cell(raw, rawErr, "%.0f/s"), ratioCell(got, err, raw, rawErr), cell(sdk, sdkErr, "%.0f/s"))
				}
			}
		}
	}
	if slices.Contains(parts, "idle") {
		out.header("idle clusters (after three forced GCs)", "runner, default flags", "go-sdk floor", "ratio")
		for _, n := range counts {
			for run := range reps {
				rn, rerr := c.runnerIdle(n, *idle)
				fl, ferr := c.floorIdle(n, *idle)
				tag := fmt.Sprintf("%d clusters, run %d/%d", n, run+1, reps)
				out.row(tag+": all subscribed after", durCell(rn.connect, rerr), durCell(fl.connect, ferr), ratioCell(rn.connect.Seconds(), rerr, fl.connect.Seconds(), ferr))
				out.row(tag+": RSS", mbCell(rn.rss, rerr), mbCell(fl.rss, ferr), ratioCell(float64(rn.rss), rerr, float64(fl.rss), ferr))
				out.row(tag+": RSS per cluster", kbPer(rn.rss, n, rerr), kbPer(fl.rss, n, ferr), "—")
				out.row(tag+": Go heap in use", mbCell(rn.heap, rerr), mbCell(fl.heap, ferr), ratioCell(float64(rn.heap), rerr, float64(fl.heap), ferr))
				out.row(tag+": goroutine stacks", mbCell(rn.stacks, rerr), mbCell(fl.stacks, ferr), ratioCell(float64(rn.stacks), rerr, float64(fl.stacks), ferr))
				out.row(tag+": goroutines, fds per cluster", perCell(rn, n, rerr), perCell(fl, n, ferr), "—")
				out.row(tag+fmt.Sprintf(": idle CPU over %s", *idle), cpuCell(rn.ticks, *idle, rerr), cpuCell(fl.ticks, *idle, ferr), "—")
				if rerr == nil {
					out.row(tag+": /metrics, default --metrics-timeout", rn.scrapeCell, "—", "—")
					out.row(tag+": SIGTERM to exit", durCell(rn.sigterm, rn.sigtermErr), "—", "—")
				}
			}
		}
	}
	if slices.Contains(parts, "storm") {
		out.header(fmt.Sprintf("storm: %d clusters × %d faults, 1 s agent, --max-concurrent-agents %d", *stormClusters, *stormFaults, *stormSlots),
			"runner", "ideal (slots always busy)", "ratio")
		for run := range reps {
			st, err := c.storm(*stormClusters, *stormFaults, *stormSlots)
			ideal := time.Duration(math.Ceil(float64(*stormClusters**stormFaults)/float64(*stormSlots))) * time.Second
			firstIdeal := time.Duration(math.Ceil(float64(*stormClusters)/float64(*stormSlots))) * time.Second
			tag := fmt.Sprintf("run %d/%d", run+1, reps)
			out.row(tag+": every agent finished after", durCell(st.total, err), ideal.String(), ratioCell(st.total.Seconds(), err, ideal.Seconds(), nil))
			out.row(tag+": every cluster's first agent finished after", durCell(st.lastFirst, err), firstIdeal.String()+" (round-robin)", ratioCell(st.lastFirst.Seconds(), err, firstIdeal.Seconds(), nil))
			out.row(tag+": clusters' last agents finished between", spanCell(st.firstLast, st.total, err), "—", "—")
		}
	}
	return exitOK
}

// table prints Markdown rows as they come.
type table struct {
	w    io.Writer
	cols int
}

func (t *table) header(cols ...string) {
	t.cols = len(cols)
	fmt.Fprintf(t.w, "\n| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

func (t *table) row(cells ...string) {
	for len(cells) < t.cols {
		cells = append(cells, "")
	}
	fmt.Fprintf(t.w, "| %s |\n", strings.Join(cells, " | "))
	if f, ok := t.w.(*os.File); ok {
		_ = f.Sync()
	}
}

func failed(err error) string {
	return "failed: " + strings.ReplaceAll(err.Error(), "|", "/")
}

func cell(v float64, err error, format string) string {
	if err != nil {
		return failed(err)
	}
	return fmt.Sprintf(format, v)
}

func ratioCell(a float64, aerr error, b float64, berr error) string {
	if aerr != nil || berr != nil || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func durCell(d time.Duration, err error) string {
	if err != nil {
		return failed(err)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mbCell[T int64 | uint64](v T, err error) string {
	if err != nil {
		return failed(err)
	}
	return fmt.Sprintf("%.0f MB (%.0f MiB)", float64(v)/1e6, float64(v)/(1<<20))
}

func kbPer(v int64, n int, err error) string {
	if err != nil {
		return "—"
	}
	return fmt.Sprintf("%.1f KB", float64(v)/1e3/float64(n))
}

func perCell(f compareIdle, n int, err error) string {
	if err != nil {
		return "—"
	}
	return fmt.Sprintf("%.2f goroutines, %.2f fds", float64(f.goroutines)/float64(n), float64(f.fds)/float64(n))
}

func cpuCell(ticks int64, d time.Duration, err error) string {
	if err != nil {
		return "—"
	}
	return fmt.Sprintf("%.1f %% of a core", pctOfCore(ticks, d))
}

func spanCell(lo, hi time.Duration, err error) string {
	if err != nil {
		return failed(err)
	}
	return fmt.Sprintf("%.1f–%.1f s", lo.Seconds(), hi.Seconds())
}

// idleCollections is how many garbage collections both sides get before
// their memory is read.
const idleCollections = 3

// scrapeEvery is how often the runner's /metrics is read while waiting.
const scrapeEvery = 25 * time.Millisecond

type compare struct {
	src         *child
	port        string // the stand-in's port, on every address
	runner      string
	root        string
	extra       []string // flags for every runner
	keepalive   time.Duration
	concurrency int
	settle      time.Duration
	profiles    string
	logs        string // keep each runner's log here when set
	runs        int
	leftover    int // subscribed sessions earlier sides left on the stand-in
}

// endpoint is cluster i's own address: 127.0.0.0/8 is all loopback.
func (c *compare) endpoint(i int) string {
	j := i + 2
	return fmt.Sprintf("http://127.%d.%d.%d:%s/mcp?c=%d", j>>16&255, j>>8&255, j&255, c.port, i)
}

// waitSubscribed waits until the server holds n subscribed sessions
// beyond those a previous side left behind.
func (c *compare) waitSubscribed(n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		got, err := c.src.askInt("subs")
		if err != nil {
			return err
		}
		if int(got)-c.leftover >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d sessions subscribed after %s", int(got)-c.leftover, n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until the server holds no more sessions than before the
// side that just stopped, so that the next measurement starts alone. A
// side that exits before its last session's DELETE leaves that session
// on the stand-in, which never times sessions out: after 15 s those are
// counted as left behind.
func (c *compare) waitGone() error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := c.src.askInt("subs")
		if err != nil {
			return err
		}
		if int(got) <= c.leftover {
			return nil
		}
		if time.Now().After(deadline) {
			c.leftover = int(got)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startFloor starts a floor of kind ("sdk" or "raw") on n clusters and
// returns once every session is subscribed.
func (c *compare) startFloor(kind string, n int) (*child, error) {
	c.runs++
	file := filepath.Join(c.root, "floor-"+strconv.Itoa(c.runs)+".txt")
	var b strings.Builder
	for i := range n {
		b.WriteString(c.endpoint(i) + "\n")
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	f, err := startChild(floorMode, kind, file, c.keepalive.String(), strconv.Itoa(c.concurrency))
	if err != nil {
		_ = c.waitGone()
		return nil, err
	}
	return f, nil
}

// floorIntake sends faults to every one of clusters floor sessions and
// returns the summed rate at which they arrive.
func (c *compare) floorIntake(kind string, clusters, faults int) (float64, error) {
	f, err := c.startFloor(kind, clusters)
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
		time.Sleep(scrapeEvery)
	}
}

// runnerIntake does the same through the built runner and counts a fault
// once events_queued_total has it: durable, that is once it is on disk.
func (c *compare) runnerIntake(clusters, faults int, durable bool) (float64, error) {
	p, err := c.startRunner(clusters, durable, false, nil, "--queue-capacity", strconv.Itoa(faults+1),
		"--agents-per-cluster", "1", "--max-concurrent-agents", "1", "--log-level", "warn")
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
		// A scrape costs the runner CPU: poll as gently as the floor is
		// polled.
		time.Sleep(scrapeEvery)
	}
}

type compareIdle struct {
	connect      time.Duration
	rss          int64
	heap, stacks uint64
	fds          int
	goroutines   int64
	ticks        int64
	scrapeCell   string
	sigterm      time.Duration
	sigtermErr   error
}

// runnerIdle starts the runner with default flags on n clusters (and
// --debug-address, to force a collection before memory is read), waits
// until all are subscribed and the settle time has passed, then reads
// memory, CPU, one /metrics answer and the time SIGTERM takes.
func (c *compare) runnerIdle(n int, idle time.Duration) (compareIdle, error) {
	var fig compareIdle
	start := time.Now()
	p, err := c.startRunner(n, true, true, nil)
	if err != nil {
		return fig, err
	}
	debug := p.debugPort
	defer func() { p.stop(); _ = c.waitGone() }()
	if err := c.waitSubscribed(n, 5*time.Minute); err != nil {
		return fig, err
	}
	fig.connect = time.Since(start)
	time.Sleep(c.settle)
	// Three collections on both sides, as the runtime's own forced ones
	// (one every two minutes) would give an idle process in six: each
	// halves the stacks that use under a quarter of theirs.
	for range idleCollections {
		if _, _, _, err := timedGet(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", debug), false); err != nil {
			return fig, fmt.Errorf("forced GC: %w", err)
		}
	}
	time.Sleep(time.Second)
	pid := p.cmd.Process.Pid
	fig.rss, fig.fds = rssOf(pid), fdsOf(pid)
	if c.profiles != "" {
		for _, prof := range []string{"heap", "goroutine"} {
			file := filepath.Join(c.profiles, fmt.Sprintf("%s-%d-%d.pprof", prof, n, c.runs))
			if err := saveURL(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/%s", debug, prof), file); err != nil {
				return fig, err
			}
		}
	}
	took, size, code, err := timedGetBody(p.metrics, func(body string) {
		fig.heap = uint64(scrape.Sum(body, "go_memstats_heap_inuse_bytes"))
		fig.stacks = uint64(scrape.Sum(body, "go_memstats_stack_inuse_bytes"))
		fig.goroutines = int64(scrape.Sum(body, "go_goroutines"))
	})
	switch {
	case err != nil:
		fig.scrapeCell = failed(err)
	case code != http.StatusOK:
		fig.scrapeCell = fmt.Sprintf("HTTP %d after %.2f s", code, took.Seconds())
	default:
		fig.scrapeCell = fmt.Sprintf("%.2f s, %.1f MB uncompressed", took.Seconds(), float64(size)/1e6)
		if gzTook, gzSize, gzCode, err := timedGet(p.metrics, true); err == nil && gzCode == http.StatusOK {
			fig.scrapeCell += fmt.Sprintf(" (gzip: %.2f s, %.1f MB)", gzTook.Seconds(), float64(gzSize)/1e6)
		}
	}
	before := ticksOf(pid)
	time.Sleep(idle)
	fig.ticks = ticksOf(pid) - before
	t0 := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		fig.sigtermErr = err
		return fig, nil
	}
	if err := p.cmd.Wait(); err != nil {
		fig.sigtermErr = fmt.Errorf("runner exit: %w", err)
	}
	fig.sigterm = time.Since(t0)
	return fig, nil
}

// floorIdle measures bare go-sdk sessions the same way: subscribed, the
// settle time, a forced collection, then RSS and CPU.
func (c *compare) floorIdle(n int, idle time.Duration) (compareIdle, error) {
	var fig compareIdle
	start := time.Now()
	f, err := c.startFloor("sdk", n)
	if err != nil {
		return fig, err
	}
	defer func() { f.stop(); _ = c.waitGone() }()
	fig.connect = time.Since(start)
	time.Sleep(c.settle)
	mem, err := f.ask("gc")
	if err != nil {
		return fig, err
	}
	if _, err := fmt.Sscan(mem, &fig.heap, &fig.stacks); err != nil {
		return fig, fmt.Errorf("floor gc answer %q: %w", mem, err)
	}
	time.Sleep(time.Second)
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

type stormFigures struct {
	total     time.Duration // until every agent finished
	lastFirst time.Duration // until every cluster had one agent finished
	firstLast time.Duration // the first cluster to have all its agents finished
}

// storm sends faults faults to each of n clusters, each agent a 1 s
// sample agent, slots agents at once: the faults queue. It reports when
// the last agent finished and, for fairness, when the last cluster saw its
// first agent finish and when the first cluster was done.
func (c *compare) storm(n, faults, slots int) (stormFigures, error) {
	var fig stormFigures
	p, err := c.startRunner(n, true, false, []string{c.runner, "sample-agent", "--delay", "1s"},
		"--max-concurrent-agents", strconv.Itoa(slots), "--queue-capacity", strconv.Itoa(faults+1), "--log-level", "warn")
	if err != nil {
		return fig, err
	}
	defer func() { p.stop(); _ = c.waitGone() }()
	if err := c.waitSubscribed(n, time.Minute); err != nil {
		return fig, err
	}
	start := time.Now()
	if _, err := c.src.ask("emit %d storm", faults); err != nil {
		return fig, err
	}
	first := map[string]time.Duration{}
	done := map[string]time.Duration{}
	for {
		total := 0.0
		body := scrape.Get(p.metrics)
		if bad := scrape.Sum(body, "kubernetes_mcp_runner_agents_completed_total") -
			scrape.Sum(body, "kubernetes_mcp_runner_agents_completed_total", `status="success"`); bad > 0 {
			return fig, fmt.Errorf("%.0f agents did not succeed", bad)
		}
		for cluster, v := range perCluster(body, "kubernetes_mcp_runner_agents_completed_total") {
			total += v
			if _, ok := first[cluster]; !ok && v >= 1 {
				first[cluster] = time.Since(start)
			}
			if _, ok := done[cluster]; !ok && v >= float64(faults) {
				done[cluster] = time.Since(start)
			}
		}
		if total >= float64(n*faults) {
			fig.total = time.Since(start)
			break
		}
		if time.Since(start) > 10*time.Minute {
			return fig, fmt.Errorf("%.0f of %d agents finished after 10 minutes", total, n*faults)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(first) != n || len(done) == 0 {
		return fig, errors.New("a cluster's completions were not seen")
	}
	for _, d := range first {
		fig.lastFirst = max(fig.lastFirst, d)
	}
	fig.firstLast = fig.total
	for _, d := range done {
		fig.firstLast = min(fig.firstLast, d)
	}
	return fig, nil
}

// perCluster sums a metric's samples by their cluster label.
func perCluster(body, name string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		i := strings.Index(rest, `cluster="`)
		if i < 0 {
			continue
		}
		cluster := rest[i+len(`cluster="`):]
		cluster = cluster[:strings.IndexByte(cluster, '"')]
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			out[cluster] += v
		}
	}
	return out
}

type runnerProc struct {
	cmd       *exec.Cmd
	metrics   string
	debugPort int // 0 unless started with debug
}

// startRunner starts the built runner on n clusters, each its own address
// of the simulated server, with default flags but for its ports, its
// directories and extra (later flags win); its agent by default a
// hanging sample agent; with debug, its /debug endpoints on a port of
// their own.
func (c *compare) startRunner(n int, durable, debug bool, agent []string, extra ...string) (*runnerProc, error) {
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
		fmt.Fprintf(&b, "  - name: c%d\n    endpoint: %s\n", i, c.endpoint(i))
	}
	clusters := filepath.Join(dir, "clusters.yaml")
	if err := os.WriteFile(clusters, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	ports, err := freeport.Ports(3)
	if err != nil {
		return nil, err
	}
	debugPort := 0
	if debug {
		// Found with the other two, so the three differ.
		debugPort = ports[2]
		extra = append([]string{"--debug-address", "127.0.0.1:" + strconv.Itoa(debugPort)}, extra...)
	}
	state := ""
	if durable {
		state = filepath.Join(dir, "state")
	}
	args := append([]string{
		"--clusters-file", clusters, "--agent-command", agent[0],
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", state,
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1",
		"--health-port", strconv.Itoa(ports[0]), "--metrics-port", strconv.Itoa(ports[1]),
	}, extra...)
	args = append(args, c.extra...)
	for _, a := range agent[1:] {
		args = append(args, "--agent-arg", a)
	}
	cmd := exec.Command(c.runner, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if c.logs != "" {
		if err := os.MkdirAll(c.logs, 0o755); err != nil {
			return nil, err
		}
		f, err := os.Create(filepath.Join(c.logs, "run-"+strconv.Itoa(c.runs)+".log"))
		if err != nil {
			return nil, err
		}
		defer f.Close() // the child holds its own descriptor
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (build it first, or pass --runner): %w", c.runner, err)
	}
	return &runnerProc{cmd: cmd, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1]), debugPort: debugPort}, nil
}

func (p *runnerProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// saveURL writes the body of url to file.
func saveURL(url, file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

// timedGetBody fetches url uncompressed, hands the body to read, and
// returns the time it took, its size and the status.
func timedGetBody(url string, read func(string)) (time.Duration, int, int, error) {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, 0, 0, err
	}
	if resp.StatusCode == http.StatusOK {
		read(string(body))
	}
	return took, len(body), resp.StatusCode, nil
}

func pctOfCore(ticks int64, d time.Duration) float64 {
	return float64(ticks) / float64(clockTicks) / d.Seconds() * 100
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// timedGet fetches url whole and returns the time it took, the bytes on
// the wire and the status.
func timedGet(url string, gz bool) (time.Duration, int, int, error) {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, 0, 0, err
	}
	if gz && resp.Header.Get("Content-Encoding") == "gzip" {
		if _, err := gzip.NewReader(strings.NewReader(string(body))); err != nil {
			return 0, 0, 0, err
		}
	}
	return took, len(body), resp.StatusCode, nil
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
