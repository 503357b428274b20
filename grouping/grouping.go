// Package grouping decides which queued faults of a cluster become one
// investigation. An agent run costs money and sees only what it is given:
// a node going down with thirty pods on it is one problem, and thirty runs
// that each see a fragment are worse than one run that sees it all.
//
// Faults that share a root-cause key join one group (union-find over the
// waiting faults, so a chain of shared keys joins them all):
//
//   - the same resource: a pod's PodCrash and then its CrashLoop;
//   - the same top owner: the pods of one Deployment (through their
//     ReplicaSet), a Job and the CronJob above it, a DeploymentFailure
//     and its pods' crashes;
//   - a node fault and the faults of the pods on that node, whatever owns
//     them. Pods on one node do not join each other by the node alone:
//     two unrelated crashes on a big node are two problems, unless the
//     node itself is at fault (a node fault is waiting, or the node's
//     incident is running or in cooldown).
//
// Timing follows Alertmanager's group_wait with a debounce: a group is
// ready once its newest member has waited Options.Wait (a storm arrives
// over seconds, and the last fault often explains the first), but never
// later than Options.MaxWait after its oldest, so a steady trickle cannot
// hold a group forever. A group that reaches Options.MaxSize is ready at
// once. A node fault that arrives while its pods' group is still waiting
// absorbs that group, and the group's wait starts again from the node.
//
// After a group has run, its incident keeps its keys. A later fault that
// matches a running incident, or one that ended less than
// Options.Cooldown ago, is attached to it as related and gets no run of
// its own: the diagnosis already covers it. It does get its own run
// (escalation) when the incident has not seen its fault type (a new
// symptom the diagnosis never looked at: a pod diagnosed for a crash
// whose node now goes NotReady) or when it is more severe than anything
// the incident held (the problem got worse: a warning diagnosed, now a
// critical). A repeat of a known symptom at a known severity is what the
// cooldown is for. A person's "wrong" verdict on an incident lifts its
// cooldown (Incident.CooldownLifted): a wrong diagnosis must not keep
// absorbing the faults that would get a right one.
//
// Plan is pure: it reads the waiting faults, the recent incidents and the
// time, and returns what to run, what to attach, and when to look again.
// The caller owns the queue, the journal and the timer.
package grouping

