package ui

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The header shows today's spend against the budget and what is paused,
// on the list and on an incident's page; each incident's cost and tokens
// are in its row and on its page.
func TestBudgetHeaderAndIncidentCost(t *testing.T) {
	store := sampleStore()
	store.incs[0].Cost, store.incs[0].Tokens, store.incs[0].Model = "$0.40", "1500 in / 320 out", "claude-sonnet-4-5"
	h, err := New(Options{Store: store, Now: func() time.Time { return now }, Budget: func() BudgetHeader {
		return BudgetHeader{SpentUSD: 19.35, USDPerDay: 19.35, RunsLastHour: 4, RunsPerHour: 30,
			Paused: []PausedScope{{Scope: "global", Reason: "global_usd_per_day", ResumesAt: time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)}}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	header := []string{"Spent today $19.35 of $19.35", "4 of 30 runs in the last hour", "paused: global (global_usd_per_day) until 2026-03-11"}
	_, _, list := get(t, srv.URL+"/incidents")
	for _, want := range append(header, "<th>Cost</th>", "$0.40", "1500 in / 320 out") {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	_, _, page := get(t, srv.URL+"/incidents/"+store.incs[0].ID)
	for _, want := range append(header, "<dt>Cost</dt><dd>$0.40</dd>", "<dt>Tokens</dt><dd>1500 in / 320 out</dd>", "claude-sonnet-4-5") {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
}
