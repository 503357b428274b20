package journal

import (
	"errors"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
)

func incidentNotification(id string, end time.Time) notify.Notification {
	return notify.NewIncident(notify.IncidentInput{Incident: notify.Incident{
		ID: id, Cluster: "prod", Status: notify.StatusFailure, EndedAt: end,
	}}, notify.DocOptions{})
}

func TestFinishWritesTheOutboxInTheSameTransactionAndItSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{HistoryMaxEntries: 10})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.Start(InFlight{IncidentID: "i1", Item: entry("prod", "f1", t0)}); err != nil {
		t.Fatal(err)
	}
	n := incidentNotification("i1", t0)
	if err := s.FinishNotify(incident.Record{IncidentID: "i1", Cluster: "prod", EndedAt: t0}, notify.NewRecords(n, []string{"hook", "slack"}, t0)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir, Options{HistoryMaxEntries: 10})
	st, err := s.Load()
	if err != nil || len(st.InFlight) != 0 {
		t.Fatalf("in flight after finish: %+v, %v", st.InFlight, err)
	}
	for _, sink := range []string{"hook", "slack"} {
		due, err := s.Due(sink, t0, 10)
		if err != nil || len(due) != 1 || due[0].Key != notify.IncidentKey("i1") || due[0].Notification.Incident.ID != "i1" {
			t.Fatalf("due for %s after reopen: %+v, %v", sink, due, err)
		}
	}
	got, err := s.IncidentDeliveries([]string{"i1", "i2"})
	if err != nil || len(got["i1"]) != 2 || len(got["i2"]) != 0 {
		t.Fatalf("deliveries: %+v, %v", got, err)
	}
}

// A finish whose outbox records cannot be written leaves no ended incident
// either: the two are one transaction.
func TestFinishWithABadOutboxRecordWritesNothing(t *testing.T) {
	s := open(t, t.TempDir(), Options{HistoryMaxEntries: 10})
	t0 := time.Now()
	if err := s.Start(InFlight{IncidentID: "i1", Item: entry("prod", "f1", t0)}); err != nil {
		t.Fatal(err)
	}
	bad := []notify.OutboxRecord{{Sink: "hook"}} // no key
	if err := s.FinishNotify(incident.Record{IncidentID: "i1", EndedAt: t0}, bad); err == nil {
		t.Fatal("finish with a keyless outbox record succeeded")
	}
	h, _ := s.History(0)
	st, _ := s.Load()
	if len(h) != 0 || len(st.InFlight) != 1 {
		t.Fatalf("after a failed finish: history %d, in flight %d; want 0 and 1", len(h), len(st.InFlight))
	}
}

func TestOutboxStoreDueSaveNextDue(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var recs []notify.OutboxRecord
	for i, id := range []string{"c", "a", "b"} {
		at := t0.Add(time.Duration(i) * time.Second)
		recs = append(recs, notify.NewRecords(incidentNotification(id, at), []string{"hook"}, at)...)
	}
	if err := s.AddOutbox(recs); err != nil {
		t.Fatal(err)
	}
	due, err := s.Due("hook", t0.Add(time.Hour), 2)
	if err != nil || len(due) != 2 || due[0].Notification.Incident.ID != "c" || due[1].Notification.Incident.ID != "a" {
		t.Fatalf("due oldest first, limited: %+v, %v", due, err)
	}
	p := notify.DefaultPolicy()
	failed := p.Apply(due[0], notify.Result{Outcome: notify.Retryable, Err: errors.New("503")}, t0.Add(time.Hour), 0.5)
	if err := s.Save(failed); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(p.Apply(due[1], notify.Result{Outcome: notify.Delivered}, t0.Add(time.Hour), 0.5)); err != nil {
		t.Fatal(err)
	}
	due, _ = s.Due("hook", t0.Add(time.Hour), 10)
	if len(due) != 1 || due[0].Notification.Incident.ID != "b" {
		t.Fatalf("due after one retry and one delivery: %+v", due)
	}
	next, ok, err := s.NextDue("hook")
	if err != nil || !ok || !next.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("NextDue %v %v %v; want b's %v", next, ok, err, t0.Add(2*time.Second))
	}
	depth, _ := s.OutboxDepth()
	if depth["hook"] != 2 {
		t.Fatalf("depth %v, want 2 pending", depth)
	}
	// Adding a record already stored keeps the stored one (and its attempts).
	if err := s.AddOutbox(recs[:1]); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Deliveries(recs[0].Key)
	if len(got) != 1 || got[0].Attempts != 1 {
		t.Fatalf("re-added record replaced the stored one: %+v", got)
	}
}

func TestPendingRecordsOfRemovedSinksAreDeadLettered(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	t0 := time.Now()
	n := incidentNotification("i1", t0)
	if err := s.AddOutbox(notify.NewRecords(n, []string{"kept", "gone"}, t0)); err != nil {
		t.Fatal(err)
	}
	marked, err := s.DeadLetterUnknown([]string{"kept"}, t0)
	if err != nil || len(marked) != 1 || marked[0].Sink != "gone" {
		t.Fatalf("marked %+v, %v", marked, err)
	}
	got, _ := s.Deliveries(n.IdempotencyKey)
	for _, r := range got {
		want := notify.StatePending
		if r.Sink == "gone" {
			want = notify.StateDead
		}
		if r.State != want || (r.Sink == "gone" && r.DeadReason != notify.DeadUnknownSink) {
			t.Errorf("%s: %s %q", r.Sink, r.State, r.DeadReason)
		}
	}
}

func TestPruneOutboxKeepsPendingAndBoundsFinished(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := notify.DefaultPolicy()
	for i := range 6 {
		at := t0.Add(time.Duration(i) * time.Hour)
		r := notify.NewRecords(incidentNotification(string(rune('a'+i)), at), []string{"hook"}, at)[0]
		switch {
		case i < 4:
			r = p.Apply(r, notify.Result{Outcome: notify.Delivered}, at, 0)
		case i == 4:
			r = p.Apply(r, notify.Result{Outcome: notify.Permanent}, at, 0)
		}
		if err := s.AddOutbox([]notify.OutboxRecord{r}); err != nil {
			t.Fatal(err)
		}
	}
	// a is too old; of b, c, d (delivered) and e (dead) two are kept.
	n, err := s.PruneOutbox(4*time.Hour+30*time.Minute, 2, t0.Add(5*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want 3", n, err)
	}
	for id, want := range map[string]int{"a": 0, "b": 0, "c": 0, "d": 1, "e": 1, "f": 1} {
		got, _ := s.Deliveries(notify.IncidentKey(id))
		if len(got) != want {
			t.Errorf("incident %s: %d records, want %d", id, len(got), want)
		}
	}
}
