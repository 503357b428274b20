package dispatch

import (
	"context"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// Admitter decides before each launch whether the budgets let an agent
// start (the budget ledger, adapted by the composition). Dispatch knows
// only this much of budgets.
type Admitter interface {
	Admit(cluster string, now time.Time) Admission
}

// Admission is an Admitter's answer. An allowed one must end in exactly
// one of Charge (the agent ran, or was meant to) or Cancel (no run
// followed); a refused one names its limit and when to ask again.
type Admission struct {
	Allowed bool
	// Reason is a bounded limit name (the launches_held_total reason).
	Reason  string
	RetryAt time.Time
	// Charge records what the run reported; it returns what was charged.
	Charge func(u incident.Usage, at time.Time) float64
	Cancel func()
}

// Budget is what dispatch needs of the budgets; the zero Budget admits
// every launch and hands agents no cost limit.
type Budget struct {
	Admitter Admitter
	// MaxCostUSD is the per-run limit handed to cluster's agents as
	// MAX_COST_USD; nil or 0 hands none.
	MaxCostUSD func(cluster string) float64
	// Wait blocks until until has passed or ctx ends. The default sleeps
	// on the wall clock, at most a minute at a time, so a held worker
	// asks again soon after a change it cannot see (a clock step, a
	// resume found by the ledger's ticker).
	Wait func(ctx context.Context, until time.Time)
}

// maxHoldWait bounds one wait of a held worker.
const maxHoldWait = time.Minute

// admissions holds the admissions of running incidents until their
// agents end.
type admissions struct {
	mu   sync.Mutex
	byID map[string]Admission
}

// admit asks the budgets whether a launch for cluster may start. When
// refused it gives up the worker's global slot and breaker probe (other
// clusters keep running), counts the hold and waits until the limit may
// admit again; the caller then starts over, and the fault stays queued.
func (d *Dispatcher) admit(ctx context.Context, cluster string, probe bool) (Admission, bool) {
	b := d.o.Budget
	if b.Admitter == nil {
		return Admission{Allowed: true}, true
	}
	a := b.Admitter.Admit(cluster, d.o.Now())
	if a.Allowed {
		return a, true
	}
	d.slots.Release(1)
	d.o.Breaker.Cancel(probe)
	d.o.Metrics.Budget.LaunchesHeld.WithLabelValues(cluster, a.Reason).Inc()
	d.logger.Debug("Launch held by a budget", "cluster", cluster, "reason", a.Reason, "retry_at", a.RetryAt)
	wait := b.Wait
	if wait == nil {
		wait = d.sleepUntil
	}
	wait(ctx, a.RetryAt)
	return Admission{}, false
}

func (d *Dispatcher) sleepUntil(ctx context.Context, until time.Time) {
	t := time.NewTimer(min(max(until.Sub(d.o.Now()), 0), maxHoldWait))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// hold keeps id's admission until its agent ends; release drops one
// whose launch did not follow.
func (d *Dispatcher) hold(id string, a Admission) {
	if a.Charge == nil {
		return
	}
	d.adm.mu.Lock()
	defer d.adm.mu.Unlock()
	if d.adm.byID == nil {
		d.adm.byID = map[string]Admission{}
	}
	d.adm.byID[id] = a
}

func release(a Admission) {
	if a.Cancel != nil {
		a.Cancel()
	}
}

func (d *Dispatcher) take(id string) (Admission, bool) {
	d.adm.mu.Lock()
	defer d.adm.mu.Unlock()
	a, ok := d.adm.byID[id]
	delete(d.adm.byID, id)
	return a, ok
}

func (d *Dispatcher) maxCost(cluster string) float64 {
	if d.o.Budget.MaxCostUSD == nil {
		return 0
	}
	return d.o.Budget.MaxCostUSD(cluster)
}

// usageFile is the USAGE_FILE of an incident's workspace.
func usageFile(ws string) string { return filepath.Join(ws, incident.UsageFile) }

// charge reads what the agent reported (whatever its status: a failed run
// was billed too), charges it and puts it on the result. A usage file the
// runner refuses is logged and counted and the run counts as unreported;
// it never fails the incident. started false is a run whose agent never
// started: it is charged nothing.
func (d *Dispatcher) charge(id string, started bool, result *incident.Result) {
	cluster := result.Cluster
	var u incident.Usage
	var invalid string
	if started {
		var err error
		if u, err = incident.ReadUsage(usageFile(result.Workspace)); err != nil {
			invalid = cut(err.Error(), 300)
			d.o.Metrics.Budget.UsageInvalid.WithLabelValues(cluster).Inc()
			d.logger.Warn("Agent usage file refused; the run counts as unreported",
				"cluster", cluster, "incident_id", id, "error", invalid)
			u = incident.Usage{}
		}
	} else {
		zero := 0.0
		u = incident.Usage{CostUSD: &zero}
	}
	charged := 0.0
	if a, ok := d.take(id); ok {
		charged = a.Charge(u, d.o.Now())
	} else if u.CostUSD != nil {
		charged = *u.CostUSD
	}
	s := incident.NewSpend(u, charged, d.maxCost(cluster))
	s.UsageInvalid = invalid
	result.Spend = s
	m := d.o.Metrics.Budget
	m.CostUSD.WithLabelValues(cluster).Add(charged)
	in, out := s.Tokens()
	m.Tokens.WithLabelValues(cluster, "input").Add(float64(in))
	m.Tokens.WithLabelValues(cluster, "output").Add(float64(out))
	if s.OverMaxCost {
		m.OverMaxCost.WithLabelValues(cluster).Inc()
		d.logger.Warn("Agent reported spending more than its MAX_COST_USD",
			"cluster", cluster, "incident_id", id, "cost_usd", *s.CostUSD, "max_cost_usd", s.MaxCostUSD)
	}
}

// settle charges an admission its incident left uncharged (a panic in the
// incident's handling) as a run that reported nothing.
func (d *Dispatcher) settle(id string) {
	if a, ok := d.take(id); ok {
		a.Charge(incident.Usage{}, d.o.Now())
	}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
