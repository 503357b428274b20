package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/thejerf/suture/v4"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/breaker"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/health"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/sweeper"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/supervisor"
)

// daemonDeps are what runDaemon takes from its caller rather than the
// process: tests and the demo pass their own.
type daemonDeps struct {
	logger  *slog.Logger
	signals []os.Signal
	notify  func(state string)
	// registry, when set, is used instead of a fresh one (tests read it).
	registry *prometheus.Registry
	// started, when set, receives the HTTP servers once they are built.
	started func(metricsServer, healthServer *httpserver.Server)
}

// configError marks an error in the configuration found only while
// building components (a bad agent template); main exits 2 for it.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// runDaemon builds every component in dependency order and runs them until
// shutdown. It is the one run path for the binary, the demo and end-to-end
// tests.
func runDaemon(ctx context.Context, cfg config.Config, deps daemonDeps) error {
	logger := deps.logger
	b := currentBuild()
	reg := deps.registry
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	clusterNames := cfg.ClusterNames()
	m := metrics.New(reg, metrics.BuildInfo(b), clusterNames)
	state := &supervisor.State{}

	agent := dispatch.Agent{
		Command: cfg.AgentCommand, Args: cfg.AgentArgs, EnvAllow: cfg.AgentEnvAllow,
		Timeout: cfg.AgentTimeout, KillGrace: cfg.AgentKillGrace, LogMaxBytes: int64(cfg.AgentLogMaxBytes),
		WorkspaceMaxBytes: int64(cfg.AgentWorkspaceMaxBytes),
		ReportFile:        cfg.AgentReportFile, ReportMinBytes: int64(cfg.AgentReportMinBytes),
		CleanupCommand: cfg.AgentCleanupCommand, CleanupTimeout: cfg.AgentCleanupTimeout,
	}
	// Configuration errors first: nothing is opened or restored for a
	// runner that will not start.
	if err := dispatch.CheckAgent(agent); err != nil {
		return configError{err}
	}
	if err := os.MkdirAll(cfg.WorkspaceRoot, 0o700); err != nil {
		return configError{fmt.Errorf("--workspace-root (WORKSPACE_ROOT): %w", err)}
	}

	brk := breaker.New(cfg.BreakerThreshold, cfg.BreakerCooldown, m.BreakerState, logger)
	defer brk.Stop()

	// The durable state: open (or quarantine and recreate) the store, then
	// bring back queued faults, interrupted incidents and dedup marks.
	var (
		queues    *queue.Set
		recorder  dispatch.Recorder
		history   historySource
		dedupSeed map[string]map[string]time.Time
	)
	if cfg.StateDir == "" {
		queues = queue.NewSet(clusterNames, cfg.QueueCapacity, m, time.Now)
	} else {
		store, err := journal.Open(cfg.StateDir, journal.Options{
			HistoryMaxAge: cfg.HistoryMaxAge, HistoryMaxEntries: cfg.HistoryMaxEntries, DedupWindow: cfg.DedupWindow,
			Logger: logger, OnCorrupt: m.StateCorruptions.Inc,
		})
		if errors.Is(err, journal.ErrLocked) {
			return configError{fmt.Errorf("--state-dir (STATE_DIR) %s: %w", cfg.StateDir, err)}
		}
		if err != nil {
			return fmt.Errorf("--state-dir (STATE_DIR): %w", err)
		}
		defer store.Close()
		writer := journal.Writer{Store: store, Metrics: m, Logger: logger}
		queues = queue.NewDurableSet(clusterNames, cfg.QueueCapacity, m, time.Now, writer, writer.RemoveFailed)
		if dedupSeed, err = writer.Recover(queues, cfg.MaxAttempts, cfg.DedupWindow, time.Now()); err != nil {
			return fmt.Errorf("restore state from %s: %w", store.Path(), err)
		}
		recorder, history = writer, store
	}
	policies := make(map[string]intake.ClusterPolicy, len(cfg.Clusters))
	kubeconfigs := make(map[string]string, len(cfg.Clusters))
	for _, c := range cfg.Clusters {
		policies[c.Name] = intake.ClusterPolicy{Triage: c.Triage}
		kubeconfigs[c.Name] = c.Kubeconfig
	}
	in := intake.New(intake.Options{
		Logger: logger, Metrics: m, Queues: queues, Breaker: brk, Clusters: policies,
		MinSeverity: fault.ParseSeverity(cfg.MinSeverity), DedupWindow: cfg.DedupWindow, DedupSeed: dedupSeed, Now: time.Now,
	})

	disp, err := dispatch.New(dispatch.Options{
		Logger: logger, Metrics: m, Queues: queues, Breaker: brk, Kubeconfigs: kubeconfigs, Agent: agent,
		WorkspaceRoot: cfg.WorkspaceRoot, AgentsPerCluster: cfg.AgentsPerCluster, MaxConcurrent: cfg.MaxConcurrentAgents,
		Recorder: recorder,
	})
	if err != nil {
		return configError{err}
	}

	// One MCP session per server endpoint (and credentials), one
	// subscription per configured cluster in it.
	sessions := mcpsession.NewSet(cfg.Clusters, mcpsession.Options{
		Handler: in, Metrics: m, Logger: logger,
		InitialDelay: cfg.SSEReconnectInitialDelay, MaxDelay: cfg.SSEReconnectMaxDelay,
		Keepalive: cfg.KeepaliveInterval, ConnectTimeout: cfg.ConnectTimeout,
		MaxEventBytes: cfg.MaxEventBytes, Version: b.Version,
		MaxSubscriptionsPerSession: cfg.MaxSubscriptionsPerSession,
	})
	intakeServices := sessions.Services()
	intakeServices = append(intakeServices, sweeper.New(queues, cfg.QueueSweepInterval, cfg.MaxQueueAge, time.Now, logger))

	probes := health.New(state.ShuttingDown,
		health.Check{Name: "sse", Fn: sessions.Ready, Detail: sessions.BlindWindows},
		health.Check{Name: "circuit-breaker", Fn: func() error {
			if brk.IsOpen() {
				return errors.New("circuit breaker is open")
			}
			return nil
		}},
	)
	metricsServer := httpserver.New("metrics-server", hostPort(cfg.MetricsAddress, cfg.MetricsPort), metrics.Handler(reg, cfg.MetricsTimeout, logger), logger)
	healthMux := probes.Mux()
	if history != nil {
		healthMux.Handle("GET /incidents", incidentsHandler(history))
	}
	healthServer := httpserver.New("health-server", hostPort(cfg.HealthAddress, cfg.HealthPort), healthMux, logger)
	if deps.started != nil {
		deps.started(metricsServer, healthServer)
	}
	var extra []suture.Service
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
		extra = append(extra, watchdog{interval: interval, notify: deps.notify})
	}

	// A scrape takes about 0.17 s per 1,000 clusters on 2 cores
	// (docs/benchmarks.md): warn before the default timeout starts failing.
	if perThousand := 200 * time.Millisecond; time.Duration(len(cfg.Clusters))*perThousand/1000 > cfg.MetricsTimeout/2 {
		logger.Warn("A /metrics scrape of this many clusters may exceed --metrics-timeout; raise it (and the Prometheus scrape_timeout)",
			"clusters", len(cfg.Clusters), "metrics_timeout", cfg.MetricsTimeout.String())
	}
	logger.Info("Starting kubernetes-mcp-runner",
		"version", b.Version, "git_commit", b.GitCommit, "clusters", len(cfg.Clusters),
		"agent_timeout", cfg.AgentTimeout.String(), "max_queue_age", cfg.MaxQueueAge.String(),
		"shutdown_timeout", cfg.ShutdownTimeout.String(), "workspace_root", cfg.WorkspaceRoot)
	return supervisor.Run(ctx, supervisor.Options{
		Logger: logger, Metrics: m, State: state,
		ShutdownTimeout: cfg.ShutdownTimeout, KillGrace: cfg.AgentKillGrace,
		Intake: intakeServices, Dispatch: disp,
		HTTP:      []supervisor.Listener{metricsServer, healthServer},
		HTTPExtra: extra,
		Notify:    deps.notify, Signals: deps.signals,
	})
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// sdNotify tells systemd about state changes; outside systemd
// (NOTIFY_SOCKET unset) it does nothing.
func sdNotify(state string) { _, _ = daemon.SdNotify(false, state) }

// watchdog pings systemd's watchdog at half the interval systemd asks for.
type watchdog struct {
	interval time.Duration
	notify   func(string)
}

func (w watchdog) String() string { return "watchdog" }

func (w watchdog) Serve(ctx context.Context) error {
	t := time.NewTicker(w.interval / 2)
	defer t.Stop()
	for {
		w.notify("WATCHDOG=1")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
