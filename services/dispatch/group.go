package dispatch

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/grouping"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// Grouping happens here, at dispatch time, over the durable queue: a
// group's faults stay queued (and in the journal) while the group waits,
// so a crash loses none of them, and they leave the queue together, into
// one incident whose journal record holds them all. The planner
// (package grouping) is pure; this file owns the timer, the queue and the
// incidents the planner is told about.
//
// The breaker, the global slots and the per-cluster workers apply per
// run, not per fault: a group takes one probe and one slot. Expiry and
// severity shedding apply per fault while it waits in the queue.

// groups is the dispatcher's grouping state.
type groups struct {
	mu sync.Mutex
	// planning serialises plan-and-take per cluster, so two workers of
	// one cluster never split a group between them.
	planning map[string]*sync.Mutex
	// recent are each cluster's running and recently ended incidents.
	recent map[string][]*recentIncident
	// byID finds a running incident's group.
	byID map[string]*recentIncident
}

type recentIncident struct {
	cluster string
	inc     grouping.Incident
	doc     incident.Group
	status  incident.Status
	// workspace is the incident's workspace, where its report is.
	workspace string
	feedback  *incident.Feedback
}

func (g *groups) init() {
	g.planning = map[string]*sync.Mutex{}
	g.recent = map[string][]*recentIncident{}
	g.byID = map[string]*recentIncident{}
}

func (g *groups) lock(cluster string) func() {
	g.mu.Lock()
	m := g.planning[cluster]
	if m == nil {
		m = &sync.Mutex{}
		g.planning[cluster] = m
	}
	g.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// grouped says whether faults are grouped at all; with --group-wait 0
// each fault is its own incident, as it was before grouping.
func (d *Dispatcher) grouped() bool { return d.o.Grouping.Wait > 0 }

// restoreRecent brings back the incidents of the history whose cooldown
// has not run out, so a restart does not investigate again what was just
// investigated.
func (d *Dispatcher) restoreRecent(records []incident.Record) {
	if !d.grouped() {
		return
	}
	now := d.o.Now()
	d.groups.mu.Lock()
	defer d.groups.mu.Unlock()
	for _, r := range records {
		if r.Group == nil || now.Sub(r.EndedAt) >= d.o.Grouping.Cooldown {
			continue
		}
		ri := &recentIncident{cluster: r.Cluster, doc: *r.Group, inc: incidentOf(r.IncidentID, *r.Group), status: r.Status, workspace: r.Workspace}
		ri.inc.Ended = r.EndedAt
		ri.inc.CooldownLifted = r.Feedback != nil && r.Feedback.Verdict == incident.VerdictWrong
		ri.feedback = r.Feedback
		d.groups.recent[r.Cluster] = append(d.groups.recent[r.Cluster], ri)
	}
}

func incidentOf(id string, g incident.Group) grouping.Incident {
	inc := grouping.Incident{ID: id}
	for _, k := range g.Keys {
		inc.Keys = append(inc.Keys, grouping.Key(k))
	}
	for _, m := range g.Members {
		if !slices.Contains(inc.FaultTypes, m.FaultType) {
			inc.FaultTypes = append(inc.FaultTypes, m.FaultType)
		}
		inc.MaxSeverity = max(inc.MaxSeverity, fault.ParseSeverity(m.Severity))
	}
	return inc
}

// workGrouped is a worker's loop when faults are grouped: wait until a
// group of the queue is ready, take a breaker probe and a slot as for any
// run, then take the group out of the queue and run it as one incident.
func (d *Dispatcher) workGrouped(ctx context.Context, w *clusterWork, clusterCtx context.Context) bool {
	q := w.q
	for {
		if d.leave(w) {
			return true
		}
		if err := d.waitForWorkspaces(ctx); err != nil {
			return false
		}
		if !d.awaitGroup(ctx, clusterCtx, q) {
			if ctx.Err() != nil {
				return false
			}
			continue
		}
		probe, err := d.o.Breaker.Acquire(ctx)
		if err != nil {
			return false
		}
		if err := d.slots.Acquire(ctx, 1); err != nil {
			d.o.Breaker.Cancel(probe)
			return false
		}
		it, id, stop, ok := d.takeGroup(q, clusterCtx.Err() != nil)
		if stop || !ok {
			d.slots.Release(1)
			d.o.Breaker.Cancel(probe)
			if stop {
				return false
			}
			continue
		}
		d.runGuarded(q, it, id, probe)
		d.slots.Release(1)
	}
}

// awaitGroup sleeps until a group of q is ready to run (true), or the
// queue emptied or ctx ended (false). Once clusterCtx has ended (the
// cluster was removed) groups are ready at once: what is left runs.
func (d *Dispatcher) awaitGroup(ctx, clusterCtx context.Context, q *queue.Queue) bool {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		changed := q.Changed()
		unlock := d.groups.lock(q.Cluster())
		out := d.plan(q, clusterCtx.Err() != nil)
		unlock()
		switch {
		case len(out.Ready) > 0:
			return true
		case out.NextWake.IsZero():
			return false // nothing waits: everything was related, or taken
		}
		wait := out.NextWake.Sub(d.o.Now())
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return false
		case <-clusterCtx.Done():
		case <-changed:
			// A flood changes the queue thousands of times a second, and
			// each plan reads the whole queue: plan at most every
			// replanEvery, with whatever arrived meanwhile.
			select {
			case <-ctx.Done():
				return false
			case <-time.After(replanEvery):
			}
		case <-timer.C:
		}
	}
}

