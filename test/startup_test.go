package test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runToExit runs the binary with args and returns its exit code and
// combined output. It fails the test if the runner is still up after a
// while: a start-up check that does not stop it is the bug these tests
// look for.
func runToExit(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return 0, out.String()
		}
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		return ee.ExitCode(), out.String()
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the runner kept running:\n%s", out.String())
		return 0, ""
	}
}

// baseArgs is a runner on free ports and its own directories.
func baseArgs(t *testing.T) []string {
	dir := t.TempDir()
	ports := freePorts(t, 2)
	return []string{"--cluster", "a=http://127.0.0.1:1/mcp",
		"--health-address", "127.0.0.1", "--health-port", strconv.Itoa(ports[0]),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(ports[1]), "--ui-address", "127.0.0.1:0",
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state")}
}

// TestBinaryAgentCommandCheckedAtStart: an agent command that is missing,
// not executable or a directory stops the runner at start with exit 2 and
// a message naming the flag and the program, rather than failing every
// incident later.
func TestBinaryAgentCommandCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "agent.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, prog := range map[string]string{
		"missing":        filepath.Join(dir, "no-such-agent"),
		"not executable": notExec,
		"a directory":    dir,
	} {
		t.Run(name, func(t *testing.T) {
			code, out := runToExit(t, exec.Command(binary(t), append(baseArgs(t), "--agent-command", prog)...))
			if code != 2 || !strings.Contains(out, "--agent-command") || !strings.Contains(out, prog) {
				t.Fatalf("exit %d, want 2 with a message naming --agent-command and %s:\n%s", code, prog, out)
			}
		})
	}
}

// TestBinaryPortInUseStopsTheRunner: a health or metrics port already in
// use ends the runner at start (exit 1, restarted by the unit once the
// port frees) with a message naming the server and address, before READY.
func TestBinaryPortInUseStopsTheRunner(t *testing.T) {
	for _, flag := range []string{"--health-port", "--metrics-port"} {
		t.Run(flag, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			args := append(baseArgs(t), "--agent-command", "/bin/true", flag, port)
			code, out := runToExit(t, exec.Command(binary(t), args...))
			if code != 1 || !strings.Contains(out, "127.0.0.1:"+port) || !strings.Contains(out, "address already in use") {
				t.Fatalf("exit %d, want 1 naming 127.0.0.1:%s in use:\n%s", code, port, out)
			}
			if strings.Contains(out, "Starting kubernetes-mcp-runner") {
				t.Errorf("the runner announced its start before it could listen:\n%s", out)
			}
		})
	}
}

// TestBinaryUnresolvableAddressExits2: a listen address that does not
// resolve is configuration: exit 2.
func TestBinaryUnresolvableAddressExits2(t *testing.T) {
	args := append(baseArgs(t), "--agent-command", "/bin/true", "--metrics-address", "no-such-host.invalid")
	code, out := runToExit(t, exec.Command(binary(t), args...))
	if code != 2 || !strings.Contains(out, "no-such-host.invalid") {
		t.Fatalf("exit %d, want 2 naming the address:\n%s", code, out)
	}
}

