// Package config holds the runner's configuration: one struct, the flag set
// that fills it, and the validation that refuses to start half-configured.
//
// Every option is a flag; each also has an environment variable and may be
// given in the --config file. Precedence is flag > environment > config file >
// default.
package config

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
)

// ErrHelp is returned by Parse when -h or --help was asked for.
var ErrHelp = flag.ErrHelp

// Transport names the MCP transport used to reach a cluster's server.
type Transport string

const (
	// TransportStreamable is MCP Streamable HTTP, the server's /mcp endpoint.
	TransportStreamable Transport = "streamable"
	// TransportSSE is the legacy HTTP+SSE transport, the server's /sse endpoint.
	TransportSSE Transport = "sse"
)

// Cluster is one kubernetes-mcp-server the runner subscribes to.
type Cluster struct {
	// Name is the runner's name for the cluster. It is the only value the
	// cluster label of every metric takes and a path component of incident
	// workspaces, so it is restricted to a DNS label.
	Name      string    `yaml:"name"`
	Endpoint  string    `yaml:"endpoint"`
	Transport Transport `yaml:"transport"`
	// Triage false still subscribes (so faults are counted) but never runs
	// an agent: events are filtered with reason triage_disabled.
	Triage bool `yaml:"triage"`
	// Kubeconfig is handed to the agent for this cluster's incidents.
	Kubeconfig string `yaml:"kubeconfig"`
	// BearerTokenFile, when set, is read on every (re)connect and sent as
	// an Authorization header, so rotated tokens are picked up.
	BearerTokenFile string `yaml:"bearerTokenFile"`
	// CAFile, when set, is the PEM bundle trusted for an https endpoint.
	CAFile string `yaml:"caFile"`
	// Context, when set, is the kubeconfig context a multi-cluster server
	// watches for this cluster. Clusters that share an endpoint and
	// credentials share one MCP session, one subscription per context.
	Context string `yaml:"context"`
	// Filters narrow the subscription; they are sent on every subscribe.
	Filters Filters `yaml:"filters"`
	// Budget is the cluster's own spend limits (config/budget.go).
	Budget ClusterBudget `yaml:",inline"`
}

// Config is everything the runner needs to start.
type Config struct {
	ConfigFile   string
	ClustersFile string
	Clusters     []Cluster

	// Seed resilience parameters.
	AgentTimeout time.Duration
	MaxQueueAge  time.Duration
	// Grouping (docs/operations.md, "Grouping").
	GroupWait                time.Duration
	GroupMaxWait             time.Duration
	GroupMaxSize             int
	GroupCooldown            time.Duration
	RecallMaxIncidents       int
	QueueSweepInterval       time.Duration
	SSEReconnectInitialDelay time.Duration
	SSEReconnectMaxDelay     time.Duration
	ShutdownTimeout          time.Duration
	HealthPort               int
	MetricsPort              int

	HealthAddress  string
	MetricsAddress string
	MetricsTimeout time.Duration
	LogLevel       string
	LogFormat      string

	// Intake.
	MinSeverity       string
	QueueCapacity     int
	DedupWindow       time.Duration
	KeepaliveInterval time.Duration
	ConnectTimeout    time.Duration
	MaxEventBytes     int
	MaxReplyBytes     int
	// AllowPlaintextBearerToken lets a bearer token travel over plain
	// http to a host other than loopback.
	AllowPlaintextBearerToken bool
	// MaxSubscriptionsPerSession bounds the clusters that share one MCP
	// session to a server.
	MaxSubscriptionsPerSession int
	// Reconcile after a blind window (docs/operations.md): its bounds,
	// and whether a first start with no earlier state reconciles too.
	ReconcileOnFirstStart bool
	ReconcileMaxCalls     int
	ReconcileMaxBytes     int
	ReconcileConcurrency  int
	ReconcileTimeout      time.Duration

	// Agents.
	AgentCommand           string
	AgentArgs              []string
	AgentEnvAllow          []string
	AgentKillGrace         time.Duration
	AgentLogMaxBytes       int
	AgentWorkspaceMaxBytes int
	AgentCleanupCommand    string
	AgentCleanupTimeout    time.Duration
	AgentReportFile        string
	AgentReportMinBytes    int
	// Agents of a user of their own and their kernel limits (agentuser.go).
	AgentUser            string
	AgentGroup           string
	AgentMaxProcesses    int
	AgentMaxOpenFiles    int
	AgentMaxAddressSpace int
	AgentEnvFile         string
	WorkspaceRoot        string
	AgentsPerCluster     int
	MaxConcurrentAgents  int
	BreakerThreshold     int
	BreakerCooldown      time.Duration
	Budgets              Budgets
	// Where agents run (agentjob.go).
	AgentRuntime string
	AgentJob     AgentJob

	// Durable state.
	StateDir          string
	MaxAttempts       int
	HistoryMaxAge     time.Duration
	HistoryMaxEntries int

	// Notifications and the incidents page (docs/notifications.md,
	// docs/security.md): where results go and where people read them.
	NotifyFile        string
	ExternalURL       string
	UIAddress         string
	UIBearerTokenFile string
	UIBasicAuthFile   string

	// Alertmanager webhook intake (docs/sources.md): off unless
	// IntakeAddress is set; then it needs a bearer token file or basic
	// auth, and clusters may be alert-only (no endpoint).
	IntakeAddress               string
	IntakeBearerTokenFile       string
	IntakeBasicAuthUsername     string
	IntakeBasicAuthPasswordFile string
	IntakeMaxBodyBytes          int
	AlertmanagerMappingFile     string
	// Scale: sharding over replicas (shard.go) and the profiling
	// endpoint. shardSet records an explicit --shard; without one Parse
	// takes the shard from the StatefulSet pod name.
	Shard        int
	TotalShards  int
	DebugAddress string
	shardSet     bool
}

