package dispatch

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/grouping"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// podFault is a fault of a pod of Deployment web on node n1.
func podFault(id, faultType, severity, pod string) fault.Event {
	return fault.Event{Source: fault.SourceMCP, FaultID: id, FaultType: faultType, Severity: severity,
		Resource: fault.Resource{APIVersion: "v1", Kind: "Pod", Name: pod, Namespace: "ns"},
		Topology: &fault.Topology{Node: "n1", Owners: []fault.Owner{{Kind: "ReplicaSet", Name: "web-5f"}, {Kind: "Deployment", Name: "web"}}}}
}

func (f *fixture) pushEvent(t *testing.T, ev fault.Event) {
	t.Helper()
	if _, _, err := f.queues.Get("prod").Push(ev); err != nil {
		t.Fatal(err)
	}
}

// The pods of one Deployment are one run; a repeat of a symptom the run
// saw attaches to the ended incident in its cooldown and starts nothing;
// a new fault type on the same key runs again, and its event.json recalls
// the first incident.
func TestGroupRunsOnceAttachesRepeatsAndEscalates(t *testing.T) {
	f := start(t, settings{grouping: grouping.Options{Wait: 300 * time.Millisecond, MaxWait: time.Minute, Cooldown: time.Hour}})
	for i, pod := range []string{"ok-a", "ok-b", "ok-c"} {
		f.pushEvent(t, podFault("g"+string(rune('1'+i)), fault.TypeCrashLoop, "warning", pod))
	}
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	rs := f.results(t, "prod")
	if len(rs) != 1 || rs[0].Group == nil || len(rs[0].Group.Members) != 3 || rs[0].Group.Key != "owner:Deployment/ns/web" {
		t.Fatalf("results %+v, want one run covering the 3 pods of Deployment web", rs)
	}
	if got := testutil.ToFloat64(f.m.EventsGrouped.WithLabelValues("prod")); got != 2 {
		t.Errorf("events_grouped_total %v, want 2", got)
	}
	doc := testagent.Event(t, f.root, rs[0])
	if doc.Group == nil || len(doc.Group.Members) != 3 {
		t.Fatalf("event.json group %+v", doc.Group)
	}

	// A repeat of a known symptom at a known severity: related.
	f.pushEvent(t, podFault("g4", fault.TypeCrashLoop, "warning", "ok-d"))
	poll.Until(t, 10*time.Second, "the repeat to attach", func() bool {
		return testutil.ToFloat64(f.m.EventsRelated.WithLabelValues("prod")) == 1
	})
	// A new symptom on the key: a run of its own.
	f.pushEvent(t, podFault("g5", fault.TypePodCrash, "warning", "ok-e"))
	f.waitCompleted(t, "prod", incident.StatusSuccess, 2)
	rs = f.results(t, "prod")
	if len(rs) != 2 {
		t.Fatalf("%d runs, want 2 (the repeat ran none)", len(rs))
	}
	second := testagent.Event(t, f.root, rs[1])
	if second.Fault.FaultID != "g5" || second.Group == nil || len(second.Group.Recall) != 1 || second.Group.Recall[0].IncidentID != rs[0].IncidentID {
		t.Fatalf("second run %s recalls %+v, want the first incident %s", second.Fault.FaultID, second.Group, rs[0].IncidentID)
	}
	if r := second.Group.Recall[0]; r.Status != incident.StatusSuccess || r.Members != 3 || len(r.Summary) == 0 || r.Summary[0] != "finding" {
		t.Errorf("recall %+v, want the first incident's status, its 3 members and its report's first lines", r)
	}
}

// A restart keeps the cooldown: an incident of the history that ended
// within it absorbs a repeat of what it covered.
func TestCooldownSurvivesRestart(t *testing.T) {
	past := incident.Record{IncidentID: "earlier", Cluster: "prod", Status: incident.StatusSuccess, EndedAt: time.Now().Add(-time.Minute),
		Group: &incident.Group{Key: "owner:Deployment/ns/web", Keys: []string{"owner:Deployment/ns/web"},
			Members: []incident.Member{incident.MemberOf(podFault("x", fault.TypeCrashLoop, "critical", "ok-a"), time.Now())}}}
	f := start(t, settings{grouping: grouping.Options{Wait: 100 * time.Millisecond, Cooldown: time.Hour}, recent: []incident.Record{past}})
	f.pushEvent(t, podFault("r1", fault.TypeCrashLoop, "warning", "ok-b"))
	poll.Until(t, 10*time.Second, "the fault to attach to the earlier incident", func() bool {
		return testutil.ToFloat64(f.m.EventsRelated.WithLabelValues("prod")) == 1
	})
	if n := testutil.ToFloat64(f.m.AgentsSpawned.WithLabelValues("prod")); n != 0 || f.queues.Get("prod").Len() != 0 {
		t.Errorf("%v runs and %d queued, want none", n, f.queues.Get("prod").Len())
	}
}

// A wrong verdict, given before a restart, still lifts the cooldown
// after it: the history record carries it.
func TestWrongVerdictSurvivesRestart(t *testing.T) {
	past := incident.Record{IncidentID: "earlier", Cluster: "prod", Status: incident.StatusSuccess, EndedAt: time.Now().Add(-time.Minute),
		Feedback: &incident.Feedback{Verdict: incident.VerdictWrong, At: time.Now()},
		Group: &incident.Group{Key: "owner:Deployment/ns/web", Keys: []string{"owner:Deployment/ns/web"},
			Members: []incident.Member{incident.MemberOf(podFault("x", fault.TypeCrashLoop, "critical", "ok-a"), time.Now())}}}
	f := start(t, settings{grouping: grouping.Options{Wait: 100 * time.Millisecond, Cooldown: time.Hour}, recent: []incident.Record{past}})
	f.pushEvent(t, podFault("w1", fault.TypeCrashLoop, "warning", "ok-b"))
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	if got := testutil.ToFloat64(f.m.EventsRelated.WithLabelValues("prod")); got != 0 {
		t.Errorf("events_related_total %v: the fault attached to a diagnosis marked wrong", got)
	}
}
