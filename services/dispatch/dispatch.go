// Package dispatch turns queued faults into agent runs: workers per cluster
// under a global cap, one workspace per incident, the agent run through
// procutil under a timeout, its outcome classified, recorded and fed to the
// circuit breaker.
//
// Fairness: each cluster has AgentsPerCluster workers, and a worker takes a
// global slot from a FIFO semaphore before it takes an item from its queue.
// A cluster whose agent just finished queues behind clusters already
// waiting, so a noisy cluster gets no more than its share.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thejerf/suture/v4"
	"golang.org/x/sync/semaphore"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/breaker"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/grouping"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

// Agent describes the command run for each incident.
type Agent struct {
	Command     string
	Args        []string
	EnvAllow    []string
	Timeout     time.Duration
	KillGrace   time.Duration
	LogMaxBytes int64
	// WorkspaceMaxBytes stops an agent whose workspace grows past it
	// (checked every WorkspaceCheckInterval); zero disables the check.
	WorkspaceMaxBytes      int64
	WorkspaceCheckInterval time.Duration
	ReportFile             string
	ReportMinBytes         int64
	// CleanupCommand runs after a timeout or interrupt (and at start for
	// incidents a crash left unfinished), split on spaces, each word
	// templated; no shell is involved.
	CleanupCommand string
	CleanupTimeout time.Duration
	// Isolation runs agents as a user of their own (agentuser.go).
	Isolation Isolation
}

// Recorder keeps incidents durable across restarts (the journal). Started
// is called before the agent starts, Finished once its result is written;
// an interrupted incident is not finished, so the next start re-queues it.
// Running records the agent's process group once it started, and marker
// (given to Started) the environment entry all its processes carry, so a
// runner restarted after a crash can kill what is left of the agent before
// the incident runs again.
//
// Deferred undoes Started for an incident that could not be given a
// workspace (a full disk): its faults go back to their queue, the attempt
// not counted, and run once space returns.
type Recorder interface {
	Started(it queue.Item, incidentID, workspace, marker string, at time.Time) error
	Running(incidentID string, pgid int, bootID string) error
	Finished(it queue.Item, r incident.Result) error
	Deferred(it queue.Item, incidentID string) error
}

// MarkerName is the environment variable every process of an agent run
// carries, set to the incident id (procutil.Marker): processes that leave
// the agent's process group are still found by it, after the run and
// after a crash of the runner.
const MarkerName = "KUBERNETES_MCP_RUNNER_INCIDENT"

// Options configure the dispatcher.
type Options struct {
	Logger           *slog.Logger
	Metrics          *metrics.Metrics
	Queues           *queue.Set
	Breaker          *breaker.Breaker
	Kubeconfigs      map[string]string // cluster → kubeconfig path
	Agent            Agent
	WorkspaceRoot    string
	AgentsPerCluster int
	MaxConcurrent    int
	// LookupEnv reads the runner's environment for the allow-list.
	LookupEnv func(string) (string, bool)
	Now       func() time.Time
	// Recorder, when set, makes incidents durable.
	Recorder Recorder
	// Budget gates launches and hands agents their cost limit (budget.go).
	Budget Budget
	// Runtime runs each agent; nil runs it as a local process group.
	Runtime Runtime
	// Grouping groups correlated faults into one incident (group.go);
	// Wait 0 runs one incident per fault.
	Grouping grouping.Options
	// RecallMax bounds the earlier incidents of the same key event.json
	// lists; Recent are the history's records at start, whose cooldowns
	// still run.
	RecallMax int
	Recent    []incident.Record
}

