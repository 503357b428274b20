package grouping

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

var t0 = time.Date(2026, 12, 2, 7, 5, 43, 0, time.UTC)

func deployment(name string) []fault.Owner {
	return []fault.Owner{{Kind: "ReplicaSet", Name: name + "-7d9f"}, {Kind: "Deployment", Name: name}}
}

func podFault(seq uint64, at time.Time, name, faultType, severity, node string, owners []fault.Owner) Member {
	return Member{
		Seq: seq, Cluster: "prod", Enqueued: at,
		Event: fault.Event{
			Source: fault.SourceMCP, Cluster: "prod", FaultID: fmt.Sprintf("f%d", seq),
			FaultType: faultType, Severity: severity,
			Resource: fault.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: name},
		},
		Topology: fault.Topology{Node: node, Owners: owners},
	}
}

func nodeFault(seq uint64, at time.Time, name string) Member {
	return Member{
		Seq: seq, Cluster: "prod", Enqueued: at,
		Event: fault.Event{
			Source: fault.SourceMCP, Cluster: "prod", FaultID: fmt.Sprintf("f%d", seq),
			FaultType: fault.TypeNodeUnhealthy, Severity: "critical",
			Resource: fault.Resource{APIVersion: "v1", Kind: "Node", Name: name},
		},
		Topology: fault.Topology{Node: name},
	}
}

func seqs(ms []Member) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

// describe is a group as one comparable line: key, primary, member seqs.
func describe(gs []Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = fmt.Sprintf("%s primary=%d members=%v", g.Key, g.Primary.Seq, seqs(g.Members))
	}
	return out
}

func wantGroups(t *testing.T, got Outcome, want ...string) {
	t.Helper()
	if d := describe(got.Ready); !slices.Equal(d, want) {
		t.Fatalf("ready groups:\n  got  %q\n  want %q", d, want)
	}
}

func TestANodeWithThreeDeploymentsOnItIsOneGroupAndAnUnrelatedPodAnother(t *testing.T) {
	waiting := []Member{nodeFault(1, t0, "n1")}
	seq := uint64(2)
	for _, d := range []string{"web", "api", "cache"} {
		for i := range 4 {
			waiting = append(waiting, podFault(seq, t0.Add(time.Second), fmt.Sprintf("%s-7d9f-%d", d, i), fault.TypePodCrash, "warning", "n1", deployment(d)))
			seq++
		}
	}
	waiting = append(waiting, podFault(seq, t0.Add(2*time.Second), "other-1", fault.TypeCrashLoop, "critical", "n2", deployment("other")))

	got := Plan(waiting, nil, t0.Add(time.Minute), Options{Wait: 30 * time.Second})
	wantGroups(t, got,
		"node:n1 primary=1 members=[1 2 3 4 5 6 7 8 9 10 11 12 13]",
		"owner:Deployment/default/other primary=14 members=[14]")
	if g := got.Ready[0]; g.Kind != KindNode || !slices.Contains(g.Keys, "owner:Deployment/default/cache") {
		t.Errorf("node group kind %q keys %q: want kind node holding every owner's key", g.Kind, g.Keys)
	}
	if !got.NextWake.IsZero() {
		t.Errorf("NextWake = %v with nothing left waiting, want zero", got.NextWake)
	}

	off := Plan(waiting, nil, t0, Options{})
	if len(off.Ready) != len(waiting) {
		t.Fatalf("with Wait 0: %d groups, want one per fault (%d)", len(off.Ready), len(waiting))
	}
	for i, g := range off.Ready {
		if len(g.Members) != 1 || g.Members[0].Seq != uint64(i+1) || g.Primary.Seq != uint64(i+1) {
			t.Errorf("with Wait 0, group %d = %v, want fault %d alone", i, seqs(g.Members), i+1)
		}
	}
}

