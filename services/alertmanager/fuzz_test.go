package alertmanager_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

// FuzzNotification: whatever the body, decoding does not panic, and every
// alert the default mapping accepts is a fault the fault event parser
// accepts too.
func FuzzNotification(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	m := alertmanager.DefaultMapping()
	clusters := map[string]bool{"prod": true, "": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := alertmanager.DecodeBytes(body)
		if err != nil {
			return
		}
		for _, a := range n.Alerts {
			flt, o := m.Map(a, clusters)
			if o != "" {
				continue
			}
			flt.Labels, flt.Annotations = nil, nil
			b, err := json.Marshal(flt)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fault.Parse(b); err != nil {
				t.Fatalf("mapped alert %+v is not a valid fault event: %v", a, err)
			}
		}
	})
}