// replanEvery bounds how often a queue change makes a waiting worker plan
// again. It delays a group only when a change made it ready (a full
// group), by at most this; the waits are seconds.
const replanEvery = 50 * time.Millisecond

// plan runs the planner over q's waiting faults and attaches the related
// ones to their incidents. The caller holds the cluster's planning lock.
func (d *Dispatcher) plan(q *queue.Queue, now bool) grouping.Outcome {
	items := q.Snapshot()
	members := make([]grouping.Member, len(items))
	for i, it := range items {
		members[i] = grouping.Member{Seq: it.Seq, Cluster: it.Cluster, Event: it.Event, Enqueued: it.EnqueuedAt}
		if it.Event.Topology != nil {
			members[i].Topology = *it.Event.Topology
		}
	}
	o := d.o.Grouping
	if now {
		o.MaxWait = time.Nanosecond
	}
	out := grouping.Plan(members, d.recentOf(q.Cluster()), d.o.Now(), o)
	if len(out.Related) > 0 {
		d.attachRelated(q, out.Related)
	}
	return out
}

func (d *Dispatcher) recentOf(cluster string) []grouping.Incident {
	now := d.o.Now()
	d.groups.mu.Lock()
	defer d.groups.mu.Unlock()
	kept := d.groups.recent[cluster][:0]
	var out []grouping.Incident
	for _, ri := range d.groups.recent[cluster] {
		if !ri.inc.Running && now.Sub(ri.inc.Ended) >= d.o.Grouping.Cooldown {
			continue // its cooldown is over: forget it
		}
		kept = append(kept, ri)
		out = append(out, ri.inc)
	}
	clear(d.groups.recent[cluster][len(kept):])
	d.groups.recent[cluster] = kept
	return out
}

// attachRelated takes faults that an incident already covers out of the
// queue and records them with it: they start no run.
func (d *Dispatcher) attachRelated(q *queue.Queue, rel []grouping.Related) {
	seqs := make([]uint64, len(rel))
	for i, r := range rel {
		seqs[i] = r.Member.Seq
	}
	taken := q.Discard(seqs)
	d.groups.mu.Lock()
	defer d.groups.mu.Unlock()
	for _, it := range taken {
		var to string
		for _, r := range rel {
			if r.Member.Seq == it.Seq {
				to = r.Incident
			}
		}
		for _, ri := range d.groups.recent[q.Cluster()] {
			if ri.inc.ID == to && len(ri.doc.Related) < maxRelatedKept {
				ri.doc.Related = append(ri.doc.Related, incident.MemberOf(it.Event, it.EnqueuedAt))
			}
		}
		d.o.Metrics.EventsRelated.WithLabelValues(q.Cluster()).Inc()
		d.logger.Info("Fault attached to an incident that covers it; no run of its own",
			"cluster", q.Cluster(), "incident_id", to, "fault_id", it.Event.FaultID, "fault_type", it.Event.FaultType)
	}
}

// maxRelatedKept bounds the related faults an incident's record lists;
// events_related_total counts them all.
const maxRelatedKept = 256

// takeGroup plans once more (the group may have grown while the worker
// waited for a slot), takes the first ready group out of the queue and
// registers it as running. stop is true once the dispatcher stops.
func (d *Dispatcher) takeGroup(q *queue.Queue, now bool) (it queue.Item, id string, stop, ok bool) {
	unlock := d.groups.lock(q.Cluster())
	defer unlock()
	out := d.plan(q, now)
	if len(out.Ready) == 0 {
		return queue.Item{}, "", false, false
	}
	g := out.Ready[0]
	seqs := make([]uint64, len(g.Members))
	for i, m := range g.Members {
		seqs[i] = m.Seq
	}
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return queue.Item{}, "", true, false
	}
	items := q.Take(seqs)
	if len(items) == 0 {
		d.mu.Unlock()
		return queue.Item{}, "", false, false
	}
	primary := slices.IndexFunc(items, func(it queue.Item) bool { return it.Seq == g.Primary.Seq })
	if primary < 0 {
		primary = 0
	}
	it = items[primary]
	it.Members = slices.Delete(slices.Clone(items), primary, primary+1)
	id = incidentID(it, d.o.Now())
	it.Attempts++
	d.running[id] = it.Cluster
	d.runningFaults[faultKey{it.Cluster, it.Event.FaultID}] = id
	d.inFlight.Add(1)
	d.mu.Unlock()

	doc := incident.Group{Key: string(g.Key), Kind: string(g.Kind), Primary: it.Event.FaultID}
	for _, k := range g.Keys {
		doc.Keys = append(doc.Keys, string(k))
	}
	for _, m := range items {
		doc.Members = append(doc.Members, incident.MemberOf(m.Event, m.EnqueuedAt))
		if m.Event.Topology != nil {
			doc.LookupFailures = append(doc.LookupFailures, m.Event.Topology.Failures...)
		}
	}
	inc := incidentOf(id, doc)
	inc.Running = true
	ri := &recentIncident{cluster: it.Cluster, inc: inc, doc: doc, workspace: filepath.Join(d.o.WorkspaceRoot, it.Cluster, id)}
	// The earlier reports are read outside the locks; the planning lock
	// is still held, so no other worker of the cluster plans before the
	// incident is registered below.
	recall := d.recall(it.Cluster, g.Key)
	d.groups.mu.Lock()
	ri.doc.Recall = recall
	d.groups.recent[it.Cluster] = append(d.groups.recent[it.Cluster], ri)
	d.groups.byID[id] = ri
	d.groups.mu.Unlock()
	if n := len(items) - 1; n > 0 {
		d.o.Metrics.EventsGrouped.WithLabelValues(it.Cluster).Add(float64(n))
	}
	for _, e := range g.Escalations {
		d.logger.Info("Fault matched an incident but runs again", "cluster", it.Cluster,
			"incident_id", id, "matched_incident_id", e.Incident, "reason", e.Reason)
	}
	return it, id, false, true
}

