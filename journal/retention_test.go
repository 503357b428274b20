package journal

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// TestPrunedRecordsNameTheirWorkspaces: every record the history prunes,
// by count or by age, reports its workspace once after its transaction
// commits; Workspaces lists those of the remaining records and of the
// in-flight incidents.
func TestPrunedRecordsNameTheirWorkspaces(t *testing.T) {
	var (
		mu     sync.Mutex
		pruned []string
	)
	s := open(t, t.TempDir(), Options{HistoryMaxEntries: 2, HistoryMaxAge: time.Hour, OnPruned: func(ws []string) {
		mu.Lock()
		defer mu.Unlock()
		pruned = append(pruned, ws...)
	}})
	defer s.Close()
	if _, oldest, err := s.Workspaces(); err != nil || !oldest.IsZero() {
		t.Fatalf("empty store: oldest %v (%v), want zero", oldest, err)
	}
	now := time.Now()
	finish := func(id string, at time.Time) {
		t.Helper()
		if err := s.Finish(incident.Record{IncidentID: id, Status: "success", EndedAt: at, Workspace: "/ws/prod/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		finish(id, now.Add(time.Duration(i)*time.Second))
	}
	if want := []string{"/ws/prod/a", "/ws/prod/b"}; !slices.Equal(pruned, want) {
		t.Fatalf("pruned by count: %v, want %v", pruned, want)
	}
	if err := s.Start(InFlight{IncidentID: "run", Item: entry("prod", "f", now), Workspace: "/ws/prod/run"}); err != nil {
		t.Fatal(err)
	}
	named, oldest, err := s.Workspaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(named) != 3 || !named["/ws/prod/c"] || !named["/ws/prod/d"] || !named["/ws/prod/run"] {
		t.Fatalf("Workspaces() = %v, want c, d and the in-flight run", named)
	}
	if want := now.Add(2 * time.Second); !oldest.Equal(want) {
		t.Errorf("oldest = %v, want c's end %v", oldest, want)
	}
	// Two hours later, c and d are past the age limit.
	finish("late", now.Add(2*time.Hour))
	if want := []string{"/ws/prod/a", "/ws/prod/b", "/ws/prod/c", "/ws/prod/d"}; !slices.Equal(pruned, want) {
		t.Fatalf("pruned by age: %v, want %v", pruned, want)
	}
}
