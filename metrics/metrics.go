// Package metrics defines every Prometheus collector the runner exports.
//
// All collectors live in one struct built on an injected Registerer, so tests
// use a fresh registry and nothing is global. Label values come only from
// bounded sets, listed below, so a misbehaving server cannot grow the series
// count:
//
//	cluster   the configured cluster names (never a name a server reports)
//	severity  critical, warning, info, unknown
//	reason    (events_filtered_total) severity_low, duplicate, malformed,
//	          unknown_cluster, triage_disabled, queue_full, persist_failed
//	reason    (sse_*) see ConnectionReasons
//	reason    (reconcile_failures_total) see ReconcileFailureReasons
//	status    success, failure, timeout, interrupted
//	service   the kinds of supervised service: sse, sweeper, dispatch,
//	          metrics-server, health-server, watchdog, other
//	outcome   success, failure, timeout
//	op        enqueue, remove, start, finish, requeue
//	result    (alertmanager_notifications_total) see AlertmanagerResults
//	outcome   (alertmanager_alerts_total) see AlertmanagerOutcomes
package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Namespace prefixes every metric name.
const Namespace = "kubernetes_mcp_runner"

// Bounded label value sets.
var (
	Severities     = []string{"critical", "warning", "info", "unknown"}
	FilterReasons  = []string{"severity_low", "duplicate", "malformed", "unknown_cluster", "triage_disabled", "queue_full", "persist_failed"}
	AgentStatuses  = []string{"success", "failure", "timeout", "interrupted", "error"}
	CleanupOutcome = []string{"success", "failure", "timeout"}
	// ConnectionReasons classify why an MCP session failed or ended.
	ConnectionReasons = []string{
		"connection_refused", "dns", "timeout", "tls", "http_4xx", "http_5xx",
		"protocol", "subscribe_failed", "subscribe_refused", "stream_closed", "keepalive_timeout",
		"subscription_error", "other",
	}
	// StateOps are the journal writes state_write_errors_total counts.
	StateOps     = []string{"enqueue", "remove", "start", "finish", "requeue", "running"}
	ServiceKinds = []string{"sse", "sweeper", "reloader", "alertmanager-intake", "dispatch", "metrics-server", "health-server", "ui-server", "debug-server", "notification-outbox", "notification-notices", "budgets", "agent-job-results", "agent-job-sweeper", "watchdog", "reaper", "other"}
	// ReconcileFailureReasons classify a reconcile that failed or stopped
	// short: the server refused a tool (or has none), it ran out of time,
	// it reached its call or byte cap, anything else.
	ReconcileFailureReasons = []string{"tool_refused", "timeout", "over_limit", "other"}
	// AlertmanagerResults are how the Alertmanager endpoint answered a
	// notification.
	AlertmanagerResults = []string{"accepted", "not_found", "method_not_allowed", "unauthorized",
		"unsupported_media_type", "too_large", "malformed", "unsupported_version", "store_unavailable"}
	// AlertmanagerOutcomes are where one alert of an accepted notification
	// ended.
	AlertmanagerOutcomes = []string{"queued", "duplicate", "severity_low", "triage_disabled", "queue_full", "breaker_open",
		"unknown_cluster", "malformed", "resolved_removed", "resolved_running", "resolved_idle", "truncated"}
)

// Histogram buckets as the seed gives them.
var (
	AgentDurationBuckets      = []float64{1, 5, 10, 30, 60, 120, 300}
	ConnectionDurationBuckets = []float64{60, 300, 600, 1800, 3600, 7200, 14400}
	ReconcileDurationBuckets  = []float64{0.1, 0.5, 1, 5, 10, 30, 60, 120}
)

// BuildInfo labels the build_info gauge.
type BuildInfo struct {
	Version   string
	GitCommit string
	BuildDate string
}

