package ui

import (
	"fmt"
	"strings"
	"time"
)

// BudgetHeader is the page header's line on spend: today's (UTC) spend
// against the budget, the hour's runs against their limit, and the scopes
// paused until when.
type BudgetHeader struct {
	SpentUSD  float64
	USDPerDay float64 // 0: unlimited
	// RunsLastHour are the runs of the rolling hour; RunsPerHour 0 is
	// unlimited.
	RunsLastHour int
	RunsPerHour  int
	Paused       []PausedScope
}

// PausedScope is a scope that starts no agent until ResumesAt.
type PausedScope struct {
	Scope     string // "global" or "cluster <name>"
	Reason    string
	ResumesAt time.Time
}

// String is the header line.
func (b BudgetHeader) String() string {
	var parts []string
	spend := fmt.Sprintf("Spent today $%.2f", b.SpentUSD)
	if b.USDPerDay > 0 {
		spend += fmt.Sprintf(" of $%.2f", b.USDPerDay)
	}
	parts = append(parts, spend)
	runs := fmt.Sprintf("%d runs in the last hour", b.RunsLastHour)
	if b.RunsPerHour > 0 {
		runs = fmt.Sprintf("%d of %d runs in the last hour", b.RunsLastHour, b.RunsPerHour)
	}
	parts = append(parts, runs)
	for _, p := range b.Paused {
		parts = append(parts, fmt.Sprintf("paused: %s (%s) until %s", p.Scope, p.Reason, fmtTime(p.ResumesAt)))
	}
	return strings.Join(parts, " · ")
}

// budgetLine is the header's budget line, or "" without a budget source.
func (h *handler) budgetLine() string {
	if h.o.Budget == nil {
		return ""
	}
	return h.o.Budget().String()
}
