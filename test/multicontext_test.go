package test

import (
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// incidentsOf reads the fault ids of a cluster's finished incidents, and
// checks each was recorded under that cluster, from the MCP source.
func incidentsOf(t *testing.T, workspace, cluster string) []string {
	t.Helper()
	var ids []string
	for _, r := range testagent.Results(t, workspace, cluster) {
		doc := testagent.Event(t, workspace, r)
		if doc.Cluster != cluster || doc.Fault.Source != fault.SourceMCP {
			t.Errorf("%s: cluster %q, source %q; want %q, %q", r.IncidentID, doc.Cluster, doc.Fault.Source, cluster, fault.SourceMCP)
		}
		ids = append(ids, doc.Fault.FaultID)
	}
	return ids
}

// TestBinaryMultiContextServer: two configured clusters naming two
// kubeconfig contexts of one multi-cluster server share one MCP session
// with two subscriptions; each fault is triaged once, under its own
// cluster; a server restart resubscribes both, and the outage shows as
// blind time.
func TestBinaryMultiContextServer(t *testing.T) {
	src := faultsource.NewWithOptions(faultsource.Options{Contexts: []string{"eu-prod", "us-prod"}})
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Stop)
	r := startRunner(t, append(testAgentArgs(t),
		"--cluster", "eu="+src.URL()+"#eu-prod", "--cluster", "us="+src.URL()+"#us-prod",
		"--sse-reconnect-initial-delay", "1", "--sse-reconnect-max-delay", "2")...)
	bothSubscribed := func() bool { return src.Subscriptions("eu-prod") == 1 && src.Subscriptions("us-prod") == 1 }
	poll.Until(t, 15*time.Second, "a subscription per context", bothSubscribed)
	if n := src.Sessions(); n != 1 {
		t.Fatalf("%d MCP sessions to one server, want 1", n)
	}

	emitTo := func(context string, n int) string {
		ev := faultsource.Fault(context, n, fault.TypeCrashLoop, "critical")
		ev.Resource.Name = "ok-" + ev.Resource.Name
		if src.EmitTo(context, ev) != 1 {
			t.Fatalf("fault on %s not delivered to exactly one subscription", context)
		}
		return ev.FaultID
	}
	eu1, us1 := emitTo("eu-prod", 1), emitTo("us-prod", 2)
	poll.Until(t, 30*time.Second, "one incident per cluster", func() bool {
		return len(incidentsOf(t, r.workspace, "eu")) == 1 && len(incidentsOf(t, r.workspace, "us")) == 1
	})
	if got := incidentsOf(t, r.workspace, "eu"); got[0] != eu1 {
		t.Errorf("eu triaged %v, want %s", got, eu1)
	}
	if got := incidentsOf(t, r.workspace, "us"); got[0] != us1 {
		t.Errorf("us triaged %v, want %s", got, us1)
	}

	addr := src.Addr()
	src.Stop()
	poll.Until(t, 15*time.Second, "both clusters blind in /readyz?verbose", func() bool {
		_, body := httpGet(r.healthURL + "/readyz?verbose")
		return strings.Contains(body, "cluster eu blind since") && strings.Contains(body, "cluster us blind since")
	})
	if err := src.Start(addr); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 15*time.Second, "both contexts resubscribed", bothSubscribed)
	if n := src.Sessions(); n != 1 {
		t.Errorf("%d MCP sessions after the restart, want 1", n)
	}
	eu2, us2 := emitTo("eu-prod", 3), emitTo("us-prod", 4)
	poll.Until(t, 30*time.Second, "a second incident per cluster", func() bool {
		return len(incidentsOf(t, r.workspace, "eu")) == 2 && len(incidentsOf(t, r.workspace, "us")) == 2
	})
	for cluster, want := range map[string][]string{"eu": {eu1, eu2}, "us": {us1, us2}} {
		got := incidentsOf(t, r.workspace, cluster)
		if !(strings.Contains(strings.Join(got, " "), want[0]) && strings.Contains(strings.Join(got, " "), want[1])) {
			t.Errorf("%s triaged %v, want %v", cluster, got, want)
		}
	}
	m := r.scrape()
	for _, c := range []string{"eu", "us"} {
		if v := scrape.Sum(m, "kubernetes_mcp_runner_sse_disconnected_seconds_total", `cluster="`+c+`"`); v <= 0 {
			t.Errorf("blind time of %s = %v after an outage", c, v)
		}
		if v := scrape.Sum(m, "kubernetes_mcp_runner_agents_spawned_total", `cluster="`+c+`"`); v != 2 {
			t.Errorf("%v agents for %s, want 2", v, c)
		}
	}
	logs := r.logs.String()
	for _, c := range []string{"eu", "us"} {
		if !strings.Contains(lineWith(logs, `"cluster":"`+c+`","missed_from"`), "missed_duration") {
			t.Errorf("no missed-window line for %s after the restart", c)
		}
	}
}
