package clusterstate_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/recordings"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// answer is a recorded tools/call answer: the text of its one content and
// whether it was an isError answer.
type answer struct {
	text    string
	isError bool
}

// recorded decodes a *.response.json of upstream-tools: a JSON-RPC message
// whose result holds a text content.
func recorded(t testing.TB, name string) answer {
	t.Helper()
	b, err := fs.ReadFile(recordings.UpstreamTools(), name)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Result struct {
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
			IsError bool `json:"isError"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(m.Result.Content) != 1 || m.Result.Content[0].Type != "text" {
		t.Fatalf("%s: want one text content, got %+v", name, m.Result.Content)
	}
	return answer{m.Result.Content[0].Text, m.Result.IsError}
}

// storm is the recorded notification stream's faults, by faultId.
func storm(t testing.TB) map[string]fault.Event {
	t.Helper()
	b, err := fs.ReadFile(recordings.UpstreamTools(), "storm.stream.notifications.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]fault.Event{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var n struct {
			Params struct {
				Data fault.Event `json:"data"`
			} `json:"params"`
		}
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			t.Fatal(err)
		}
		out[n.Params.Data.FaultID] = n.Params.Data
	}
	return out
}

// replay answers tool calls with the recorded answers of the cluster after
// the storm, and counts the calls it was asked.
type replay struct {
	t      testing.TB
	blocks map[string]bool // tool names whose calls block until ctx ends
	mu     sync.Mutex
	calls  []string
	extra  map[string]string // file → replacement text, for kubelet-shaped states
}

func (r *replay) CallTool(ctx context.Context, name string, args map[string]any) (string, error) {
	key := name
	for _, k := range []string{"kind", "name", "namespace"} {
		if v, ok := args[k]; ok {
			key += fmt.Sprintf(" %s=%v", k, v)
		}
	}
	r.mu.Lock()
	r.calls = append(r.calls, key)
	r.mu.Unlock()
	if r.blocks[name] {
		<-ctx.Done()
		return "", ctx.Err()
	}
	file := ""
	switch name {
	case "resources_list":
		file = map[string]string{
			"Node": "resources_list-nodes.response.json", "Pod": "resources_list-pods.response.json",
			"Deployment": "resources_list-deployments.response.json", "Job": "resources_list-jobs.response.json",
		}[args["kind"].(string)]
	case "pods_get":
		file = "after.pods_get-" + args["name"].(string) + ".response.json"
	case "resources_get":
		file = map[string]string{
			"Node/n1": "resources_get-node.response.json", "ReplicaSet/web-7d9f": "resources_get-replicaset.response.json",
			"Deployment/web": "after.resources_get-deployment.response.json", "Job/batch": "after.resources_get-job.response.json",
		}[args["kind"].(string)+"/"+args["name"].(string)]
	}
	if _, err := fs.Stat(recordings.UpstreamTools(), file); file == "" || err != nil {
		// The real server's refusal for a missing object.
		return "", fmt.Errorf("%s: %w: failed to get resource: %q not found", name, clusterstate.ErrToolError, args["name"])
	}
	if text, ok := r.extra[file]; ok {
		return text, nil
	}
	a := recorded(r.t, file)
	if a.isError {
		return "", fmt.Errorf("%s: %w: %s", name, clusterstate.ErrToolError, a.text)
	}
	return a.text, nil
}

func (r *replay) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}
