package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseClusters: no clusters document may panic the parser, and what it
// accepts is either valid or refused by validation with an error.
func FuzzParseClusters(f *testing.F) {
	f.Add([]byte("clusters:\n  - name: a\n    endpoint: http://a/mcp\n"))
	f.Add([]byte("clusters: [{name: b, endpoint: 'https://b:8443/mcp', transport: sse, triage: false}]"))
	f.Add([]byte("clusters:\n  - name: ../../etc\n    endpoint: x\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		clusters, err := ParseClusters(data)
		if err != nil {
			return
		}
		for _, c := range clusters {
			if c.validate() == nil && !clusterName.MatchString(c.Name) {
				t.Fatalf("accepted invalid name %q", c.Name)
			}
		}
	})
}

// FuzzConfigFile: no config file content may panic Parse; whatever it
// accepts validates.
func FuzzConfigFile(f *testing.F) {
	f.Add([]byte("agent-timeout 30\nmax-queue-age 60\n# comment\n"))
	f.Add([]byte("cluster a=http://a/mcp\ncluster b=http://b/mcp\nagent-arg {{.IncidentID}}\n"))
	f.Add([]byte("health-port 99999\n"))
	f.Add([]byte("unknown-flag 1\n"))
	f.Add([]byte("agent-timeout\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "runner.conf")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Parse([]string{"--config", path, "--agent-command", "/bin/true", "--cluster", "z=http://z/mcp"}, func(string) string { return "" })
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
	})
}
