// Package budgets is the service that keeps the budget ledger's time
// moving when no launch asks: it tells the ledger the time now and then,
// so a pause that time ended (a new UTC day, runs leaving the hour) is
// reported as resumed while nothing is queued, and it refreshes the
// remaining-budget gauges.
package budgets

import (
	"context"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/budget"
)

// Ledger is what the service needs of the budget ledger.
type Ledger interface {
	Tick(now time.Time)
	Remaining(s budget.Scope) budget.Remaining
}

// gauge is one remaining-budget series.
type gauge interface{ Set(float64) }

// Gauges are the remaining-budget gauges of a scope.
type Gauges struct {
	Scope budget.Scope
	USD   gauge
	Runs  gauge
}

// Service ticks the ledger.
type Service struct {
	ledger Ledger
	gauges func() []Gauges
	ticks  func() (<-chan time.Time, func())
	now    func() time.Time
}

// Interval is how often the ledger is ticked: a resume is announced at
// most this late.
const Interval = 10 * time.Second

// New ticks ledger every interval; gauges lists the scopes to refresh
// (a reload may change the clusters).
func New(ledger Ledger, gauges func() []Gauges, interval time.Duration, now func() time.Time) *Service {
	return NewWithTicks(ledger, gauges, func() (<-chan time.Time, func()) {
		t := time.NewTicker(interval)
		return t.C, t.Stop
	}, now)
}

// NewWithTicks takes its ticks from ticks, so a test decides when.
func NewWithTicks(ledger Ledger, gauges func() []Gauges, ticks func() (<-chan time.Time, func()), now func() time.Time) *Service {
	return &Service{ledger: ledger, gauges: gauges, ticks: ticks, now: now}
}

func (s *Service) String() string { return "budgets" }

// Serve ticks until ctx ends.
func (s *Service) Serve(ctx context.Context) error {
	c, stop := s.ticks()
	defer stop()
	s.Refresh()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c:
			s.ledger.Tick(s.now())
			s.Refresh()
		}
	}
}

// Refresh sets the remaining-budget gauges from the ledger.
func (s *Service) Refresh() {
	for _, g := range s.gauges() {
		r := s.ledger.Remaining(g.Scope)
		g.USD.Set(r.USD)
		g.Runs.Set(r.Runs)
	}
}
