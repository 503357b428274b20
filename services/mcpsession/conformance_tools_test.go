package mcpsession

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/recordings"
)

// Where each recording of the server's other tools is fed through the
// runner's real parsing path (or compared with the stand-in's answers).
var toolRecordingUses = map[string]string{
	"README.md":                                     "describes the others",
	"storm.subscribe.response.json":                 "TestConformanceStormSubscribe (this file)",
	"storm.stream.notifications.jsonl":              "clusterstate, grouping: the storm's faults",
	"tools-list.response.json":                      "faultsource: the stand-in's tool list",
	"pods_get.response.json":                        "faultsource: the stand-in's pods_get",
	"pods_list.response.json":                       "faultsource: the stand-in's pods_list",
	"resources_get-node.response.json":              "clusterstate: topology and reconcile",
	"resources_get-replicaset.response.json":        "clusterstate: topology",
	"resources_list-deployments.response.json":      "clusterstate: reconcile",
	"resources_list-jobs.response.json":             "clusterstate: reconcile",
	"resources_list-nodes.response.json":            "clusterstate: reconcile",
	"resources_list-pods.response.json":             "clusterstate: reconcile",
	"after.pods_get-lonely.response.json":           "faultsource, clusterstate: topology of a bare pod",
	"after.pods_get-web-7d9f-a.response.json":       "clusterstate: topology and reconcile",
	"after.pods_get-web-7d9f-b.response.json":       "faultsource: the stand-in's pods_get",
	"after.resources_get-deployment.response.json":  "clusterstate: the top owner",
	"after.resources_get-job.response.json":         "clusterstate: reconcile of a failed job",
	"after.resources_list-pods-on-n1.response.json": "faultsource: a fieldSelector list",
	// The runner reconciles from resources, not from events; the stand-in
	// answers events_list in the recorded bytes for agents run against it.
	"events_list.response.json": "faultsource: the stand-in's events_list",
}

// Every recording of the other tools is accounted for above, and the test
// it names exists: a new recording fails here until a test uses it.
func TestEveryToolRecordingIsUsed(t *testing.T) {
	entries, err := fs.ReadDir(recordings.UpstreamTools(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := toolRecordingUses[e.Name()]; !ok {
			t.Errorf("recording %s is fed through no test: add one and list it here", e.Name())
		}
	}
	if len(entries) != len(toolRecordingUses) {
		t.Errorf("%d recordings, %d listed", len(entries), len(toolRecordingUses))
	}
	// Each name that is not the README or kept for its format appears in a
	// test file of the package that reads it.
	root := filepath.Join("..", "..")
	for name, use := range toolRecordingUses {
		if name == "README.md" || strings.Contains(use, "this file") {
			continue
		}
		found := false
		for _, dir := range []string{"services/mcpsession/clusterstate", "internal/faultsource", "grouping"} {
			files, _ := filepath.Glob(filepath.Join(root, dir, "*_test.go"))
			for _, f := range files {
				if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), name) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s is listed as used by %q, but no test there names it", name, use)
		}
	}
}

// The subscription the recorded storm arrived on, through the runner's
// own parser: single-cluster mode, cluster "".
func TestConformanceStormSubscribe(t *testing.T) {
	b, err := fs.ReadFile(recordings.UpstreamTools(), "storm.subscribe.response.json")
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Result mcp.CallToolResult `json:"result"`
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		t.Fatal(err)
	}
	sub, err := parseSubscribeResult(&msg.Result)
	if err != nil || sub.SubscriptionID != "sub-2a983c6b" || sub.Cluster != "" {
		t.Fatalf("got %+v, %v; want sub-2a983c6b in single-cluster mode", sub, err)
	}
}
