package sampleagent

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// run runs the agent for a fault on resource name and returns its exit
// code, its report (empty if none was written) and its stderr.
func run(t *testing.T, name string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	ev, _ := json.Marshal(event{IncidentID: "i1", Cluster: "prod", Fault: fault.Event{FaultID: "f1", FaultType: fault.TypeCrashLoop,
		Severity: "critical", Resource: fault.Resource{Kind: "Pod", Namespace: "web", Name: name}}})
	env := map[string]string{"EVENT_FILE": filepath.Join(dir, "event.json"), "REPORT_FILE": filepath.Join(dir, "output", "report.md")}
	if err := os.WriteFile(env["EVENT_FILE"], ev, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Main(nil, func(k string) string { return env[k] }, &stdout, &stderr)
	report, _ := os.ReadFile(env["REPORT_FILE"])
	return code, string(report), stderr.String()
}

// The fault's resource name picks the outcome: a report, or a failure
// without one.
func TestOutcomeByResourceName(t *testing.T) {
	if code, report, _ := run(t, "api-7d9"); code != 0 || !strings.Contains(report, "# Investigation i1") {
		t.Errorf("plain resource: exit %d, report %q", code, report)
	}
	if code, report, stderr := run(t, FailPrefix+"api"); code != 1 || report != "" || !strings.Contains(stderr, "simulated failure") {
		t.Errorf("%sapi: exit %d, report %q, stderr %q: want 1, none, the reason", FailPrefix, code, report, stderr)
	}
}
