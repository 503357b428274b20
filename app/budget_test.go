package app

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// TestOnlyScopesWithALimitExportTheirRemainingBudget: the global scope and
// a cluster with a limit of its own have budget_remaining_* series; a
// cluster without one has none (it would be +Inf twice, for every one of
// thousands of clusters).
func TestOnlyScopesWithALimitExportTheirRemainingBudget(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{}, []string{"limited", "free"})
	cfg := config.Config{Clusters: []config.Cluster{
		{Name: "limited", Budget: config.ClusterBudget{RunsPerHour: 3}},
		{Name: "free"},
	}}
	b, err := openBudget(cfg, durableState{}, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b.service.Refresh()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kubernetes_mcp_runner_budget_remaining_usd", "kubernetes_mcp_runner_budget_remaining_runs"} {
		var scopes []string
		for _, mf := range families {
			if mf.GetName() != name {
				continue
			}
			for _, s := range mf.GetMetric() {
				for _, lp := range s.GetLabel() {
					scopes = append(scopes, lp.GetValue())
				}
			}
		}
		slices.Sort(scopes)
		if !slices.Equal(scopes, []string{"global", "limited"}) {
			t.Errorf("%s has scopes %v, want [global limited]", name, scopes)
		}
	}
}
