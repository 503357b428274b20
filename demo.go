package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/app"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/logging"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
)

// runDemo starts simulated clusters on loopback and the runner against
// them, with the bundled sample agent, the incidents page and a local
// webhook receiver, so a new user sees faults become reports in a browser
// and as notifications with nothing else installed.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	clusters := fs.Int("clusters", 3, "simulated clusters")
	rate := fs.Float64("rate", 0.5, "faults per second per cluster")
	duration := fs.Duration("duration", 0, "stop after this long (0: run until Ctrl-C)")
	workspace := fs.String("workspace-root", demoWorkspace(), "where incident workspaces go (the state directory is its .state)")
	healthPort := fs.Int("health-port", 8080, "health server port")
	metricsPort := fs.Int("metrics-port", 9090, "metrics server port")
	uiPort := fs.Int("ui-port", 8081, "incidents page port")
	mix := fs.String("mix", "all", "incident states to show once at the start, comma-separated: "+strings.Join(faultsource.ShowAll, ",")+"; all or none")
	failureRate := fs.Float64("failure-rate", 0, "share (0-1) of the steady stream's faults whose agent fails (enough in a row open the breaker)")
	if err := config.ParseCommand(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "Usage: kubernetes-mcp-runner demo [options]\n\nRuns the runner against simulated clusters on loopback with the bundled\nsample agent, the incidents page and a local webhook receiver.\n\n"+
				"It starts by showing each incident state once (--mix): a node storm grouped\ninto one incident, a success, a failure, a notification the webhook refuses\n"+
				"once and gets on retry, the circuit breaker opening on failures in a row and\nclosing on a probe, and an agent that hangs until its timeout. A steady\n"+
				"stream of faults follows (--rate, --failure-rate).\n\nOptions:\n")
			config.WriteCommandHelp(stdout, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitConfig
	}
	shows, err := faultsource.ParseMix(*mix)
	if err != nil {
		fmt.Fprintf(stderr, "demo: --mix %v\n", err)
		return exitConfig
	}
	if *failureRate < 0 || *failureRate > 1 {
		fmt.Fprintf(stderr, "demo: --failure-rate %v: want a share from 0 to 1\n", *failureRate)
		return exitConfig
	}
	// Ports of the demo's defaults that another program holds (often
	// kubernetes-mcp-server on 8080) are swapped for free ones; a port given
	// on the command line is kept, and a taken one stops the demo before it
	// prints its URLs.
	var given []string
	fs.Visit(func(f *flag.Flag) { given = append(given, f.Name) })
	moved, err := demoPorts(given, []demoPort{{"health-port", healthPort}, {"metrics-port", metricsPort}, {"ui-port", uiPort}})
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitConfig
	}
	for _, m := range moved {
		fmt.Fprintf(stdout, "Demo: %s\n", m)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}

	hook, notifyFile, err := startDemoReceiver(*workspace, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	defer hook.Close()
	pageURL := fmt.Sprintf("http://127.0.0.1:%d", *uiPort)

	sources, clusterNames, err := startDemoClusters(*clusters)
	defer func() {
		for _, src := range sources {
			src.Stop()
		}
	}()
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	cfgArgs := []string{
		"--agent-command", self, "--agent-arg", "sample-agent", "--agent-arg", "--delay=2s",
		"--workspace-root", *workspace, "--state-dir", demoStateDir(*workspace),
		"--agent-timeout", fmt.Sprint(demoAgentTimeout), "--shutdown-timeout", "10", "--max-concurrent-agents", "4",
		"--circuit-breaker-threshold", fmt.Sprint(demoBreakerThreshold), "--circuit-breaker-cooldown", fmt.Sprint(demoBreakerCooldown),
		"--health-port", fmt.Sprint(*healthPort), "--metrics-port", fmt.Sprint(*metricsPort),
		"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1",
		"--log-format", "text", "--queue-sweep-interval", "5", "--max-queue-age", "60",
		"--ui-address", fmt.Sprintf("127.0.0.1:%d", *uiPort), "--external-url", pageURL, "--notify-file", notifyFile,
		"--group-wait", "5",
	}
	for i, src := range sources {
		cfgArgs = append(cfgArgs, "--cluster", clusterNames[i]+"="+src.URL())
	}
	cfg, err := config.Parse(cfgArgs, func(string) string { return "" })
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitConfig
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if *duration > 0 {
		time.AfterFunc(*duration, cancel)
	}
	var emitters sync.WaitGroup
	emitters.Add(1)
	go func() {
		defer emitters.Done()
		if !waitSubscribed(ctx, sources) {
			return
		}
		show := faultsource.Showcase{Sources: sources, Clusters: clusterNames, Mix: shows, BreakerThreshold: demoBreakerThreshold,
			Settle: 15 * time.Second, Cooldown: demoBreakerCooldown * time.Second}
		if show.Run(ctx) != nil {
			return
		}
		var streams sync.WaitGroup
		for i, src := range sources {
			streams.Go(func() { emitDemoFaults(ctx, src, clusterNames[i], *rate, *failureRate) })
		}
		streams.Wait()
	}()
	fmt.Fprintf(stdout, "Demo: %d simulated clusters on loopback, sample agent, workspaces in %s\n", *clusters, *workspace)
	fmt.Fprintf(stdout, "Incidents page: %s/incidents   (reports appear as agents finish)\n", pageURL)
	if len(shows) > 0 {
		fmt.Fprintf(stdout, "Showing once: %s (--mix); then %.2g faults/s per cluster (--rate)\n", strings.Join(shows, ", "), *rate)
	}
	if slices.Contains(shows, faultsource.ShowStorm) {
		fmt.Fprintf(stdout, "Grouping: demo-eu's node-bad goes NotReady with 6 pods on it: 13 faults, one incident (--group-wait 5)\n")
	}
	fmt.Fprintf(stdout, "Webhook receiver: %s (signed notifications, printed below as they arrive)\n", "http://"+hook.Addr().String())
	fmt.Fprintf(stdout, "Metrics: http://127.0.0.1:%d/metrics   Health: http://127.0.0.1:%d/readyz?verbose   Stop: Ctrl-C\n", *metricsPort, *healthPort)

	err = app.Run(ctx, cfg, app.Deps{
		Logger:    logging.New(stderr, "text", cfg.SlogLevel()),
		Signals:   []os.Signal{syscall.SIGTERM, syscall.SIGINT},
		Notify:    func(string) {},
		Subreaper: true,
		Build:     metrics.BuildInfo(currentBuild()),
	})
	cancel()
	emitters.Wait()
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	reports, _ := filepath.Glob(filepath.Join(*workspace, "*", "*", cfg.AgentReportFile))
	fmt.Fprintf(stdout, "Demo finished: %d investigation reports under %s\n", len(reports), *workspace)
	fmt.Fprintf(stdout, "List them again: kubernetes-mcp-runner incidents --state-dir %s\n", demoStateDir(*workspace))
	return exitOK
}