func TestPodsOnOneNodeDoNotJoinByTheNodeAlone(t *testing.T) {
	waiting := []Member{
		podFault(1, t0, "web-7d9f-a", fault.TypePodCrash, "warning", "n1", deployment("web")),
		podFault(2, t0, "api-7d9f-a", fault.TypePodCrash, "warning", "n1", deployment("api")),
		podFault(3, t0, "lonely", fault.TypePodCrash, "warning", "n1", nil),
	}
	got := Plan(waiting, nil, t0.Add(time.Minute), Options{Wait: 30 * time.Second})
	wantGroups(t, got,
		"owner:Deployment/default/web primary=1 members=[1]",
		"owner:Deployment/default/api primary=2 members=[2]",
		"resource:Pod/default/lonely primary=3 members=[3]")
	for _, g := range got.Ready {
		if slices.Contains(g.Keys, "node:n1") {
			t.Errorf("group %s keeps node:n1 though the node is not at fault: a later pod on n1 would attach to it", g.Key)
		}
	}
}

func TestTheSamePodsFaultsJoinOneGroup(t *testing.T) {
	waiting := []Member{
		podFault(1, t0, "lonely", fault.TypePodCrash, "warning", "n2", nil),
		podFault(2, t0.Add(time.Second), "lonely", fault.TypeCrashLoop, "critical", "n2", nil),
	}
	got := Plan(waiting, nil, t0.Add(time.Minute), Options{Wait: 30 * time.Second})
	// The CrashLoop is the more severe: it leads.
	wantGroups(t, got, "resource:Pod/default/lonely primary=2 members=[1 2]")
}

func TestDebounceWaitsForTheNewestMember(t *testing.T) {
	waiting := []Member{
		podFault(1, t0, "web-7d9f-a", fault.TypePodCrash, "warning", "n1", deployment("web")),
		podFault(2, t0.Add(20*time.Second), "web-7d9f-b", fault.TypePodCrash, "warning", "n1", deployment("web")),
	}
	o := Options{Wait: 30 * time.Second}

	early := Plan(waiting, nil, t0.Add(40*time.Second), o)
	wantGroups(t, early)
	if want := t0.Add(50 * time.Second); !early.NextWake.Equal(want) {
		t.Errorf("NextWake = %v, want the newest member's arrival + Wait = %v", early.NextWake, want)
	}
	wantGroups(t, Plan(waiting, nil, t0.Add(50*time.Second), o), "owner:Deployment/default/web primary=1 members=[1 2]")
}

func TestMaxWaitBoundsATrickle(t *testing.T) {
	var waiting []Member
	for i := range 4 {
		waiting = append(waiting, podFault(uint64(i+1), t0.Add(time.Duration(i)*20*time.Second), fmt.Sprintf("web-7d9f-%d", i), fault.TypePodCrash, "warning", "", deployment("web")))
	}
	now := t0.Add(60 * time.Second) // the last arrived just now

	held := Plan(waiting, nil, now, Options{Wait: 30 * time.Second})
	wantGroups(t, held)
	if want := t0.Add(90 * time.Second); !held.NextWake.Equal(want) {
		t.Errorf("without MaxWait NextWake = %v, want %v", held.NextWake, want)
	}

	bounded := Plan(waiting, nil, now, Options{Wait: 30 * time.Second, MaxWait: 60 * time.Second})
	wantGroups(t, bounded, "owner:Deployment/default/web primary=1 members=[1 2 3 4]")

	before := Plan(waiting[:3], nil, t0.Add(45*time.Second), Options{Wait: 30 * time.Second, MaxWait: 60 * time.Second})
	if want := t0.Add(60 * time.Second); !before.NextWake.Equal(want) {
		t.Errorf("NextWake = %v, want the oldest member's arrival + MaxWait = %v", before.NextWake, want)
	}
}

func TestMaxSizeMakesAGroupReadyAtOnceAndLeavesTheRestWaiting(t *testing.T) {
	var waiting []Member
	for i := range 5 {
		waiting = append(waiting, podFault(uint64(i+1), t0, fmt.Sprintf("web-7d9f-%d", i), fault.TypePodCrash, "warning", "n1", deployment("web")))
	}
	waiting = append(waiting, nodeFault(6, t0, "n1"))

	got := Plan(waiting, nil, t0, Options{Wait: time.Minute, MaxSize: 3})
	// The node fault leads even though it came last; the oldest others
	// fill the group.
	wantGroups(t, got, "node:n1 primary=6 members=[1 2 6]")
	if !got.NextWake.Equal(t0) {
		t.Errorf("NextWake = %v with members left over, want now (%v)", got.NextWake, t0)
	}

	notFull := Plan(waiting[:2], nil, t0, Options{Wait: time.Minute, MaxSize: 3})
	wantGroups(t, notFull)
}

