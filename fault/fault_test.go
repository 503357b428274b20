package fault

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidateRejects(t *testing.T) {
	ok := Event{Source: SourceMCP, FaultID: "9f86d081884c7d65", FaultType: TypeCrashLoop, Severity: "critical"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid fault refused: %v", err)
	}
	big := strings.Repeat("x", MaxFieldBytes+1)
	for name, mutate := range map[string]func(*Event){
		"no source":         func(e *Event) { e.Source = "" },
		"unbounded source":  func(e *Event) { e.Source = "http://10.0.0.1/hook" },
		"no faultId":        func(e *Event) { e.FaultID = "" },
		"path faultId":      func(e *Event) { e.FaultID = "../../x" },
		"no faultType":      func(e *Event) { e.FaultType = "" },
		"oversized field":   func(e *Event) { e.Resource.Name = big },
		"NUL in a name":     func(e *Event) { e.Resource.Name = "api\x00x" },
		"newline in a kind": func(e *Event) { e.Resource.Kind = "Pod\nlevel=ERROR" },
		"escape in a type":  func(e *Event) { e.FaultType = "Crash\x1b[31m" },
		"DEL in a cluster":  func(e *Event) { e.Cluster = "prod\x7f" },
		"oversized context": func(e *Event) { e.Context = json.RawMessage(`"` + strings.Repeat("y", MaxContextBytes) + `"`) },
		"oversized node":    func(e *Event) { e.Topology = &Topology{Node: big} },
		"oversized owner":   func(e *Event) { e.Topology = &Topology{Owners: []Owner{{Kind: "Deployment", Name: big}}} },
		"too many owners":   func(e *Event) { e.Topology = &Topology{Owners: make([]Owner, MaxOwners+1)} },
		"too many failures": func(e *Event) { e.Topology = &Topology{Failures: make([]string, MaxFailures+1)} },
	} {
		e := ok
		mutate(&e)
		if err := e.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestSeverityLabels(t *testing.T) {
	for in, want := range map[string]string{"critical": "critical", "warning": "warning", "info": "info", "CRITICAL": "critical", " Warning ": "warning", "": "unknown", "fatal": "unknown"} {
		if got := ParseSeverity(in).String(); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestParseJSONForm(t *testing.T) {
	ev, err := Parse([]byte(`{"source":"alertmanager","cluster":"prod","faultId":"a1","faultType":"KubePodCrashLooping","severity":"critical","resource":{"kind":"Pod","name":"p","namespace":"ns"},"timestamp":"2026-11-26T10:00:00Z"}`))
	if err != nil || ev.Source != "alertmanager" || ev.FaultID != "a1" || ev.Resource.Namespace != "ns" {
		t.Fatalf("parsed %+v, %v", ev, err)
	}
	for _, bad := range []string{`garbage`, `{"faultId":"a1","faultType":"X"}`, `{"source":"mcp","faultType":"X"}`} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", bad, err)
		}
	}
}
