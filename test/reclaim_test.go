package test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// agentLogs is the text of every agent.log under the workspace root.
func agentLogs(root string) string {
	paths, _ := filepath.Glob(filepath.Join(root, "*", "*", "agent.log"))
	var b strings.Builder
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		b.Write(data)
	}
	return b.String()
}

// TestBinaryKilledRunnerLeavesNoSecondCopy: kill -9 of the runner kills the
// agent's leader (Pdeathsig) but not its children, which are reparented.
// The restarted runner kills them, found by the incident's marker and
// recorded process group, before it runs the incident again, so two copies
// of one incident never run at once.
func TestBinaryKilledRunnerLeavesNoSecondCopy(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	srcs := startSources(t, "a")
	dir := t.TempDir()
	args := stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL(), "--shutdown-timeout", "2", "--agent-kill-grace", "1")
	ws := filepath.Join(dir, "ws")

	first := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 1, "forker-api")
	var grandchildren []int
	poll.Until(t, 15*time.Second, "two grandchildren", func() bool {
		grandchildren = testagent.GrandchildPIDs(agentLogs(ws))
		return len(grandchildren) == 2
	})
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.wait()
	// The leader dies with the runner; the grandchildren, reparented, run on.
	time.Sleep(200 * time.Millisecond)
	for _, pid := range grandchildren {
		if testagent.Gone(pid) {
			t.Fatalf("grandchild %d died with the runner: nothing left to reclaim", pid)
		}
	}

	second := startRunner(t, args...)
	t.Cleanup(func() { _ = second.sigterm(t) })
	// The re-run's own grandchildren show up in its agent.log; by then the
	// old ones must be gone.
	poll.Until(t, 20*time.Second, "the incident re-run", func() bool {
		return len(testagent.GrandchildPIDs(agentLogs(ws))) == 4
	})
	for _, pid := range grandchildren {
		if !testagent.Gone(pid) {
			t.Errorf("grandchild %d of the interrupted run is alive beside the re-run", pid)
		}
	}
	logs := second.logs.String()
	requeued := strings.Index(logs, "Re-queued an incident interrupted")
	for _, pid := range grandchildren {
		i := strings.Index(logs, `"pid":`+strconv.Itoa(pid)+",")
		line := lineWith(logs, `"pid":`+strconv.Itoa(pid)+",")
		if i < 0 || !strings.Contains(line, "Killed a process left by an agent") {
			t.Errorf("no log line for killed grandchild %d", pid)
			continue
		}
		if requeued >= 0 && i > requeued {
			t.Errorf("grandchild %d killed after the incident was queued again", pid)
		}
	}
	if got := second.metric("kubernetes_mcp_runner_agent_leftover_processes_total", `cluster="a"`); got != 2 {
		t.Errorf("agent_leftover_processes_total{cluster=\"a\"} = %v, want 2", got)
	}
}

// TestBinaryReapsOrphansThatEvadeTheMarker: an agent's grandchild that
// leaves the group and clears its environment escapes both the group kill
// and the marker; the runner, as child subreaper, adopts it when the agent
// exits and kills it once no agent is running.
func TestBinaryReapsOrphansThatEvadeTheMarker(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	srcs := startSources(t, "a")
	dir := t.TempDir()
	r := startRunner(t, stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL())...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 1, "vanisher-api")
	var orphans []int
	poll.Until(t, 15*time.Second, "the grandchild", func() bool {
		orphans = testagent.GrandchildPIDs(agentLogs(filepath.Join(dir, "ws")))
		return len(orphans) == 1
	})
	t.Cleanup(func() { _ = syscall.Kill(orphans[0], syscall.SIGKILL) })
	testagent.AssertGone(t, 15*time.Second, "the orphan that cleared its environment", orphans...)
	poll.Until(t, 5*time.Second, "a log line naming the orphan", func() bool {
		return strings.Contains(lineWith(r.logs.String(), "Killed orphaned agent processes"), strconv.Itoa(orphans[0]))
	})
}
