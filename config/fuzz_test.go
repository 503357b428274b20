package config

import "testing"

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
