package alertmanager_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

// TestSetClustersFollowsAReload: once the runner's cluster list changes,
// alerts for an added cluster are submitted and alerts for a removed one
// are refused as unknown_cluster; a list without the mapping's default
// cluster is refused and changes nothing.
func TestSetClustersFollowsAReload(t *testing.T) {
	e := &endpoint{sub: newSubmitter(), m: newCounters(), logs: &testlog.Buffer{}}
	mapping := alertmanager.DefaultMapping()
	mapping.DefaultCluster = "staging"
	h, err := alertmanager.NewHandler(alertmanager.Options{
		Auth:    alertmanager.Auth{BearerTokenFile: secretFile(t, "token", token+"\n")},
		Mapping: mapping, Clusters: []string{"staging"}, Submitter: e.sub, Metrics: e.m,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	e.url = srv.URL + alertmanager.Path

	if r := e.post(t, recorded(t, "firing"), nil); r.code != http.StatusOK || !strings.Contains(r.body, `"unknown_cluster":1`) {
		t.Fatalf("before the reload: %d %s, want unknown_cluster", r.code, r.body)
	}
	if err := h.SetClusters([]string{"prod"}); err == nil || !strings.Contains(err.Error(), "defaultCluster") {
		t.Errorf("a list without the default cluster: %v", err)
	}
	if err := h.SetClusters([]string{"prod", "staging"}); err != nil {
		t.Fatal(err)
	}
	if r := e.post(t, recorded(t, "firing"), nil); r.code != http.StatusOK || !strings.Contains(r.body, `"queued":1`) {
		t.Fatalf("after adding prod: %d %s, want queued", r.code, r.body)
	}
	if err := h.SetClusters([]string{"staging"}); err != nil {
		t.Fatal(err)
	}
	if r := e.post(t, recorded(t, "grouped"), nil); r.code != http.StatusOK || !strings.Contains(r.body, `"unknown_cluster":2`) {
		t.Fatalf("after removing prod: %d %s, want unknown_cluster", r.code, r.body)
	}
}
