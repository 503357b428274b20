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
	return []string{"--cluster", "a=http://127.0.0.1:1/mcp",
		"--health-address", "127.0.0.1", "--health-port", strconv.Itoa(freePort(t)),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(freePort(t)), "--ui-address", "127.0.0.1:0",
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

// TestBinaryEveryFamilyExistsFromStart: a fresh runner that has seen no
// event already exports every labelled family for each configured cluster,
// every known label value at 0, so dashboards and increase() see the
// first event.
func TestBinaryEveryFamilyExistsFromStart(t *testing.T) {
	r := startRunner(t, "--cluster", "a=http://127.0.0.1:1/mcp", "--cluster", "b=http://127.0.0.1:2/mcp", "--agent-command", "/bin/true")
	exposition := r.scrape()
	want := map[string][]string{
		"kubernetes_mcp_runner_events_received_total":                 {`severity="critical"`, `severity="unknown"`},
		"kubernetes_mcp_runner_events_filtered_total":                 {`reason="severity_low"`, `reason="queue_full"`},
		"kubernetes_mcp_runner_agents_completed_total":                {`status="success"`, `status="timeout"`, `status="error"`},
		"kubernetes_mcp_runner_agent_duration_seconds_count":          {`status="failure"`},
		"kubernetes_mcp_runner_sse_reconnections_total":               {`reason="stream_closed"`},
		"kubernetes_mcp_runner_sse_connection_errors_total":           {`reason="keepalive_timeout"`},
		"kubernetes_mcp_runner_sse_connection_duration_seconds_count": {""},
		"kubernetes_mcp_runner_agent_leftover_processes_total":        {""},
	}
	for family, values := range want {
		for _, cluster := range []string{"a", "b"} {
			for _, v := range values {
				found := false
				for _, line := range strings.Split(exposition, "\n") {
					if strings.HasPrefix(line, family+"{") && strings.Contains(line, `cluster="`+cluster+`"`) && strings.Contains(line, v) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("no %s{cluster=%q,%s} series in a fresh runner's scrape", family, cluster, v)
				}
			}
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