func TestANodeFaultAbsorbsItsPodsWaitingGroups(t *testing.T) {
	pods := []Member{
		// As severe as the node fault and older: the node still leads.
		podFault(1, t0, "web-7d9f-a", fault.TypeCrashLoop, "critical", "n1", deployment("web")),
		podFault(2, t0, "web-7d9f-b", fault.TypePodCrash, "warning", "n1", deployment("web")),
		podFault(3, t0, "api-7d9f-a", fault.TypePodCrash, "warning", "n1", deployment("api")),
	}
	o := Options{Wait: 30 * time.Second}
	if got := Plan(pods, nil, t0.Add(10*time.Second), o); len(got.Ready) != 0 || !got.NextWake.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("pods alone: ready %v, NextWake %v; want nothing ready until %v", describe(got.Ready), got.NextWake, t0.Add(30*time.Second))
	}

	withNode := append(slices.Clone(pods), nodeFault(4, t0.Add(10*time.Second), "n1"))
	// When the pods alone would have been ready, the node has joined
	// them and the wait counts from it.
	if got := Plan(withNode, nil, t0.Add(30*time.Second), o); len(got.Ready) != 0 || !got.NextWake.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("with the node: ready %v, NextWake %v; want nothing ready until %v", describe(got.Ready), got.NextWake, t0.Add(40*time.Second))
	}
	wantGroups(t, Plan(withNode, nil, t0.Add(40*time.Second), o), "node:n1 primary=4 members=[1 2 3 4]")
}

func TestReadyGroupsComeInQueueOrderOfTheirOldestMember(t *testing.T) {
	waiting := []Member{
		podFault(5, t0, "lonely", fault.TypeCrashLoop, "critical", "n2", nil),
		podFault(3, t0, "api-7d9f-a", fault.TypePodCrash, "warning", "n1", deployment("api")),
		podFault(1, t0, "web-7d9f-a", fault.TypePodCrash, "warning", "n1", deployment("web")),
		podFault(4, t0, "web-7d9f-b", fault.TypePodCrash, "warning", "n1", deployment("web")),
		podFault(2, t0, "lonely", fault.TypePodCrash, "warning", "n2", nil),
	}
	given := slices.Clone(waiting)
	got := Plan(waiting, nil, t0.Add(time.Minute), Options{Wait: time.Second})
	wantGroups(t, got,
		"owner:Deployment/default/web primary=1 members=[1 4]",
		"resource:Pod/default/lonely primary=5 members=[2 5]",
		"owner:Deployment/default/api primary=3 members=[3]")
	if !slices.EqualFunc(waiting, given, func(a, b Member) bool { return a.Seq == b.Seq }) {
		t.Errorf("Plan reordered the caller's slice: %v", seqs(waiting))
	}
}

// webIncident is an investigation of web's pods crashing, ended at ended.
func webIncident(ended time.Time) Incident {
	return Incident{
		ID:          "inc-web",
		Keys:        []Key{"owner:Deployment/default/web", "resource:Pod/default/web-7d9f-a"},
		FaultTypes:  []string{fault.TypePodCrash},
		MaxSeverity: fault.SeverityWarning,
		Ended:       ended,
	}
}

func TestCooldownAttachesMatchingFaultsToTheIncident(t *testing.T) {
	now := t0.Add(time.Hour)
	o := Options{Wait: 30 * time.Second, Cooldown: 10 * time.Minute}
	late := []Member{podFault(7, now.Add(-time.Minute), "web-7d9f-c", fault.TypePodCrash, "warning", "n3", deployment("web"))}

	got := Plan(late, []Incident{webIncident(now.Add(-5 * time.Minute))}, now, o)
	wantGroups(t, got)
	if len(got.Related) != 1 || got.Related[0].Incident != "inc-web" || got.Related[0].Key != "owner:Deployment/default/web" || got.Related[0].Member.Seq != 7 {
		t.Fatalf("related = %+v, want fault 7 attached to inc-web by its owner", got.Related)
	}

	running := webIncident(time.Time{})
	running.Running = true
	if got := Plan(late, []Incident{running}, now, Options{Wait: 30 * time.Second}); len(got.Related) != 1 || len(got.Ready) != 0 {
		t.Errorf("a running incident with no cooldown: related %d ready %d, want the fault attached", len(got.Related), len(got.Ready))
	}

	over := Plan(late, []Incident{webIncident(now.Add(-11 * time.Minute))}, now, o)
	if len(over.Related) != 0 {
		t.Errorf("after the cooldown: related %+v, want none", over.Related)
	}
	wantGroups(t, over, "owner:Deployment/default/web primary=7 members=[7]")
}

