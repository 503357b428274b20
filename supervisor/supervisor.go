// Package supervisor owns the process lifecycle: an oklog/run group whose
// actors are the signal handler (step 1), the suture tree of workers
// (intake services: step 2; dispatch: steps 3 and 4) and the suture tree of
// HTTP servers (step 5), and the ordered shutdown between them. What runs
// in each tree is sketched once, at the top of package app.
//
// run.Group calls the actors' interrupt functions one at a time in the
// order they were added, and each interrupt here blocks until its step is
// done. The order of shutdown is therefore the order of the Add calls in
// Run, and workers finish before /metrics and /readyz go away.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/thejerf/suture/v4"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// State is the process-wide shutdown flag, read by the health handlers.
type State struct{ shuttingDown atomic.Bool }

// ShuttingDown reports whether shutdown has begun.
func (s *State) ShuttingDown() bool { return s.shuttingDown.Load() }

func (s *State) begin() { s.shuttingDown.Store(true) }

// Dispatcher is the dispatch service as the shutdown sequence sees it.
type Dispatcher interface {
	suture.Service
	// InFlight is the number of agents running now.
	InFlight() int
	// Drain stops new launches, waits up to budget for running agents,
	// then interrupts the rest (SIGTERM, grace, SIGKILL) and returns once
	// every agent is reaped.
	Drain(budget time.Duration) incident.DrainReport
}

// Listener is an HTTP service that says when it is accepting connections.
type Listener interface {
	suture.Service
	Listening() <-chan struct{}
}

// Options are the parts the lifecycle coordinates.
type Options struct {
	Logger          *slog.Logger
	Metrics         *metrics.Metrics
	State           *State
	ShutdownTimeout time.Duration
	// KillGrace is the agents' SIGTERM→SIGKILL grace, used to size the
	// dispatch subtree's stop timeout.
	KillGrace time.Duration
	Intake    []suture.Service
	Dispatch  Dispatcher
	HTTP      []Listener
	// Extra services of the HTTP tree (the systemd watchdog).
	HTTPExtra []suture.Service
	// Notify sends an sd_notify state; it is a no-op outside systemd.
	Notify func(state string)
	// Signals that start a graceful shutdown.
	Signals []os.Signal
}

// SignalError ends the run group when a shutdown signal arrives.
type SignalError struct{ Signal os.Signal }

func (e SignalError) Error() string { return "received signal " + e.Signal.String() }