// Metrics holds every collector.
type Metrics struct {
	EventsReceived  *prometheus.CounterVec   // cluster, severity
	EventsFiltered  *prometheus.CounterVec   // cluster, reason
	EventsQueued    *ClusterVec              // cluster
	EventsExpired   *ClusterVec              // cluster
	EventsDequeued  *ClusterVec              // cluster
	EventsDisplaced *prometheus.CounterVec   // cluster
	QueueDepth      *ClusterVec              // cluster
	AgentsSpawned   *ClusterVec              // cluster
	AgentsCompleted *prometheus.CounterVec   // cluster, status
	AgentsTimeout   *ClusterVec              // cluster
	AgentsActive    *ClusterVec              // cluster
	AgentDuration   *prometheus.HistogramVec // status (no cluster: see the cardinality budget)
	AgentCleanups   *prometheus.CounterVec   // outcome
	// EventsDeferred counts faults put back in their queue because their
	// incident's workspace could not be written (a full disk).
	EventsDeferred prometheus.Counter

	BreakerState         prometheus.Gauge
	BreakerEventsDropped *ClusterVec // cluster

	SSEConnectionsActive  *ClusterVec            // cluster
	SSEReconnections      *prometheus.CounterVec // cluster, reason
	SSEConnectionErrors   *prometheus.CounterVec // cluster, reason
	SSEConnectionDuration prometheus.Histogram   // no labels, as the seed gives it
	// SSEDisconnectedSeconds is each cluster's blind time: seconds without
	// a live subscription, during which the server's faults are lost.
	SSEDisconnectedSeconds *ClusterVec // cluster
	// Reconciles after a blind window: faults submitted, how long each
	// took (no cluster label: one histogram per cluster would be the
	// largest family of a runner of thousands), and failures by reason.
	EventsReconciled  *prometheus.CounterVec // cluster
	ReconcileDuration prometheus.Histogram
	ReconcileFailures *prometheus.CounterVec // cluster, reason

	BuildInfo       *prometheus.GaugeVec
	Up              prometheus.Gauge
	ServiceRestarts *prometheus.CounterVec // service

	EventsRestored     *prometheus.CounterVec // cluster
	IncidentsRequeued  *prometheus.CounterVec // cluster
	IncidentsAbandoned *prometheus.CounterVec // cluster
	StateWriteErrors   *prometheus.CounterVec // op
	StateCorruptions   prometheus.Counter

	// Workspace retention and configuration reloads.
	Workspaces            prometheus.Gauge
	WorkspacesBytes       prometheus.Gauge
	WorkspacesRemoved     *prometheus.CounterVec // reason
	WorkspaceRemoveErrors prometheus.Counter
	ConfigReloads         *prometheus.CounterVec // result

	// Notifications, by sink: label values are only the configured sink
	// names (InitSinks), never a name from a stored record.
	NotificationsSent         *prometheus.CounterVec // sink
	NotificationsFailed       *prometheus.CounterVec // sink
	NotificationsDeadLettered *prometheus.CounterVec // sink, reason
	OutboxDepth               *prometheus.GaugeVec   // sink

	// Alertmanager webhook intake. Alerts that name no configured cluster
	// count with cluster "".
	AlertmanagerNotifications  *prometheus.CounterVec // result
	AlertmanagerAlertsReceived *prometheus.CounterVec // cluster, severity
	AlertmanagerAlerts         *prometheus.CounterVec // cluster, outcome
	// EventsResolved counts queued faults taken out of the queue because
	// their source reported them over (an alert resolved).
	EventsResolved *prometheus.CounterVec // cluster

	// Grouping: faults that joined another fault's run (members beyond
	// the primary) and faults attached to an incident already run; their
	// sum is the runs saved. TopologySkipped counts faults submitted
	// without a topology lookup because the session's lookup stage was
	// full.
	EventsGrouped   *prometheus.CounterVec // cluster
	EventsRelated   *prometheus.CounterVec // cluster
	TopologySkipped *prometheus.CounterVec // cluster
	// IncidentFeedback counts people's verdicts on diagnoses.
	IncidentFeedback *prometheus.CounterVec // cluster, verdict

	// Scale: which shard of the clusters this runner owns, and the queued
	// faults it let go of because another shard owns their cluster now.
	ShardInfo        *prometheus.GaugeVec // shard, total_shards
	EventsHandedOver prometheus.Counter

	// AgentLeftoverProcesses counts agent processes that outlived their
	// incident and were killed: left in the group after SIGKILL, escaped
	// from it, or found at start after a crash of the runner.
	AgentLeftoverProcesses *prometheus.CounterVec // cluster

	// Budget is agents' spend and the budgets (budget.go).
	Budget Budget
}

