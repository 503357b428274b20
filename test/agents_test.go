package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// TestBinaryShutdownDrainsThenKills: SIGTERM with three agents in flight;
// the one that finishes within --shutdown-timeout completes, the other two
// are interrupted; the runner exits 0 and logs both lists.
func TestBinaryShutdownDrainsThenKills(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	srcs := startSources(t, "a", "b", "c")
	args := append(testAgentArgs(t),
		"--cluster", "a="+srcs["a"].URL(), "--cluster", "b="+srcs["b"].URL(), "--cluster", "c="+srcs["c"].URL(),
		"--shutdown-timeout", "2", "--agent-kill-grace", "1")
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscriptions", func() bool {
		return srcs["a"].Subscribers()+srcs["b"].Subscribers()+srcs["c"].Subscribers() == 3
	})
	emit(srcs["a"], "a", 1, "slow-api")
	emit(srcs["b"], "b", 2, "hang-db")
	emit(srcs["c"], "c", 3, "stubborn-cache")
	poll.Until(t, 15*time.Second, "three agents running", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_active") == 3
	})
	children := testagent.ChildPIDs(r.cmd.Process.Pid)
	if len(children) != 3 {
		t.Fatalf("runner has %d child processes, want 3 agents", len(children))
	}
	start := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(); err != nil {
		t.Fatalf("exit after SIGTERM with agents in flight: %v", err)
	}
	took := time.Since(start)
	if took > 2*time.Second+1*time.Second+5*time.Second {
		t.Errorf("shutdown took %v; budget is shutdown timeout + kill grace", took)
	}
	logs := r.logs.String()
	drained := lineWith(logs, `"msg":"Agent drain finished"`)
	if strings.Count(drained, "-") < 3 || !strings.Contains(drained, `"completed":["`) || !strings.Contains(drained, `"interrupted":["`) {
		t.Fatalf("drain line %q does not list one completed and two interrupted incidents", drained)
	}
	complete := lineWith(logs, `"msg":"Shutdown complete"`)
	if !strings.Contains(complete, `"agents_completed":1`) || !strings.Contains(complete, `"agents_interrupted":2`) {
		t.Errorf("summary %q", complete)
	}
	if !strings.Contains(lineWith(logs, `"msg":"Shutting down gracefully"`), `"in_flight_agents":3`) {
		t.Errorf("shutdown line lacks in_flight_agents 3")
	}
	for _, pid := range children {
		if !testagent.Gone(pid) {
			t.Errorf("agent %d outlived the runner", pid)
		}
	}
	results, _ := filepath.Glob(filepath.Join(r.workspace, "*", "*", "result.json"))
	interrupted := 0
	for _, p := range results {
		data, _ := os.ReadFile(p)
		if strings.Contains(string(data), `"status": "interrupted"`) {
			interrupted++
		}
	}
	if interrupted != 2 {
		t.Errorf("%d result.json files say interrupted, want 2", interrupted)
	}
}

// TestBinarySIGKILLLeavesNoAgent: a runner killed outright takes its agents
// with it (Pdeathsig), including one that ignores SIGTERM.
func TestBinarySIGKILLLeavesNoAgent(t *testing.T) {
	srcs := startSources(t, "a", "b")
	args := append(testAgentArgs(t), "--cluster", "a="+srcs["a"].URL(), "--cluster", "b="+srcs["b"].URL())
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscriptions", func() bool { return srcs["a"].Subscribers()+srcs["b"].Subscribers() == 2 })
	emit(srcs["a"], "a", 1, "hang-api")
	emit(srcs["b"], "b", 2, "stubborn-db")
	var children []int
	poll.Until(t, 15*time.Second, "two agents", func() bool {
		children = testagent.ChildPIDs(r.cmd.Process.Pid)
		return len(children) == 2
	})
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = r.wait()
	testagent.AssertGone(t, 5*time.Second, "the agents of a killed runner", children...)
}

// TestBinaryCircuitBreaker: failing agents open the breaker; faults are
// then dropped and counted and /readyz fails; after the cooldown a probe
// incident succeeds and closes it.
func TestBinaryCircuitBreaker(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	srcs := startSources(t, "a")
	args := append(testAgentArgs(t), "--cluster", "a="+srcs["a"].URL(),
		"--circuit-breaker-threshold", "2", "--circuit-breaker-cooldown", "2")
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 1, "fail-1")
	emit(srcs["a"], "a", 2, "fail-2")
	poll.Until(t, 15*time.Second, "breaker open", func() bool {
		return r.metric("kubernetes_mcp_runner_circuit_breaker_state") == 1
	})
	code, body := httpGet(r.healthURL + "/readyz")
	if code != 503 || !strings.Contains(body, "circuit breaker is open") {
		t.Fatalf("/readyz %d %q while open", code, body)
	}
	emit(srcs["a"], "a", 3, "ok-dropped")
	poll.Until(t, 5*time.Second, "drop counted", func() bool {
		return r.metric("kubernetes_mcp_runner_circuit_breaker_events_dropped_total", `cluster="a"`) == 1
	})
	if !strings.Contains(r.logs.String(), `"msg":"Dropped fault: circuit breaker is open"`) {
		t.Error("drop not logged")
	}
	// Half-open after the cooldown: the next fault is the probe.
	poll.Until(t, 10*time.Second, "half-open", func() bool {
		return r.metric("kubernetes_mcp_runner_circuit_breaker_state") == 0.5
	})
	emit(srcs["a"], "a", 4, "ok-probe")
	poll.Until(t, 15*time.Second, "closed", func() bool {
		return r.metric("kubernetes_mcp_runner_circuit_breaker_state") == 0
	})
	code, _ = httpGet(r.healthURL + "/readyz")
	if code != 200 {
		t.Fatalf("/readyz %d after the breaker closed", code)
	}
}