// Run starts everything and blocks until shutdown is complete. It returns
// nil after a graceful shutdown (signal or ctx cancelled) and an error when
// a part failed fatally.
//
// Run is long on purpose: the actors are added in the order their
// interrupts run, and each interrupt is one numbered shutdown step, so the
// whole sequence reads top to bottom in one place; split up, the order
// would have to be pieced together from several functions.
func Run(ctx context.Context, o Options) error {
	logger := o.Logger.With("component", "lifecycle")
	notify := o.Notify
	if notify == nil {
		notify = func(string) {}
	}
	hook := EventHook(o.Logger, o.Metrics)
	// Nesting of timeouts: kill grace < shutdown timeout < this stop
	// timeout < systemd TimeoutStopSec / terminationGracePeriodSeconds.
	stopTimeout := o.ShutdownTimeout + 2*o.KillGrace + 5*time.Second

	workers := suture.New("workers", suture.Spec{EventHook: hook, Timeout: stopTimeout})
	intake := suture.New("intake", suture.Spec{EventHook: hook, Timeout: 10 * time.Second})
	for _, s := range o.Intake {
		intake.Add(s)
	}
	intakeToken := workers.Add(intake)
	dispatchToken := workers.Add(o.Dispatch)
	// A signal can come while the worker tree is still starting: removing
	// intake from a supervisor that is not serving yet does nothing, and
	// intake would start, and stop, after the drain. The shutdown waits
	// until the tree serves (this marker runs once, after the services
	// above were started) or has ended.
	workersUp, workersEnded := make(chan struct{}), make(chan struct{})
	workers.Add(startedMarker(workersUp))

	servers := suture.New("http", suture.Spec{EventHook: hook, Timeout: 10 * time.Second})
	for _, s := range o.HTTP {
		servers.Add(s)
	}
	for _, s := range o.HTTPExtra {
		servers.Add(s)
	}

	var (
		g             run.Group
		shutdownStart time.Time
		report        incident.DrainReport
	)

	// Actor 1: signals. Its interrupt is step 1 of the shutdown.
	sigs := make(chan os.Signal, 1)
	// signal.Notify with no signals relays every signal, including the
	// runtime's own SIGURG: only subscribe to the ones asked for.
	if len(o.Signals) > 0 {
		signal.Notify(sigs, o.Signals...)
	}
	stopSignals := make(chan struct{})
	// After the first signal the drain can take up to --shutdown-timeout:
	// later signals are caught and answered in the log, so an operator
	// pressing Ctrl-C again learns what the runner is waiting for.
	repeatsDone := make(chan struct{})
	var repeats sync.WaitGroup
	defer func() {
		close(repeatsDone)
		repeats.Wait()
		signal.Stop(sigs)
	}()
	g.Add(func() error {
		select {
		case s := <-sigs:
			return SignalError{Signal: s}
		case <-ctx.Done():
			return ctx.Err()
		case <-stopSignals:
			return nil
		}
	}, func(cause error) {
		close(stopSignals)
		shutdownStart = time.Now()
		started := shutdownStart
		repeats.Go(func() {
			for {
				select {
				case s := <-sigs:
					logger.Warn("Shutdown already in progress; waiting for in-flight agents before exiting (send SIGKILL to stop at once)",
						"signal", s.String(), "in_flight_agents", o.Dispatch.InFlight(),
						"waited", time.Since(started).Round(time.Second).String(), "shutdown_timeout", o.ShutdownTimeout.String())
				case <-repeatsDone:
					return
				}
			}
		})
		o.State.begin() // /healthz and /readyz now answer 503
		notify("STOPPING=1")
		logger.Info("Shutting down gracefully",
			"signal", signalName(cause),
			"in_flight_agents", o.Dispatch.InFlight(),
			"shutdown_timeout", o.ShutdownTimeout.String())
	})

	// Actor 2: the worker tree. Its interrupt is steps 2-4.
	workersCtx, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	g.Add(func() error {
		defer close(workersEnded)
		err := workers.Serve(workersCtx)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}, func(error) {
		select {
		case <-workersUp:
		case <-workersEnded:
		}
		logger.Info("Closing MCP sessions and stopping intake")
		if err := workers.RemoveAndWait(intakeToken, 15*time.Second); err != nil && !errors.Is(err, suture.ErrSupervisorNotRunning) {
			logger.Warn("Intake did not stop cleanly", "error", err)
		}
		logger.Info("Stopping dispatch and draining in-flight agents", "in_flight_agents", o.Dispatch.InFlight())
		report = o.Dispatch.Drain(o.ShutdownTimeout)
		logger.Info("Agent drain finished",
			"completed", report.Completed, "interrupted", report.Interrupted)
		if err := workers.RemoveAndWait(dispatchToken, stopTimeout); err != nil && !errors.Is(err, suture.ErrSupervisorNotRunning) {
			logger.Warn("Dispatch did not stop cleanly", "error", err)
		}
		stopWorkers()
	})

	// Actor 3: the HTTP servers, stopped last so /metrics and /readyz are
	// served until the workers are done.
	serversCtx, stopServers := context.WithCancel(context.Background())
	defer stopServers()
	g.Add(func() error {
		err := servers.Serve(serversCtx)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}, func(error) {
		logger.Info("Stopping health and metrics servers")
		stopServers()
	})

	// Actor 4: tell systemd we are ready once every server listens.
	readyDone := make(chan struct{})
	g.Add(func() error {
		for _, l := range o.HTTP {
			select {
			case <-l.Listening():
			case <-readyDone:
				return nil
			}
		}
		notify("READY=1")
		logger.Info("Runner ready")
		<-readyDone
		return nil
	}, func(error) { close(readyDone) })

	err := g.Run()
	if shutdownStart.IsZero() {
		shutdownStart = time.Now()
	}
	logger.Info("Shutdown complete",
		"duration", time.Since(shutdownStart).String(),
		"agents_completed", len(report.Completed),
		"agents_interrupted", len(report.Interrupted))

	var sig SignalError
	switch {
	case err == nil, errors.As(err, &sig), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	}
	return fmt.Errorf("runner stopped: %w", err)
}

func signalName(cause error) string {
	var sig SignalError
	switch {
	case errors.As(cause, &sig):
		return sig.Signal.String()
	case cause == nil:
		return "none"
	case errors.Is(cause, context.Canceled):
		return "context cancelled"
	}
	return "error: " + cause.Error()
}

// startedMarker closes up when its supervisor starts it, and is not
// restarted: a supervisor starts its services in the order they were
// added, so the marker added last tells the ones before it were started.
type startedMarker chan struct{}

func (m startedMarker) String() string { return "started-marker" }

func (m startedMarker) Serve(context.Context) error {
	close(m)
	return suture.ErrDoNotRestart
}
