//go:build conformance

package mcpsession

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// TestRealServer runs the runner's sessions against a real
// kubernetes-mcp-server (with events): `make conformance
// MCP_SERVER_URL=http://127.0.0.1:8080/mcp`, optionally with
// MCP_SERVER_CONTEXTS=eu-prod,us-prod for a multi-cluster server (one
// configured cluster per context, sharing one session) and
// MCP_SERVER_FAULTS=N to wait for N faults you cause in the cluster. It is
// skipped without MCP_SERVER_URL and is not part of CI. Every cluster also
// reconciles on its first subscribe (as with --reconcile-on-first-start),
// through the server's real read-only tools: the reconcile must finish
// without a failure, whatever the cluster holds.
func TestRealServer(t *testing.T) {
	url := os.Getenv("MCP_SERVER_URL")
	if url == "" {
		t.Skip("MCP_SERVER_URL is not set")
	}
	var clusters []config.Cluster
	if ctxs := os.Getenv("MCP_SERVER_CONTEXTS"); ctxs != "" {
		for i, c := range strings.Split(ctxs, ",") {
			clusters = append(clusters, onContext("c"+strconv.Itoa(i), url, strings.TrimSpace(c)))
		}
	} else {
		clusters = []config.Cluster{{Name: "real", Endpoint: url, Transport: config.TransportStreamable, Triage: true}}
	}
	h := startSet(t, clusters, func(o *Options) {
		o.ConnectTimeout = 30 * time.Second
		o.Reconcile = ReconcileOptions{Reconciler: clusterstate.NewReconciler(clusterstate.ReconcilerOptions{}), OnFirstStart: true}
	})
	if n := len(h.set.Sessions()); n != 1 && len(clusters) <= 10 {
		t.Fatalf("%d sessions for %d clusters of one server", n, len(clusters))
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range clusters {
		for !h.set.Connected(c.Name) {
			if time.Now().After(deadline) {
				t.Fatalf("cluster %s (context %q) not subscribed within 60 s", c.Name, c.Context)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d clusters subscribed over one session", len(clusters))
	for _, c := range clusters {
		for strings.Count(h.logs.String(), `"reconcile":`) < len(clusters) {
			if time.Now().After(deadline) {
				t.Fatalf("reconciles not done within 60 s:\n%s", h.logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, r := range []string{ReconcileToolRefused, ReconcileTimeout, ReconcileOverLimit, ReconcileOther} {
			if n := testutil.ToFloat64(h.m.ReconcileFailures.WithLabelValues(c.Name, r)); n != 0 {
				t.Errorf("cluster %s: reconcile failed (%s)", c.Name, r)
			}
		}
		t.Logf("cluster %s: reconcile submitted %v faults", c.Name, testutil.ToFloat64(h.m.EventsReconciled.WithLabelValues(c.Name)))
	}
	want, _ := strconv.Atoi(os.Getenv("MCP_SERVER_FAULTS"))
	if want <= 0 {
		return
	}
	t.Logf("waiting up to 10 minutes for %d faults: cause them in the cluster now", want)
	deadline = time.Now().Add(10 * time.Minute)
	for {
		n := 0
		for _, c := range clusters {
			n += h.queues.Get(c.Name).Len()
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d faults received", n, want)
		}
		time.Sleep(time.Second)
	}
}
