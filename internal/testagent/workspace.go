package testagent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// Results reads the result.json of every incident of cluster ("*": of
// every cluster) under the workspace root, oldest first.
func Results(tb testing.TB, root, cluster string) []incident.Result {
	tb.Helper()
	paths, _ := filepath.Glob(filepath.Join(root, cluster, "*", incident.ResultFile))
	var out []incident.Result
	for _, p := range paths {
		var r incident.Result
		readJSON(tb, p, &r)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

// Event reads the event.json of the incident r reports on.
func Event(tb testing.TB, root string, r incident.Result) incident.EventDocument {
	tb.Helper()
	var doc incident.EventDocument
	readJSON(tb, filepath.Join(root, r.Cluster, r.IncidentID, incident.EventFile), &doc)
	return doc
}

func readJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}
