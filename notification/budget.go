package notification

import (
	"fmt"
	"strconv"
	"time"
)

// Budget notice types: a scope (the whole runner, or the notice's
// cluster) stopped launching agents because a budget is spent, and started
// again.
const (
	NoticeBudgetPaused  = "budget_paused"
	NoticeBudgetResumed = "budget_resumed"
)

// Spend is what an incident's run cost, as the agent reported it and the
// budgets were charged. Pointers are nil where the agent did not report.
type Spend struct {
	CostUSD      *float64 `json:"costUsd,omitempty"`
	ChargedUSD   float64  `json:"chargedUsd"`
	InputTokens  *int64   `json:"inputTokens,omitempty"`
	OutputTokens *int64   `json:"outputTokens,omitempty"`
	Model        string   `json:"model,omitempty"`
	OverMaxCost  bool     `json:"overMaxCost,omitempty"`
}

// String is the spend in one line, for chat and the page: "$0.40 · 1500
// in / 320 out tokens · model".
func (s Spend) String() string {
	out := "$" + strconv.FormatFloat(s.ChargedUSD, 'f', 2, 64)
	if s.CostUSD == nil {
		out += " (not reported)"
	}
	if s.InputTokens != nil || s.OutputTokens != nil {
		var in, o int64
		if s.InputTokens != nil {
			in = *s.InputTokens
		}
		if s.OutputTokens != nil {
			o = *s.OutputTokens
		}
		out += fmt.Sprintf(" · %d in / %d out tokens", in, o)
	}
	if s.Model != "" {
		out += " · " + s.Model
	}
	if s.OverMaxCost {
		out += " · over its limit"
	}
	return out
}

// NewBudgetNotice builds the notice that a scope was paused (a budget is
// spent: reason names the limit, until is when it admits again) or
// resumed. cluster is empty for the whole runner.
func NewBudgetNotice(cluster string, paused bool, reason string, until, at time.Time, o DocOptions) Notification {
	n := Notice{Cluster: cluster, At: at.UTC(), Links: Links{Incident: o.link("/")}}
	scope := "all clusters"
	if cluster != "" {
		scope = "cluster " + cluster
	}
	if paused {
		n.Type, n.Severity, n.Reason, n.Until = NoticeBudgetPaused, SeverityWarning, reason, until.UTC()
		n.Summary = fmt.Sprintf("Triage paused: budget spent (%s) for %s; queued faults wait until %s",
			reason, scope, until.UTC().Format(time.RFC3339))
	} else {
		n.Type, n.Severity = NoticeBudgetResumed, SeverityInfo
		n.Summary = "Triage resumed: the budget admits agents again for " + scope
	}
	return notice(n)
}