// demoWorkspace is where the demo keeps its workspaces and state unless
// told otherwise.
func demoWorkspace() string { return filepath.Join(os.TempDir(), "kubernetes-mcp-runner-demo") }

// demoStateDir is the demo's state directory under its workspace root
// (hidden, so no cluster name can clash with it).
func demoStateDir(workspace string) string { return filepath.Join(workspace, ".state") }

// demoPort is one of the demo's loopback ports and its flag.
type demoPort struct {
	flag string
	port *int
}

// demoPorts checks that the demo's ports are free on loopback. A default
// that is taken is replaced by a free port (each distinct) and reported in
// moved; a port the user gave (flags in given) that is taken is an error
// naming its flag. The ports may be taken again before the runner binds
// them; the runner's own error names the option then.
func demoPorts(given []string, ports []demoPort) (moved []string, err error) {
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*p.port)))
		if err == nil {
			held = append(held, ln)
			continue
		}
		if slices.Contains(given, p.flag) {
			return moved, fmt.Errorf("--%s %d: %w; pass a free port with --%s", p.flag, *p.port, err, p.flag)
		}
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return moved, fmt.Errorf("--%s: %w", p.flag, err)
		}
		held = append(held, ln)
		free := ln.Addr().(*net.TCPAddr).Port
		moved = append(moved, fmt.Sprintf("port %d is taken, using %d instead (--%s sets it)", *p.port, free, p.flag))
		*p.port = free
	}
	return moved, nil
}