import (
	"cmp"
	"slices"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Member is a queued fault waiting for its group.
type Member struct {
	// Seq is the fault's sequence number in its cluster's queue; it
	// orders members (arrival order).
	Seq      uint64
	Cluster  string
	Event    fault.Event
	Topology fault.Topology
	// Enqueued is when the fault entered the queue; the waits count from
	// it.
	Enqueued time.Time
}

// Incident is a running or recently finished incident as the planner
// sees it: what it covered, and whether it still absorbs new faults.
type Incident struct {
	ID string
	// Keys are its group's keys (Group.Keys).
	Keys []Key
	// FaultTypes are the fault types its members had.
	FaultTypes []string
	// MaxSeverity is the highest severity among its members.
	MaxSeverity fault.Severity
	Running     bool
	// Ended is when its run finished; unused while Running.
	Ended time.Time
	// CooldownLifted is set when feedback called its diagnosis wrong.
	CooldownLifted bool
}

// Options are the grouping settings of a cluster.
type Options struct {
	// Wait is the debounce: a group is ready when its newest member has
	// waited this long. Zero turns grouping off: every fault is its own
	// group, ready at once, and nothing is attached to an incident.
	Wait time.Duration
	// MaxWait bounds a group's wait from its oldest member; zero means
	// no bound beyond Wait.
	MaxWait time.Duration
	// MaxSize makes a group ready as soon as it has this many members;
	// members beyond it stay waiting. Zero means no limit.
	MaxSize int
	// Cooldown is how long after an incident ended faults that match it
	// are attached to it rather than run. Zero attaches only to running
	// incidents.
	Cooldown time.Duration
}

// Group is one investigation to run.
type Group struct {
	// Key is the group's strongest key (node > owner > resource): the
	// primary's when it has one of that kind.
	Key  Key
	Kind Kind
	// Primary is the fault the investigation is about first: the first
	// node fault, else the first of the most severe.
	Primary Member
	// Members are the group's faults in arrival order, Primary among them.
	Members []Member
	// Keys are every key that joined the group, strongest first: what
	// its incident should keep so later faults find it.
	Keys []Key
	// Escalations are the members that matched a recent incident but
	// were not covered by it.
	Escalations []Escalation
}

// FaultTypes are the group's distinct fault types in arrival order.
func (g Group) FaultTypes() []string {
	var out []string
	for _, m := range g.Members {
		if !slices.Contains(out, m.Event.FaultType) {
			out = append(out, m.Event.FaultType)
		}
	}
	return out
}

// MaxSeverity is the highest severity among the group's members.
func (g Group) MaxSeverity() fault.Severity {
	var s fault.Severity
	for _, m := range g.Members {
		s = max(s, m.severity())
	}
	return s
}

// Reasons a member matching an incident still gets a run.
const (
	ReasonNewFaultType   = "new fault type"
	ReasonHigherSeverity = "higher severity"
)

// Escalation says why a member that matched an incident runs anyway.
type Escalation struct {
	Seq      uint64
	Incident string
	Reason   string
}

// Related is a fault attached to an existing incident instead of a run.
type Related struct {
	Member   Member
	Incident string
	// Key is the key it matched the incident by.
	Key Key
}

// Outcome is what Plan decided.
type Outcome struct {
	// Ready are the groups to run now, in queue order of their oldest
	// member, so a cluster's queue stays first in, first out.
	Ready []Group
	// Related are faults to attach to incidents, in queue order.
	Related []Related
	// NextWake is the earliest time a waiting group becomes ready; zero
	// when nothing waits. It is now when members beyond a full group are
	// left waiting: plan again once the ready groups are recorded.
	NextWake time.Time
}

// Plan groups the waiting faults of one cluster. recent are that
// cluster's running and recently ended incidents. Members are ordered by
// Seq whatever order they come in; the slices given are not modified.
// Its cost grows as n log n in the waiting faults plus the incidents'
// keys.
func Plan(waiting []Member, recent []Incident, now time.Time, o Options) Outcome {
	// Sort positions, not members: a Member is large, and moving ten
	// thousand of them through a stable sort costs more than the rest of
	// the plan.
	order := make([]int, len(waiting))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(waiting[a].Seq, waiting[b].Seq); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	ms := make([]Member, len(waiting))
	for i, p := range order {
		ms[i] = waiting[p]
	}
	keys := make([]memberKeys, len(ms))
	for i, m := range ms {
		keys[i] = keysOf(m)
	}
	if o.Wait <= 0 {
		return ungrouped(ms, keys)
	}

	idx := indexIncidents(recent, now, o.Cooldown)
	var out Outcome
	live := make([]int, 0, len(ms))
	escalated := map[int]Escalation{}
	for i := range ms {
		inc, key, covered := idx.match(ms[i], keys[i])
		switch {
		case inc == nil:
			live = append(live, i)
		case covered:
			out.Related = append(out.Related, Related{Member: ms[i], Incident: inc.ID, Key: key})
		default:
			reason := ReasonHigherSeverity
			if !slices.Contains(inc.FaultTypes, ms[i].Event.FaultType) {
				reason = ReasonNewFaultType
			}
			escalated[i] = Escalation{Seq: ms[i].Seq, Incident: inc.ID, Reason: reason}
			live = append(live, i)
		}
	}

	// Nodes at fault: a node fault among the faults still to group, or a
	// node key an incident holds.
	type clusterNode struct{ cluster, node string }
	atFault := map[clusterNode]bool{}
	for _, i := range live {
		if keys[i].nodeFault && keys[i].nodeName != "" {
			atFault[clusterNode{ms[i].Cluster, keys[i].nodeName}] = true
		}
	}
	for _, i := range live {
		if k := keys[i]; !k.nodeFault && k.node != "" && idx.has(k.node) {
			atFault[clusterNode{ms[i].Cluster, k.nodeName}] = true
		}
	}
	nodeAtFault := func(i int) bool { return atFault[clusterNode{ms[i].Cluster, keys[i].nodeName}] }

	// Union-find over the live members; keys are scoped by cluster so a
	// mixed batch never joins across clusters.
	type scoped struct {
		cluster string
		key     Key
	}
	uf := newUnionFind(len(live))
	holder := make(map[scoped]int, len(live))
	for li, i := range live {
		for _, k := range keys[i].active(nodeAtFault(i)) {
			sk := scoped{ms[i].Cluster, k}
			if j, ok := holder[sk]; ok {
				uf.union(li, j)
			} else {
				holder[sk] = li
			}
		}
	}
	// Components in order of their first (oldest) member.
	compOf := map[int]int{}
	var comps [][]int
	for li, i := range live {
		root := uf.find(li)
		c, ok := compOf[root]
		if !ok {
			c = len(comps)
			compOf[root] = c
			comps = append(comps, nil)
		}
		comps[c] = append(comps[c], i)
	}

	for _, comp := range comps {
		oldest, newest := ms[comp[0]].Enqueued, ms[comp[0]].Enqueued
		for _, i := range comp[1:] {
			if t := ms[i].Enqueued; t.Before(oldest) {
				oldest = t
			} else if t.After(newest) {
				newest = t
			}
		}
		readyAt := newest.Add(o.Wait)
		if o.MaxWait > 0 {
			if t := oldest.Add(o.MaxWait); t.Before(readyAt) {
				readyAt = t
			}
		}
		full := o.MaxSize > 0 && len(comp) >= o.MaxSize
		if !full && now.Before(readyAt) {
			if out.NextWake.IsZero() || readyAt.Before(out.NextWake) {
				out.NextWake = readyAt
			}
			continue
		}
		primary := primaryOf(ms, keys, comp)
		taken := comp
		if o.MaxSize > 0 && len(comp) > o.MaxSize {
			// The primary and the oldest others: the rest stay for the
			// next plan, where they attach to the incident this group
			// becomes, or form the next group.
			taken = make([]int, 0, o.MaxSize)
			others := 0
			for _, i := range comp {
				if i == primary {
					taken = append(taken, i)
				} else if others < o.MaxSize-1 {
					taken = append(taken, i)
					others++
				}
			}
			out.NextWake = now
		}
		out.Ready = append(out.Ready, buildGroup(ms, keys, taken, primary, nodeAtFault, escalated))
	}
	return out
}

// ungrouped is today's behaviour: one group per fault, in queue order.
func ungrouped(ms []Member, keys []memberKeys) Outcome {
	out := Outcome{Ready: make([]Group, 0, len(ms))}
	for i, m := range ms {
		ks := keys[i].active(false)
		g := Group{Primary: m, Members: []Member{m}, Keys: ks}
		if len(ks) > 0 {
			g.Key, g.Kind = ks[0], ks[0].Kind()
		}
		out.Ready = append(out.Ready, g)
	}
	return out
}

// primaryOf is the first node fault of the component, else its first
// member of the highest severity.
func primaryOf(ms []Member, keys []memberKeys, comp []int) int {
	best := comp[0]
	for _, i := range comp {
		if keys[i].nodeFault {
			return i
		}
		if ms[i].severity() > ms[best].severity() {
			best = i
		}
	}
	return best
}

func buildGroup(ms []Member, keys []memberKeys, taken []int, primary int, nodeAtFault func(int) bool, escalated map[int]Escalation) Group {
	g := Group{Primary: ms[primary], Members: make([]Member, 0, len(taken))}
	seen := map[Key]bool{}
	for _, i := range taken {
		g.Members = append(g.Members, ms[i])
		for _, k := range keys[i].active(nodeAtFault(i)) {
			if !seen[k] {
				seen[k] = true
				g.Keys = append(g.Keys, k)
			}
		}
		if e, ok := escalated[i]; ok {
			g.Escalations = append(g.Escalations, e)
		}
	}
	// Strongest kind first, then by name: bucket by kind rather than
	// parse each key's kind in every comparison.
	var byKind [4][]Key
	for _, k := range g.Keys {
		s := k.Kind().strength()
		byKind[s] = append(byKind[s], k)
	}
	g.Keys = g.Keys[:0]
	for s := len(byKind) - 1; s >= 0; s-- {
		slices.Sort(byKind[s])
		g.Keys = append(g.Keys, byKind[s]...)
	}
	if len(g.Keys) == 0 {
		return g
	}
	g.Kind = g.Keys[0].Kind()
	// The primary's key of the strongest kind names the group; failing
	// that, the first member's that has one.
	order := append([]int{primary}, taken...)
	for _, i := range order {
		for _, k := range keys[i].active(nodeAtFault(i)) {
			if k.Kind() == g.Kind {
				g.Key = k
				return g
			}
		}
	}
	return g
}

// incidentIndex finds the incidents a fault matches, in order of
// preference: running ones first, then the most recently ended.
type incidentIndex struct {
	incidents []Incident
	byKey     map[Key][]int // positions in incidents, in preference order
}

func indexIncidents(recent []Incident, now time.Time, cooldown time.Duration) incidentIndex {
	var eligible []Incident
	for _, inc := range recent {
		inCooldown := !inc.CooldownLifted && cooldown > 0 && now.Sub(inc.Ended) < cooldown
		if inc.Running || inCooldown {
			eligible = append(eligible, inc)
		}
	}
	slices.SortStableFunc(eligible, func(a, b Incident) int {
		if a.Running != b.Running {
			if a.Running {
				return -1
			}
			return 1
		}
		return b.Ended.Compare(a.Ended)
	})
	idx := incidentIndex{incidents: eligible, byKey: map[Key][]int{}}
	for p, inc := range eligible {
		for _, k := range inc.Keys {
			if l := idx.byKey[k]; len(l) == 0 || l[len(l)-1] != p {
				idx.byKey[k] = append(l, p)
			}
		}
	}
	return idx
}

func (x incidentIndex) has(k Key) bool { return len(x.byKey[k]) > 0 }

// match is the incident a member belongs to: the most preferred matching
// incident that covers it (covered), else the most preferred matching one
// (an escalation), else nil. key is the member's key that matched.
func (x incidentIndex) match(m Member, k memberKeys) (inc *Incident, key Key, covered bool) {
	best, bestKey := -1, Key("")
	coverer, coverKey := -1, Key("")
	for _, key := range k.all() {
		for _, p := range x.byKey[key] {
			if best < 0 || p < best {
				best, bestKey = p, key
			}
			if covers(x.incidents[p], m) && (coverer < 0 || p < coverer) {
				coverer, coverKey = p, key
			}
		}
	}
	switch {
	case coverer >= 0:
		return &x.incidents[coverer], coverKey, true
	case best >= 0:
		return &x.incidents[best], bestKey, false
	}
	return nil, "", false
}

// covers says the incident's diagnosis already saw this kind of fault at
// this severity or worse.
func covers(inc Incident, m Member) bool {
	return slices.Contains(inc.FaultTypes, m.Event.FaultType) && m.severity() <= inc.MaxSeverity
}

// unionFind joins members into groups in near-constant time per join,
// which keeps a storm of ten thousand faults linear.
type unionFind struct{ parent, size []int }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n), size: make([]int, n)}
	for i := range u.parent {
		u.parent[i], u.size[i] = i, 1
	}
	return u
}

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

func (u *unionFind) union(a, b int) {
	a, b = u.find(a), u.find(b)
	if a == b {
		return
	}
	if u.size[a] < u.size[b] {
		a, b = b, a
	}
	u.parent[b] = a
	u.size[a] += u.size[b]
}