// New registers every collector on reg and initialises the series each
// configured cluster starts with (AddCluster). It is long because it is the table of every collector: one line each.
func New(reg prometheus.Registerer, build BuildInfo, clusters []string) *Metrics {
	f := promauto.With(reg)
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return f.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	records := newClusterRecords()
	clusterVec := func(idx int, kind prometheus.ValueType, name, help string) *ClusterVec {
		v := newClusterVec(records, idx, kind, name, help)
		reg.MustRegister(v)
		return v
	}
	m := &Metrics{
		EventsReceived:  counter("events_received_total", "Fault events received from kubernetes-mcp-server, by severity.", "cluster", "severity"),
		EventsFiltered:  counter("events_filtered_total", "Fault events not queued, by reason.", "cluster", "reason"),
		EventsQueued:    clusterVec(idxQueued, prometheus.CounterValue, "events_queued_total", "Fault events added to a cluster's queue."),
		EventsExpired:   clusterVec(idxExpired, prometheus.CounterValue, "events_expired_total", "Queued fault events dropped for exceeding the maximum queue age."),
		EventsDequeued:  clusterVec(idxDequeued, prometheus.CounterValue, "events_dequeued_total", "Fault events taken from a queue to run an agent."),
		EventsDisplaced: counter("events_displaced_total", "Queued fault events dropped from a full queue to make room for a more severe one.", "cluster"),
		QueueDepth:      clusterVec(idxQueueDepth, prometheus.GaugeValue, "queue_depth", "Fault events waiting in a cluster's queue."),
		AgentsSpawned:   clusterVec(idxSpawned, prometheus.CounterValue, "agents_spawned_total", "Investigation agents started."),
		AgentsCompleted: counter("agents_completed_total", "Investigation agents finished, by status.", "cluster", "status"),
		AgentsTimeout:   clusterVec(idxTimeout, prometheus.CounterValue, "agents_timeout_total", "Investigation agents terminated for exceeding the agent timeout."),
		AgentsActive:    clusterVec(idxActive, prometheus.GaugeValue, "agents_active", "Investigation agents running now."),
		AgentDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "agent_duration_seconds",
			Help:    "Wall-clock duration of investigation agents, by final status.",
			Buckets: AgentDurationBuckets,
		}, []string{"status"}),
		AgentCleanups: counter("agent_cleanups_total", "Runs of the agent cleanup command, by outcome.", "outcome"),
		EventsDeferred: f.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "events_deferred_total",
			Help: "Faults put back in their queue because their incident's workspace could not be written (a full disk); they are dequeued again."}),

		BreakerState: f.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "circuit_breaker_state",
			Help: "Agent circuit breaker: 0 closed, 0.5 half-open (one probe incident admitted), 1 open.",
		}),
		BreakerEventsDropped: clusterVec(idxBreakerDropped, prometheus.CounterValue, "circuit_breaker_events_dropped_total", "Fault events dropped at intake while the circuit breaker was open."),

		SSEConnectionsActive: clusterVec(idxConnectionsActive, prometheus.GaugeValue, "sse_connections_active", "Live MCP sessions subscribed to faults (0 or 1 per cluster)."),
		SSEReconnections:     counter("sse_reconnections_total", "Reconnection attempts to kubernetes-mcp-server, by the reason of the preceding failure.", "cluster", "reason"),
		SSEConnectionErrors:  counter("sse_connection_errors_total", "Failed or lost MCP sessions, by reason.", "cluster", "reason"),
		SSEConnectionDuration: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "sse_connection_duration_seconds",
			Help:    "How long each MCP session stayed connected, observed on disconnect.",
			Buckets: ConnectionDurationBuckets,
		}),
		SSEDisconnectedSeconds: clusterVec(idxDisconnectedSeconds, prometheus.CounterValue, "sse_disconnected_seconds_total", "Seconds a cluster spent without a live fault subscription (from start until the first subscribe, and during every outage); faults the server detected then were not delivered."),
		EventsReconciled:       counter("events_reconciled_total", "Faults a reconcile after a blind window found in the current cluster state and submitted to intake.", "cluster"),
		ReconcileDuration: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "reconcile_duration_seconds",
			Help:    "Wall-clock duration of each reconcile after a blind window, waiting for a slot included.",
			Buckets: ReconcileDurationBuckets,
		}),
		ReconcileFailures: counter("reconcile_failures_total", "Reconciles after a blind window that failed or stopped short, by reason.", "cluster", "reason"),

		BuildInfo:       gauge("build_info", "Build of the running binary; always 1.", "version", "git_commit", "build_date"),
		Up:              f.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "up", Help: "1 while the runner is serving metrics."}),
		ServiceRestarts: counter("service_restarts_total", "Restarts of supervised services after a failure or panic, by kind of service.", "service"),

		EventsRestored:     counter("events_restored_total", "Queued faults brought back from the state store at start.", "cluster"),
		IncidentsRequeued:  counter("incidents_requeued_total", "Incidents interrupted by a shutdown or crash and queued again at start.", "cluster"),
		IncidentsAbandoned: counter("incidents_abandoned_total", "Interrupted incidents recorded as failed after --max-attempts.", "cluster"),
		StateWriteErrors:   counter("state_write_errors_total", "Failed writes to the state store, by operation.", "op"),
		StateCorruptions: f.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "state_corruptions_total",
			Help: "State files found corrupt or unreadable and moved aside.",
		}),

		Workspaces: f.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "workspaces",
			Help: "Incident workspaces on disk under --workspace-root.",
		}),
		WorkspacesBytes: f.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "workspaces_bytes",
			Help: "Bytes of the incident workspaces on disk, as of each workspace's last change seen by the runner.",
		}),
		WorkspacesRemoved: counter("workspaces_removed_total", "Incident workspaces removed: with their pruned history record (pruned), or at start for want of one (orphaned).", "reason"),
		WorkspaceRemoveErrors: f.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "workspace_remove_errors_total",
			Help: "Incident workspaces that could not be removed; the next start tries again.",
		}),
		ConfigReloads:             counter("config_reloads_total", "Configuration reloads on SIGHUP, by result: applied, or rejected (invalid; the running configuration is kept).", "result"),
		NotificationsSent:         counter("notifications_sent_total", "Notifications a sink's receiver accepted.", "sink"),
		NotificationsFailed:       counter("notifications_failed_total", "Failed notification delivery attempts (each retried later or dead-lettered).", "sink"),
		NotificationsDeadLettered: counter("notifications_dead_lettered_total", "Notifications given up on, by reason (permanent, max_attempts, max_age).", "sink", "reason"),
		OutboxDepth:               gauge("notification_outbox_depth", "Notifications waiting in the outbox for delivery to a sink.", "sink"),

		AlertmanagerNotifications:  counter("alertmanager_notifications_total", "Alertmanager webhook notifications, by how the runner answered.", "result"),
		AlertmanagerAlertsReceived: counter("alertmanager_alerts_received_total", "Alerts of accepted Alertmanager notifications, by severity; cluster is empty for alerts naming no configured cluster.", "cluster", "severity"),
		AlertmanagerAlerts:         counter("alertmanager_alerts_total", "Alerts of accepted Alertmanager notifications, by where they ended.", "cluster", "outcome"),
		EventsResolved:             counter("events_resolved_total", "Queued faults taken out of the queue, without an agent, because their source reported them over.", "cluster"),
		EventsGrouped:              counter("events_grouped_total", "Faults investigated by another fault's run: members of a group beyond its primary.", "cluster"),
		EventsRelated:              counter("events_related_total", "Faults attached to an incident already running or in its cooldown, recorded with it, that started no run.", "cluster"),
		IncidentFeedback:           counter("incident_feedback_total", "Verdicts people gave finished incidents' diagnoses on the page or the API: right or wrong. A wrong one lifts the cooldown of the incident's key.", "cluster", "verdict"),
		TopologySkipped:            counter("topology_lookups_skipped_total", "Faults handed to intake without a topology lookup because the session's lookup stage was full; they group by their resource alone.", "cluster"),

		ShardInfo: gauge("shard_info", "The shard of the configured clusters this runner owns (--shard of --total-shards); always 1.", "shard", "total_shards"),
		EventsHandedOver: f.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_handed_over_total",
			Help: "Queued faults found in the state store at start for clusters another shard now owns, dropped and logged.",
		}),

		AgentLeftoverProcesses: counter("agent_leftover_processes_total", "Agent processes that outlived their incident (left in its process group after SIGKILL, escaped from it, or found at start after a crash) and were killed.", "cluster"),
	}
	m.Budget = newBudget(counter, gauge)
	m.BuildInfo.WithLabelValues(build.Version, build.GitCommit, build.BuildDate).Set(1)
	m.Up.Set(1)
	for _, c := range clusters {
		m.AddCluster(c)
	}
	// One duration histogram per status for the whole runner: a constant
	// 50 series, there from the start so rate() sees the first agent.
	for _, st := range AgentStatuses {
		m.AgentDuration.WithLabelValues(st)
	}
	for _, op := range StateOps {
		m.StateWriteErrors.WithLabelValues(op)
	}
	for _, s := range ServiceKinds {
		m.ServiceRestarts.WithLabelValues(s)
	}
	for _, r := range WorkspaceRemovalReasons {
		m.WorkspacesRemoved.WithLabelValues(r)
	}
	for _, r := range ReloadResults {
		m.ConfigReloads.WithLabelValues(r)
	}
	for _, r := range AlertmanagerResults {
		m.AlertmanagerNotifications.WithLabelValues(r)
	}
	// Exported at 0 from the start: increase() needs a sample before the
	// first failure, or the CleanupFailures alert misses it.
	for _, o := range CleanupOutcome {
		m.AgentCleanups.WithLabelValues(o)
	}
	return m
}