// Option describes one configuration option for --help and the docs.
type Option struct {
	Flag    string // without dashes
	Env     string
	Default string
	Usage   string
	// Section is the topic --help and the docs list it under.
	Section string
}

// Defaults returns a Config with every default filled in and no clusters.
func Defaults() Config {
	return Config{
		AgentTimeout:               300 * time.Second,
		MaxQueueAge:                600 * time.Second,
		GroupWait:                  10 * time.Second,
		GroupMaxWait:               60 * time.Second,
		GroupMaxSize:               100,
		GroupCooldown:              30 * time.Minute,
		RecallMaxIncidents:         3,
		QueueSweepInterval:         60 * time.Second,
		SSEReconnectInitialDelay:   1 * time.Second,
		SSEReconnectMaxDelay:       60 * time.Second,
		ShutdownTimeout:            30 * time.Second,
		HealthPort:                 8080,
		MetricsPort:                9090,
		MetricsTimeout:             time.Second,
		LogLevel:                   "info",
		LogFormat:                  "json",
		MinSeverity:                "warning",
		QueueCapacity:              100,
		DedupWindow:                900 * time.Second,
		KeepaliveInterval:          30 * time.Second,
		ConnectTimeout:             30 * time.Second,
		MaxEventBytes:              1 << 20,
		MaxReplyBytes:              16 << 20,
		MaxSubscriptionsPerSession: 10,
		ReconcileMaxCalls:          100,
		ReconcileMaxBytes:          8 << 20,
		ReconcileConcurrency:       16,
		ReconcileTimeout:           60 * time.Second,
		AgentEnvAllow:              []string{"PATH", "HOME", "LANG", "TZ"},
		AgentKillGrace:             5 * time.Second,
		AgentLogMaxBytes:           10 << 20,
		AgentWorkspaceMaxBytes:     1 << 30,
		AgentCleanupTimeout:        30 * time.Second,
		AgentReportFile:            "output/investigation.md",
		AgentReportMinBytes:        100,
		WorkspaceRoot:              "/var/lib/kubernetes-mcp-runner/incidents",
		AgentsPerCluster:           1,
		MaxConcurrentAgents:        4,
		BreakerThreshold:           5,
		BreakerCooldown:            300 * time.Second,
		StateDir:                   "/var/lib/kubernetes-mcp-runner",
		MaxAttempts:                3,
		HistoryMaxAge:              7 * 24 * time.Hour,
		HistoryMaxEntries:          10000,
		UIAddress:                  "127.0.0.1:8081",
		IntakeMaxBodyBytes:         4 << 20,
		TotalShards:                1,
		AgentRuntime:               RuntimeProcess,
		AgentJob:                   agentJobDefaults(),
	}
}