func TestEscalationRunsANewFaultTypeOrAHigherSeverity(t *testing.T) {
	now := t0.Add(time.Hour)
	o := Options{Wait: 30 * time.Second, Cooldown: 10 * time.Minute}
	recent := []Incident{webIncident(now.Add(-5 * time.Minute))}
	for _, c := range []struct {
		name     string
		m        Member
		reason   string
		attached bool
	}{
		{"same type and severity", podFault(7, now.Add(-time.Minute), "web-7d9f-a", fault.TypePodCrash, "warning", "", deployment("web")), "", true},
		{"lower severity", podFault(7, now.Add(-time.Minute), "web-7d9f-a", fault.TypePodCrash, "info", "", deployment("web")), "", true},
		{"new fault type", podFault(7, now.Add(-time.Minute), "web-7d9f-a", fault.TypeCrashLoop, "warning", "", deployment("web")), ReasonNewFaultType, false},
		{"higher severity", podFault(7, now.Add(-time.Minute), "web-7d9f-a", fault.TypePodCrash, "critical", "", deployment("web")), ReasonHigherSeverity, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Plan([]Member{c.m}, recent, now, o)
			if c.attached {
				if len(got.Related) != 1 || len(got.Ready) != 0 {
					t.Fatalf("related %d ready %d: want attached", len(got.Related), len(got.Ready))
				}
				return
			}
			if len(got.Related) != 0 || len(got.Ready) != 1 {
				t.Fatalf("related %d ready %d: want a run of its own", len(got.Related), len(got.Ready))
			}
			want := []Escalation{{Seq: 7, Incident: "inc-web", Reason: c.reason}}
			if e := got.Ready[0].Escalations; !slices.Equal(e, want) {
				t.Errorf("escalations %+v, want %+v", e, want)
			}
		})
	}
}

func TestAWrongVerdictLiftsTheCooldown(t *testing.T) {
	now := t0.Add(time.Hour)
	inc := webIncident(now.Add(-5 * time.Minute))
	inc.CooldownLifted = true
	late := []Member{podFault(7, now.Add(-time.Minute), "web-7d9f-a", fault.TypePodCrash, "warning", "", deployment("web"))}
	got := Plan(late, []Incident{inc}, now, Options{Wait: 30 * time.Second, Cooldown: 10 * time.Minute})
	if len(got.Related) != 0 {
		t.Fatalf("related %+v after a wrong verdict, want none", got.Related)
	}
	wantGroups(t, got, "owner:Deployment/default/web primary=7 members=[7]")
	if len(got.Ready[0].Escalations) != 0 {
		t.Errorf("escalations %+v: a lifted cooldown is a fresh run, not an escalation", got.Ready[0].Escalations)
	}
}

func TestPodsOnANodeInCooldownAttachToTheNodesIncident(t *testing.T) {
	now := t0.Add(time.Hour)
	nodeInc := Incident{ID: "inc-n1", Keys: []Key{"node:n1", "resource:Node/n1"},
		FaultTypes: []string{fault.TypeNodeUnhealthy, fault.TypePodCrash}, MaxSeverity: fault.SeverityCritical,
		Ended: now.Add(-2 * time.Minute)}
	waiting := []Member{
		podFault(8, now.Add(-time.Minute), "web-7d9f-a", fault.TypePodCrash, "warning", "n1", deployment("web")),
		// New to the node's incident: these run, together, by the node.
		podFault(9, now.Add(-time.Minute), "web-7d9f-a", fault.TypeCrashLoop, "critical", "n1", deployment("web")),
		podFault(10, now.Add(-time.Minute), "api-7d9f-a", fault.TypeCrashLoop, "critical", "n1", deployment("api")),
	}
	got := Plan(waiting, []Incident{nodeInc}, now, Options{Wait: 30 * time.Second, Cooldown: 10 * time.Minute})
	if len(got.Related) != 1 || got.Related[0].Member.Seq != 8 || got.Related[0].Key != "node:n1" {
		t.Fatalf("related %+v, want fault 8 attached by node:n1", got.Related)
	}
	wantGroups(t, got, "node:n1 primary=9 members=[9 10]")
}

