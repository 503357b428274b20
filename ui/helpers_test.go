package ui

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// hostileReport is a report an agent might write after reading cluster
// data an attacker controls.
const hostileReport = "# CrashLoop in payments/api: bad DATABASE_URL\n\n" +
	"## Summary\n\n" +
	"The **api** container exits with code 1: `DATABASE_URL` points at a host that does not resolve.\n\n" +
	"<script>window.__pwned=1</script>\n\n" +
	"<img src=x onerror=\"window.__pwned=1\">\n\n" +
	"<p onclick=\"window.__pwned=1\" style=\"color:red\">Restore the secret and roll the deployment.</p>\n\n" +
	"[runbook](javascript:window.__pwned=1) · [docs](https://kubernetes.io/docs/) · <a href=\"JaVaScRiPt:alert(1)\">x</a>\n\n" +
	"<iframe src=\"https://evil.example\"></iframe><form action=\"https://evil.example\"><input name=q></form>\n\n" +
	"| Check | Result |\n|---|---|\n| DNS | fails |\n| Secret | changed 10:02 |\n\n" +
	"```sh\nkubectl -n payments rollout undo deploy/api\n```\n"

// fakeStore is a Store over a slice, applying filters as the journal will,
// and remembering which ids it was asked for.
type fakeStore struct {
	mu    sync.Mutex
	incs  []Incident
	asked []string
	last  Filter
}

func (s *fakeStore) List(_ context.Context, f Filter) ([]Summary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = f
	var out []Summary
	skip := f.Offset
	for _, in := range s.incs {
		if !f.Keep(in.Summary) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, in.Summary)
		if len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func (s *fakeStore) Get(_ context.Context, id string) (Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, id)
	i := slices.IndexFunc(s.incs, func(in Incident) bool { return in.ID == id })
	if i < 0 {
		return Incident{}, fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	return s.incs[i], nil
}

func (s *fakeStore) askedFor() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

func sampleStore() *fakeStore {
	mk := func(id, cluster, status string, ended time.Duration) Incident {
		return Incident{Summary: Summary{
			ID: id, Cluster: cluster, Source: "mcp", FaultType: "CrashLoop", Severity: "critical",
			Resource: "Pod/payments/api-7d9", Status: status, Attempts: 1,
			StartedAt: now.Add(-ended - 80*time.Second), EndedAt: now.Add(-ended), Duration: 80 * time.Second,
		}}
	}
	main := mk("a1b2c3d4e5f60718-mx1abc", "prod-eu", "success", 3*time.Minute)
	main.Attempts = 2
	main.Report, main.ReportName = []byte(hostileReport), "report.md"
	main.Event = []byte(`{"incidentId":"a1b2c3d4e5f60718-mx1abc","cluster":"prod-eu","fault":{"faultType":"CrashLoop","resource":{"kind":"Pod","name":"api-7d9","namespace":"payments"}}}`)
	main.LogTail = []byte("starting agent\n<script>window.__pwned=1</script>\nreport written\n")
	main.Runs = []Run{
		{Number: 1, StartedAt: now.Add(-20 * time.Minute), EndedAt: now.Add(-19 * time.Minute), Status: "interrupted", Reason: "runner restarted"},
		{Number: 2, StartedAt: main.StartedAt, EndedAt: main.EndedAt, Status: "success"},
	}
	main.Deliveries = []Delivery{
		{Sink: "oncall-slack", State: "delivered", Attempts: 1, DeliveredAt: main.EndedAt.Add(time.Second)},
		{Sink: "audit-webhook", State: "pending", Attempts: 3, LastError: "receiver answered 503 Service Unavailable", NextAttemptAt: now.Add(time.Minute)},
		{Sink: "old-hook", State: "dead", Attempts: 1, DeadReason: "permanent", LastError: "receiver answered 410 Gone"},
	}
	return &fakeStore{incs: []Incident{
		main,
		mk("b2c3d4e5f6071829-mx1abd", "prod-us", "failure", 2*time.Hour),
		mk("c3d4e5f607182930-mx1abe", "staging", "timeout", 26*time.Hour),
		mk("d4e5f60718293041-mx1abf", "prod-eu", "failure", 10*24*time.Hour),
	}}
}
