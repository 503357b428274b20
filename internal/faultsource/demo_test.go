package faultsource

import (
	"slices"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/sampleagent"
)

func TestParseMix(t *testing.T) {
	for in, want := range map[string][]string{
		"all": ShowAll, "none": nil, "": nil,
		"timeout, failure,timeout": {ShowTimeout, ShowFailure},
	} {
		got, err := ParseMix(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMix("success,explosion"); err == nil || !strings.Contains(err.Error(), "explosion") {
		t.Errorf("unknown state: %v, want an error naming it", err)
	}
}

func TestDemoFaultsPickTheAgentsOutcome(t *testing.T) {
	a, b := DemoFault("eu", 1, "CrashLoop", "warning", sampleagent.FailPrefix+"x"), DemoFault("eu", 1, "CrashLoop", "warning", "y")
	if a.Resource.Name != sampleagent.FailPrefix+"x" || a.FaultID == b.FaultID {
		t.Errorf("%+v / %+v: want the name kept and fault ids of their own", a, b)
	}
	failing := 0
	for i := range 200 {
		if strings.HasPrefix(StreamFault("eu", i, 0.5).Resource.Name, sampleagent.FailPrefix) {
			failing++
		}
		if strings.HasPrefix(StreamFault("eu", i, 0).Resource.Name, sampleagent.FailPrefix) {
			t.Fatal("failure rate 0 made a failing fault")
		}
	}
	if failing == 0 || failing == 200 {
		t.Errorf("failure rate 0.5: %d of 200 failing", failing)
	}
}
