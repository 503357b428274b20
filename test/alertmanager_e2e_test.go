//go:build e2e

package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/alertmanagertest"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
)

const alertToken = "e2e-intake-token"

// alertRunner starts the built runner with one alert-only cluster, prod,
// and the Alertmanager endpoint on a free loopback port, and returns it
// with the webhook URL Alertmanager posts to.
func alertRunner(t *testing.T, extra ...string) (*runner, string) {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	clusters := filepath.Join(dir, "clusters.yaml")
	if err := os.WriteFile(token, []byte(alertToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clusters, []byte("clusters:\n  - name: prod   # alert-only: no endpoint\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	args := append(testAgentArgs(t), "--clusters-file", clusters,
		"--intake-address", addr, "--intake-bearer-token-file", token)
	r := startRunner(t, append(args, extra...)...)
	poll.Until(t, 20*time.Second, "/readyz 200 with only an alert-only cluster", func() bool {
		code, _ := httpGet(r.healthURL + "/readyz")
		return code == 200
	})
	return r, "http://" + addr + "/alertmanager"
}

func (r *runner) alerts(outcome string) float64 {
	return r.metric("kubernetes_mcp_runner_alertmanager_alerts_total", `cluster="prod"`, `outcome="`+outcome+`"`)
}

// TestE2EAlertmanagerRuleToReport: a real Prometheus evaluates rules on
// metrics the test controls and a real Alertmanager posts to the built
// runner. A firing rule becomes an incident whose agent sees the source
// and writes its report; repeats are duplicates; while the only agent slot
// is taken, a second alert is queued, and when it resolves its fault
// leaves the queue without an agent; the running alert's resolution lets
// the agent finish and is recorded on its incident.
func TestE2EAlertmanagerRuleToReport(t *testing.T) {
	r, webhook := alertRunner(t, "--agents-per-cluster", "1", "--max-concurrent-agents", "1", "--agent-timeout", "15")
	am := alertmanagertest.Start(t, alertmanagertest.Config{
		WebhookURL: webhook, BearerToken: alertToken,
		GroupBy: []string{"alertname", "cluster"}, RepeatInterval: 3 * time.Second,
	})
	gauges := map[string]*alertmanagertest.Gauge{}
	var targets []string
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: e2e\n    rules:\n")
	// The test agent acts on the resource name: env-* writes its
	// environment as the report, hang-* runs until killed.
	for _, pod := range []string{"env-api", "hang-api", "ok-queued"} {
		name := "e2e_" + strings.ReplaceAll(pod, "-", "_") + "_restarts"
		g := alertmanagertest.NewGauge(name)
		t.Cleanup(g.Close)
		gauges[pod] = g
		targets = append(targets, g.Addr())
		fmt.Fprintf(&rules, `      - alert: PodRestarting_%s
        expr: %s > 0
        labels: {severity: critical, namespace: shop, pod: %s}
        annotations: {summary: "Pod %s is restarting."}
`, strings.ReplaceAll(pod, "-", "_"), name, pod, pod)
	}
	prom := alertmanagertest.StartPrometheus(t, alertmanagertest.PrometheusConfig{
		Targets: targets, Alertmanager: am.Addr(), Rules: rules.String(),
		ExternalLabels: map[string]string{"cluster": "prod"},
	})
	t.Logf("%s, %s", prom.Version, am.Version)
	completed := func(status incident.Status) float64 {
		return r.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="prod"`, `status="`+string(status)+`"`)
	}

	// A rule fires: the agent runs and writes its report.
	gauges["env-api"].Set(1)
	poll.Until(t, time.Minute, "the env-api incident to succeed", func() bool { return completed(incident.StatusSuccess) == 1 })
	rs := testagent.Results(t, r.workspace, "prod")
	if len(rs) != 1 {
		t.Fatalf("%d incidents, want 1", len(rs))
	}
	ev := testagent.Event(t, r.workspace, rs[0])
	if ev.Fault.Source != "alertmanager" || ev.Fault.FaultType != "PodRestarting_env_api" || ev.Fault.Resource.Name != "env-api" ||
		ev.Fault.Resource.Namespace != "shop" || ev.Fault.Severity != "critical" {
		t.Errorf("event.json fault %+v", ev.Fault)
	}
	report, err := os.ReadFile(filepath.Join(rs[0].Workspace, "output", "investigation.md"))
	if err != nil || !strings.Contains(string(report), "FAULT_SOURCE=alertmanager\n") {
		t.Errorf("report %q (%v): the agent should see FAULT_SOURCE=alertmanager", report, err)
	}
	poll.Until(t, 30*time.Second, "a repeat of the firing alert to arrive as a duplicate", func() bool { return r.alerts("duplicate") >= 1 })

	// The only slot taken: the next alert waits in the queue.
	gauges["hang-api"].Set(1)
	poll.Until(t, time.Minute, "the hang-api agent to run", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_active", `cluster="prod"`) == 1
	})
	gauges["ok-queued"].Set(1)
	poll.Until(t, time.Minute, "the ok-queued fault to be queued", func() bool {
		return r.metric("kubernetes_mcp_runner_queue_depth", `cluster="prod"`) == 1
	})

	// It resolves: its fault leaves the queue, durably, with a log line.
	gauges["ok-queued"].Set(0)
	poll.Until(t, time.Minute, "the resolution to remove the queued fault", func() bool { return r.alerts("resolved_removed") == 1 })
	if d := r.metric("kubernetes_mcp_runner_queue_depth", `cluster="prod"`); d != 0 {
		t.Errorf("queue_depth %v after the resolution, want 0", d)
	}
	if lineWith(r.logs.String(), "removed it from the queue") == "" {
		t.Error("no log line for the removed fault")
	}

	// The running alert resolves: its agent is left to finish (here: to
	// time out), and the incident records the resolution.
	gauges["hang-api"].Set(0)
	poll.Until(t, time.Minute, "the running alert to resolve", func() bool { return r.alerts("resolved_running") == 1 })
	poll.Until(t, time.Minute, "the hang-api agent to end", func() bool { return completed(incident.StatusTimeout) == 1 })
	time.Sleep(2 * time.Second) // a slot is free: a wrongly kept queued fault would start now
	rs = testagent.Results(t, r.workspace, "prod")
	if len(rs) != 2 {
		t.Fatalf("%d incidents, want 2 (env-api, hang-api): the resolved queued fault must not run", len(rs))
	}
	hang := rs[1]
	if ev := testagent.Event(t, r.workspace, hang); ev.Fault.Resource.Name != "hang-api" {
		t.Fatalf("second incident is for %s", ev.Fault.Resource.Name)
	}
	if hang.FaultResolvedAt == nil || hang.FaultResolvedAt.Before(hang.StartedAt) {
		t.Errorf("hang-api result.json faultResolvedAt = %v, want a time after the start %s", hang.FaultResolvedAt, hang.StartedAt)
	}
	assertBooksBalance(t, r.scrape())
}

// TestE2EAlertmanagerRetriesAfterStoreFailure: while the runner's state
// store cannot grow (its file size limit lowered to the file's size), a
// notification is answered 503; once the store can write again,
// Alertmanager's retry delivers the alert, and it becomes exactly one
// incident.
func TestE2EAlertmanagerRetriesAfterStoreFailure(t *testing.T) {
	r, webhook := alertRunner(t)
	am := alertmanagertest.Start(t, alertmanagertest.Config{
		WebhookURL: webhook, BearerToken: alertToken, GroupBy: []string{"alertname", "cluster"},
	})
	pid := r.cmd.Process.Pid
	st, err := os.Stat(filepath.Join(r.workspace, ".state", journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var saved unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: uint64(st.Size()), Max: unix.RLIM_INFINITY}, &saved); err != nil {
		t.Fatalf("lower the runner's file size limit: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &saved, nil); err != nil {
				t.Fatalf("restore the runner's file size limit: %v", err)
			}
		}
	}
	defer restore()

	// Annotations make the fault large enough that storing it must grow
	// the state file.
	annotations := map[string]string{"summary": "Pod is crash looping."}
	for i := range 40 {
		annotations[fmt.Sprintf("detail_%02d", i)] = strings.Repeat("x", 1000)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := am.Post(ctx, alertmanagertest.Alert{
		Labels: map[string]string{"alertname": "KubePodCrashLooping", "cluster": "prod", "severity": "critical",
			"namespace": "shop", "pod": "ok-retried"},
		Annotations: annotations,
	}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, time.Minute, "the runner to answer 503", func() bool {
		return r.metric("kubernetes_mcp_runner_alertmanager_notifications_total", `result="store_unavailable"`) >= 1
	})
	if n := r.metric("kubernetes_mcp_runner_state_write_errors_total", `op="enqueue"`); n < 1 {
		t.Errorf("state_write_errors_total{op=enqueue} = %v", n)
	}
	restore()

	poll.Until(t, 2*time.Minute, "Alertmanager's retry to be accepted and investigated", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="prod"`, `status="success"`) == 1
	})
	time.Sleep(3 * time.Second) // room for a second delivery to turn into a second incident
	if rs := testagent.Results(t, r.workspace, "prod"); len(rs) != 1 {
		t.Fatalf("%d incidents, want exactly 1", len(rs))
	}
	if q := r.alerts("queued"); q != 1 {
		t.Errorf("alerts queued %v, want 1", q)
	}
	assertBooksBalance(t, r.scrape())
}
