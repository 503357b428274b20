package mcpsession

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

const realPayload = `{"subscriptionId":"sub-1","cluster":"","faultId":"9f86d081884c7d65","faultType":"CrashLoop","severity":"critical","resource":{"apiVersion":"v1","kind":"Pod","name":"api-7d9","namespace":"prod","uid":"1b4e28ba-2fa1-11d2-883f-0016d3cca427"},"context":"Back-off restarting failed container","timestamp":"2026-11-26T10:00:00Z"}`

func TestParseFaultRealPayload(t *testing.T) {
	ev, err := ParseFault([]byte(realPayload))
	if err != nil {
		t.Fatal(err)
	}
	if ev.FaultID != "9f86d081884c7d65" || ev.Level() != fault.SeverityCritical || ev.Resource.Namespace != "prod" {
		t.Fatalf("parsed %+v", ev)
	}
}

func TestParseFaultNodeWithoutNamespaceOrContext(t *testing.T) {
	ev, err := ParseFault([]byte(`{"cluster":"c","faultId":"0123456789abcdef","faultType":"NodeUnhealthy","severity":"warning","resource":{"apiVersion":"v1","kind":"Node","name":"n1","uid":"u"},"timestamp":"2026-11-26T10:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Resource.Namespace != "" || len(ev.Context) != 0 {
		t.Fatalf("parsed %+v", ev)
	}
}

func TestParseFaultRejects(t *testing.T) {
	big := strings.Repeat("x", fault.MaxFieldBytes+1)
	cases := map[string]string{
		"not json":        `garbage`,
		"array":           `[1,2]`,
		"no faultId":      `{"faultType":"CrashLoop"}`,
		"empty faultId":   `{"faultId":"","faultType":"CrashLoop"}`,
		"path faultId":    `{"faultId":"../../x","faultType":"CrashLoop"}`,
		"no faultType":    `{"faultId":"abc"}`,
		"oversized field": `{"faultId":"abc","faultType":"CrashLoop","resource":{"name":"` + big + `"}}`,
		"oversized context": `{"faultId":"abc","faultType":"CrashLoop","context":"` +
			strings.Repeat("y", fault.MaxContextBytes+1) + `"}`,
		"wrong type": `{"faultId":7,"faultType":"CrashLoop"}`,
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseFault([]byte(payload)); !errors.Is(err, fault.ErrMalformed) {
				t.Fatalf("err = %v, want fault.ErrMalformed", err)
			}
		})
	}
}

// FuzzParseFault: no input panics, and anything accepted carries a safe id and
// bounded fields.
func FuzzParseFault(f *testing.F) {
	f.Add([]byte(realPayload))
	f.Add([]byte(`{"faultId":"a","faultType":"X","context":{"nested":[1,2,3]}}`))
	f.Add([]byte(`{"faultId":null}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseFault(data)
		if err != nil {
			if !errors.Is(err, fault.ErrMalformed) {
				t.Fatalf("error %v does not wrap fault.ErrMalformed", err)
			}
			return
		}
		if ev.Validate() != nil || ev.Source != fault.SourceMCP || len(ev.Resource.Name) > fault.MaxFieldBytes || len(ev.Context) > fault.MaxContextBytes {
			t.Fatalf("accepted unsafe event %+v", ev)
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("accepted event does not re-encode: %v", err)
		}
		_ = ev.Level().String()
	})
}

// A payload does not get to say what its resource runs on or belongs to:
// only the runner's own lookups set a fault's topology.
func TestParseFaultDropsATopologyThePayloadClaims(t *testing.T) {
	claimed := strings.Replace(realPayload, `"context"`, `"topology":{"node":"n9","owners":[{"kind":"Deployment","name":"other"}]},"context"`, 1)
	ev, err := ParseFault([]byte(claimed))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Topology != nil {
		t.Errorf("topology %+v taken from the payload", ev.Topology)
	}
}