// Dispatcher is the dispatch suture service.
type Dispatcher struct {
	o       Options
	logger  *slog.Logger
	args    argTemplates
	cleanup argTemplates
	slots   *semaphore.Weighted

	// agentsCtx parents every agent's context; cancelling it interrupts
	// them all (SIGTERM, grace, SIGKILL).
	agentsCtx       context.Context
	interruptAgents context.CancelFunc
	// launchCtx ends when the drain begins: workers stop taking work.
	launchCtx  context.Context
	stopLaunch context.CancelFunc

	recoverOnce sync.Once
	inFlight    sync.WaitGroup

	mu       sync.Mutex
	stopped  bool
	running  map[string]string // incident id → cluster
	draining bool
	drained  incident.DrainReport
	// runningFaults finds the incident of a running fault, and ended holds
	// when a source reported a running incident's fault over (FaultEnded).
	runningFaults map[faultKey]string
	ended         map[string]time.Time

	// disk says whether workspaces can be written (deferral.go).
	disk workspaces

	// Clusters a reload added or removed while Serve runs (clusters.go).
	clusters clusterWorkers
	// adm holds running incidents' budget admissions (budget.go).
	adm admissions
	// groups is the grouping of faults into incidents (group.go).
	groups groups
}

// CheckAgent reports configuration errors in the agent's templates and
// report path, so the caller can refuse to start before touching anything.
func CheckAgent(a Agent) error {
	_, _, err := a.templates()
	return err
}

func (a Agent) templates() (args, cleanup argTemplates, err error) {
	if args, err = parseTemplates("--agent-arg", a.Args); err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(a.CleanupCommand) != "" {
		if cleanup, err = parseTemplates("--agent-cleanup-command", strings.Fields(a.CleanupCommand)); err != nil {
			return nil, nil, err
		}
	}
	if a.ReportFile != "" && !filepath.IsLocal(a.ReportFile) {
		return nil, nil, fmt.Errorf("--agent-report-file %q must be a relative path inside the workspace", a.ReportFile)
	}
	return args, cleanup, nil
}

// New validates the agent templates and returns a dispatcher.
func New(o Options) (*Dispatcher, error) {
	args, cleanup, err := o.Agent.templates()
	if err != nil {
		return nil, err
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Dispatcher{
		o:       o,
		logger:  o.Logger.With("component", "dispatch"),
		args:    args,
		cleanup: cleanup,
		slots:   semaphore.NewWeighted(int64(o.MaxConcurrent)),
		running: make(map[string]string),

		runningFaults: make(map[faultKey]string),
		ended:         make(map[string]time.Time),
	}
	d.clusters.init(o.Kubeconfigs)
	d.groups.init()
	d.restoreRecent(o.Recent)
	d.agentsCtx, d.interruptAgents = context.WithCancel(context.Background())
	d.launchCtx, d.stopLaunch = context.WithCancel(context.Background())
	return d, nil
}

// String names the service in supervisor logs.
func (d *Dispatcher) String() string { return "dispatch" }

// InFlight is the number of agents running now.
func (d *Dispatcher) InFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.running)
}