func TestKeysAreBoundedAndStable(t *testing.T) {
	long := strings.Repeat("x", fault.MaxFieldBytes)
	m := podFault(1, t0, long, fault.TypePodCrash, "warning", long, []fault.Owner{{Kind: "Deployment", Name: long}})
	a, b := m.Keys(), m.Keys()
	if !slices.Equal(a, b) || len(a) != 3 {
		t.Fatalf("keys %q then %q: want three, the same each time", a, b)
	}
	for i, want := range []Kind{KindNode, KindOwner, KindResource} {
		if len(a[i]) > MaxKeyBytes || a[i].Kind() != want {
			t.Errorf("key %d is %d bytes of kind %q, want at most %d of kind %q", i, len(a[i]), a[i].Kind(), MaxKeyBytes, want)
		}
	}
	other := podFault(1, t0, long[1:]+"y", fault.TypePodCrash, "warning", "", nil)
	if other.Keys()[0] == a[2] {
		t.Errorf("two different long names share the key %q", a[2])
	}
}

func TestAControllersOwnFaultJoinsItsPods(t *testing.T) {
	dep := Member{Seq: 2, Cluster: "prod", Enqueued: t0, Event: fault.Event{
		Source: fault.SourceMCP, FaultID: "d", FaultType: fault.TypeDeploymentFailure, Severity: "critical",
		Resource: fault.Resource{Kind: "Deployment", Namespace: "default", Name: "web"}}}
	waiting := []Member{podFault(1, t0, "web-7d9f-a", fault.TypePodCrash, "warning", "", deployment("web")), dep}
	wantGroups(t, Plan(waiting, nil, t0.Add(time.Minute), Options{Wait: time.Second}), "owner:Deployment/default/web primary=2 members=[1 2]")
}

// stormMembers is n faults of one cluster: pods of many Deployments on
// many nodes, a few of the nodes at fault, in shuffled order.
func stormMembers(n int) []Member {
	r := rand.New(rand.NewPCG(1, 2))
	ms := make([]Member, 0, n)
	for i := range n {
		seq := uint64(i + 1)
		at := t0.Add(time.Duration(i) * time.Millisecond)
		node := fmt.Sprintf("n%d", r.IntN(200))
		if i%500 == 0 {
			ms = append(ms, nodeFault(seq, at, node))
			continue
		}
		ms = append(ms, podFault(seq, at, fmt.Sprintf("p%d", i), fault.TypePodCrash, "warning", node, deployment(fmt.Sprintf("d%d", r.IntN(1000)))))
	}
	r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	return ms
}

func TestTenThousandWaitingFaultsAllLandInExactlyOneGroup(t *testing.T) {
	ms := stormMembers(10000)
	got := Plan(ms, nil, t0.Add(time.Hour), Options{Wait: 30 * time.Second})
	seen := map[uint64]bool{}
	for _, g := range got.Ready {
		for _, m := range g.Members {
			if seen[m.Seq] {
				t.Fatalf("fault %d is in two groups", m.Seq)
			}
			seen[m.Seq] = true
		}
	}
	if len(seen) != len(ms) || len(got.Ready) >= len(ms) {
		t.Fatalf("%d faults in %d groups, want all %d in fewer groups", len(seen), len(got.Ready), len(ms))
	}
}

// BenchmarkPlan shows the cost growing with the waiting faults, not with
// their square: compare the 1000 and 10000 runs.
func BenchmarkPlan(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ms := stormMembers(n)
			recent := []Incident{webIncident(t0), {ID: "n", Keys: []Key{"node:n7"}, FaultTypes: []string{fault.TypeNodeUnhealthy}, Running: true}}
			o := Options{Wait: 30 * time.Second, MaxWait: 5 * time.Minute, Cooldown: time.Hour}
			for b.Loop() {
				Plan(ms, recent, t0.Add(time.Hour), o)
			}
		})
	}
}
