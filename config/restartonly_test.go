package config

import (
	"slices"
	"testing"
	"time"
)

// Every option but the clusters is compared, by walking the options table:
// a changed value is named by its flag, the clusters never are.
func TestRestartOnlyNamesChangedOptionsButNotClusters(t *testing.T) {
	running := Defaults()
	running.Clusters = []Cluster{{Name: "a", Endpoint: "http://a/mcp"}}
	next := running
	next.Clusters = []Cluster{{Name: "b", Endpoint: "http://b/mcp"}}
	next.ClustersFile = "/etc/other.yaml"
	if got := RestartOnly(running, next); len(got) != 0 {
		t.Fatalf("only the clusters changed, yet %v", got)
	}
	next.AgentTimeout = running.AgentTimeout + time.Minute
	next.AgentArgs = []string{"--new"}
	next.MetricsPort = running.MetricsPort + 1
	got := RestartOnly(running, next)
	want := []string{"--agent-timeout", "--metrics-port", "--agent-arg"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("RestartOnly = %v, missing %s", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("RestartOnly = %v, want exactly %v", got, want)
	}
}
