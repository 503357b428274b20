package notify

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
)

// memStore is an OutboxStore in memory, with the semantics a durable store
// must have: records keyed by (sink, key), due ones oldest first. Records
// are stored as JSON so a test sees what a store would persist.
type memStore struct {
	mu   sync.Mutex
	recs map[[2]string][]byte
}

func newMemStore(t *testing.T, recs ...OutboxRecord) *memStore {
	s := &memStore{recs: map[[2]string][]byte{}}
	for _, r := range recs {
		if err := s.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *memStore) Save(r OutboxRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[[2]string{r.Sink, r.Key}] = b
	return nil
}

func (s *memStore) all(sink string) []OutboxRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []OutboxRecord
	for k, b := range s.recs {
		if k[0] != sink {
			continue
		}
		var r OutboxRecord
		if err := json.Unmarshal(b, &r); err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b OutboxRecord) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

func (s *memStore) get(sink, key string) OutboxRecord {
	for _, r := range s.all(sink) {
		if r.Key == key {
			return r
		}
	}
	return OutboxRecord{}
}

func (s *memStore) Due(sink string, now time.Time, limit int) ([]OutboxRecord, error) {
	var out []OutboxRecord
	for _, r := range s.all(sink) {
		if r.Due(now) && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *memStore) NextDue(sink string) (time.Time, bool, error) {
	var at time.Time
	ok := false
	for _, r := range s.all(sink) {
		if r.State == StatePending && (!ok || r.NextAttemptAt.Before(at)) {
			at, ok = r.NextAttemptAt, true
		}
	}
	return at, ok, nil
}

// clock is a settable clock for the pump and the sinks.
type clock = fakeclock.Clock

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// sampleReport is an agent report with hostile content in it.
const sampleReport = "# CrashLoop in payments/api: bad DATABASE_URL\n\n" +
	"## Summary\n\n" +
	"The **api** container exits with `code 1` because DATABASE_URL points at <db.internal>.\n" +
	"- Fix: restore the secret <!here> <!channel> <@U024BE7LH> <#C024BE7LH|ops>\n" +
	"- See [the runbook](https://evil.example/phish) and <https://evil.example/x|click>\n" +
	"<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\">\n\n" +
	"## Evidence\n\n" +
	"```\nkubectl logs api-7d9 --previous\n```\n"

func sampleIncident() IncidentInput {
	return IncidentInput{
		Incident: Incident{
			ID: "a1b2c3d4e5f60718-mx1abc", Cluster: "prod-eu", Source: "mcp",
			Fault: Fault{
				ID: "a1b2c3d4e5f60718", Type: "CrashLoop", Severity: SeverityCritical,
				Resource: Resource{APIVersion: "v1", Kind: "Pod", Name: "api-7d9", Namespace: "payments", UID: "u-1"},
				Context:  json.RawMessage(`{"restarts":7}`),
			},
			Status: StatusSuccess, Attempt: 1,
			EnqueuedAt: t0.Add(-90 * time.Second), StartedAt: t0.Add(-80 * time.Second), EndedAt: t0,
			QueuedSeconds: 10, DurationSeconds: 80,
			Report: Report{Name: "report.md"},
		},
		ReportText: []byte(sampleReport),
	}
}
