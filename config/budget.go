package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Budgets are the spend limits of the whole runner (docs/budgets.md);
// each cluster may add its own in the clusters file. Zero is unlimited.
type Budgets struct {
	USDPerDay      float64
	RunsPerHour    int
	DefaultCostUSD float64
	// MaxCostUSD is handed to every agent as MAX_COST_USD: the runner
	// cannot stop a provider billing, only tell the agent its limit.
	MaxCostUSD float64
}

// ClusterBudget is a cluster's own limits from the clusters file; zero
// leaves the cluster bounded by the global limits alone.
type ClusterBudget struct {
	USDPerDay   float64 `yaml:"budgetUsdPerDay"`
	RunsPerHour int     `yaml:"maxAgentRunsPerHour"`
	MaxCostUSD  float64 `yaml:"agentMaxCostUsd"`
}

// maxUSD bounds every dollar option: a budget past it is a typo, and it
// keeps sums of charges far from float64's loss of whole cents.
const maxUSD = 1e9

// usdValue is a non-negative amount of US dollars; 0 means unset.
type usdValue struct{ v *float64 }

func (u usdValue) String() string {
	if u.v == nil {
		return "0"
	}
	return strconv.FormatFloat(*u.v, 'f', -1, 64)
}

func (u usdValue) Set(s string) error {
	f, err := parseUSD(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*u.v = f
	return nil
}

func parseUSD(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not an amount of dollars such as 2 or 0.40", s)
	}
	return f, checkUSD(f)
}

func checkUSD(f float64) error {
	if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%g must be a finite amount of 0 or more dollars", f)
	}
	if f > maxUSD {
		return fmt.Errorf("%g is more than %g dollars", f, float64(maxUSD))
	}
	return nil
}

// countValue is a whole number of 0 or more; 0 means unlimited.
type countValue struct{ n *int }

func (v countValue) String() string {
	if v.n == nil {
		return "0"
	}
	return strconv.Itoa(*v.n)
}

func (v countValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if n < 0 {
		return fmt.Errorf("%q must be 0 (unlimited) or more", s)
	}
	*v.n = n
	return nil
}

func (b ClusterBudget) validate(cluster string) error {
	for _, f := range []struct {
		key string
		v   float64
	}{{"budgetUsdPerDay", b.USDPerDay}, {"agentMaxCostUsd", b.MaxCostUSD}} {
		if err := checkUSD(f.v); err != nil {
			return fmt.Errorf("cluster %q: %s: %w", cluster, f.key, err)
		}
	}
	if b.RunsPerHour < 0 {
		return fmt.Errorf("cluster %q: maxAgentRunsPerHour: %d must be 0 (unlimited) or more", cluster, b.RunsPerHour)
	}
	return nil
}

// MaxCostFor is the per-run limit handed to the agents of cluster c: the
// cluster's own when it sets one, else the global one (0: none).
func (b Budgets) MaxCostFor(c Cluster) float64 {
	if c.Budget.MaxCostUSD > 0 {
		return c.Budget.MaxCostUSD
	}
	return b.MaxCostUSD
}
