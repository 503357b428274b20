// Package app is the runner's composition: Run builds every component in
// dependency order and runs it until shutdown, for the binary, the demo
// and the tests alike. This is the one sketch of the running tree; arrows
// point from a component to what it uses.
//
//	supervisor.Run (oklog/run)
//	 ├─ 1 signals
//	 ├─ 2 workers (suture)
//	 │    ├─ intake: sessions: sse[endpoint]… ──► intake ──► breaker, queues ──► journal
//	 │    │          alertmanager-intake (--intake-address) ──► intake, queues, dispatch
//	 │    │          sweeper ──► queues
//	 │    │          reloader (SIGHUP) ──► sessions, intake, queues, dispatch (reloader.go)
//	 │    └─ dispatch ──► queues, breaker, budget ledger, procutil, journal (incident records)
//	 └─ 3 http (suture)
//	      ├─ metrics-server        /metrics
//	      ├─ health-server         /healthz /readyz (probes only)
//	      ├─ ui-server             incidents page, /api/incidents (history; --ui-address)
//	      ├─ notification-outbox   notifications ──► sinks (--notify-file; services/notices)
//	      ├─ notification-notices  breaker transitions and blind clusters ──► outbox
//	      ├─ budgets               ticks the budget ledger (resumes, remaining gauges)
//	      ├─ debug-server          /debug/pprof (only with --debug-address)
//	      ├─ watchdog              (only under systemd with WatchdogSec)
//	      └─ reaper                agents' orphans (the binary is a child subreaper)
//
// Shutdown runs down that list, one step at a time (supervisor/supervisor.go
// holds the steps): the signal sets the shutdown flag (probes answer 503,
// systemd hears STOPPING=1); the sessions close and the sweeper stops;
// dispatch stops taking work, waits up to --shutdown-timeout for running
// agents, then interrupts the rest; only then do the HTTP servers stop, so
// /metrics and /readyz see the whole drain. The deferred closes in Run
// (state store, breaker timer) run after supervisor.Run returns.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/thejerf/suture/v4"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/breaker"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/health"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/notices"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/reaper"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/sdnotify"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/sweeper"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/supervisor"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

// Deps are what Run takes from its caller rather than the
// process: tests and the demo pass their own.
type Deps struct {
	Logger  *slog.Logger
	Signals []os.Signal
	Notify  func(state string)
	// registry, when set, is used instead of a fresh one (tests read it).
	Registry *prometheus.Registry
	// started, when set, receives the HTTP servers once they are built
	// (uiServer is nil when the incidents page is off).
	Started func(metricsServer, healthServer, uiServer *httpserver.Server)
	// reload, when set, reads the configuration again on SIGHUP; without
	// it a SIGHUP is logged and ignored.
	Reload func() (config.Config, error)
	// hangup, when set, replaces the process's SIGHUP (tests).
	Hangup <-chan os.Signal
	// startedAlerts, when set, receives the Alertmanager endpoint once it
	// is built (only with --intake-address).
	StartedAlerts func(*alertmanager.Service)
	// debugStarted, when set, receives the profiling server (nil when
	// --debug-address is not set).
	DebugStarted func(debug *httpserver.Server)
	// subreaper makes the process the reaper of its agents' orphans
	// (procutil.SetChildSubreaper) and runs the reaper service. Only the
	// binary sets it: a test process must not adopt and kill orphans.
	Subreaper bool
	// Harden makes the process non-dumpable and drops its ambient
	// capabilities before any agent starts (procutil.Harden). Only the
	// binary sets it.
	Harden bool
	// StoreUnreadyAfter, when set, replaces StoreUnreadyAfter (tests).
	StoreUnreadyAfter time.Duration
	// Build is the binary's version, commit and build date (build_info,
	// the start log line, the notifications' User-Agent).
	Build metrics.BuildInfo
}

