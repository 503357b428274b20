package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

// noAgents is dispatch with nothing running.
type noAgents struct{}

func (noAgents) FaultEnded(string, string, time.Time) bool { return false }

// durableIntake is intake over queues written through a real state store.
type durableIntake struct {
	dir    string
	store  *journal.Store
	queues *queue.Set
	in     *intake.Intake
	m      *metrics.Metrics
	sub    alertmanager.IntakeSubmitter
}

func openDurableIntake(t *testing.T, dir string) *durableIntake {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"prod"})
	logger := slog.New(slog.NewJSONHandler(&testlog.Buffer{}, nil))
	store, err := journal.Open(dir, journal.Options{Logger: logger, DedupWindow: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := journal.Writer{Store: store, Metrics: m, Logger: logger}
	queues := queue.NewDurableSet([]string{"prod"}, 10, m, time.Now, w, w.RemoveFailed)
	if _, err := w.Recover(queues, 3, 15*time.Minute, time.Now()); err != nil {
		t.Fatal(err)
	}
	in := intake.New(intake.Options{Logger: logger, Metrics: m, Queues: queues, Breaker: closedBreaker{},
		Clusters: map[string]intake.ClusterPolicy{"prod": {Triage: true}}, MinSeverity: fault.SeverityWarning,
		DedupWindow: 15 * time.Minute, Now: time.Now})
	return &durableIntake{dir: dir, store: store, queues: queues, in: in, m: m,
		sub: alertmanager.IntakeSubmitter{Intake: in, Queues: queues, Agents: noAgents{}, Now: time.Now,
			Resolved: func(c string) { m.EventsResolved.WithLabelValues(c).Inc() }}}
}

type closedBreaker struct{}

func (closedBreaker) IsOpen() bool { return false }

// recorded returns the faults the default mapping makes of a recorded
// notification.
func recorded(t *testing.T, name string) []alertmanager.Fault {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "services", "alertmanager", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := alertmanager.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []alertmanager.Fault
	for _, a := range n.Alerts {
		flt, o := alertmanager.DefaultMapping().Map(a, map[string]bool{"prod": true})
		if o != "" {
			t.Fatalf("%s: %s", name, o)
		}
		out = append(out, flt)
	}
	return out
}

// TestAlertSubmitterQueuesDurablyAndResolves: a firing alert is in the
// state store when Submit returns; its repeat is a duplicate; its
// resolution removes it from the queue and from the store; a store that
// cannot write turns into an error, for Submit and for Resolve.
func TestAlertSubmitterQueuesDurablyAndResolves(t *testing.T) {
	dir := t.TempDir()
	d := openDurableIntake(t, dir)
	grouped := recorded(t, "grouped.json")
	if len(grouped) != 2 {
		t.Fatalf("grouped.json holds %d alerts", len(grouped))
	}
	out, err := d.sub.Submit(context.Background(), grouped)
	if err != nil || len(out) != 2 || out[0] != "queued" || out[1] != "queued" {
		t.Fatalf("Submit(grouped) = %v, %v; want two queued", out, err)
	}
	if ev := d.queues.Get("prod").Snapshot()[0].Event; ev.Source != fault.SourceAlertmanager || alertmanager.Source != fault.SourceAlertmanager || ev.Cluster != "prod" || ev.Resource.Kind != "Pod" {
		t.Errorf("queued event %+v", ev)
	}
	out, err = d.sub.Submit(context.Background(), recorded(t, "repeated.json"))
	if err != nil || out[0] != "duplicate" {
		t.Errorf("Submit(repeated) = %v, %v; want duplicate", out, err)
	}

	// Durable: a fresh runner on the same store has both.
	d.store.Close()
	d = openDurableIntake(t, dir)
	if n := d.queues.Get("prod").Len(); n != 2 {
		t.Fatalf("after reopening, %d queued faults, want 2", n)
	}
	removed, running, err := d.sub.Resolve(context.Background(), "prod", grouped[0].FaultID)
	if !removed || running || err != nil {
		t.Fatalf("Resolve = %v, %v, %v; want removed", removed, running, err)
	}
	if removed, _, _ := d.sub.Resolve(context.Background(), "prod", grouped[0].FaultID); removed {
		t.Error("a second resolution removed something")
	}
	if n := testutil.ToFloat64(d.m.EventsResolved.WithLabelValues("prod")); n != 1 {
		t.Errorf("events_resolved_total = %v, want 1", n)
	}
	d.store.Close()
	d = openDurableIntake(t, dir)
	if snap := d.queues.Get("prod").Snapshot(); len(snap) != 1 || snap[0].Event.FaultID != grouped[1].FaultID {
		t.Fatalf("after the resolution and a reopen the queue holds %+v, want only %s", snap, grouped[1].FaultID)
	}

	// A store that cannot write: 503 material.
	d.store.Close()
	if _, err := d.sub.Submit(context.Background(), recorded(t, "refired.json")); err == nil {
		t.Error("Submit with a dead store returned nil")
	}
	if _, _, err := d.sub.Resolve(context.Background(), "prod", grouped[1].FaultID); err == nil {
		t.Error("Resolve with a dead store returned nil")
	}
	if d.queues.Get("prod").Len() != 1 {
		t.Error("a fault left the queue although its removal was not written")
	}
}

// TestAlertOnlyClusterEndToEnd runs the daemon's run path with one
// alert-only cluster and the Alertmanager endpoint on: readiness comes
// from the endpoint alone, a recorded notification becomes an incident
// whose agent sees the source, a notification for an undeclared cluster
// is counted as unknown_cluster, and bad credentials get 401.
func TestAlertOnlyClusterEndToEnd(t *testing.T) {
	dir := t.TempDir()
	d := startAlertDaemon(t, dir, "clusters:\n  - name: prod\n")
	post := d.post
	body, err := os.ReadFile(filepath.Join("..", "services", "alertmanager", "testdata", "firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The test agent writes its environment as its report for resources
	// named env-*.
	body = bytes.ReplaceAll(body, []byte("api-7d9c8b6f5-x2k4q"), []byte("env-api-7d9c8b6f5"))
	if code := post(body, "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code := post(body, "Bearer s3cret"); code != http.StatusOK {
		t.Fatalf("firing notification: %d, want 200", code)
	}
	unknown := bytes.ReplaceAll(body, []byte(`"cluster":"prod"`), []byte(`"cluster":"staging"`))
	if code := post(unknown, "Bearer s3cret"); code != http.StatusOK {
		t.Fatalf("notification for an undeclared cluster: %d, want 200", code)
	}

	metricsURL := d.metricsURL
	poll.Until(t, 30*time.Second, "the agent to succeed", func() bool {
		return scrape.Sum(scrape.Get(metricsURL), "kubernetes_mcp_runner_agents_completed_total", `cluster="prod"`, `status="success"`) == 1
	})
	text := scrape.Get(metricsURL)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"kubernetes_mcp_runner_events_filtered_total", []string{`reason="unknown_cluster"`}, 1},
		{"kubernetes_mcp_runner_alertmanager_alerts_total", []string{`cluster="prod"`, `outcome="queued"`}, 1},
		{"kubernetes_mcp_runner_alertmanager_alerts_total", []string{`outcome="unknown_cluster"`}, 1},
		{"kubernetes_mcp_runner_alertmanager_notifications_total", []string{`result="accepted"`}, 2},
		{"kubernetes_mcp_runner_alertmanager_notifications_total", []string{`result="unauthorized"`}, 1},
	} {
		if got := scrape.Sum(text, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if strings.Contains(text, "staging") {
		t.Error("the undeclared cluster name became a label value")
	}

	rs := testagent.Results(t, filepath.Join(dir, "ws"), "prod")
	if len(rs) != 1 {
		t.Fatalf("%d results", len(rs))
	}
	var doc incident.EventDocument
	data, _ := os.ReadFile(filepath.Join(dir, "ws", "prod", rs[0].IncidentID, incident.EventFile))
	if err := json.Unmarshal(data, &doc); err != nil || doc.Fault.Source != "alertmanager" || doc.Fault.FaultType != "KubePodCrashLooping" {
		t.Errorf("event.json %s (%v): want source alertmanager", data, err)
	}
	report, _ := os.ReadFile(filepath.Join(dir, "ws", "prod", rs[0].IncidentID, "output", "investigation.md"))
	if !strings.Contains(string(report), "FAULT_SOURCE=alertmanager\n") {
		t.Errorf("the agent's environment lacks FAULT_SOURCE=alertmanager:\n%s", report)
	}
}

// alertDaemon is Run in process with the Alertmanager endpoint on
// and the clusters file given, reloaded on hangup.
type alertDaemon struct {
	metricsURL, healthURL string
	clustersFile          string
	hangup                chan os.Signal
	am                    *alertmanager.Service
	logs                  *testlog.Buffer
}

func startAlertDaemon(t *testing.T, dir, clustersYAML string) *alertDaemon {
	t.Helper()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &alertDaemon{clustersFile: filepath.Join(dir, "clusters.yaml"), hangup: make(chan os.Signal, 1), logs: &testlog.Buffer{}}
	if err := os.WriteFile(d.clustersFile, []byte(clustersYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() (config.Config, error) {
		return config.Parse([]string{
			"--clusters-file", d.clustersFile, "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
			"--agent-env-allow", "PATH,GORACE",
			"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state"),
			"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1", "--ui-address", "127.0.0.1:0",
			"--intake-address", "127.0.0.1:0", "--intake-bearer-token-file", token,
		}, func(string) string { return "" })
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.HealthPort, cfg.MetricsPort = 0, 0
	servers := make(chan [2]*httpserver.Server, 1)
	alerts := make(chan *alertmanager.Service, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{
			Logger: slog.New(slog.NewJSONHandler(d.logs, nil)), Notify: func(string) {},
			Started:       func(m, h, _ *httpserver.Server) { servers <- [2]*httpserver.Server{m, h} },
			StartedAlerts: func(s *alertmanager.Service) { alerts <- s },
			Reload:        load, Hangup: d.hangup,
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("logs:\n%s", d.logs.String())
		}
	})
	d.am = <-alerts
	s := <-servers
	<-d.am.Listening()
	<-s[0].Listening()
	<-s[1].Listening()
	d.metricsURL, d.healthURL = "http://"+s[0].Addr()+"/metrics", "http://"+s[1].Addr()
	poll.Until(t, 10*time.Second, "/readyz to answer 200 with no MCP session", func() bool {
		return statusOf(d.healthURL+"/readyz") == http.StatusOK
	})
	return d
}

// post sends a notification body with the Authorization header auth.
func (d *alertDaemon) post(body []byte, auth string) int {
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.am.Addr()+alertmanager.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReloadChangesTheClustersAlertsMayName: after a reload adds an
// alert-only cluster, its alerts are queued; after a reload removes it,
// they are refused as unknown_cluster again.
func TestReloadChangesTheClustersAlertsMayName(t *testing.T) {
	d := startAlertDaemon(t, t.TempDir(), "clusters:\n  - name: prod\n")
	body, err := os.ReadFile(filepath.Join("..", "services", "alertmanager", "testdata", "firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	edge := bytes.ReplaceAll(body, []byte(`"cluster":"prod"`), []byte(`"cluster":"edge"`))
	edge = bytes.ReplaceAll(edge, []byte("api-7d9c8b6f5-x2k4q"), []byte("ok-edge"))
	outcome := func(cluster, o string) float64 {
		return scrape.Sum(scrape.Get(d.metricsURL), "kubernetes_mcp_runner_alertmanager_alerts_total", `cluster="`+cluster+`"`, `outcome="`+o+`"`)
	}
	reload := func(yaml string, applied float64) {
		t.Helper()
		if err := os.WriteFile(d.clustersFile, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		d.hangup <- syscall.SIGHUP
		poll.Until(t, 20*time.Second, "the reload to apply", func() bool {
			return scrape.Sum(scrape.Get(d.metricsURL), "kubernetes_mcp_runner_config_reloads_total", `result="applied"`) == applied
		})
	}
	if code := d.post(edge, "Bearer s3cret"); code != http.StatusOK || outcome("", "unknown_cluster") != 1 {
		t.Fatalf("before the reload: %d, unknown_cluster %v", code, outcome("", "unknown_cluster"))
	}
	reload("clusters:\n  - name: prod\n  - name: edge\n", 1)
	if code := d.post(edge, "Bearer s3cret"); code != http.StatusOK || outcome("edge", "queued") != 1 {
		t.Fatalf("after adding edge: %d, queued %v", code, outcome("edge", "queued"))
	}
	if statusOf(d.healthURL+"/readyz") != http.StatusOK {
		t.Error("not ready with two alert-only clusters")
	}
	reload("clusters:\n  - name: prod\n", 2)
	if code := d.post(edge, "Bearer s3cret"); code != http.StatusOK || outcome("", "unknown_cluster") != 2 {
		t.Fatalf("after removing edge: %d, unknown_cluster %v", code, outcome("", "unknown_cluster"))
	}
}

// An alert's labels give its fault the topology grouping keys on (the
// node, the controllers kube-prometheus-stack names); a topology in the
// payload itself is not believed.
func TestAlertTopologyFromLabels(t *testing.T) {
	d := openDurableIntake(t, t.TempDir())
	a := recorded(t, "grouped.json")[0]
	a.Labels = maps.Clone(a.Labels)
	a.Labels["node"], a.Labels["deployment"] = "n1", "api"
	a.Topology = &fault.Topology{Node: "claimed"}
	if out, err := d.sub.Submit(context.Background(), []alertmanager.Fault{a}); err != nil || out[0] != "queued" {
		t.Fatalf("Submit = %v, %v", out, err)
	}
	tp := d.queues.Get("prod").Snapshot()[0].Event.Topology
	if tp == nil || tp.Node != "n1" {
		t.Fatalf("queued topology %+v, want node n1 from the labels", tp)
	}
	if top, ok := tp.Top(); !ok || top.Kind != "Deployment" || top.Name != "api" {
		t.Errorf("top owner %+v, want Deployment api", top)
	}
}
