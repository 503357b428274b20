package dispatch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
)

// TestFaultEndedWhileTheAgentRuns: a fault reported over while its agent
// runs lets the agent finish, and result.json and the history record say
// when it was reported over; a fault with no running agent is not marked.
func TestFaultEndedWhileTheAgentRuns(t *testing.T) {
	f := start(t, settings{})
	id := f.push(t, "prod", "slow-api")
	at := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	poll.Until(t, 10*time.Second, "the agent to run", func() bool { return f.d.FaultEnded("prod", id, at) })
	if f.d.FaultEnded("prod", "not-running", at) || f.d.FaultEnded("other", id, at) {
		t.Error("FaultEnded reported an agent for a fault that has none")
	}
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	rs := f.results(t, "prod")
	if len(rs) != 1 || rs[0].FaultResolvedAt == nil || !rs[0].FaultResolvedAt.Equal(at) {
		t.Fatalf("result.json %+v: want faultResolvedAt %s", rs, at)
	}
	if rec := rs[0].Record("CrashLoop"); rec.FaultResolvedAt == nil || !rec.FaultResolvedAt.Equal(at) {
		t.Errorf("history record %+v lacks faultResolvedAt", rec)
	}
	if f.d.FaultEnded("prod", id, at) {
		t.Error("FaultEnded still finds the agent after it finished")
	}

	// The next incident of the cluster carries no end.
	f.push(t, "prod", "ok-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 2)
	rs = f.results(t, "prod")
	data, _ := os.ReadFile(filepath.Join(f.root, "prod", rs[1].IncidentID, incident.ResultFile))
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["faultResolvedAt"]; ok {
		t.Errorf("result.json of an unresolved fault has faultResolvedAt: %s", data)
	}
}