// option binds one flag to its environment variable.
type option struct {
	Option
	value flag.Value
}

// options lists every flag in --help order. It is the single table from which
// the flag set, the environment mapping and the documentation are derived.
func options(c *Config) []option {
	secs := func(d *time.Duration) flag.Value { return secondsValue{d: d} }
	secsOrOff := func(d *time.Duration) flag.Value { return secondsValue{d: d, zero: true} }
	str := func(s *string) flag.Value { return (*stringValue)(s) }
	n := func(p *int) flag.Value { return positiveIntValue{p} }
	o := func(name, usage string, v flag.Value) option {
		return option{Option: Option{Flag: name, Env: EnvName(name, v), Usage: usage}, value: v}
	}
	return append(append([]option{
		o("config", "path of a config file: one 'flag value' per line, # comments", str(&c.ConfigFile)),
		o("cluster", "a cluster to watch as NAME=URL, or NAME=URL#CONTEXT for a kubeconfig context of a multi-cluster server (repeatable; comma-separated in the environment)", clusterFlag{&c.Clusters}),
		o("clusters-file", "path of a YAML file listing clusters (name, endpoint, transport, context, filters, triage, kubeconfig, bearerTokenFile, caFile, budgetUsdPerDay, maxAgentRunsPerHour, agentMaxCostUsd)", str(&c.ClustersFile)),
		o("max-subscriptions-per-session", "clusters one MCP session subscribes for when they share an endpoint; more open further sessions (kubernetes-mcp-server allows 10 per session)", n(&c.MaxSubscriptionsPerSession)),

		o("agent-timeout", "seconds an agent may run before it is terminated", secs(&c.AgentTimeout)),
		o("max-queue-age", "seconds a fault may wait in the queue before it expires", secs(&c.MaxQueueAge)),
		o("queue-sweep-interval", "seconds between sweeps for expired queued faults", secs(&c.QueueSweepInterval)),
		o("sse-reconnect-initial-delay", "seconds to wait before the first reconnection attempt", secs(&c.SSEReconnectInitialDelay)),
		o("sse-reconnect-max-delay", "cap, in seconds, of the doubling reconnection delay", secs(&c.SSEReconnectMaxDelay)),
		o("shutdown-timeout", "seconds to let in-flight agents finish on shutdown before they are killed", secs(&c.ShutdownTimeout)),
		o("health-port", "port of the /healthz and /readyz server", portValue{&c.HealthPort}),
		o("metrics-port", "port of the /metrics server", portValue{&c.MetricsPort}),
		o("health-address", "address the health server binds (empty: all interfaces)", str(&c.HealthAddress)),
		o("metrics-address", "address the metrics server binds (empty: all interfaces)", str(&c.MetricsAddress)),
		o("metrics-timeout", "seconds a /metrics scrape may take before it fails with 503 (raise it for thousands of clusters)", secs(&c.MetricsTimeout)),
		o("log-level", "log level: debug, info, warn or error", str(&c.LogLevel)),
		o("log-format", "log format: json or text", str(&c.LogFormat)),

		o("min-severity", "lowest fault severity that is triaged: info, warning or critical", str(&c.MinSeverity)),
		o("queue-capacity", "faults each cluster's queue holds before it sheds", n(&c.QueueCapacity)),
		o("dedup-window", "seconds a fault id is remembered to drop repeats", secs(&c.DedupWindow)),
		o("sse-keepalive-interval", "seconds between MCP pings that detect a stalled server", secs(&c.KeepaliveInterval)),
		o("sse-connect-timeout", "seconds a connection attempt (connect, setLevel, subscribe) may take", secs(&c.ConnectTimeout)),
		o("sse-max-event-bytes", "largest notification accepted, in bytes", n(&c.MaxEventBytes)),
		o("mcp-max-reply-bytes", "largest reply read from an MCP server to one request (initialize, ping, a tool call), in bytes; a larger one fails the session", n(&c.MaxReplyBytes)),
		o("reconcile-on-first-start", "on a first start with no earlier state, reconcile too: investigate what is broken now (after a restart or reconnect the runner always reconciles its blind window)", boolValue{&c.ReconcileOnFirstStart}),
		o("reconcile-max-calls", "tool calls one reconcile after a blind window may make (lists, then gets of candidates)", n(&c.ReconcileMaxCalls)),
		o("reconcile-max-bytes", "bytes of tool answers one reconcile may read", n(&c.ReconcileMaxBytes)),
		o("reconcile-concurrency", "reconciles that may run at once across all clusters (thousands reconnecting after a network blip wait their turn)", n(&c.ReconcileConcurrency)),
		o("reconcile-timeout", "seconds one reconcile may take, its wait for a slot included", secs(&c.ReconcileTimeout)),
		o("allow-plaintext-bearer-token", "allow a cluster's bearer token over plain http to a host other than loopback", boolValue{&c.AllowPlaintextBearerToken}),

		o("agent-command", "program run for each incident (required)", str(&c.AgentCommand)),
		o("agent-arg", "argument of the agent command, templated with the incident's fields (repeatable)", &listValue{list: &c.AgentArgs}),
		o("agent-env-allow", "runner environment variables passed to agents (repeatable; comma-separated in the environment)", &listValue{list: &c.AgentEnvAllow}),
		o("agent-kill-grace", "seconds between SIGTERM and SIGKILL of an agent's process group", secs(&c.AgentKillGrace)),
		o("agent-log-max-bytes", "cap on each agent's captured stdout and stderr", n(&c.AgentLogMaxBytes)),
		o("agent-workspace-max-bytes", "size an incident workspace may reach before its agent is stopped as a failure", n(&c.AgentWorkspaceMaxBytes)),
		o("agent-cleanup-command", "command run after an agent times out or is interrupted, templated, split on spaces (e.g. 'docker rm -f triage-{{.IncidentID}}')", str(&c.AgentCleanupCommand)),
		o("agent-cleanup-timeout", "seconds the cleanup command may run", secs(&c.AgentCleanupTimeout)),
		o("agent-report-file", "report the agent must write, relative to the incident workspace", str(&c.AgentReportFile)),
		o("agent-report-min-bytes", "smallest report that counts as a successful investigation", n(&c.AgentReportMinBytes)),
		o("agent-user", "account agents run as (name or uid; empty: the runner's own): another uid cannot signal the runner, read its environment or its secret files (docs/security.md)", str(&c.AgentUser)),
		o("agent-group", "group agents run as (name or gid; empty: --agent-user's primary group)", str(&c.AgentGroup)),
		o("agent-max-processes", "processes and threads all agents of --agent-user may have together (RLIMIT_NPROC; 0: no limit of their own)", limitValue{&c.AgentMaxProcesses}),
		o("agent-max-open-files", "open files each agent process may hold (RLIMIT_NOFILE; 0: the runner's limit)", limitValue{&c.AgentMaxOpenFiles}),
		o("agent-max-address-space", "bytes of virtual memory each agent process may map (RLIMIT_AS; 0: no limit)", limitValue{&c.AgentMaxAddressSpace}),
		o("agent-env-file", "file of NAME=value lines added to every agent's environment, read at each start (API keys: keeps them out of the runner's environment)", str(&c.AgentEnvFile)),
		o("workspace-root", "directory holding <cluster>/<incident-id>/ workspaces", str(&c.WorkspaceRoot)),
		o("agents-per-cluster", "agents that may run at once for one cluster", n(&c.AgentsPerCluster)),
		o("max-concurrent-agents", "agents that may run at once in total", n(&c.MaxConcurrentAgents)),
		o("circuit-breaker-threshold", "consecutive failed or timed-out agents that open the circuit breaker", n(&c.BreakerThreshold)),
		o("circuit-breaker-cooldown", "seconds the breaker stays open before it admits one probe incident", secs(&c.BreakerCooldown)),
		o("budget-usd-per-day", "US dollars agents may spend per UTC day in total, by what they report (docs/budgets.md); 0: unlimited", usdValue{&c.Budgets.USDPerDay}),
		o("max-agent-runs-per-hour", "agent runs that may start in any 60 minutes in total; 0: unlimited", countValue{&c.Budgets.RunsPerHour}),
		o("agent-default-cost-usd", "US dollars charged for a run whose agent reports no cost", usdValue{&c.Budgets.DefaultCostUSD}),
		o("agent-max-cost-usd", "US dollars one run may spend, handed to the agent as MAX_COST_USD; 0: not set", usdValue{&c.Budgets.MaxCostUSD}),
	}, agentJobOptions(c, o)...), []option{

		o("state-dir", "directory of the durable queue and incident journal (state.db); empty keeps everything in memory", str(&c.StateDir)),
		o("max-attempts", "runs of an incident (counting runs a shutdown or crash interrupted) before it is recorded as failed", n(&c.MaxAttempts)),
		o("history-max-age", "seconds finished incidents are kept in the history", secs(&c.HistoryMaxAge)),
		o("history-max-entries", "finished incidents kept in the history at most", n(&c.HistoryMaxEntries)),

		// Grouping of correlated faults into one incident (docs/operations.md).
		o("group-wait", "seconds a new group of correlated faults waits for more members after its newest; 0 turns grouping off (one run per fault)", secsOrOff(&c.GroupWait)),
		o("group-max-wait", "seconds a group waits at most after its oldest member, however many keep arriving", secs(&c.GroupMaxWait)),
		o("group-max-size", "faults a group holds at most; a full group runs at once", n(&c.GroupMaxSize)),
		o("group-cooldown", "seconds after an incident ended in which faults it covers attach to it instead of starting a run; 0: only while it runs", secsOrOff(&c.GroupCooldown)),
		o("recall-max-incidents", "earlier incidents of the same key listed in event.json", n(&c.RecallMaxIncidents)),

		// Notifications and the incidents page.
		o("notify-file", "YAML file of notification sinks and routes (docs/notifications.md); empty sends none", str(&c.NotifyFile)),
		o("external-url", "base URL people reach the incidents page at (e.g. https://runner.example.com); notifications link to <url>/incidents/<id>", str(&c.ExternalURL)),
		o("ui-address", "host:port of the incidents page and the /api/incidents JSON (loopback by default; empty: off)", str(&c.UIAddress)),
		o("ui-bearer-token-file", "file holding a bearer token the incidents page requires (needed to serve it beyond loopback)", str(&c.UIBearerTokenFile)),
		o("ui-basic-auth-file", "file of user:password lines the incidents page accepts (needed to serve it beyond loopback)", str(&c.UIBasicAuthFile)),

		// The Alertmanager webhook intake (docs/sources.md).
		o("intake-address", "host:port of the Alertmanager webhook endpoint (POST /alertmanager); empty: off", str(&c.IntakeAddress)),
		o("intake-bearer-token-file", "file holding the bearer token Alertmanager must send to the intake endpoint", str(&c.IntakeBearerTokenFile)),
		o("intake-basic-auth-username", "user name Alertmanager must send with basic auth (with --intake-basic-auth-password-file)", str(&c.IntakeBasicAuthUsername)),
		o("intake-basic-auth-password-file", "file holding the basic auth password Alertmanager must send", str(&c.IntakeBasicAuthPasswordFile)),
		o("intake-max-body-bytes", "largest notification body the intake endpoint reads (413 above it)", n(&c.IntakeMaxBodyBytes)),
		o("alertmanager-mapping-file", "YAML file mapping alert labels to fault fields (cluster label, severities, resources); empty: the defaults", str(&c.AlertmanagerMappingFile)),
		// Scale: sharding over replicas (docs/scaling.md) and profiling.
		o("shard", "this runner's shard, 0 to --total-shards minus 1; empty with --total-shards over 1: the ordinal of the StatefulSet pod name (POD_NAME, else HOSTNAME)", shardValue{&c.Shard, &c.shardSet}),
		o("total-shards", "replicas the clusters are split over, each cluster to one shard by an FNV-1a hash of its name", totalShardsValue{&c.TotalShards}),
		o("debug-address", "host:port of the /debug/pprof profiling server (off when empty; keep it on loopback)", str(&c.DebugAddress)),
	}...)
}