// recall lists the ended incidents of the cluster that held key, newest
// first, at most --recall-max-incidents, each with its report's summary.
func (d *Dispatcher) recall(cluster string, key grouping.Key) []incident.Recall {
	var out []incident.Recall
	var workspaces []string
	d.groups.mu.Lock()
	for _, ri := range slices.Backward(d.groups.recent[cluster]) {
		if len(out) >= d.o.RecallMax {
			break
		}
		if ri.inc.Running || !slices.Contains(ri.inc.Keys, key) {
			continue
		}
		out = append(out, incident.Recall{IncidentID: ri.inc.ID, EndedAt: ri.inc.Ended, Status: ri.status,
			Members: len(ri.doc.Members), Feedback: ri.feedback})
		workspaces = append(workspaces, ri.workspace)
	}
	d.groups.mu.Unlock()
	for i := range out {
		out[i].Title, out[i].Summary = d.reportSummary(workspaces[i])
	}
	return out
}

// recallReportBytes bounds what is read of an earlier incident's report
// for its summary.
const recallReportBytes = 64 << 10

// reportSummary is the first heading and lines of the report an incident
// left in its workspace; empty without one.
func (d *Dispatcher) reportSummary(ws string) (string, []string) {
	if d.o.Agent.ReportFile == "" || ws == "" {
		return "", nil
	}
	f, err := os.Open(filepath.Join(ws, d.o.Agent.ReportFile))
	if err != nil {
		return "", nil
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, recallReportBytes))
	s := notify.Summarize(string(data), 5)
	return s.Title, s.Lines
}

// groupDoc is the group a running incident covers (nil: a fault alone).
func (d *Dispatcher) groupDoc(id string) *incident.Group {
	d.groups.mu.Lock()
	defer d.groups.mu.Unlock()
	ri := d.groups.byID[id]
	if ri == nil {
		return nil
	}
	doc := ri.doc
	doc.Members = slices.Clone(doc.Members)
	doc.Related = slices.Clone(doc.Related)
	return &doc
}

// noteGroup copies what the incident covered, related faults included,
// into its result; the recall stays in event.json.
func (d *Dispatcher) noteGroup(id string, result *incident.Result) {
	if g := d.groupDoc(id); g != nil {
		g.Recall = nil
		result.Group = g
	}
}

// Judged takes a person's verdict on a finished incident: a wrong
// diagnosis lifts the cooldown of its key, so the next fault of the key
// is investigated afresh instead of attached to a diagnosis known to be
// wrong; a right one (again) restores it.
func (d *Dispatcher) Judged(cluster, id string, f incident.Feedback) {
	d.groups.mu.Lock()
	defer d.groups.mu.Unlock()
	for _, ri := range d.groups.recent[cluster] {
		if ri.inc.ID == id {
			ri.inc.CooldownLifted = f.Verdict == incident.VerdictWrong
			ri.feedback = &f
		}
	}
}

// groupEnded marks a grouped incident ended: its cooldown starts. An
// interrupted incident is forgotten instead, since its faults go back to
// the queue and will be investigated again.
func (d *Dispatcher) groupEnded(cluster, id string, status incident.Status) {
	d.groups.mu.Lock()
	defer d.groups.mu.Unlock()
	ri := d.groups.byID[id]
	if ri == nil {
		return
	}
	delete(d.groups.byID, id)
	ri.inc.Running = false
	ri.inc.Ended = d.o.Now()
	ri.status = status
	if status == incident.StatusInterrupted || status == incident.StatusError || status == statusDeferred {
		rs := d.groups.recent[cluster]
		if i := slices.Index(rs, ri); i >= 0 {
			d.groups.recent[cluster] = slices.Delete(rs, i, i+1)
		}
	}
}
