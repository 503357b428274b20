package config

import (
	"strings"
	"testing"
)

func TestBudgetFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"BUDGET_USD_PER_DAY": "19.35"}
	c, err := Parse([]string{"--agent-command", "/bin/true", "--cluster", "prod=http://127.0.0.1:1/mcp",
		"--max-agent-runs-per-hour", "30", "--agent-default-cost-usd", "0.40", "--agent-max-cost-usd", "1"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Budgets{USDPerDay: 19.35, RunsPerHour: 30, DefaultCostUSD: 0.40, MaxCostUSD: 1}
	if c.Budgets != want {
		t.Errorf("budgets %+v, want %+v", c.Budgets, want)
	}
	for _, bad := range [][]string{
		{"--budget-usd-per-day", "-1"}, {"--budget-usd-per-day", "NaN"}, {"--budget-usd-per-day", "2e9"},
		{"--max-agent-runs-per-hour", "-3"}, {"--agent-max-cost-usd", "one"},
	} {
		args := append([]string{"--agent-command", "/bin/true", "--cluster", "prod=http://127.0.0.1:1/mcp"}, bad...)
		if _, err := Parse(args, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: error %v, want one naming the flag", bad, err)
		}
	}
}

func TestClusterBudgetFields(t *testing.T) {
	cs, err := ParseClusters([]byte(`clusters:
  - name: prod
    endpoint: http://127.0.0.1:1/mcp
    budgetUsdPerDay: 12
    maxAgentRunsPerHour: 10
    agentMaxCostUsd: 0.5
  - name: dev
    endpoint: http://127.0.0.1:2/mcp
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cs[0].Budget; got != (ClusterBudget{USDPerDay: 12, RunsPerHour: 10, MaxCostUSD: 0.5}) {
		t.Errorf("prod budget %+v", got)
	}
	global := Budgets{MaxCostUSD: 2}
	if got := global.MaxCostFor(cs[0]); got != 0.5 {
		t.Errorf("prod MAX_COST_USD %v, want its own 0.5", got)
	}
	if got := global.MaxCostFor(cs[1]); got != 2 {
		t.Errorf("dev MAX_COST_USD %v, want the global 2", got)
	}
	for _, doc := range []string{"budgetUsdPerDay: -1", "maxAgentRunsPerHour: -2", "agentMaxCostUsd: 5e9"} {
		cs, err := ParseClusters([]byte("clusters:\n  - name: prod\n    endpoint: http://127.0.0.1:1/mcp\n    " + doc + "\n"))
		if err == nil {
			err = cs[0].validate()
		}
		key := strings.SplitN(doc, ":", 2)[0]
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v, want one naming %s", doc, err, key)
		}
	}
}
