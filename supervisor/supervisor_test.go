package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/thejerf/suture/v4"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// panicky panics on its first n runs, then serves until stopped.
type panicky struct {
	runs atomic.Int32
	n    int32
}

func (p *panicky) String() string { return "sweeper" }
func (p *panicky) Serve(ctx context.Context) error {
	if p.runs.Add(1) <= p.n {
		panic("boom in sweep")
	}
	<-ctx.Done()
	return ctx.Err()
}

// fakeDispatch records the order of shutdown steps.
type fakeDispatch struct {
	order   *[]string
	mu      *sync.Mutex
	drained atomic.Bool
}

func (f *fakeDispatch) String() string { return "dispatch" }
func (f *fakeDispatch) Serve(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}
func (f *fakeDispatch) InFlight() int { return 2 }
func (f *fakeDispatch) Drain(time.Duration) incident.DrainReport {
	f.mu.Lock()
	*f.order = append(*f.order, "drain")
	f.mu.Unlock()
	f.drained.Store(true)
	return incident.DrainReport{Completed: []string{"inc-1"}, Interrupted: []string{"inc-2"}}
}

// stopRecorder is an intake service that records when it is stopped.
type stopRecorder struct {
	order *[]string
	mu    *sync.Mutex
}

func (s stopRecorder) String() string { return "sse[a]" }
func (s stopRecorder) Serve(ctx context.Context) error {
	<-ctx.Done()
	s.mu.Lock()
	*s.order = append(*s.order, "intake stopped")
	s.mu.Unlock()
	return ctx.Err()
}

func TestPanickingServiceIsRestartedWhileServing(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{}, nil)
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	var order []string
	var mu sync.Mutex
	srv := httpserver.New("health-server", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok"))
	}), logger)
	flaky := &panicky{n: 2}
	var notified []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Logger: logger, Metrics: m, State: &State{}, ShutdownTimeout: time.Second, KillGrace: 100 * time.Millisecond,
			Intake:   []suture.Service{flaky},
			Dispatch: &fakeDispatch{order: &order, mu: &mu},
			HTTP:     []Listener{srv},
			Notify: func(s string) {
				mu.Lock()
				notified = append(notified, s)
				mu.Unlock()
			},
		})
	}()
	<-srv.Listening()
	poll.Until(t, 10*time.Second, "the service's restarts after two panics", func() bool { return flaky.runs.Load() >= 3 })
	resp, err := http.Get("http://" + srv.Addr() + "/")
	if err != nil {
		t.Fatalf("server stopped serving after the panics: %v", err)
	}
	resp.Body.Close()
	poll.Until(t, 5*time.Second, "two counted restarts", func() bool {
		return testutil.ToFloat64(m.ServiceRestarts.WithLabelValues("sweeper")) >= 2
	})
	if got := testutil.ToFloat64(m.ServiceRestarts.WithLabelValues("sweeper")); got != 2 {
		t.Errorf("service_restarts_total{service=sweeper} = %v, want 2", got)
	}
	if !strings.Contains(logs.String(), "boom in sweep") || !strings.Contains(logs.String(), "stacktrace") {
		t.Errorf("panic not logged with its stack: %s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(notified, ",") != "READY=1,STOPPING=1" {
		t.Errorf("sd_notify states %v", notified)
	}
}

func TestShutdownOrder(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{}, nil)
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	var order []string
	var mu sync.Mutex
	state := &State{}
	srv := httpserver.New("health-server", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if state.ShuttingDown() {
			w.WriteHeader(503)
		}
	}), logger)
	disp := &fakeDispatch{order: &order, mu: &mu}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{
			Logger: logger, Metrics: m, State: state, ShutdownTimeout: time.Second, KillGrace: 100 * time.Millisecond,
			Intake:   []suture.Service{stopRecorder{order: &order, mu: &mu}},
			Dispatch: disp,
			HTTP:     []Listener{srv},
			Signals:  []os.Signal{syscall.SIGUSR1},
		})
	}()
	<-srv.Listening()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after signal: %v", err)
	}
	mu.Lock()
	got := strings.Join(order, ",")
	mu.Unlock()
	if got != "intake stopped,drain" {
		t.Errorf("shutdown order %q: intake must stop before the drain", got)
	}
	out := logs.String()
	iShut := strings.Index(out, `"msg":"Shutting down gracefully"`)
	iHTTP := strings.Index(out, `"msg":"Stopping health and metrics servers"`)
	iDone := strings.Index(out, `"msg":"Shutdown complete"`)
	if iShut < 0 || iHTTP < iShut || iDone < iHTTP {
		t.Fatalf("log lines out of order or missing:\n%s", out)
	}
	for _, w := range []string{`"signal":"user defined signal 1"`, `"in_flight_agents":2`, `"shutdown_timeout":"1s"`, `"agents_completed":1`, `"agents_interrupted":1`} {
		if !strings.Contains(out, w) {
			t.Errorf("logs lack %s", w)
		}
	}
	if !state.ShuttingDown() {
		t.Error("shutdown flag not set")
	}
	if _, err := http.Get("http://" + srv.Addr() + "/"); err == nil {
		t.Error("HTTP server still serving after Run returned")
	}
}

