package incident

// Spend is what one run cost, as result.json, the history, the incidents
// page and the notifications show it. The reported fields are what the
// agent wrote to its usage file (nil when it did not say); ChargedUSD is
// what the budgets were charged, which is the default cost when the agent
// reported none.
type Spend struct {
	CostUSD      *float64 `json:"costUsd,omitempty"`
	InputTokens  *int64   `json:"inputTokens,omitempty"`
	OutputTokens *int64   `json:"outputTokens,omitempty"`
	Model        string   `json:"model,omitempty"`
	ChargedUSD   float64  `json:"chargedUsd"`
	// UsageInvalid is why a usage file was refused (cut short); the run
	// then counts as one that reported nothing.
	UsageInvalid string `json:"usageInvalid,omitempty"`
	// MaxCostUSD is the limit handed to the agent (0: none), and
	// OverMaxCost says the agent reported spending more than it.
	MaxCostUSD  float64 `json:"maxCostUsd,omitempty"`
	OverMaxCost bool    `json:"overMaxCost,omitempty"`
}

// NewSpend is the spend of a run that reported u, charged charged, under
// the per-run limit maxCost (0: none).
func NewSpend(u Usage, charged, maxCost float64) *Spend {
	s := &Spend{CostUSD: u.CostUSD, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		Model: u.Model, ChargedUSD: charged, MaxCostUSD: maxCost}
	s.OverMaxCost = maxCost > 0 && u.CostUSD != nil && *u.CostUSD > maxCost
	return s
}

// Tokens is the run's input and output tokens, 0 where not reported.
func (s *Spend) Tokens() (in, out int64) {
	if s == nil {
		return 0, 0
	}
	if s.InputTokens != nil {
		in = *s.InputTokens
	}
	if s.OutputTokens != nil {
		out = *s.OutputTokens
	}
	return in, out
}