// startDemoClusters starts n simulated clusters on loopback. On error the
// ones already started are returned too, for the caller to stop.
func startDemoClusters(n int) (sources []*faultsource.Server, clusters []string, err error) {
	names := []string{"demo-eu", "demo-us", "demo-ap", "demo-sa", "demo-af"}
	for i := range n {
		name := fmt.Sprintf("demo-%d", i)
		if i < len(names) {
			name = names[i]
		}
		src := faultsource.New(name)
		if err := src.Start("127.0.0.1:0"); err != nil {
			return sources, clusters, err
		}
		sources = append(sources, src)
		clusters = append(clusters, name)
	}
	return sources, clusters, nil
}

// The demo's agent timeout and breaker, short so that the showcase's
// timeout and breaker (open, then closed by a probe) show within a minute.
const (
	demoAgentTimeout     = 15 // seconds
	demoBreakerThreshold = 3
	demoBreakerCooldown  = 15 // seconds
)

// waitSubscribed waits for the runner to subscribe to every source before
// the first fault; false if ctx ended first.
func waitSubscribed(ctx context.Context, sources []*faultsource.Server) bool {
	for _, src := range sources {
		for src.Subscribers() == 0 {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return true
}

// emitDemoFaults sends the steady stream, with some repeats so the
// duplicate filter shows up in the metrics.
func emitDemoFaults(ctx context.Context, src *faultsource.Server, cluster string, rate, failureRate float64) {
	src.EmitAtRate(ctx, rate, func(i int) fault.Event {
		n := i
		if rand.IntN(5) == 0 && i > 0 {
			n = rand.IntN(i) // a repeat of an earlier fault
		}
		return faultsource.StreamFault(cluster, n, failureRate)
	})
}

// startDemoReceiver serves a webhook receiver (notify.Receiver: signature
// checked, deliveries deduplicated) on loopback that prints each
// notification, and writes the notifications file that sends every
// incident and notice to it.
func startDemoReceiver(dir string, stdout io.Writer) (net.Listener, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	key := make([]byte, 16)
	for i := range key {
		key[i] = "0123456789abcdef"[rand.IntN(16)]
	}
	keyFile := filepath.Join(dir, "demo-signing-key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	var mu sync.Mutex
	refused := map[string]bool{}
	rc := &notify.Receiver{Key: key, Handle: func(n notify.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case n.Incident != nil && strings.HasPrefix(n.Incident.Fault.Resource.Name, faultsource.FlakyPrefix) && !refused[n.Incident.ID]:
			// The showcase's failed delivery: refused once (a 500), so the
			// page shows it pending with the error until the retry lands.
			refused[n.Incident.ID] = true
			fmt.Fprintf(stdout, "Webhook: refused incident %s once (the showcase's failed delivery; the runner retries)\n", n.Incident.ID)
			return errors.New("demo receiver refuses this delivery once")
		case n.Incident != nil:
			fmt.Fprintf(stdout, "Webhook: incident %s on %s: %s %s  %s\n", n.Incident.ID, n.Incident.Cluster,
				n.Incident.Fault.Type, n.Incident.Status, n.Incident.Links.Incident)
		case n.Notice != nil:
			fmt.Fprintf(stdout, "Webhook: notice %s\n", n.Notice.Summary)
		}
		return nil
	}}
	go func() { _ = http.Serve(ln, rc) }() // ends when the listener closes
	file := filepath.Join(dir, "demo-notify.yaml")
	yaml := fmt.Sprintf(`sinks:
  - name: demo-receiver
    type: webhook
    webhook: {url: "http://%s/", signingKeyFile: %q}
defaultSinks: [demo-receiver]
`, ln.Addr(), keyFile)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		ln.Close()
		return nil, "", err
	}
	return ln, file, nil
}
