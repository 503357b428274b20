package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// testAgentArgs points the runner at this test binary as its agent.
func testAgentArgs(t *testing.T) []string {
	t.Helper()
	return []string{"--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--agent-env-allow", "PATH", "--agent-env-allow", "GORACE"}
}

func startSources(t *testing.T, names ...string) map[string]*faultsource.Server {
	t.Helper()
	out := map[string]*faultsource.Server{}
	for _, n := range names {
		s := faultsource.New(n)
		if err := s.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		out[n] = s
	}
	return out
}

func emit(src *faultsource.Server, cluster string, n int, resource string) {
	ev := faultsource.Fault(cluster, n, fault.TypeCrashLoop, "critical")
	ev.Resource.Name = resource
	src.Emit(ev)
}

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
	waitFor(t, 15*time.Second, "subscriptions", func() bool {
		return srcs["a"].Subscribers()+srcs["b"].Subscribers()+srcs["c"].Subscribers() == 3
	})
	emit(srcs["a"], "a", 1, "slow-api")
	emit(srcs["b"], "b", 2, "hang-db")
	emit(srcs["c"], "c", 3, "stubborn-cache")
	waitFor(t, 15*time.Second, "three agents running", func() bool {
		_, m := httpGet(r.metricsURL)
		return metricValue(m, "kubernetes_mcp_runner_agents_active") == 3
	})
	children := childPIDs(r.cmd.Process.Pid)
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
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
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
	waitFor(t, 15*time.Second, "subscriptions", func() bool { return srcs["a"].Subscribers()+srcs["b"].Subscribers() == 2 })
	emit(srcs["a"], "a", 1, "hang-api")
	emit(srcs["b"], "b", 2, "stubborn-db")
	var children []int
	waitFor(t, 15*time.Second, "two agents", func() bool {
		children = childPIDs(r.cmd.Process.Pid)
		return len(children) == 2
	})
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = r.wait()
	waitFor(t, 5*time.Second, "agents gone", func() bool {
		for _, pid := range children {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				return false
			}
		}
		return true
	})
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
	waitFor(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 1, "fail-1")
	emit(srcs["a"], "a", 2, "fail-2")
	waitFor(t, 15*time.Second, "breaker open", func() bool {
		_, m := httpGet(r.metricsURL)
		return metricValue(m, "kubernetes_mcp_runner_circuit_breaker_state") == 1
	})
	code, body := httpGet(r.healthURL + "/readyz")
	if code != 503 || !strings.Contains(body, "circuit breaker is open") {
		t.Fatalf("/readyz %d %q while open", code, body)
	}
	emit(srcs["a"], "a", 3, "ok-dropped")
	waitFor(t, 5*time.Second, "drop counted", func() bool {
		_, m := httpGet(r.metricsURL)
		return metricValue(m, "kubernetes_mcp_runner_circuit_breaker_events_dropped_total", `cluster="a"`) == 1
	})
	if !strings.Contains(r.logs.String(), `"msg":"Dropped fault: circuit breaker is open"`) {
		t.Error("drop not logged")
	}
	// Half-open after the cooldown: the next fault is the probe.
	waitFor(t, 10*time.Second, "half-open", func() bool {
		_, m := httpGet(r.metricsURL)
		return metricValue(m, "kubernetes_mcp_runner_circuit_breaker_state") == 0.5
	})
	emit(srcs["a"], "a", 4, "ok-probe")
	waitFor(t, 15*time.Second, "closed", func() bool {
		_, m := httpGet(r.metricsURL)
		return metricValue(m, "kubernetes_mcp_runner_circuit_breaker_state") == 0
	})
	code, _ = httpGet(r.healthURL + "/readyz")
	if code != 200 {
		t.Fatalf("/readyz %d after the breaker closed", code)
	}
}

func lineWith(logs, needle string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, needle) {
			return l
		}
	}
	return ""
}

// childPIDs lists the live processes whose parent is pid.
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[0] != "Z" && fields[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	return strings.HasPrefix(rest, "Z")
}