// Serve runs the workers until ctx ends or the drain begins. Agents already
// running are not interrupted by ctx; Drain owns them.
func (d *Dispatcher) Serve(ctx context.Context) error {
	d.recoverOnce.Do(d.recoverLeftovers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(d.launchCtx, cancel)
	defer stop()

	var workers sync.WaitGroup
	d.serving(ctx, &workers)
	for _, q := range d.o.Queues.All() {
		d.startWorkers(q)
	}
	<-ctx.Done()
	d.serving(nil, nil)
	workers.Wait()
	d.mu.Lock()
	stopped := d.stopped
	d.mu.Unlock()
	if stopped {
		// Drained for shutdown: finished work, not a failure to restart.
		return suture.ErrDoNotRestart
	}
	return ctx.Err()
}

// work is one worker's loop for one cluster's queue, while it has work:
// true when it left with the queue empty (leave counted it out). Once
// clusterCtx ends (the cluster was removed) the queue's remaining faults
// are still taken, and the last worker to leave completes the removal.
func (d *Dispatcher) work(ctx context.Context, w *clusterWork, clusterCtx context.Context) bool {
	if d.grouped() {
		return d.workGrouped(ctx, w, clusterCtx)
	}
	q := w.q
	for {
		if d.leave(w) {
			return true
		}
		if err := d.waitForWorkspaces(ctx); err != nil {
			return false
		}
		probe, err := d.o.Breaker.Acquire(ctx)
		if err != nil {
			return false
		}
		if err := d.slots.Acquire(ctx, 1); err != nil {
			d.o.Breaker.Cancel(probe)
			return false
		}
		d.mu.Lock()
		if d.stopped {
			d.mu.Unlock()
			d.slots.Release(1)
			d.o.Breaker.Cancel(probe)
			return false
		}
		d.mu.Unlock()
		adm, admitted := d.admit(ctx, q.Cluster(), probe)
		if !admitted {
			continue
		}
		d.mu.Lock()
		if d.stopped {
			d.mu.Unlock()
			release(adm)
			d.slots.Release(1)
			d.o.Breaker.Cancel(probe)
			return false
		}
		it, ok := q.TryPop()
		var id string
		if ok {
			id = incidentID(it, d.o.Now())
			it.Attempts++
			d.running[id] = it.Cluster
			d.runningFaults[faultKey{it.Cluster, it.Event.FaultID}] = id
			d.inFlight.Add(1)
			d.hold(id, adm)
		}
		d.mu.Unlock()
		if !ok {
			// Another worker or the sweeper took it first.
			release(adm)
			d.slots.Release(1)
			d.o.Breaker.Cancel(probe)
			continue
		}
		d.runGuarded(q, it, id, probe)
		d.slots.Release(1)
	}
}

// runGuarded runs one incident and always releases its bookkeeping, even if
// the run panics: a worker goroutine is not watched by the supervisor, and a
// panic here must neither kill the process nor leak a slot.
func (d *Dispatcher) runGuarded(q *queue.Queue, it queue.Item, id string, probe bool) {
	status := incident.StatusFailure
	defer func() {
		if r := recover(); r != nil {
			d.logger.Error("Incident handling panicked", "cluster", it.Cluster, "incident_id", id,
				"panic", fmt.Sprint(r), "stacktrace", string(debug.Stack()))
			d.finish(id, incident.StatusFailure)
			d.o.Breaker.Record(false, probe)
		}
		d.settle(id)
		d.forgetFault(it, id)
		d.groupEnded(it.Cluster, id, status)
		for _, m := range it.Covered() {
			q.Release(m.Event.FaultID)
		}
	}()
	status = d.runIncident(it, id, probe)
	if status == statusDeferred {
		restore(q, it)
	}
	d.finish(id, status)
}

func (d *Dispatcher) finish(id string, status incident.Status) {
	d.mu.Lock()
	if _, ok := d.running[id]; ok {
		delete(d.running, id)
		if d.draining && status != statusDeferred {
			if status == incident.StatusInterrupted {
				d.drained.Interrupted = append(d.drained.Interrupted, id)
			} else {
				d.drained.Completed = append(d.drained.Completed, id)
			}
		}
		d.inFlight.Done()
	}
	d.mu.Unlock()
}

// Drain implements supervisor.Dispatcher: stop launching, give running
// agents until budget, then interrupt the rest and wait for them.
func (d *Dispatcher) Drain(budget time.Duration) incident.DrainReport {
	d.mu.Lock()
	d.stopped = true
	d.draining = true
	d.mu.Unlock()
	d.stopLaunch()

	done := make(chan struct{})
	go func() {
		d.inFlight.Wait()
		close(done)
	}()
	timer := time.NewTimer(budget)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		d.logger.Warn("Shutdown timeout reached; interrupting remaining agents",
			"in_flight_agents", d.InFlight(), "shutdown_timeout", budget.String())
	}
	d.interruptAgents()
	<-done

	if left := d.o.Queues.Depth(); left > 0 {
		d.logger.Warn("Queued faults not investigated before shutdown", "queued_events", left)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// Empty lists, not nil: the drain log shows "completed":[].
	return incident.DrainReport{
		Completed:   append([]string{}, d.drained.Completed...),
		Interrupted: append([]string{}, d.drained.Interrupted...),
	}
}

// runIncident prepares the workspace, runs the agent and records the result.
func (d *Dispatcher) runIncident(it queue.Item, id string, probe bool) incident.Status {
	m := d.o.Metrics
	cluster := it.Cluster
	ws := filepath.Join(d.o.WorkspaceRoot, cluster, id)
	f := d.fields(it, id, ws)
	started := d.o.Now()
	result := incident.Result{
		IncidentID: id, Cluster: cluster, FaultID: it.Event.FaultID,
		StartedAt: started, TimeoutSeconds: d.o.Agent.Timeout.Seconds(), Attempt: it.Attempts, Workspace: ws,
	}
	marker := procutil.Marker(MarkerName, id)
	if d.o.Recorder != nil {
		if err := d.o.Recorder.Started(it, id, ws, marker, started); err != nil {
			// The fault stays in the journal's queue and runs again after
			// a restart: a duplicate, never a loss.
			d.logger.Error("Could not record the incident start in the state store", "cluster", cluster, "incident_id", id, "error", err.Error())
		}
	}
	finished := func() {
		if d.o.Recorder == nil || result.Status == incident.StatusInterrupted {
			return
		}
		d.recordFinished(it, result)
	}
	// fail ends an incident whose agent never ran. status is
	// StatusError when the runner's own I/O failed: that says nothing
	// about the agents, so the breaker does not hear of it.
	fail := func(status incident.Status, reason string, err error) incident.Status {
		result.Status, result.Reason = status, fmt.Sprintf("%s: %v", reason, err)
		result.EndedAt = d.o.Now()
		d.noteEnded(id, &result)
		d.charge(id, false, &result)
		d.logger.Error("Incident could not run", "cluster", cluster, "incident_id", id, "status", string(status), "error", result.Reason)
		_ = writeJSON(filepath.Join(ws, incident.ResultFile), result)
		finished()
		if status == incident.StatusError {
			d.o.Breaker.Cancel(probe)
		} else {
			d.o.Breaker.Record(false, probe)
		}
		m.AgentsCompleted.WithLabelValues(cluster, string(status)).Inc()
		m.AgentDuration.WithLabelValues(string(status)).Observe(0)
		return status
	}
	if err := os.MkdirAll(filepath.Join(ws, incident.OutputDir), 0o700); err != nil {
		if diskError(err) {
			return d.deferIncident(it, id, ws, probe, err)
		}
		return fail(incident.StatusError, "create workspace", err)
	}
	if err := writeJSON(filepath.Join(ws, incident.EventFile), incident.EventDocument{
		IncidentID: id, Cluster: cluster, Kubeconfig: f.Kubeconfig, EnqueuedAt: it.EnqueuedAt, Fault: it.Event,
		Group: d.groupDoc(id),
	}); err != nil {
		if diskError(err) {
			return d.deferIncident(it, id, ws, probe, err)
		}
		return fail(incident.StatusError, "write event.json", err)
	}
	d.workspaceWritten()
	if err := d.isolate(ws, cluster); err != nil {
		return fail(incident.StatusError, "hand the workspace to --agent-user", err)
	}
	env, err := d.agentEnv(f)
	if err != nil {
		return fail(incident.StatusError, "agent environment", err)
	}
	args, err := d.args.render(f)
	if err != nil {
		return fail(incident.StatusFailure, "render agent arguments", err)
	}

	res := d.runAgent(cluster, ws, f, args, env, marker, &result)
	// Before any cleanup prunes the workspace, usage.json with it. An
	// agent that never started (no exit code, no signal) spent nothing.
	d.charge(id, result.ExitCode != nil || result.Signal != "", &result)
	duration := result.EndedAt.Sub(result.StartedAt)

	switch result.Status {
	case incident.StatusTimeout:
		m.AgentsTimeout.WithLabelValues(cluster).Inc()
		d.logger.Warn("Agent execution timeout",
			"cluster", cluster, "incident_id", id,
			"duration", duration.Round(time.Millisecond).String(),
			"threshold", d.o.Agent.Timeout.String(),
			"timeout_threshold", d.o.Agent.Timeout.String(),
			"killed", res.Killed)
	}
	if result.Status == incident.StatusTimeout || result.Status == incident.StatusInterrupted {
		d.cleanUp(ws, f, result.Status)
	}
	// The record on disk and the breaker come first, the metrics after:
	// what a scrape shows has already happened.
	d.noteEnded(id, &result)
	if err := writeJSON(filepath.Join(ws, incident.ResultFile), result); err != nil {
		d.logger.Error("Could not write result.json", "cluster", cluster, "incident_id", id, "error", err.Error())
	}
	finished()
	d.conclude(it, probe, started, result, duration)
	return result.Status
}

// Retries of an incident's finish write: a store that fails for a moment
// (a full disk being freed) must not leave the incident shown as running
// until the next restart.
const (
	finishRetries    = 5
	finishRetryFirst = time.Second
)

// recordFinished writes the incident's end, again with backoff while the
// store fails (about 30 s in all), and gives up at shutdown: the incident
// then stays in the store's running records and runs again after a
// restart, a duplicate and never a loss.
func (d *Dispatcher) recordFinished(it queue.Item, result incident.Result) {
	delay := finishRetryFirst
	for attempt := 0; ; attempt++ {
		err := d.o.Recorder.Finished(it, result)
		if err == nil {
			if attempt > 0 {
				d.logger.Info("Recorded the incident result after the state store recovered", "cluster", it.Cluster,
					"incident_id", result.IncidentID, "attempts", attempt+1)
			}
			return
		}
		if attempt == finishRetries {
			d.logger.Error("Could not record the incident result in the state store; it runs again after a restart",
				"cluster", it.Cluster, "incident_id", result.IncidentID, "attempts", attempt+1, "error", err.Error())
			return
		}
		d.logger.Warn("Could not record the incident result in the state store; retrying", "cluster", it.Cluster,
			"incident_id", result.IncidentID, "retry_in", delay.String(), "error", err.Error())
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-d.launchCtx.Done():
			t.Stop()
			d.logger.Error("Could not record the incident result in the state store before shutdown; it runs again after a restart",
				"cluster", it.Cluster, "incident_id", result.IncidentID, "error", err.Error())
			return
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// runAgent runs the agent of one incident under its timeout and the
// workspace cap, and fills result with how it ended.
func (d *Dispatcher) runAgent(cluster, ws string, f incident.Fields, args, env []string, marker string, result *incident.Result) procutil.Result {
	m := d.o.Metrics
	m.AgentsSpawned.WithLabelValues(cluster).Inc()
	m.AgentsActive.WithLabelValues(cluster).Inc()
	ctx, cancel := context.WithTimeout(d.agentsCtx, d.o.Agent.Timeout)
	stopWatch, overQuota := d.watchWorkspace(ws, cancel)
	res, runErr := d.runtime().Run(ctx, d.o.Agent.Isolation.spec(procutil.Spec{
		Path:        d.o.Agent.Command,
		Args:        args,
		Dir:         ws,
		Env:         env,
		LogPath:     filepath.Join(ws, incident.LogFile),
		LogMaxBytes: d.o.Agent.LogMaxBytes,
		Grace:       d.o.Agent.KillGrace,
		Marker:      marker,
		OnStart:     func(pgid int) { d.recordRunning(f, pgid) },
	}), f, d.render)
	stopWatch()
	d.reclaim(ws)
	cancel()
	m.AgentsActive.WithLabelValues(cluster).Dec()
	d.reportLeftovers(f, res)
	// The watch samples once a tick: an agent that writes past the cap
	// and exits between two ticks is caught here.
	if limit := d.o.Agent.WorkspaceMaxBytes; limit > 0 && !overQuota() {
		if size := workspace.Size(ws); size > limit {
			d.logger.Warn("Agent workspace over its size cap after the agent exited",
				"workspace", ws, "bytes", size, "max_bytes", limit)
			overQuota = func() bool { return true }
		}
	}

	result.EndedAt = d.o.Now()
	if runErr == nil {
		result.StartedAt, result.EndedAt = res.Started, res.Ended
		result.Killed, result.OutputTruncated = res.Killed, res.OutputTruncated
		if res.Signal != 0 {
			result.Signal = res.Signal.String()
		} else {
			code := res.ExitCode
			result.ExitCode = &code
		}
	}
	result.DurationSeconds = result.EndedAt.Sub(result.StartedAt).Seconds()
	result.Status, result.Reason = d.classify(res, runErr, ws, result)
	if overQuota() {
		result.Status = incident.StatusFailure
		result.Reason = fmt.Sprintf("workspace grew past %d bytes; agent stopped", d.o.Agent.WorkspaceMaxBytes)
		// What it wrote goes too, largest first, down to the cap: the
		// record (event, log, result) stays.
		if removed := workspace.Trim(ws, d.o.Agent.WorkspaceMaxBytes, incident.EventFile, incident.LogFile, incident.ResultFile); len(removed) > 0 {
			result.Reason += fmt.Sprintf("; removed %s", strings.Join(removed, ", "))
			d.logger.Warn("Removed what an agent wrote past its workspace cap", "cluster", cluster, "workspace", ws,
				"removed", removed, "max_bytes", d.o.Agent.WorkspaceMaxBytes)
		}
	}
	return res
}

// conclude reports an ended incident to the breaker, then the metrics, then
// the log: what a scrape shows has already happened.
func (d *Dispatcher) conclude(it queue.Item, probe bool, started time.Time, result incident.Result, duration time.Duration) {
	m, cluster := d.o.Metrics, it.Cluster
	switch result.Status {
	case incident.StatusSuccess:
		d.o.Breaker.Record(true, probe)
	case incident.StatusInterrupted, incident.StatusError:
		d.o.Breaker.Cancel(probe)
	default:
		d.o.Breaker.Record(false, probe)
	}
	m.AgentsCompleted.WithLabelValues(cluster, string(result.Status)).Inc()
	m.AgentDuration.WithLabelValues(string(result.Status)).Observe(duration.Seconds())

	level := slog.LevelInfo
	if result.Status != incident.StatusSuccess {
		level = slog.LevelWarn
	}
	d.logger.Log(context.Background(), level, "Incident finished",
		"cluster", cluster, "incident_id", result.IncidentID, "fault_id", it.Event.FaultID,
		"fault_type", it.Event.FaultType, "severity", it.Severity().String(),
		"status", string(result.Status), "reason", result.Reason,
		"duration", duration.Round(time.Millisecond).String(),
		"exit_code", exitCodeAttr(result.ExitCode), "signal", result.Signal,
		"queued_for", started.Sub(it.EnqueuedAt).Round(time.Millisecond).String(),
		"workspace", result.Workspace, "probe", probe, "attempt", it.Attempts)
}

// watchWorkspace stops the agent (through stop) if its workspace grows
// past the cap. It returns a function that ends the watch and one that
// reports whether the cap was hit.
func (d *Dispatcher) watchWorkspace(ws string, stop context.CancelFunc) (end func(), exceeded func() bool) {
	var over atomic.Bool
	if d.o.Agent.WorkspaceMaxBytes <= 0 {
		return func() {}, over.Load
	}
	interval := d.o.Agent.WorkspaceCheckInterval
	if interval <= 0 {
		interval = time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if size := workspace.Size(ws); size > d.o.Agent.WorkspaceMaxBytes {
					d.logger.Warn("Agent workspace over its size cap; stopping the agent",
						"workspace", ws, "bytes", size, "max_bytes", d.o.Agent.WorkspaceMaxBytes)
					over.Store(true)
					stop()
					return
				}
			}
		}
	}()
	return func() { close(done); <-finished }, over.Load
}

// classify decides the incident's status and, unless it succeeded, why.
func (d *Dispatcher) classify(res procutil.Result, runErr error, ws string, result *incident.Result) (incident.Status, string) {
	switch {
	case runErr != nil:
		// The agent never started (exec refused it: its environment, built
		// from the fault, or the runner's own resources). That says nothing
		// about agents, so it is an error, not a failure, and the breaker
		// does not hear of it.
		return incident.StatusError, "agent could not start: " + runErr.Error()
	case res.TimedOut:
		return incident.StatusTimeout, fmt.Sprintf("agent ran longer than %s", d.o.Agent.Timeout)
	case res.Cancelled:
		return incident.StatusInterrupted, "runner shutting down"
	case res.Signal != 0:
		return incident.StatusFailure, "agent killed by signal " + res.Signal.String()
	case res.ExitCode != 0:
		return incident.StatusFailure, fmt.Sprintf("agent exited with code %d", res.ExitCode)
	}
	if d.o.Agent.ReportFile == "" {
		return incident.StatusSuccess, ""
	}
	st, err := os.Stat(filepath.Join(ws, d.o.Agent.ReportFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return incident.StatusFailure, "agent wrote no report " + d.o.Agent.ReportFile
	case err != nil:
		return incident.StatusFailure, "report unreadable: " + err.Error()
	}
	result.ReportBytes = st.Size()
	if st.Size() < d.o.Agent.ReportMinBytes {
		return incident.StatusFailure, fmt.Sprintf("report %s is %d bytes, under the %d-byte minimum", d.o.Agent.ReportFile, st.Size(), d.o.Agent.ReportMinBytes)
	}
	return incident.StatusSuccess, ""
}

func (d *Dispatcher) fields(it queue.Item, id, ws string) incident.Fields {
	f := incident.Fields{
		IncidentID:        id,
		Cluster:           it.Cluster,
		Source:            it.Event.Source,
		Workspace:         ws,
		EventFile:         filepath.Join(ws, incident.EventFile),
		Kubeconfig:        d.agentKubeconfig(it.Cluster, ws),
		FaultID:           it.Event.FaultID,
		FaultType:         it.Event.FaultType,
		Severity:          it.Severity().String(),
		ResourceKind:      it.Event.Resource.Kind,
		ResourceName:      it.Event.Resource.Name,
		ResourceNamespace: it.Event.Resource.Namespace,
	}
	if d.o.Agent.ReportFile != "" {
		f.ReportFile = filepath.Join(ws, d.o.Agent.ReportFile)
	}
	f.UsageFile, f.MaxCostUSD = usageFile(ws), d.maxCost(it.Cluster)
	f.GroupSize = 1 + len(it.Members)
	if g := d.groupDoc(id); g != nil {
		f.GroupKey = g.Key
	}
	return f
}

// cleanUp prunes the workspace and runs the cleanup command, for agents
// that did not finish by themselves.
func (d *Dispatcher) cleanUp(ws string, f incident.Fields, status incident.Status) {
	if err := pruneWorkspace(ws); err != nil {
		d.logger.Warn("Could not prune agent workspace", "cluster", f.Cluster, "incident_id", f.IncidentID, "error", err.Error())
	} else {
		d.logger.Info("Cleaned up agent workspace", "cluster", f.Cluster, "incident_id", f.IncidentID,
			"status", string(status), "kept", []string{incident.EventFile, incident.LogFile, incident.ResultFile, incident.OutputDir + "/"})
	}
	d.runCleanupCommand(f)
}

// Outcomes of the cleanup command, the outcome label values of
// agent_cleanups_total.
const (
	CleanupSuccess = "success"
	CleanupFailure = "failure"
	CleanupTimeout = "timeout"
)

// CleanupOutcomes lists every cleanup outcome.
func CleanupOutcomes() []string { return []string{CleanupSuccess, CleanupFailure, CleanupTimeout} }

// runCleanupCommand removes what the agent left outside its process group,
// typically its container. It runs under its own timeout, not the
// (possibly already cancelled) agent context.
func (d *Dispatcher) runCleanupCommand(f incident.Fields) {
	if len(d.cleanup) == 0 {
		return
	}
	argv, err := d.cleanup.render(f)
	if err != nil || len(argv) == 0 {
		d.logger.Error("Could not render cleanup command", "incident_id", f.IncidentID, "error", fmt.Sprint(err))
		d.o.Metrics.AgentCleanups.WithLabelValues(CleanupFailure).Inc()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.o.Agent.CleanupTimeout)
	defer cancel()
	env, err := d.agentEnv(f)
	if err != nil {
		d.logger.Warn("Cleanup command runs without --agent-env-file", "incident_id", f.IncidentID, "error", err.Error())
		env = procutil.Environ(d.o.Agent.EnvAllow, d.o.LookupEnv, f.Env())
	}
	res, err := procutil.Run(ctx, d.o.Agent.Isolation.spec(procutil.Spec{
		Path:        argv[0],
		Args:        argv[1:],
		Dir:         f.Workspace,
		Env:         env,
		LogPath:     filepath.Join(f.Workspace, incident.LogFile),
		LogMaxBytes: d.o.Agent.LogMaxBytes,
		Grace:       d.o.Agent.KillGrace,
	}))
	outcome := CleanupSuccess
	switch {
	case err != nil:
		outcome = CleanupFailure
	case res.TimedOut:
		outcome = CleanupTimeout
	case !res.Success():
		outcome = CleanupFailure
	}
	d.o.Metrics.AgentCleanups.WithLabelValues(outcome).Inc()
	level := slog.LevelInfo
	if outcome != CleanupSuccess {
		level = slog.LevelWarn
	}
	attrs := []any{"cluster", f.Cluster, "incident_id", f.IncidentID, "command", strings.Join(argv, " "),
		"outcome", outcome, "exit_code", res.ExitCode}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	d.logger.Log(context.Background(), level, "Ran agent cleanup command", attrs...)
}

// recoverLeftovers finds workspaces with an event but no result, which a
// crash or SIGKILL left behind, records them as interrupted and runs the
// cleanup command for each, so their containers do not run on unwatched.
func (d *Dispatcher) recoverLeftovers() {
	clusters, err := os.ReadDir(d.o.WorkspaceRoot)
	if err != nil {
		return
	}
	for _, c := range clusters {
		if !c.IsDir() || d.o.Queues.Get(c.Name()) == nil {
			continue
		}
		incidents, _ := os.ReadDir(filepath.Join(d.o.WorkspaceRoot, c.Name()))
		for _, inc := range incidents {
			ws := filepath.Join(d.o.WorkspaceRoot, c.Name(), inc.Name())
			if _, err := os.Stat(filepath.Join(ws, incident.EventFile)); err != nil {
				continue
			}
			if _, err := os.Stat(filepath.Join(ws, incident.ResultFile)); err == nil {
				continue
			}
			d.reclaim(ws)
			now := d.o.Now()
			_ = writeJSON(filepath.Join(ws, incident.ResultFile), incident.Result{
				IncidentID: inc.Name(), Cluster: c.Name(), Status: incident.StatusInterrupted,
				Reason: "runner stopped before the agent finished", EndedAt: now,
				TimeoutSeconds: d.o.Agent.Timeout.Seconds(),
			})
			d.logger.Warn("Found an incident left unfinished by a previous run",
				"cluster", c.Name(), "incident_id", inc.Name(), "workspace", ws)
			d.runCleanupCommand(incident.Fields{IncidentID: inc.Name(), Cluster: c.Name(), Workspace: ws, Kubeconfig: d.kubeconfig(c.Name())})
		}
	}
}

func exitCodeAttr(code *int) any {
	if code == nil {
		return nil
	}
	return *code
}
