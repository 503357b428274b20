package test

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
)

// TestBinaryQueueSurvivesRestart: faults queued and an incident in flight
// when the runner stops (gracefully or by SIGKILL) come back on the next
// start: queued ones in order with their original EnqueuedAt, the
// interrupted one re-run and counted as a second attempt.
func TestBinaryQueueSurvivesRestart(t *testing.T) {
	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		t.Run(how, func(t *testing.T) {
			t.Setenv("GORACE", "atexit_sleep_ms=0")
			srcs := startSources(t, "a")
			dir := t.TempDir()
			args := stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL(), "--agents-per-cluster", "1",
				"--max-concurrent-agents", "1", "--agent-timeout", "3", "--shutdown-timeout", "2", "--agent-kill-grace", "1")
			first := startRunner(t, args...)
			poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
			emit(srcs["a"], "a", 0, "hang-0")
			poll.Until(t, 10*time.Second, "hang-0 running", func() bool { return first.metric("kubernetes_mcp_runner_agents_active") == 1 })
			for i, name := range []string{"ok-1", "ok-2", "ok-3"} {
				emit(srcs["a"], "a", i+1, name)
			}
			poll.Until(t, 10*time.Second, "three queued", func() bool { return first.metric("kubernetes_mcp_runner_queue_depth") == 3 })
			if how == "SIGKILL" {
				_ = first.cmd.Process.Kill()
				_ = first.wait()
			} else {
				_ = first.cmd.Process.Signal(syscall.SIGTERM)
				if err := first.wait(); err != nil {
					t.Fatalf("exit: %v", err)
				}
			}

			// What the store holds between the two runs.
			store, err := journal.Open(filepath.Join(dir, "state"), journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 100})
			if err != nil {
				t.Fatal(err)
			}
			st, err := store.Load()
			store.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Queued["a"]) != 3 || len(st.InFlight) != 1 || st.InFlight[0].Item.Event.Resource.Name != "hang-0" {
				t.Fatalf("stored state: %d queued, in flight %+v", len(st.Queued["a"]), st.InFlight)
			}
			enqueuedAt := map[string]time.Time{}
			for _, e := range st.Queued["a"] {
				enqueuedAt[e.Event.Resource.Name] = e.EnqueuedAt
			}

			second := startRunner(t, args...)
			poll.Until(t, 30*time.Second, "all four incidents", func() bool {
				return second.metric("kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 3 &&
					second.metric("kubernetes_mcp_runner_agents_completed_total", `status="timeout"`) == 1
			})
			if got := second.metric("kubernetes_mcp_runner_incidents_requeued_total"); got != 1 {
				t.Errorf("incidents_requeued_total %v, want 1", got)
			}
			if got := second.metric("kubernetes_mcp_runner_events_restored_total"); got != 4 {
				t.Errorf("events_restored_total %v, want 4", got)
			}
			var order []string
			for _, r := range testagent.Results(t, filepath.Join(dir, "ws"), "*") {
				doc := testagent.Event(t, filepath.Join(dir, "ws"), r)
				name := doc.Fault.Resource.Name
				if r.Status == incident.StatusInterrupted {
					continue // the first run's interrupted incident
				}
				order = append(order, name)
				if want, ok := enqueuedAt[name]; ok && !doc.EnqueuedAt.Equal(want) {
					t.Errorf("%s EnqueuedAt %v after restart, want the original %v", name, doc.EnqueuedAt, want)
				}
				if name == "hang-0" && r.Attempt != 2 {
					t.Errorf("re-run of hang-0 is attempt %d, want 2", r.Attempt)
				}
			}
			if strings.Join(order, ",") != "hang-0,ok-1,ok-2,ok-3" {
				t.Errorf("second run order %v, want hang-0,ok-1,ok-2,ok-3", order)
			}
		})
	}
}

