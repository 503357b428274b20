package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTriageAgentScript runs the example agent the way the runner does
// (environment, workspace) with a stand-in "claude" on PATH: the prompt
// carries the event file, the CLI may use read-only kubectl only, and its
// answer becomes the report; a failing CLI leaves no report behind.
func TestTriageAgentScript(t *testing.T) {
	script, err := filepath.Abs("../examples/triage-agent/triage-agent.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, fail := range []bool{false, true} {
		ws := t.TempDir()
		bin := t.TempDir()
		event := `{"incidentId":"inc-1","cluster":"prod","fault":{"faultType":"CrashLoop","severity":"critical"}}`
		if err := os.WriteFile(filepath.Join(ws, "event.json"), []byte(event), 0o600); err != nil {
			t.Fatal(err)
		}
		exit := "0"
		if fail {
			exit = "3"
		}
		stub := "#!/bin/sh\necho \"$@\" > " + filepath.Join(ws, "args") + "\ncat > " + filepath.Join(ws, "stdin") +
			"\necho '# Investigation'\necho 'Root cause: the image tag does not exist.'\nexit " + exit + "\n"
		if err := os.WriteFile(filepath.Join(bin, "claude"), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
		report := filepath.Join(ws, "output", "investigation.md")
		cmd := exec.Command(script)
		cmd.Dir = ws
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "EVENT_FILE=" + filepath.Join(ws, "event.json"),
			"REPORT_FILE=" + report, "WORKSPACE=" + ws, "CLUSTER=prod", "ANTHROPIC_API_KEY=k",
			"GROUP_SIZE=5", "GROUP_KEY=node:n1"}
		out, err := cmd.CombinedOutput()
		if fail {
			if err == nil {
				t.Error("a failing CLI must fail the agent")
			}
			if _, err := os.Stat(report); !os.IsNotExist(err) {
				t.Error("a failing CLI left a report behind")
			}
			continue
		}
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, out)
		}
		got, err := os.ReadFile(report)
		if err != nil || !strings.Contains(string(got), "Root cause") {
			t.Errorf("report %q: %v", got, err)
		}
		stdin, _ := os.ReadFile(filepath.Join(ws, "stdin"))
		if !strings.Contains(string(stdin), event) || !strings.Contains(string(stdin), `"prod"`) {
			t.Errorf("the prompt does not carry the event:\n%s", stdin)
		}
		if !strings.Contains(string(stdin), "covers 5 faults") || !strings.Contains(string(stdin), "node:n1") {
			t.Errorf("the prompt does not say the incident covers a group of 5 keyed node:n1:\n%s", stdin)
		}
		args, _ := os.ReadFile(filepath.Join(ws, "args"))
		if !strings.Contains(string(args), "--print") || !strings.Contains(string(args), "Bash(kubectl get:*)") ||
			strings.Contains(string(args), "kubectl delete") || strings.Contains(string(args), "Bash(kubectl:*)") {
			t.Errorf("CLI arguments %s: want print mode and read-only kubectl only", args)
		}
	}
	// Without an API key the agent says so instead of calling the CLI.
	cmd := exec.Command(script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "EVENT_FILE=/x", "REPORT_FILE=/x", "WORKSPACE=/x"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "ANTHROPIC_API_KEY") {
		t.Errorf("no API key: %v %s", err, out)
	}
}
