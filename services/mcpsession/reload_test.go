package mcpsession

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

func cl(name, endpoint, context string) config.Cluster {
	return config.Cluster{Name: name, Endpoint: endpoint, Context: context, Transport: config.TransportStreamable, Triage: true}
}

// TestReconcileKeepsUnchangedSessions: sessions whose clusters and session
// settings are unchanged are kept (the same *Session, never stopped); a
// triage or kubeconfig change does not count; sessions of removed or
// changed clusters, and of clusters sharing a session with them, are
// stopped before their replacements start.
func TestReconcileKeepsUnchangedSessions(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, nil)
	set := NewSet([]config.Cluster{
		cl("a", "http://a/mcp", ""),
		cl("b", "http://b/mcp", ""),
		cl("m1", "http://multi/mcp", "one"), cl("m2", "http://multi/mcp", "two"),
		cl("e", "http://e/mcp", ""),
	}, Options{Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	before := map[string]*Session{}
	for _, s := range set.Sessions() {
		for _, n := range s.Clusters() {
			before[n] = s
		}
	}
	a := cl("a", "http://a/mcp", "")
	a.Triage, a.Kubeconfig = false, "/k/a" // not the session's settings
	var events []string
	kept := set.Reconcile([]config.Cluster{
		a,
		cl("m1", "http://multi/mcp", "one"), // m2 removed: the shared session changes
		cl("e", "http://e2/mcp", ""),        // moved: a new session
		cl("n", "http://n/mcp", ""),         // added
	}, func(s *Session) { events = append(events, "stop "+s.String()) },
		func(s *Session) { events = append(events, "start "+s.String()) })

	if !slices.Equal(kept, []string{"a"}) {
		t.Errorf("kept %v, want [a]", kept)
	}
	want := []string{"stop sse[b]", "stop sse[m1,m2]", "stop sse[e]", "start sse[m1]", "start sse[e]", "start sse[n]"}
	if !slices.Equal(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
	sessions := set.Sessions()
	if len(sessions) != 4 || sessions[0] != before["a"] {
		t.Errorf("sessions %v: a's session was not kept first", sessions)
	}
	for _, n := range []string{"a", "m1", "e", "n"} {
		if _, ok := set.byName[n]; !ok {
			t.Errorf("cluster %s has no binding after the reconcile", n)
		}
	}
	for _, n := range []string{"b", "m2"} {
		if _, ok := set.byName[n]; ok {
			t.Errorf("removed cluster %s still has a binding", n)
		}
	}
}
