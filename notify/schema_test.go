package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
)

func resolvedSchema(t *testing.T) *jsonschema.Resolved {
	t.Helper()
	var s jsonschema.Schema
	if err := json.Unmarshal(SchemaV1, &s); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func asJSONValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocumentsValidateAgainstSchema: every kind of document the runner
// builds is valid against the published schema, and documents that break
// it are refused (so the schema says something).
func TestDocumentsValidateAgainstSchema(t *testing.T) {
	rs := resolvedSchema(t)
	bare := sampleIncident()
	bare.ReportText, bare.Fault.Context, bare.Status, bare.Reason = nil, nil, StatusTimeout, "agent exceeded 5m0s"
	bare.Fault.Severity = ""
	grouped := sampleIncident()
	grouped.Group = &Group{Key: "node:n1", Kind: "node", Faults: 25, Related: 2}
	huge := sampleIncident()
	huge.Fault.Context = json.RawMessage(`"` + strings.Repeat("x", MaxContextBytes) + `"`)
	docs := map[string]Notification{
		"incident with link":        NewIncident(sampleIncident(), DocOptions{ExternalURL: "https://runner.example.com"}),
		"incident without report":   NewIncident(bare, DocOptions{}),
		"incident with big context": NewIncident(huge, DocOptions{ExcerptBytes: 10}),
		"incident with group":       NewIncident(grouped, DocOptions{}),
		"feedback":                  NewFeedback(grouped, Feedback{Verdict: "wrong", Note: "it was the node", At: t0.Add(time.Hour)}, DocOptions{}),
		"blind":                     NewBlindNotice("prod-eu", true, t0, t0.Add(time.Hour), DocOptions{}),
		"restored":                  NewBlindNotice("prod-eu", false, t0, t0.Add(time.Hour), DocOptions{ExternalURL: "https://r.example"}),
		"budget paused":             NewBudgetNotice("", true, "global_usd_per_day", t0.Add(time.Hour), t0, DocOptions{}),
		"budget resumed":            NewBudgetNotice("prod-eu", false, "", time.Time{}, t0, DocOptions{}),
		"incident with spend":       NewIncident(withSpend(sampleIncident()), DocOptions{}),
	}
	for _, st := range []string{"open", "half-open", "closed"} {
		n, err := NewBreakerNotice(st, t0, t0, DocOptions{})
		if err != nil {
			t.Fatal(err)
		}
		docs["breaker "+st] = n
	}
	for name, n := range docs {
		if err := rs.Validate(asJSONValue(t, n)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !docs["incident with big context"].Incident.Fault.ContextOmitted || !docs["incident with big context"].Incident.Report.ExcerptTruncated {
		t.Error("big context or long report not marked")
	}

	bad := map[string]func(m map[string]any){
		"wrong version":      func(m map[string]any) { m["schemaVersion"] = 2 },
		"no key":             func(m map[string]any) { delete(m, "idempotencyKey") },
		"kind mismatch":      func(m map[string]any) { m["kind"] = "notice" },
		"unknown status":     func(m map[string]any) { m["incident"].(map[string]any)["status"] = "exploded" },
		"path in id":         func(m map[string]any) { m["incident"].(map[string]any)["id"] = "../../etc" },
		"both bodies":        func(m map[string]any) { m["notice"] = map[string]any{} },
		"attempt zero":       func(m map[string]any) { m["incident"].(map[string]any)["attempt"] = 0 },
		"severity not known": func(m map[string]any) { m["incident"].(map[string]any)["fault"].(map[string]any)["severity"] = "high" },
		"verdict not known": func(m map[string]any) {
			m["incident"].(map[string]any)["feedback"] = map[string]any{"verdict": "maybe", "at": "2026-01-01T00:00:00Z"}
		},
	}
	for name, mutate := range bad {
		m := asJSONValue(t, docs["incident with link"]).(map[string]any)
		mutate(m)
		if err := rs.Validate(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Every status the runner records can be sent: each validates against the
// published schema's enum.
func TestEveryIncidentStatusIsInTheSchema(t *testing.T) {
	rs := resolvedSchema(t)
	for _, st := range incident.Statuses() {
		doc := NewIncident(IncidentInput{Incident: Incident{ID: "i1", Cluster: "prod", Status: string(st), Attempt: 1,
			Fault: Fault{ID: "f1", Type: "CrashLoop", Severity: "critical"}, EndedAt: time.Now()}}, DocOptions{})
		if err := rs.Validate(asJSONValue(t, doc)); err != nil {
			t.Errorf("status %q: %v", st, err)
		}
	}
}

func withSpend(in IncidentInput) IncidentInput {
	c, tok := 0.4, int64(1500)
	in.Spend = &notification.Spend{CostUSD: &c, ChargedUSD: c, InputTokens: &tok, Model: "claude-sonnet-4-5"}
	return in
}