// SystemdNotify tells systemd the runner's state (READY=1, STOPPING=1)
// when it runs under a unit with NOTIFY_SOCKET; elsewhere it does nothing.
func SystemdNotify(state string) { sdnotify.Send(state) }

// ConfigError marks an error in the configuration found only while
// building components (a bad agent template); main exits 2 for it.
type ConfigError struct{ err error }

func (e ConfigError) Error() string { return e.err.Error() }
func (e ConfigError) Unwrap() error { return e.err }

// Run builds every component in dependency order and runs them until
// shutdown. It is the one run path for the binary, the demo and the tests.
//
// It is longer than the rest of the root on purpose: the order of
// construction is the dependency order, and the deferred closes undo it in
// reverse, so both read top to bottom here in one place. Each step that
// makes decisions of its own (checks, state, servers, sessions) is a
// function below.
func Run(ctx context.Context, cfg config.Config, deps Deps) error {
	logger, b := deps.Logger, deps.Build
	if deps.Harden {
		if err := procutil.Harden(); err != nil {
			return fmt.Errorf("protect the runner from its agents: %w", err)
		}
	}
	if deps.Subreaper {
		// Before any agent starts and before recovery: orphans of agents
		// are reparented here, visible, and reaped without an init.
		if err := procutil.SetChildSubreaper(); err != nil {
			logger.Warn("Could not become the reaper of agents' orphans; they are reparented to init", "error", err.Error())
		}
	}
	reg := deps.Registry
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	// A sharded runner connects to, queues, triages and labels only the
	// clusters of its shard (docs/scaling.md); the others are known only
	// so that state left by an earlier sharding is handed over.
	ownedBy := shardOwners(cfg)
	cfg.Clusters = cfg.OwnClusters()
	m := metrics.New(reg, b, cfg.ClusterNames())
	m.ShardInfo.WithLabelValues(strconv.Itoa(cfg.Shard), strconv.Itoa(max(cfg.TotalShards, 1))).Set(1)
	state := &supervisor.State{}

	// Configuration errors first: nothing is opened or restored for a
	// runner that will not start.
	agent, err := checkStart(cfg)
	if err != nil {
		return err
	}

	notes, err := notices.Load(cfg, b.Version)
	if err != nil {
		return ConfigError{err}
	}
	brk := breaker.New(cfg.BreakerThreshold, cfg.BreakerCooldown, m.BreakerState, logger)
	defer brk.Stop()
	retention := newRetention(cfg, m, logger)
	durable, err := openState(cfg, deps, notes, m, logger, retention, ownedBy)
	if err != nil {
		return err
	}
	defer durable.close()
	spend, err := openBudget(cfg, durable, m, logger)
	if err != nil {
		return fmt.Errorf("open the budget ledger: %w", err)
	}

	in := intake.New(intake.Options{
		Logger: logger, Metrics: m, Queues: durable.queues, Breaker: brk, Clusters: policies(cfg),
		MinSeverity: fault.ParseSeverity(cfg.MinSeverity), DedupWindow: cfg.DedupWindow, DedupSeed: durable.dedupSeed, Now: time.Now,
	})
	jobs, err := agentJobRuntime(cfg, logger)
	if err != nil {
		return err
	}
	disp, err := dispatch.New(dispatch.Options{
		Logger: logger, Metrics: m, Queues: durable.queues, Breaker: brk, Kubeconfigs: kubeconfigs(cfg), Agent: agent,
		WorkspaceRoot: cfg.WorkspaceRoot, AgentsPerCluster: cfg.AgentsPerCluster, MaxConcurrent: cfg.MaxConcurrentAgents,
		Recorder: retainingRecorder{journal: durable.recorder, ret: retention},
		Budget:   spend.gate, Runtime: jobs.runtime,
		Grouping: groupingOptions(cfg), RecallMax: cfg.RecallMaxIncidents, Recent: recentIncidents(cfg, durable.store, logger),
	})
	if err != nil {
		return ConfigError{err}
	}
	// Sessions do not wait for the fsync of each fault: the queue counts
	// and shows a fault once its group commit is synced.
	sessions := buildSessions(cfg, intake.Deferred{Intake: in}, reconcileOptions(cfg, in, durable, logger), m, logger, b.Version)
	tree := newSessionTree(sessions, supervisor.EventHook(logger, m))
	hangup := deps.Hangup
	if hangup == nil {
		// Caught for the runner's whole life, so a SIGHUP never kills it.
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP)
		defer signal.Stop(ch)
		hangup = ch
	}
	alerts, err := alertIntake(cfg, alertmanager.IntakeSubmitter{
		Intake: in, Queues: durable.queues, Agents: disp, Now: time.Now,
		Resolved: func(c string) { m.EventsResolved.WithLabelValues(c).Inc() },
	}, m, logger)
	if err != nil {
		return ConfigError{err}
	}
	var alertOnly atomic.Int32
	alertOnly.Store(int32(len(cfg.Clusters) - len(cfg.MCPClusters())))
	reload := &reloader{
		logger: logger.With("component", "reload"), hangup: hangup, load: deps.Reload, current: cfg,
		metrics: m, queues: durable.queues, intake: in, dispatch: disp, sessions: sessions, tree: tree,
		alerts: alerts, alertOnly: &alertOnly,
	}
	sweep := sweeper.New(durable.queues, cfg.QueueSweepInterval, cfg.MaxQueueAge, time.Now, logger)
	// Faults restored from the state store may have aged past
	// --max-queue-age while the runner was down: expire them before any
	// worker can take one, not at the first tick of the sweeper.
	sweep.Sweep()
	intakeServices := []suture.Service{tree, sweep, reload}
	if alerts != nil {
		intakeServices = append(intakeServices, alerts)
		if deps.StartedAlerts != nil {
			deps.StartedAlerts(alerts)
		}
	}

	// Readiness also says whether incident workspaces can be written: on a
	// full workspace disk dispatch keeps the faults queued.
	checks := []health.Check{sourcesCheck(sessions, alerts, &alertOnly), breakerCheck(brk),
		{Name: "workspaces", Fn: disp.WorkspacesWritable(storeUnreadyAfter(deps))}}
	if durable.writes != nil {
		checks = append(checks, durable.writes.Check())
	}
	probes := health.New(state.ShuttingDown, checks...)
	live := uiClusters{connected: sessions.Connected, blindSince: sessions.BlindSince, depth: queueDepth(durable.queues)}
	listeners, err := httpServers(cfg, reg, probes, durable, live, spend.header, logger, deps, judged(m, disp, durable.queues, durable.outbox))
	if err != nil {
		return err
	}
	if alerts != nil {
		if err := alerts.Bind(); err != nil {
			return listenError(cfg, alerts.String(), err)
		}
	}
	var extra []suture.Service
	if durable.outbox != nil {
		extra = append(extra, durable.outbox.Pump(), notices.NewService(durable.outbox, notices.ServiceOptions{
			Transitions: brk.Transitions(), Clusters: sessionClusters(sessions), Connected: sessions.Connected,
			Keep: cfg.HistoryMaxAge, KeepPerSink: cfg.HistoryMaxEntries,
		}))
	}
	extra = append(extra, spend.service)
	extra = append(extra, processServices(logger, deps)...)
	if jobs.server != nil {
		listeners = append(listeners, jobs.server)
		extra = append(extra, jobs.sweeper)
	}

	logStart(logger, cfg, b)
	return supervisor.Run(ctx, supervisor.Options{
		Logger: logger, Metrics: m, State: state,
		ShutdownTimeout: cfg.ShutdownTimeout, KillGrace: cfg.AgentKillGrace,
		Intake: intakeServices, Dispatch: disp,
		HTTP:      listeners,
		HTTPExtra: extra,
		Notify:    deps.Notify, Signals: deps.Signals,
	})
}

