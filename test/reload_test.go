package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
)

func clustersYAML(srcs map[string]*faultsource.Server, names ...string) string {
	var b strings.Builder
	b.WriteString("clusters:\n")
	for _, n := range names {
		b.WriteString("  - name: " + n + "\n    endpoint: " + srcs[n].URL() + "\n")
	}
	return b.String()
}

// TestBinarySIGHUPReloadsClusters: the built binary survives SIGHUP (it
// used to die with status 129), takes the new clusters file — b removed,
// c added, a left with its one session — and still shuts down cleanly on
// SIGTERM afterwards.
func TestBinarySIGHUPReloadsClusters(t *testing.T) {
	srcs := startSources(t, "a", "b", "c")
	file := filepath.Join(t.TempDir(), "clusters.yaml")
	if err := os.WriteFile(file, []byte(clustersYAML(srcs, "a", "b")), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRunner(t, append(testAgentArgs(t), "--clusters-file", file)...)
	for _, n := range []string{"a", "b"} {
		poll.Until(t, 30*time.Second, n+" to subscribe", func() bool { return srcs[n].Subscribers() == 1 })
	}

	if err := os.WriteFile(file, []byte(clustersYAML(srcs, "a", "c")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "c to subscribe", func() bool { return srcs["c"].Subscribers() == 1 })
	poll.Until(t, 20*time.Second, "b's session to close", func() bool { return srcs["b"].Sessions() == 0 })
	if got := r.metric("kubernetes_mcp_runner_config_reloads_total", `result="applied"`); got != 1 {
		t.Errorf("applied reloads = %v, want 1", got)
	}
	if got := r.metric("kubernetes_mcp_runner_sse_connections_active", `cluster="c"`); got != 1 {
		t.Errorf("sse_connections_active{cluster=c} = %v, want 1", got)
	}
	if n := len(srcs["a"].History()); n != 1 {
		t.Errorf("a subscribed %d times, want once: its session was not kept", n)
	}
	emit(srcs["c"], "c", 1, "ok-after-sighup")
	poll.Until(t, 30*time.Second, "c's agent to succeed", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="c"`, `status="success"`) == 1
	})

	if err := r.sigterm(t); err != nil {
		t.Fatalf("exit after SIGHUP and SIGTERM: %v", err)
	}
	if !strings.Contains(r.logs.String(), `"msg":"Shutdown complete"`) {
		t.Error("no Shutdown complete line")
	}
}
