package notices

import (
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
)

// RaiseBudget sends the notice that a budget scope paused (reason is the
// limit, until when it admits again) or resumed; cluster is empty for the
// whole runner. The budget ledger reports each change once, also across
// restarts, so this raises each notice once.
func (o *Outbox) RaiseBudget(cluster string, paused bool, reason string, until, at time.Time) {
	o.raise(notify.NewBudgetNotice(cluster, paused, reason, until, at, o.n.doc))
}

// spendOf is an incident's spend in the notification document.
func spendOf(s *incident.Spend) *notification.Spend {
	if s == nil {
		return nil
	}
	return &notification.Spend{CostUSD: s.CostUSD, ChargedUSD: s.ChargedUSD, InputTokens: s.InputTokens,
		OutputTokens: s.OutputTokens, Model: s.Model, OverMaxCost: s.OverMaxCost}
}
