package incident

import (
	"encoding/json"
	"testing"
	"time"
)

// The history keeps the names it was published with: a record must read
// back from a file an earlier version wrote, and /incidents clients rely on
// "attempts" and "faultType".
func TestRecordKeepsItsPublishedFieldNames(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := Result{IncidentID: "f1-x", Cluster: "prod", FaultID: "f1", Status: StatusTimeout, Reason: "slow",
		StartedAt: at, EndedAt: at.Add(time.Minute), DurationSeconds: 60, Attempt: 2, Workspace: "/w/prod/f1-x",
		ReportBytes: 10, TimeoutSeconds: 60}
	data, err := json.Marshal(r.Record("CrashLoop"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"incidentId":"f1-x","cluster":"prod","faultId":"f1","faultType":"CrashLoop","status":"timeout","reason":"slow",` +
		`"attempts":2,"startedAt":"2026-01-02T03:04:05Z","endedAt":"2026-01-02T03:05:05Z","durationSeconds":60,"workspace":"/w/prod/f1-x"}`
	if string(data) != want {
		t.Fatalf("record JSON\n got %s\nwant %s", data, want)
	}
}
