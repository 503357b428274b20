package journal

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
)

// BenchmarkOutboxDue is one pass of a sink's delivery loop (Due, then
// NextDue) over a sink holding 10,000 delivered records, kept for the
// incidents page, and 10 pending ones.
func BenchmarkOutboxDue(b *testing.B) {
	s, err := Open(b.TempDir(), Options{HistoryMaxEntries: 100, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	p := notify.DefaultPolicy()
	var recs []notify.OutboxRecord
	for i := range 10010 {
		n := notify.NewIncident(notify.IncidentInput{Incident: notify.Incident{ID: fmt.Sprintf("inc-%05d", i), Cluster: "prod", EndedAt: t0},
			ReportText: []byte("# Root cause\n\nA report of some length.\n")}, notify.DocOptions{})
		r := notify.NewRecords(n, []string{"hook"}, t0)[0]
		if i >= 10 {
			r = p.Apply(r, notify.Result{Outcome: notify.Delivered}, t0, 0)
		}
		recs = append(recs, r)
		if len(recs) == 1000 {
			if err := s.AddOutbox(recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if err := s.AddOutbox(recs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		due, err := s.Due("hook", t0, 32)
		if err != nil || len(due) != 10 {
			b.Fatalf("due %d, %v", len(due), err)
		}
		if _, ok, err := s.NextDue("hook"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