// checkStart finds configuration errors the values alone do not show (the
// agent's templates and program, cluster files, the workspace root) before
// anything is opened or restored.
func checkStart(cfg config.Config) (dispatch.Agent, error) {
	agent := agentOf(cfg)
	if err := dispatch.CheckAgent(agent); err != nil {
		return agent, ConfigError{err}
	}
	iso, err := isolationOf(cfg)
	if err != nil {
		return agent, ConfigError{err}
	}
	agent.Isolation = iso
	if err := cfg.Preflight(os.LookupEnv); err != nil {
		return agent, ConfigError{err}
	}
	if err := os.MkdirAll(cfg.WorkspaceRoot, 0o700); err != nil {
		return agent, ConfigError{fmt.Errorf("--workspace-root (WORKSPACE_ROOT): %w", err)}
	}
	return agent, nil
}

// httpServers builds the metrics and health servers, the incidents page
// and the profiling server when configured, and binds them all now, before
// READY: a port in use or an address that does not resolve stops the
// runner here instead of leaving it without probes.
func httpServers(cfg config.Config, reg *prometheus.Registry, probes *health.Handlers, durable durableState, live uiClusters, budget func() ui.BudgetHeader, logger *slog.Logger, deps Deps, judged func(incident.Record)) ([]supervisor.Listener, error) {
	metricsServer := httpserver.New("metrics-server", hostPort(cfg.MetricsAddress, cfg.MetricsPort), metrics.Handler(reg, cfg.MetricsTimeout, logger), logger)
	// The health server answers probes only: it binds where kubelet and
	// load balancers reach it, and incident history is not for them.
	healthServer := httpserver.New("health-server", hostPort(cfg.HealthAddress, cfg.HealthPort), probes.Mux(), logger)
	listeners := []supervisor.Listener{metricsServer, healthServer}
	var page *httpserver.Server
	if cfg.UIAddress != "" && durable.store != nil {
		var err error
		if page, err = uiServer(cfg, durable.store, live, budget, logger, judged); err != nil {
			return nil, err
		}
		listeners = append(listeners, page)
	}
	debug := debugServer(cfg, logger)
	if debug != nil {
		listeners = append(listeners, debug)
	}
	if deps.DebugStarted != nil {
		deps.DebugStarted(debug)
	}
	for _, srv := range []*httpserver.Server{metricsServer, healthServer, page, debug} {
		if srv == nil {
			continue
		}
		if err := srv.Bind(); err != nil {
			return nil, listenError(cfg, srv.String(), err)
		}
	}
	if deps.Started != nil {
		deps.Started(metricsServer, healthServer, page)
	}
	return listeners, nil
}

