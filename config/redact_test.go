package config

import (
	"strings"
	"testing"
)

// Errors about an endpoint name it, with any password hidden.
func TestEndpointErrorsRedactThePassword(t *testing.T) {
	for what, args := range map[string][]string{
		"not http(s)": {"--cluster", "a=ftp://u:hunter2pw@mcp.example/mcp"},
		"twice":       {"--cluster", "a=http://u:hunter2pw@mcp.example/mcp", "--cluster", "b=http://u:hunter2pw@mcp.example/mcp"},
	} {
		_, err := Parse(append([]string{"--agent-command", "/bin/true"}, args...), env(nil))
		if err == nil {
			t.Fatalf("%s: accepted", what)
		}
		if strings.Contains(err.Error(), "hunter2pw") || !strings.Contains(err.Error(), "u:xxxxx@mcp.example") {
			t.Errorf("%s: %v", what, err)
		}
	}
	var clusters []Cluster
	flag := clusterFlag{clusters: &clusters}
	if err := flag.Set("a=https://u:hunter2pw@mcp.example/mcp"); err != nil {
		t.Fatal(err)
	}
	if s := flag.String(); strings.Contains(s, "hunter2pw") {
		t.Errorf("flag value printed with its password: %s", s)
	}
}
