package history

import (
	"fmt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// SpendCells are a run's cost and tokens as the page and the incidents
// command show them; empty where not known.
func SpendCells(s *incident.Spend) (cost, tokens string) {
	if s == nil {
		return "", ""
	}
	cost = fmt.Sprintf("$%.2f", s.ChargedUSD)
	if s.CostUSD == nil {
		cost += " (default)"
	}
	if s.OverMaxCost {
		cost += " over its limit"
	}
	if s.InputTokens != nil || s.OutputTokens != nil {
		in, out := s.Tokens()
		tokens = fmt.Sprintf("%d in / %d out", in, out)
	}
	return cost, tokens
}