// TestBinaryPoisonIncidentIsAbandoned: with --max-attempts 1 an incident
// interrupted once is recorded as failed instead of re-run; the incidents
// command lists it, from a running runner and from the file.
func TestBinaryPoisonIncidentIsAbandoned(t *testing.T) {
	srcs := startSources(t, "a")
	dir := t.TempDir()
	args := stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL(), "--max-attempts", "1")
	first := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 0, "hang-poison")
	poll.Until(t, 10*time.Second, "running", func() bool { return first.metric("kubernetes_mcp_runner_agents_active") == 1 })
	_ = first.cmd.Process.Kill()
	_ = first.wait()

	second := startRunner(t, args...)
	poll.Until(t, 10*time.Second, "abandoned", func() bool {
		return second.metric("kubernetes_mcp_runner_incidents_abandoned_total", `cluster="a"`) == 1
	})
	if got := second.metric("kubernetes_mcp_runner_agents_spawned_total"); got != 0 {
		t.Errorf("the poison incident ran again (%v agents)", got)
	}
	// While the runner holds the store, the command reads its /api/incidents.
	out, err := exec.Command(binary(t), "incidents", "--state-dir", filepath.Join(dir, "state"), "--url", second.uiURL, "--json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"status": "failure"`) || !strings.Contains(string(out), "gave up") {
		t.Fatalf("incidents --url: %v\n%s", err, out)
	}
	_ = second.cmd.Process.Signal(syscall.SIGTERM)
	_ = second.wait()
	// Stopped: the command reads the file.
	out, err = exec.Command(binary(t), "incidents", "--state-dir", filepath.Join(dir, "state")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "STATUS") || !strings.Contains(string(out), "failure") {
		t.Fatalf("incidents: %v\n%s", err, out)
	}
}

// TestBinaryCorruptStateFileIsQuarantined: garbage in state.db does not stop
// the runner: the file is moved aside, logged and counted.
func TestBinaryCorruptStateFileIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, journal.FileName), []byte(strings.Repeat("garbage!", 10000)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRunner(t, stateArgs(t, dir, "--cluster", "a=http://127.0.0.1:1/mcp")...)
	if got := r.metric("kubernetes_mcp_runner_state_corruptions_total"); got != 1 {
		t.Errorf("state_corruptions_total %v", got)
	}
	line := lineWith(r.logs.String(), "State file is corrupt")
	if !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, filepath.Join(state, journal.FileName)) {
		t.Errorf("no ERROR naming the file: %q", line)
	}
	if aside, _ := filepath.Glob(filepath.Join(state, journal.FileName+".corrupt-*")); len(aside) != 1 {
		t.Errorf("corrupt file not kept aside: %v", aside)
	}
}

// TestBinaryDedupSurvivesRestart: a fault seen before a restart is a
// duplicate after it.
func TestBinaryDedupSurvivesRestart(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	srcs := startSources(t, "a")
	dir := t.TempDir()
	args := stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL())
	first := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 7, "ok-once")
	poll.Until(t, 15*time.Second, "done", func() bool { return first.metric("kubernetes_mcp_runner_agents_completed_total") == 1 })
	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	_ = first.wait()

	second := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 7, "ok-once")
	poll.Until(t, 10*time.Second, "duplicate", func() bool {
		return second.metric("kubernetes_mcp_runner_events_filtered_total", `reason="duplicate"`) == 1
	})
}

// TestBinaryStateDirLocked: a second runner on the same state directory
// refuses to start, with exit code 2 and a clear message.
func TestBinaryStateDirLocked(t *testing.T) {
	dir := t.TempDir()
	startRunner(t, stateArgs(t, dir, "--cluster", "a=http://127.0.0.1:1/mcp")...)
	cmd := exec.Command(binary(t), append(stateArgs(t, dir, "--cluster", "a=http://127.0.0.1:1/mcp"),
		"--health-port", "1", "--metrics-port", "2")...)
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "in use by another process") {
		t.Fatalf("second runner: %v\n%s", err, out)
	}
}

// TestBinaryBadTemplateExits2BeforeTouchingState: an agent template error
// is a configuration error (exit 2) found before the state store is opened.
func TestBinaryBadTemplateExits2BeforeTouchingState(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary(t), "--cluster", "a=http://127.0.0.1:1/mcp", "--agent-command", "/bin/true",
		"--agent-arg", "{{.NoSuchField}}", "--state-dir", filepath.Join(dir, "state"), "--workspace-root", filepath.Join(dir, "ws"))
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--agent-arg") {
		t.Fatalf("exit %v, output %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !os.IsNotExist(err) {
		t.Errorf("the state directory was created for a runner that did not start")
	}
}