// processServices are the services that look after the process itself:
// the systemd watchdog, and the reaper of agents' orphans. They run in the
// HTTP tree, which stops last, so orphans of agents interrupted during the
// drain are reaped too.
func processServices(logger *slog.Logger, deps Deps) []suture.Service {
	var out []suture.Service
	if interval, ok := sdnotify.WatchdogInterval(); ok {
		out = append(out, sdnotify.NewWatchdog(interval, deps.Notify))
	}
	if deps.Subreaper {
		out = append(out, reaper.New(logger, reaper.Interval))
	}
	return out
}

// buildSessions makes one MCP session per server endpoint (and
// credentials), with one subscription per configured cluster in it, each
// handing what it hears to intake. Alert-only clusters have none.
func buildSessions(cfg config.Config, in mcpsession.Handler, rec mcpsession.ReconcileOptions, m *metrics.Metrics, logger *slog.Logger, version string) *mcpsession.Set {
	return mcpsession.NewSet(cfg.MCPClusters(), mcpsession.Options{
		Handler: in, Metrics: m, Logger: logger,
		InitialDelay: cfg.SSEReconnectInitialDelay, MaxDelay: cfg.SSEReconnectMaxDelay,
		Keepalive: cfg.KeepaliveInterval, ConnectTimeout: cfg.ConnectTimeout,
		MaxEventBytes: cfg.MaxEventBytes, MaxReplyBytes: cfg.MaxReplyBytes, Version: version,
		MaxSubscriptionsPerSession: cfg.MaxSubscriptionsPerSession,
		Reconcile:                  rec,
		Topology:                   cfg.GroupWait > 0,
	})
}

