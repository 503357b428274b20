package history

import (
	"encoding/json"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

func TestSpendCells(t *testing.T) {
	c, in, out := 0.4, int64(1500), int64(320)
	for _, tc := range []struct {
		s            *incident.Spend
		cost, tokens string
	}{
		{nil, "", ""},
		{&incident.Spend{CostUSD: &c, ChargedUSD: c, InputTokens: &in, OutputTokens: &out}, "$0.40", "1500 in / 320 out"},
		{&incident.Spend{ChargedUSD: 0.1}, "$0.10 (default)", ""},
		{&incident.Spend{CostUSD: &c, ChargedUSD: c, MaxCostUSD: 0.2, OverMaxCost: true}, "$0.40 over its limit", ""},
	} {
		if cost, tokens := SpendCells(tc.s); cost != tc.cost || tokens != tc.tokens {
			t.Errorf("%+v: %q %q, want %q %q", tc.s, cost, tokens, tc.cost, tc.tokens)
		}
	}
}

// /api/incidents rows carry the record's spend as published.
func TestRowCarriesSpend(t *testing.T) {
	c := 0.4
	rows := RowsOf([]incident.Record{{IncidentID: "i1", Spend: &incident.Spend{CostUSD: &c, ChargedUSD: c, Model: "m"}}}, nil)
	b, err := json.Marshal(rows[0])
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Spend struct {
			CostUSD    float64 `json:"costUsd"`
			ChargedUSD float64 `json:"chargedUsd"`
			Model      string  `json:"model"`
		} `json:"spend"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.Spend.CostUSD != 0.4 || got.Spend.Model != "m" {
		t.Errorf("row %s (%v): want spend.costUsd 0.4 and the model", b, err)
	}
}
