package app

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/history"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

func writeClusters(t *testing.T, path string, srcs map[string]*faultsource.Server, names ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("clusters:\n")
	for _, n := range names {
		b.WriteString("  - name: " + n + "\n    endpoint: " + srcs[n].URL() + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadAddsAndRemovesClusters: on SIGHUP the clusters file is read
// again. The added cluster gets a session, series and workers (its fault
// is investigated); the removed cluster's session closes at once, its
// running agent finishes and its queued fault still runs before its series
// go; the unchanged cluster keeps its session — the server saw exactly one
// subscribe from it and no reconnect was counted. An invalid file then
// changes nothing, is logged with its culprit and counted as rejected.
func TestReloadAddsAndRemovesClusters(t *testing.T) {
	srcs := map[string]*faultsource.Server{
		"keep": faultsource.Started(t, "keep"), "gone": faultsource.Started(t, "gone"), "new": faultsource.Started(t, "new"),
	}
	dir := t.TempDir()
	clustersFile := filepath.Join(dir, "clusters.yaml")
	writeClusters(t, clustersFile, srcs, "keep", "gone")
	args := []string{
		"--clusters-file", clustersFile, "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state"),
		"--agent-timeout", "2s", "--agent-kill-grace", "1s",
	}
	load := func() (config.Config, error) {
		return config.Parse(args, func(string) string { return "" })
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	hangup := make(chan os.Signal, 1)
	d := startInProcessWith(t, cfg, load, hangup)
	for _, n := range []string{"keep", "gone"} {
		poll.Until(t, 30*time.Second, n+" to subscribe", func() bool { return srcs[n].Subscribers() == 1 })
	}

	// The cluster about to go has an agent running and a fault queued.
	hang := faultsource.Fault("gone", 1, fault.TypeCrashLoop, "critical")
	hang.Resource.Name = "hang-during-removal"
	queued := faultsource.Fault("gone", 2, fault.TypeCrashLoop, "critical")
	queued.Resource.Name = "ok-queued-at-removal"
	srcs["gone"].Emit(hang)
	poll.Until(t, 20*time.Second, "the agent of gone to start", func() bool {
		return d.metric("kubernetes_mcp_runner_agents_active", `cluster="gone"`) == 1
	})
	srcs["gone"].Emit(queued)
	poll.Until(t, 20*time.Second, "the second fault of gone to queue", func() bool {
		return d.metric("kubernetes_mcp_runner_queue_depth", `cluster="gone"`) == 1
	})

	writeClusters(t, clustersFile, srcs, "keep", "new")
	hangup <- syscall.SIGHUP
	poll.Until(t, 30*time.Second, "new to subscribe", func() bool { return srcs["new"].Subscribers() == 1 })
	poll.Until(t, 20*time.Second, "gone's session to close", func() bool { return srcs["gone"].Sessions() == 0 })
	if got := d.metric("kubernetes_mcp_runner_config_reloads_total", `result="applied"`); got != 1 {
		t.Errorf("applied reloads = %v, want 1", got)
	}

	// The added cluster is served end to end.
	ev := faultsource.Fault("new", 3, fault.TypeCrashLoop, "critical")
	ev.Resource.Name = "ok-after-reload"
	srcs["new"].Emit(ev)
	poll.Until(t, 30*time.Second, "new's agent to succeed", func() bool {
		return d.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="new"`, `status="success"`) == 1
	})

	// The removed cluster drains, then its series go.
	poll.Until(t, 30*time.Second, "gone to drain", func() bool {
		return strings.Contains(d.logs.String(), `"msg":"Removed cluster drained`)
	})
	if exp := scrape.Get(d.metricsURL); strings.Contains(exp, `cluster="gone"`) {
		t.Errorf("series of the removed cluster remain:\n%s", grep(exp, `cluster="gone"`))
	}
	byFault := map[string]incident.Status{}
	for _, r := range historyOf(t, d.uiURL) {
		byFault[r.FaultID] = r.Status
	}
	if byFault[hang.FaultID] != incident.StatusTimeout || byFault[queued.FaultID] != incident.StatusSuccess {
		t.Errorf("the removed cluster's incidents: running one %q, queued one %q; want timeout (it ran to its end) and success",
			byFault[hang.FaultID], byFault[queued.FaultID])
	}

	// An invalid file is rejected and changes nothing.
	if err := os.WriteFile(clustersFile, []byte("clusters:\n  - name: Bad_Name\n    endpoint: http://127.0.0.1:9/mcp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hangup <- syscall.SIGHUP
	poll.Until(t, 20*time.Second, "the rejection to be counted", func() bool {
		return d.metric("kubernetes_mcp_runner_config_reloads_total", `result="rejected"`) == 1
	})
	if line := lineOf(d.logs.String(), "Configuration reload failed"); !strings.Contains(line, "Bad_Name") {
		t.Errorf("the rejection does not name the culprit: %q", line)
	}

	// Through all of it, keep kept its one session.
	if n := len(srcs["keep"].History()); n != 1 || srcs["keep"].Subscribers() != 1 {
		t.Errorf("keep subscribed %d times (%d live), want once and still live", n, srcs["keep"].Subscribers())
	}
	if got := d.metric("kubernetes_mcp_runner_sse_reconnections_total", `cluster="keep"`); got != 0 {
		t.Errorf("keep reconnected %v times, want 0", got)
	}
	ok := faultsource.Fault("keep", 4, fault.TypeCrashLoop, "critical")
	ok.Resource.Name = "ok-still-served"
	srcs["keep"].Emit(ok)
	poll.Until(t, 30*time.Second, "keep's agent to succeed", func() bool {
		return d.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="keep"`, `status="success"`) == 1
	})
	if err := d.stop(); err != nil {
		t.Fatalf("shutdown after reloads: %v", err)
	}
}

func historyOf(t *testing.T, uiURL string) []incident.Record {
	t.Helper()
	resp, err := http.Get(uiURL + history.APIPath + "?limit=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var records []incident.Record
	if err := json.NewDecoder(resp.Body).Decode(&records); err != nil {
		t.Fatal(err)
	}
	return records
}

func grep(text, needle string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, needle) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func lineOf(logs, msg string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, msg) {
			return l
		}
	}
	return ""
}