// TestBinaryUnusableStateDir: a state directory that cannot be created or
// written stops the runner with exit 2 and a message naming the directory
// and the cause; nothing is moved aside and no corruption is counted.
func TestBinaryUnusableStateDir(t *testing.T) {
	t.Run("a file in its place", func(t *testing.T) {
		args := baseArgs(t)
		state := args[len(args)-1]
		if err := os.WriteFile(state, []byte("not a directory"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := runToExit(t, exec.Command(binary(t), append(args, "--agent-command", "/bin/true")...))
		if code != 2 || !strings.Contains(out, "state directory is unusable") || !strings.Contains(out, state) ||
			!strings.Contains(out, "not a directory") {
			t.Fatalf("exit %d, want 2 with a message naming %s and the cause:\n%s", code, state, out)
		}
		if strings.Contains(out, "corrupt") || strings.Contains(out, "moved aside") {
			t.Errorf("an unusable directory was treated as a corrupt file:\n%s", out)
		}
	})
	t.Run("owned by root", func(t *testing.T) {
		args := baseArgs(t)
		state, ws := args[len(args)-1], args[len(args)-3]
		if err := os.Mkdir(state, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary(t), append(args, "--agent-command", "/bin/true")...)
		if os.Geteuid() == 0 {
			// Run the runner as nobody: root's 0755 directory is then as
			// unwritable to it as to a runner started as a service user.
			// Everything else it needs is opened up to it.
			base := filepath.Dir(state)
			for _, p := range []string{filepath.Dir(binary(t)), filepath.Dir(base), base} {
				if err := os.Chmod(p, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Mkdir(ws, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(ws, 0o777); err != nil {
				t.Fatal(err)
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		} else {
			if err := os.Chmod(state, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(state, 0o755) })
		}
		code, out := runToExit(t, cmd)
		if code != 2 || !strings.Contains(out, "state directory is unusable") || !strings.Contains(out, state) ||
			!strings.Contains(out, "permission denied") {
			t.Fatalf("exit %d, want 2 with a message naming %s and permission denied:\n%s", code, state, out)
		}
		if aside, _ := filepath.Glob(filepath.Join(state, "*")); len(aside) != 0 {
			t.Errorf("files left in the state directory: %v", aside)
		}
	})
}

// TestBinaryPreCreatesTheBudgetedSeries: a fresh runner that has seen no
// event exports, for each configured cluster, the series of the
// cardinality budget at 0 (the ones alerts read), the runner-wide duration
// histograms, and none of the families that appear on first use.
func TestBinaryPreCreatesTheBudgetedSeries(t *testing.T) {
	r := startRunner(t, "--cluster", "a=http://127.0.0.1:1/mcp", "--cluster", "b=http://127.0.0.1:2/mcp", "--agent-command", "/bin/true")
	exposition := r.scrape()
	has := func(family, match string) bool {
		for _, line := range strings.Split(exposition, "\n") {
			if (strings.HasPrefix(line, family+"{") || strings.HasPrefix(line, family+" ")) && strings.Contains(line, match) {
				return true
			}
		}
		return false
	}
	for _, family := range []string{
		"kubernetes_mcp_runner_events_queued_total", "kubernetes_mcp_runner_events_expired_total",
		"kubernetes_mcp_runner_events_dequeued_total", "kubernetes_mcp_runner_queue_depth",
		"kubernetes_mcp_runner_agents_spawned_total", "kubernetes_mcp_runner_agents_timeout_total",
		"kubernetes_mcp_runner_agents_active", "kubernetes_mcp_runner_circuit_breaker_events_dropped_total",
		"kubernetes_mcp_runner_sse_connections_active",
	} {
		for _, cluster := range []string{"a", "b"} {
			if !has(family, `cluster="`+cluster+`"`) {
				t.Errorf("no %s{cluster=%q} series in a fresh runner's scrape", family, cluster)
			}
		}
	}
	if !has("kubernetes_mcp_runner_agent_duration_seconds_count", `status="failure"`) {
		t.Error("no agent_duration_seconds{status=\"failure\"} in a fresh runner's scrape")
	}
	if !has("kubernetes_mcp_runner_sse_connection_duration_seconds_count", "") {
		t.Error("no sse_connection_duration_seconds in a fresh runner's scrape")
	}
	for _, family := range []string{
		"kubernetes_mcp_runner_events_received_total", "kubernetes_mcp_runner_agents_completed_total",
		"kubernetes_mcp_runner_agent_leftover_processes_total", "kubernetes_mcp_runner_events_restored_total",
	} {
		if has(family, `cluster="a"`) {
			t.Errorf("%s{cluster=\"a\"} exists before its first event; it is a first-use family", family)
		}
	}
}

// TestBinaryClusterSettingsCheckedAtStart: a caFile that is not PEM, an
// endpoint with white space and a bearer token over plain http stop the
// runner at start with exit 2 naming the cluster and the culprit.
func TestBinaryClusterSettingsCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	token := filepath.Join(dir, "token")
	for p, content := range map[string]string{ca: "not a certificate\n", token: "secret\n"} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct{ cluster, want string }{
		"caFile not PEM":        {"    endpoint: https://127.0.0.1:1/mcp\n    caFile: " + ca + "\n", "caFile"},
		"space in the endpoint": {"    endpoint: \"http://127.0.0.1:1/m cp\"\n", "white space"},
		"token over plain http": {"    endpoint: http://mcp.example:8080/mcp\n    bearerTokenFile: " + token + "\n", "--allow-plaintext-bearer-token"},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "clusters.yaml")
			if err := os.WriteFile(file, []byte("clusters:\n  - name: prod\n"+tc.cluster), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append(baseArgs(t)[2:], "--agent-command", "/bin/true", "--clusters-file", file)
			code, out := runToExit(t, exec.Command(binary(t), args...))
			if code != 2 || !strings.Contains(out, `"prod"`) || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 2 naming cluster prod and %q:\n%s", code, tc.want, out)
			}
		})
	}
}