// EnvName maps a flag to its environment variable: upper snake case, with
// _SECONDS appended for options measured in seconds (AGENT_TIMEOUT_SECONDS
// for --agent-timeout), as the seed names them. ff/v3 derives env names from
// flag names alone and cannot add the suffix, so this mapping is ours.
func EnvName(flagName string, v flag.Value) string {
	name := strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	if _, ok := v.(secondsValue); ok {
		name += "_SECONDS"
	}
	return name
}

// Options lists every option with its environment variable, default and
// section, section by section in --help order.
func Options() []Option {
	c := Defaults()
	opts := options(&c)
	all := sections()
	type ranked struct {
		Option
		rank, within int
	}
	out := make([]ranked, len(opts))
	for i, o := range opts {
		out[i].Option = o.Option
		out[i].Default = o.value.String()
		out[i].Section, out[i].rank, out[i].within = sectionOf(all, o.Flag)
	}
	slices.SortStableFunc(out, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.within, b.within))
	})
	list := make([]Option, len(out))
	for i, r := range out {
		list[i] = r.Option
	}
	return list
}

// Parse builds a Config from command-line args, the environment (getenv) and
// the --config file, then validates it. The error names the flag and its
// environment variable; a nil error means the Config is complete.
func Parse(args []string, getenv func(string) string) (Config, error) {
	c := Defaults()
	opts := options(&c)
	fs := flag.NewFlagSet("kubernetes-mcp-runner", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	byFlag := make(map[string]option, len(opts))
	for _, o := range opts {
		fs.Var(o.value, o.Flag, o.Usage)
		byFlag[o.Flag] = o
	}

	// Layer 1: flags.
	if err := checkArgs(args, fs, func(name string) string { return byFlag[name].Env }); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, ErrHelp
		}
		return c, describeFlagError(err, byFlag)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// Layer 2: environment, for flags not given on the command line.
	for _, o := range opts {
		if set[o.Flag] {
			continue
		}
		v := getenv(o.Env)
		if v == "" {
			continue
		}
		values := []string{v}
		if _, repeatable := o.value.(*listValue); repeatable {
			values = strings.Split(v, ",")
		} else if _, ok := o.value.(clusterFlag); ok {
			values = strings.Split(v, ",")
		}
		for _, one := range values {
			if err := fs.Set(o.Flag, strings.TrimSpace(one)); err != nil {
				return c, fmt.Errorf("invalid %s (--%s): %w", o.Env, o.Flag, err)
			}
		}
	}

	// Layer 3: the config file fills what flags and environment left unset.
	// ff skips every flag already set, which keeps the precedence intact.
	if c.ConfigFile != "" {
		err := ff.Parse(fs, nil,
			ff.WithConfigFile(c.ConfigFile),
			ff.WithConfigFileParser(configFileParser(byFlag)),
		)
		if err != nil {
			return c, fmt.Errorf("--config (CONFIG) %s: %w", c.ConfigFile, err)
		}
	}

	if c.ClustersFile != "" {
		fileClusters, err := LoadClustersFile(c.ClustersFile)
		if err != nil {
			return c, err
		}
		c.Clusters = append(c.Clusters, fileClusters...)
	}
	if !c.shardSet && c.TotalShards > 1 {
		n, err := shardFromPodName(getenv)
		if err != nil {
			return c, err
		}
		c.Shard = n
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// describeFlagError rewrites the flag package's messages so they name both
// the flag and its environment variable.
func describeFlagError(err error, byFlag map[string]option) error {
	msg := err.Error()
	for name, o := range byFlag {
		if strings.Contains(msg, "-"+name+":") || strings.Contains(msg, "flag \""+name+"\"") {
			var inner string
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				inner = msg[i+2:]
			}
			return fmt.Errorf("invalid --%s (%s): %s", name, o.Env, inner)
		}
	}
	return errors.New(strings.TrimPrefix(msg, "error parsing commandline arguments: "))
}

// Validate checks relations between options that no single flag can.
func (c Config) Validate() error {
	if c.GroupWait > c.GroupMaxWait {
		return fmt.Errorf("invalid --group-wait (GROUP_WAIT_SECONDS): %s is more than --group-max-wait (GROUP_MAX_WAIT_SECONDS) %s", c.GroupWait, c.GroupMaxWait)
	}
	if c.SSEReconnectInitialDelay > c.SSEReconnectMaxDelay {
		return fmt.Errorf("invalid --sse-reconnect-initial-delay (SSE_RECONNECT_INITIAL_DELAY_SECONDS): %s is more than --sse-reconnect-max-delay (SSE_RECONNECT_MAX_DELAY_SECONDS) %s",
			c.SSEReconnectInitialDelay, c.SSEReconnectMaxDelay)
	}
	if c.HealthPort == c.MetricsPort && c.HealthAddress == c.MetricsAddress {
		return fmt.Errorf("invalid --health-port (HEALTH_PORT): %d is also --metrics-port (METRICS_PORT); the two servers need different ports", c.HealthPort)
	}
	if err := c.validateUI(); err != nil {
		return err
	}
	if err := c.validateAgentJob(); err != nil {
		return err
	}
	if c.AgentKillGrace >= c.ShutdownTimeout {
		return fmt.Errorf("invalid --agent-kill-grace (AGENT_KILL_GRACE_SECONDS): %s must be shorter than --shutdown-timeout (SHUTDOWN_TIMEOUT_SECONDS) %s", c.AgentKillGrace, c.ShutdownTimeout)
	}
	if c.MaxEventBytes < MinEventBytes {
		return fmt.Errorf("invalid --sse-max-event-bytes (SSE_MAX_EVENT_BYTES): %d is under the %d-byte minimum; no session could come up", c.MaxEventBytes, MinEventBytes)
	}
	if c.MaxReplyBytes < MinEventBytes {
		return fmt.Errorf("invalid --mcp-max-reply-bytes (MCP_MAX_REPLY_BYTES): %d is under the %d-byte minimum; no session could come up", c.MaxReplyBytes, MinEventBytes)
	}
	if c.KeepaliveInterval < 2*time.Second {
		return fmt.Errorf("invalid --sse-keepalive-interval (SSE_KEEPALIVE_INTERVAL_SECONDS): %s is under the 2 s minimum", c.KeepaliveInterval)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		return fmt.Errorf("invalid --log-level (LOG_LEVEL): %q is not debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return fmt.Errorf("invalid --log-format (LOG_FORMAT): %q is not json or text", c.LogFormat)
	}
	switch c.MinSeverity {
	case "info", "warning", "critical":
	default:
		return fmt.Errorf("invalid --min-severity (MIN_SEVERITY): %q is not info, warning or critical", c.MinSeverity)
	}
	if c.AgentCommand == "" {
		return errors.New("missing --agent-command (AGENT_COMMAND): the program to run for each incident")
	}
	if c.WorkspaceRoot == "" {
		return errors.New("missing --workspace-root (WORKSPACE_ROOT)")
	}
	if c.MaxConcurrentAgents < c.AgentsPerCluster {
		return fmt.Errorf("invalid --max-concurrent-agents (MAX_CONCURRENT_AGENTS): %d is less than --agents-per-cluster (AGENTS_PER_CLUSTER) %d", c.MaxConcurrentAgents, c.AgentsPerCluster)
	}
	if err := c.validateAgentUser(); err != nil {
		return err
	}
	if err := c.validateShard(); err != nil {
		return err
	}
	if len(c.Clusters) == 0 {
		return errors.New("no clusters configured: give --cluster NAME=URL (CLUSTER) or --clusters-file (CLUSTERS_FILE)")
	}
	if err := c.validateIntake(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(c.Clusters))
	for i, cl := range c.Clusters {
		if cl.AlertOnly() && c.IntakeAddress == "" {
			return fmt.Errorf("cluster %q has no endpoint and --intake-address (INTAKE_ADDRESS) is not set: it would receive no faults; give it an endpoint or turn on the Alertmanager intake", cl.Name)
		}
		if err := cl.validate(); err != nil {
			return fmt.Errorf("cluster #%d: %w", i+1, err)
		}
		if seen[cl.Name] {
			return fmt.Errorf("cluster %q is configured twice (--cluster / --clusters-file)", cl.Name)
		}
		seen[cl.Name] = true
	}
	return checkSharedSubscriptions(c.Clusters)
}

// SlogLevel is LogLevel as a slog.Level; Validate has checked it.
func (c Config) SlogLevel() slog.Level {
	switch strings.ToLower(c.LogLevel) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// ClusterNames lists the configured cluster names, in configuration order.
func (c Config) ClusterNames() []string {
	names := make([]string, len(c.Clusters))
	for i, cl := range c.Clusters {
		names[i] = cl.Name
	}
	return names
}

// stringValue is a plain string flag.
type stringValue string

func (s *stringValue) String() string     { return string(*s) }
func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