func TestFatalServiceErrorFailsRun(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{}, nil)
	var order []string
	var mu sync.Mutex
	srv := httpserver.New("health-server", "127.0.0.1:0", http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	err := Run(context.Background(), Options{
		Logger: slog.New(slog.DiscardHandler), Metrics: m, State: &State{}, ShutdownTimeout: time.Second,
		Intake:   []suture.Service{fatal{}},
		Dispatch: &fakeDispatch{order: &order, mu: &mu},
		HTTP:     []Listener{srv},
	})
	if err == nil || !errors.Is(err, errMisconfigured) {
		t.Fatalf("Run = %v, want the fatal error", err)
	}
}

var errMisconfigured = errors.New("misconfigured")

type fatal struct{}

func (fatal) String() string { return "sse[x]" }
func (fatal) Serve(context.Context) error {
	return errors.Join(suture.ErrTerminateSupervisorTree, errMisconfigured)
}

func TestServiceKind(t *testing.T) {
	for in, want := range map[string]string{"sse[prod]": "sse", "sweeper": "sweeper", "dispatch": "dispatch", "whatever[x]": "other"} {
		if got := ServiceKind(in); got != want {
			t.Errorf("ServiceKind(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNoSignalsMeansNone: a Run without Signals (tests, the load command)
// must not stop on the runtime's own SIGURG or any other signal.
func TestNoSignalsMeansNone(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{}, nil)
	var order []string
	var mu sync.Mutex
	srv := httpserver.New("health-server", "127.0.0.1:0", http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Logger: slog.New(slog.DiscardHandler), Metrics: m, State: &State{}, ShutdownTimeout: time.Second,
			Dispatch: &fakeDispatch{order: &order, mu: &mu}, HTTP: []Listener{srv},
		})
	}()
	<-srv.Listening()
	_ = syscall.Kill(os.Getpid(), syscall.SIGURG)
	select {
	case err := <-done:
		t.Fatalf("Run stopped on SIGURG: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	<-done
}

// slowDrain is dispatch whose drain lasts until release is closed.
type slowDrain struct {
	draining chan struct{}
	release  chan struct{}
}

func (f *slowDrain) String() string { return "dispatch" }
func (f *slowDrain) Serve(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}
func (f *slowDrain) InFlight() int { return 3 }
func (f *slowDrain) Drain(time.Duration) incident.DrainReport {
	close(f.draining)
	<-f.release
	return incident.DrainReport{}
}

// A second signal during a long drain is answered in the log with what the
// runner waits for and how to stop it at once; the drain goes on.
func TestRepeatedSignalDuringTheDrainIsAnswered(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, nil)
	logs := &testlog.Buffer{}
	srv := httpserver.New("health-server", "127.0.0.1:0", http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	disp := &slowDrain{draining: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{
			Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: m, State: &State{}, ShutdownTimeout: time.Minute,
			Dispatch: disp, HTTP: []Listener{srv}, Signals: []os.Signal{syscall.SIGUSR2},
		})
	}()
	<-srv.Listening()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	<-disp.draining
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "the repeated signal to be answered", func() bool {
		return strings.Contains(logs.String(), "Shutdown already in progress")
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) before the drain ended", err)
	default:
	}
	close(disp.release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, `"in_flight_agents":3`) || !strings.Contains(out, "SIGKILL") {
		t.Errorf("the answer does not say what the runner waits for:\n%s", out)
	}
}

// Every supervised service's name maps to a kind of its own, not "other".
func TestEveryServiceHasAKind(t *testing.T) {
	for _, name := range []string{"sse[prod]", "sweeper", "reloader", "alertmanager-intake", "dispatch", "metrics-server",
		"health-server", "ui-server", "debug-server", "notification-outbox", "notification-notices", "budgets",
		"agent-job-results", "agent-job-sweeper", "watchdog", "reaper"} {
		if k := ServiceKind(name); k == "other" {
			t.Errorf("service %q counts as other", name)
		}
	}
}