// durableState is the queues and what persists them: without --state-dir
// the queues live in memory and there is no recorder or history.
type durableState struct {
	queues    *queue.Set
	recorder  dispatch.Recorder
	store     *journal.Store
	outbox    *notices.Outbox // nil without --notify-file
	dedupSeed map[string]map[string]time.Time
	// writes makes the runner unready while the store cannot be written
	// (nil without a store).
	writes *health.Writes
	close  func()
}

// StoreUnreadyAfter is how long writes to the state store must keep
// failing, with none succeeding, before the runner reports itself unready:
// one slow or failed write does not flap readiness (docs/operations.md).
const StoreUnreadyAfter = 10 * time.Second

// openState opens (or quarantines and recreates) the state store, then
// brings back queued faults, interrupted incidents and dedup marks.
func openState(cfg config.Config, deps Deps, notes *notices.Notifier, m *metrics.Metrics, logger *slog.Logger, retention *workspace.Retention, ownedBy func(string) (int, bool)) (durableState, error) {
	names := cfg.ClusterNames()
	if cfg.StateDir == "" {
		sweepWorkspaces(retention, nil, logger)
		return durableState{queues: queue.NewSet(names, cfg.QueueCapacity, m, time.Now), close: func() {}}, nil
	}
	store, err := journal.Open(cfg.StateDir, journal.Options{
		HistoryMaxAge: cfg.HistoryMaxAge, HistoryMaxEntries: cfg.HistoryMaxEntries, DedupWindow: cfg.DedupWindow,
		Logger: logger, OnCorrupt: m.StateCorruptions.Inc, OnPruned: retention.Pruned,
	})
	if errors.Is(err, journal.ErrLocked) {
		return durableState{}, ConfigError{fmt.Errorf("--state-dir (STATE_DIR) %s: %w", cfg.StateDir, err)}
	}
	if errors.Is(err, journal.ErrUnusableDir) {
		return durableState{}, unusableStateDir(err)
	}
	if err != nil {
		return durableState{}, fmt.Errorf("--state-dir (STATE_DIR): %w", err)
	}
	sweepWorkspaces(retention, store, logger)
	writes := health.NewWrites("state-store", storeUnreadyAfter(deps), time.Now)
	writer := journal.Writer{Store: store, Metrics: m, Logger: logger, OwnedBy: ownedBy, Reclaim: reclaimer(m, logger, names), OnWrite: writes.Observe}
	var ob *notices.Outbox
	if notes.Enabled() {
		if ob, err = notices.NewOutbox(notes, store, m, logger, cfg.HistoryMaxAge, cfg.HistoryMaxEntries); err != nil {
			store.Close()
			return durableState{}, fmt.Errorf("notification outbox in %s: %w", store.Path(), err)
		}
		writer.Outbox, writer.Written = notes.IncidentRecords, ob.Written
	}
	queues := queue.NewDurableSet(names, cfg.QueueCapacity, m, time.Now, writer, writer.RemoveFailed)
	dedupSeed, err := writer.Recover(queues, cfg.MaxAttempts, cfg.DedupWindow, time.Now())
	if errors.Is(err, journal.ErrCorrupt) {
		// Open read the whole store once; a read at recovery that still
		// fails quarantines the file too, and the runner starts empty.
		if qerr := store.Quarantine(err); qerr != nil {
			return durableState{}, unusableStateDir(qerr)
		}
		queues = queue.NewDurableSet(names, cfg.QueueCapacity, m, time.Now, writer, writer.RemoveFailed)
		dedupSeed, err = writer.Recover(queues, cfg.MaxAttempts, cfg.DedupWindow, time.Now())
	}
	if err != nil {
		store.Close()
		return durableState{}, fmt.Errorf("restore state from %s: %w", store.Path(), err)
	}
	return durableState{queues: queues, recorder: writer, store: store, outbox: ob, dedupSeed: dedupSeed, writes: writes, close: func() { store.Close() }}, nil
}

