package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// TestTriageAgentReportsUsage runs the example agent with a stand-in
// "claude" that answers like --output-format json: the report is the
// answer's result, the usage file is what the runner's own parser reads
// as the run's cost, tokens and model, and MAX_COST_USD reaches the CLI as
// --max-budget-usd. A run the CLI reports as failed still reports its cost
// and leaves no report.
func TestTriageAgentReportsUsage(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node (which the example image has for the CLI) is not installed")
	}
	script, err := filepath.Abs("../examples/triage-agent/triage-agent.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, failed := range []bool{false, true} {
		ws, bin := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(ws, "event.json"), []byte(`{"incidentId":"inc-1"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		answer := `{"type":"result","subtype":"success","is_error":false,"result":"# Investigation\nRoot cause: OOM.",` +
			`"total_cost_usd":0.1234,"usage":{"input_tokens":1500,"cache_read_input_tokens":9000,"output_tokens":320},` +
			`"modelUsage":{"claude-haiku-4-5":{"costUSD":0.0012},"claude-sonnet-4-5":{"costUSD":0.1222}}}`
		if failed {
			answer = `{"type":"result","subtype":"error_max_budget_usd","is_error":true,"result":"","total_cost_usd":0.5,` +
				`"usage":{"input_tokens":7,"output_tokens":1}}`
		}
		stub := "#!/bin/sh\necho \"$@\" > " + filepath.Join(ws, "args") + "\ncat >/dev/null\ncat <<'EOF'\n" + answer + "\nEOF\n"
		if err := os.WriteFile(filepath.Join(bin, "claude"), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
		node, _ := exec.LookPath("node")
		report := filepath.Join(ws, "output", "investigation.md")
		usageFile := filepath.Join(ws, incident.UsageFile)
		cmd := exec.Command(script)
		cmd.Dir = ws
		cmd.Env = []string{"PATH=" + bin + ":" + filepath.Dir(node) + ":/usr/bin:/bin", "EVENT_FILE=" + filepath.Join(ws, "event.json"),
			"REPORT_FILE=" + report, "WORKSPACE=" + ws, "ANTHROPIC_API_KEY=k", "USAGE_FILE=" + usageFile, "MAX_COST_USD=0.5"}
		out, err := cmd.CombinedOutput()

		u, uerr := incident.ReadUsage(usageFile)
		if uerr != nil || !u.Reported || u.CostUSD == nil || u.InputTokens == nil || u.OutputTokens == nil {
			t.Fatalf("usage file: %+v %v\n%s", u, uerr, out)
		}
		args, _ := os.ReadFile(filepath.Join(ws, "args"))
		if !strings.Contains(string(args), "--output-format json") || !strings.Contains(string(args), "--max-budget-usd 0.5") {
			t.Errorf("CLI arguments %s: want JSON output and the run's budget", args)
		}
		if failed {
			if err == nil {
				t.Error("a run the CLI reports as failed must fail the agent")
			}
			if _, err := os.Stat(report); !os.IsNotExist(err) {
				t.Error("a failed run left a report behind")
			}
			if *u.CostUSD != 0.5 || *u.InputTokens != 7 {
				t.Errorf("a failed run's usage %+v", u)
			}
			continue
		}
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, out)
		}
		if *u.CostUSD != 0.1234 || *u.InputTokens != 1500 || *u.OutputTokens != 320 || u.Model != "claude-sonnet-4-5" {
			t.Errorf("usage %+v (cost %v, tokens %d/%d)", u, *u.CostUSD, *u.InputTokens, *u.OutputTokens)
		}
		got, _ := os.ReadFile(report)
		if string(got) != "# Investigation\nRoot cause: OOM.\n" {
			t.Errorf("report %q, want the answer's result", got)
		}
	}
}
