package metrics

import "github.com/prometheus/client_golang/prometheus"

// Bounded label values of the budget collectors.
var (
	// TokenKinds are the kind label values of agent_tokens_total.
	TokenKinds = []string{"input", "output"}
	// BudgetHoldReasons are the limits that hold a launch (the ledger's
	// reasons), the reason label values of launches_held_total.
	BudgetHoldReasons = []string{"global_usd_per_day", "global_runs_per_hour", "cluster_usd_per_day", "cluster_runs_per_hour"}
)

// BudgetScopeGlobal is the scope label value of the whole runner; the
// other values are the configured cluster names.
const BudgetScopeGlobal = "global"

// Budget holds the collectors of agents' spend and the budgets.
type Budget struct {
	CostUSD      *prometheus.CounterVec // cluster
	Tokens       *prometheus.CounterVec // cluster, kind
	UsageInvalid *prometheus.CounterVec // cluster
	OverMaxCost  *prometheus.CounterVec // cluster
	LaunchesHeld *prometheus.CounterVec // cluster, reason
	// Remaining budget per scope: +Inf where the scope has no limit.
	RemainingUSD  *prometheus.GaugeVec // scope
	RemainingRuns *prometheus.GaugeVec // scope
}

func newBudget(counter func(name, help string, labels ...string) *prometheus.CounterVec,
	gauge func(name, help string, labels ...string) *prometheus.GaugeVec) Budget {
	return Budget{
		CostUSD:       counter("agent_cost_usd_total", "US dollars charged to the budgets for agent runs: what each agent reported, or --agent-default-cost-usd.", "cluster"),
		Tokens:        counter("agent_tokens_total", "Tokens agents reported using, by kind (input, output).", "cluster", "kind"),
		UsageInvalid:  counter("agent_usage_invalid_total", "Agent usage files refused (malformed, oversized, not a regular file); those runs count as unreported.", "cluster"),
		OverMaxCost:   counter("agent_over_max_cost_total", "Agent runs that reported spending more than the MAX_COST_USD they were given.", "cluster"),
		LaunchesHeld:  counter("launches_held_total", "Agent launches refused by a budget, by the limit that held them; the fault stays queued.", "cluster", "reason"),
		RemainingUSD:  gauge("budget_remaining_usd", "US dollars a scope (global or a cluster) may still spend today (UTC); +Inf without a limit.", "scope"),
		RemainingRuns: gauge("budget_remaining_runs", "Agent runs a scope (global or a cluster) may still start in the rolling hour; +Inf without a limit.", "scope"),
	}
}

func (b Budget) addCluster(c string) {
	b.CostUSD.WithLabelValues(c)
	b.UsageInvalid.WithLabelValues(c)
	b.OverMaxCost.WithLabelValues(c)
	for _, k := range TokenKinds {
		b.Tokens.WithLabelValues(c, k)
	}
	for _, r := range BudgetHoldReasons {
		b.LaunchesHeld.WithLabelValues(c, r)
	}
}