// shardOwners maps every configured cluster to its shard, before the
// configuration is narrowed to this runner's own.
func shardOwners(cfg config.Config) func(cluster string) (int, bool) {
	owner := make(map[string]int, len(cfg.Clusters))
	for _, c := range cfg.Clusters {
		owner[c.Name] = config.ShardOf(c.Name, cfg.TotalShards)
	}
	return func(cluster string) (int, bool) {
		s, ok := owner[cluster]
		return s, ok
	}
}

func agentOf(cfg config.Config) dispatch.Agent {
	return dispatch.Agent{
		Command: cfg.AgentCommand, Args: cfg.AgentArgs, EnvAllow: cfg.AgentEnvAllow,
		Timeout: cfg.AgentTimeout, KillGrace: cfg.AgentKillGrace, LogMaxBytes: int64(cfg.AgentLogMaxBytes),
		WorkspaceMaxBytes: int64(cfg.AgentWorkspaceMaxBytes),
		ReportFile:        cfg.AgentReportFile, ReportMinBytes: int64(cfg.AgentReportMinBytes),
		CleanupCommand: cfg.AgentCleanupCommand, CleanupTimeout: cfg.AgentCleanupTimeout,
	}
}

func policies(cfg config.Config) map[string]intake.ClusterPolicy {
	out := make(map[string]intake.ClusterPolicy, len(cfg.Clusters))
	for _, c := range cfg.Clusters {
		out[c.Name] = intake.ClusterPolicy{Triage: c.Triage}
	}
	return out
}

func kubeconfigs(cfg config.Config) map[string]string {
	out := make(map[string]string, len(cfg.Clusters))
	for _, c := range cfg.Clusters {
		out[c.Name] = c.Kubeconfig
	}
	return out
}

// breakerCheck makes the runner unready while the circuit breaker is open.
func breakerCheck(brk *breaker.Breaker) health.Check {
	return health.Check{Name: "circuit-breaker", Fn: func() error {
		if brk.IsOpen() {
			return errors.New("circuit breaker is open")
		}
		return nil
	}}
}

func logStart(logger *slog.Logger, cfg config.Config, b metrics.BuildInfo) {
	// A scrape takes about 0.06 s per 1,000 idle clusters and 0.075 s per
	// 1,000 that have all seen faults and reconnects, on 2 cores
	// (docs/benchmarks.md, "Scraping /metrics"): warn before the default
	// timeout starts failing.
	if perThousand := 75 * time.Millisecond; time.Duration(len(cfg.Clusters))*perThousand/1000 > cfg.MetricsTimeout/2 {
		logger.Warn("A /metrics scrape of this many clusters may exceed --metrics-timeout; raise it (and the Prometheus scrape_timeout)",
			"clusters", len(cfg.Clusters), "metrics_timeout", cfg.MetricsTimeout.String())
	}
	for _, w := range cfg.Warnings() {
		logger.Warn("Configuration accepted with a warning", "warning", w)
	}
	logger.Info("Starting kubernetes-mcp-runner",
		"version", b.Version, "git_commit", b.GitCommit, "clusters", len(cfg.Clusters),
		"shard", cfg.Shard, "total_shards", cfg.TotalShards,
		"agent_timeout", cfg.AgentTimeout.String(), "max_queue_age", cfg.MaxQueueAge.String(),
		"shutdown_timeout", cfg.ShutdownTimeout.String(), "workspace_root", cfg.WorkspaceRoot)
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func storeUnreadyAfter(deps Deps) time.Duration {
	if deps.StoreUnreadyAfter > 0 {
		return deps.StoreUnreadyAfter
	}
	return StoreUnreadyAfter
}