// PreCreatedPerCluster is the cardinality budget's count of the series
// AddCluster creates for one idle cluster; everything else labelled by
// cluster appears on first use.
const PreCreatedPerCluster = 10

// AddCluster initialises the series of a configured cluster, at start and
// when a reload adds it: the seed's single-label families the alerts and
// the dashboard read as zeros (queue, agents, breaker, session) and the
// blind time. The families labelled by cluster and a reason, severity or
// status, and the families beyond the seed that count rare events
// (restores, requeues, reconciles, leftovers), appear on first use: at
// thousands of clusters their pre-created zeros were most of the scrape
// and a quarter of the heap. docs/metrics.md says how each alert reads a
// series before it exists.
//
// The ten share one record per cluster (clusterseries.go), so creating one
// creates them all.
func (m *Metrics) AddCluster(c string) {
	m.EventsQueued.WithLabelValues(c)
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors, the base every runner registry starts from.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
	)
	return reg
}

// Catalog maps every metric the runner exports (not the Go and process
// collectors) to its sorted label names. The docs and packaging checks
// compare against it.
func Catalog() map[string][]string {
	reg := prometheus.NewRegistry()
	m := New(reg, BuildInfo{}, []string{"c"})
	// Vectors appear in a gather only once they hold a series.
	m.EventsReceived.WithLabelValues("c", Severities[0])
	m.EventsFiltered.WithLabelValues("c", FilterReasons[0])
	m.AgentsCompleted.WithLabelValues("c", AgentStatuses[0])
	m.AgentDuration.WithLabelValues(AgentStatuses[0])
	m.AgentCleanups.WithLabelValues(CleanupOutcome[0])
	m.SSEReconnections.WithLabelValues("c", ConnectionReasons[0])
	m.SSEConnectionErrors.WithLabelValues("c", ConnectionReasons[0])
	m.EventsDisplaced.WithLabelValues("c")
	m.EventsReconciled.WithLabelValues("c")
	m.ReconcileFailures.WithLabelValues("c", ReconcileFailureReasons[0])
	m.EventsRestored.WithLabelValues("c")
	m.IncidentsRequeued.WithLabelValues("c")
	m.IncidentsAbandoned.WithLabelValues("c")
	m.EventsResolved.WithLabelValues("c")
	m.AgentLeftoverProcesses.WithLabelValues("c")
	m.InitSinks([]string{"s"})
	m.AlertmanagerAlertsReceived.WithLabelValues("c", Severities[0])
	m.AlertmanagerAlerts.WithLabelValues("c", AlertmanagerOutcomes[0])
	m.ShardInfo.WithLabelValues("0", "1")
	m.Budget.RemainingUSD.WithLabelValues(BudgetScopeGlobal)
	m.Budget.RemainingRuns.WithLabelValues(BudgetScopeGlobal)
	m.Budget.addCluster("c")
	m.EventsGrouped.WithLabelValues("c")
	m.EventsRelated.WithLabelValues("c")
	m.TopologySkipped.WithLabelValues("c")
	m.IncidentFeedback.WithLabelValues("c", "right")
	families, err := reg.Gather()
	if err != nil {
		panic(err) // a registry of our own collectors cannot fail
	}
	out := make(map[string][]string, len(families))
	for _, mf := range families {
		var labels []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName())
		}
		slices.Sort(labels)
		out[mf.GetName()] = labels
	}
	return out
}
