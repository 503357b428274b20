package app

import (
	"log/slog"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/budget"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/budgets"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// budgetState is the ledger with what the rest of the runner sees of it:
// dispatch's gate, the ticker service and the page's header.
type budgetState struct {
	ledger  *budget.Ledger
	gate    dispatch.Budget
	service *budgets.Service
}

// openBudget builds the ledger on the state store (memory without
// --state-dir), so a restart mid-day keeps the day's spend and the hour's
// runs. Each pause and resume is logged once and sent as a notice.
func openBudget(cfg config.Config, durable durableState, m *metrics.Metrics, logger *slog.Logger) (*budgetState, error) {
	var store budget.Store = &budget.MemoryStore{}
	if durable.store != nil {
		store = durable.store.Budget()
	}
	clusters := map[string]budget.Limits{}
	maxCost := map[string]float64{}
	for _, c := range cfg.Clusters {
		clusters[c.Name] = budget.Limits{USDPerDay: c.Budget.USDPerDay, RunsPerHour: c.Budget.RunsPerHour}
		maxCost[c.Name] = cfg.Budgets.MaxCostFor(c)
	}
	log := logger.With("component", "budget")
	outbox := durable.outbox
	ledger, err := budget.New(budget.Options{
		Global:         budget.Limits{USDPerDay: cfg.Budgets.USDPerDay, RunsPerHour: cfg.Budgets.RunsPerHour},
		Clusters:       clusters,
		DefaultCostUSD: cfg.Budgets.DefaultCostUSD,
		Store:          store,
		Now:            time.Now,
		OnTransition: func(t budget.Transition) {
			if t.Paused {
				log.Warn("Triage paused: budget spent", "scope", t.Scope.String(), "reason", string(t.Reason), "until", t.Until.UTC())
			} else {
				log.Info("Triage resumed: budget admits agents again", "scope", t.Scope.String())
			}
			if outbox != nil {
				outbox.RaiseBudget(t.Scope.Cluster, t.Paused, string(t.Reason), t.Until, t.At)
			}
		},
		OnSaveError: func(err error) {
			log.Error("Could not save the budget ledger; a restart before the next save forgets its last changes", "error", err.Error())
		},
	})
	if err != nil {
		return nil, err
	}
	b := &budgetState{ledger: ledger}
	b.service = budgets.New(ledger, func() []budgets.Gauges {
		g := []budgets.Gauges{{Scope: budget.Global(),
			USD:  m.Budget.RemainingUSD.WithLabelValues(metrics.BudgetScopeGlobal),
			Runs: m.Budget.RemainingRuns.WithLabelValues(metrics.BudgetScopeGlobal)}}
		for c, l := range clusters {
			// A cluster without a limit of its own would export +Inf
			// twice: two series per cluster that say nothing, 20,000
			// in a scrape at 10,000 clusters.
			if l.USDPerDay <= 0 && l.RunsPerHour <= 0 {
				continue
			}
			g = append(g, budgets.Gauges{Scope: budget.Scope{Cluster: c},
				USD: m.Budget.RemainingUSD.WithLabelValues(c), Runs: m.Budget.RemainingRuns.WithLabelValues(c)})
		}
		return g
	}, budgets.Interval, time.Now)
	b.gate = dispatch.Budget{
		Admitter: ledgerGate{ledger: ledger, refresh: b.service.Refresh},
		MaxCostUSD: func(c string) float64 {
			if v, ok := maxCost[c]; ok {
				return v
			}
			// A cluster a reload added: the global limit until a restart
			// reads its own.
			return cfg.Budgets.MaxCostUSD
		},
	}
	return b, nil
}

// header is the incidents page's line on today's spend.
func (b *budgetState) header() ui.BudgetHeader {
	st := b.ledger.Status()
	h := ui.BudgetHeader{SpentUSD: st.Global.SpentUSD, USDPerDay: st.Global.USDPerDay,
		RunsLastHour: st.Global.RunsLastHour, RunsPerHour: st.Global.RunsPerHour}
	for _, s := range append([]budget.ScopeStatus{st.Global}, st.Clusters...) {
		if s.Paused {
			h.Paused = append(h.Paused, ui.PausedScope{Scope: s.Scope.String(), Reason: string(s.Reason), ResumesAt: s.ResumesAt})
		}
	}
	return h
}

// ledgerGate is the ledger as dispatch's Admitter; the gauges follow each
// admission and charge.
type ledgerGate struct {
	ledger  *budget.Ledger
	refresh func()
}

func (g ledgerGate) Admit(cluster string, now time.Time) dispatch.Admission {
	res, d := g.ledger.Admit(cluster, now)
	g.refresh()
	if !d.Allowed {
		return dispatch.Admission{Reason: string(d.Reason), RetryAt: d.RetryAt}
	}
	return dispatch.Admission{
		Allowed: true,
		Charge: func(u incident.Usage, at time.Time) float64 {
			c := g.ledger.Charge(res, u, at)
			g.refresh()
			return c
		},
		Cancel: func() { g.ledger.Cancel(res); g.refresh() },
	}
}
