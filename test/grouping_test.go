package test

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// TestBinaryNodeStormGroups: a node goes NotReady while 3 Deployments × 4
// pods on it crash (a PodCrash and a CrashLoop each), and one unrelated
// pod elsewhere crashes: 27 faults. The built binary, looking up each
// pod's node and owners through the stand-in's tools, runs at most 2
// agents; with --group-wait 0 it runs one per fault, as before grouping.
func TestBinaryNodeStormGroups(t *testing.T) {
	for _, tc := range []struct {
		wait string
		runs func(float64) bool
		want string
	}{
		{"2", func(n float64) bool { return n >= 1 && n <= 2 }, "at most 2"},
		{"0", func(n float64) bool { return n == 27 }, "27, one per fault"},
	} {
		t.Run("group-wait="+tc.wait, func(t *testing.T) {
			srcs := startSources(t, "a")
			st, storm := faultsource.NodeStorm("a", 3, 4, time.Now())
			srcs["a"].SetState(st)
			dir := t.TempDir()
			r := startRunner(t, stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL(), "--group-wait", tc.wait)...)
			poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
			for _, ev := range storm {
				srcs["a"].Emit(ev)
			}
			if len(storm) != 27 {
				t.Fatalf("the storm has %d faults, want 27", len(storm))
			}
			poll.Until(t, 60*time.Second, "all 27 faults to leave the queue and their runs to end", func() bool {
				return r.metric("kubernetes_mcp_runner_events_dequeued_total", `cluster="a"`) == 27 &&
					r.metric("kubernetes_mcp_runner_agents_active") == 0 &&
					r.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="a"`)+
						r.metric("kubernetes_mcp_runner_events_grouped_total", `cluster="a"`)+
						r.metric("kubernetes_mcp_runner_events_related_total", `cluster="a"`) == 27
			})
			assertBooksBalance(t, r.scrape())
			n := r.metric("kubernetes_mcp_runner_agents_spawned_total", `cluster="a"`)
			if !tc.runs(n) {
				t.Errorf("%v agent runs, want %s", n, tc.want)
			}
			// The measurement docs/benchmarks.md quotes: runs, and the
			// time from the first fault queued to the first agent start.
			var firstQueued, firstStart time.Time
			for _, res := range testagent.Results(t, filepath.Join(dir, "ws"), "a") {
				doc := testagent.Event(t, filepath.Join(dir, "ws"), res)
				if firstStart.IsZero() || res.StartedAt.Before(firstStart) {
					firstStart = res.StartedAt
				}
				if firstQueued.IsZero() || doc.EnqueuedAt.Before(firstQueued) {
					firstQueued = doc.EnqueuedAt
				}
				if doc.Group != nil {
					for _, m := range doc.Group.Members {
						if m.EnqueuedAt.Before(firstQueued) {
							firstQueued = m.EnqueuedAt
						}
					}
				}
			}
			t.Logf("storm of %d faults, --group-wait %s: %v runs, first run %s after the first fault was queued",
				len(storm), tc.wait, n, firstStart.Sub(firstQueued).Round(time.Millisecond))
		})
	}
}

// TestBinaryKilledWhileAGroupWaits: the runner is killed with SIGKILL
// while a group's faults wait out --group-wait; restarted on the same
// state directory it runs the group once, with every member.
func TestBinaryKilledWhileAGroupWaits(t *testing.T) {
	srcs := startSources(t, "a")
	st, storm := faultsource.NodeStorm("a", 1, 3, time.Now())
	storm = storm[:len(storm)-2] // the node and its pods only: one group
	srcs["a"].SetState(st)
	dir := t.TempDir()
	first := startRunner(t, stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL(), "--group-wait", "3600", "--group-max-wait", "3600")...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	for _, ev := range storm {
		srcs["a"].Emit(ev)
	}
	poll.Until(t, 15*time.Second, "every fault durable in the queue", func() bool {
		return first.metric("kubernetes_mcp_runner_queue_depth", `cluster="a"`) == float64(len(storm))
	})
	if n := first.metric("kubernetes_mcp_runner_agents_spawned_total"); n != 0 {
		t.Fatalf("%v agents ran while the group should wait", n)
	}
	_ = first.cmd.Process.Kill()
	_ = first.wait()

	// The same state, a wait short enough for the test: the restored
	// faults are one group again.
	second := startRunner(t, stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL(), "--group-wait", "1")...)
	poll.Until(t, 30*time.Second, "the group's run to end", func() bool {
		return second.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="a"`) >= 1 &&
			second.metric("kubernetes_mcp_runner_queue_depth", `cluster="a"`) == 0
	})
	if n := second.metric("kubernetes_mcp_runner_events_restored_total", `cluster="a"`); n != float64(len(storm)) {
		t.Errorf("%v faults restored, want %d", n, len(storm))
	}
	results := testagent.Results(t, dir+"/ws", "a")
	if len(results) != 1 {
		t.Fatalf("%d runs after the restart, want 1", len(results))
	}
	doc := testagent.Event(t, dir+"/ws", results[0])
	if doc.Group == nil || len(doc.Group.Members) != len(storm) || doc.Group.Key != "node:node-bad" {
		t.Fatalf("the run covers %+v, want the %d faults of node node-bad", doc.Group, len(storm))
	}
	seen := map[string]bool{}
	for _, m := range doc.Group.Members {
		seen[m.FaultID] = true
	}
	for i, ev := range storm {
		if !seen[ev.FaultID] {
			t.Errorf("fault %s (%s %s) is not a member", strconv.Itoa(i), ev.FaultType, ev.Resource.Name)
		}
	}
}

// TestBinaryFeedbackReachesTheWebhook: a verdict given through the API
// on a grouped incident is sent to the incident's webhook as the
// incident's document with the verdict, under a key of its own, after
// the incident's own notification, which names the group.
func TestBinaryFeedbackReachesTheWebhook(t *testing.T) {
	hook := startReceiver(t, nil)
	srcs := startSources(t, "a")
	st, storm := faultsource.NodeStorm("a", 1, 2, time.Now())
	srcs["a"].SetState(st)
	dir := t.TempDir()
	r := startRunner(t, stateArgs(t, dir, append([]string{"--cluster", "a=" + srcs["a"].URL(), "--group-wait", "1"},
		notifyArgs(t, dir, map[string]string{"hook": hook.srv.URL})...)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	for _, ev := range storm[:5] { // the node and its two pods
		srcs["a"].Emit(ev)
	}
	poll.Until(t, 30*time.Second, "the incident's notification", func() bool { _, n := hook.counts(); return n == 1 })
	results := testagent.Results(t, filepath.Join(dir, "ws"), "a")
	if len(results) != 1 {
		t.Fatalf("%d runs, want 1", len(results))
	}
	id := results[0].IncidentID
	resp, err := http.Post(r.uiURL+"/api/incidents/"+id+"/feedback", "application/json", strings.NewReader(`{"verdict":"wrong","note":"disk pressure"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feedback: %d", resp.StatusCode)
	}
	poll.Until(t, 30*time.Second, "the feedback's notification", func() bool { _, n := hook.counts(); return n == 2 })
	hook.mu.Lock()
	first, second := hook.handled[0], hook.handled[1]
	hook.mu.Unlock()
	if g := first.Incident.Group; g == nil || g.Key != "node:node-bad" || g.Faults != 5 || first.Incident.Feedback != nil {
		t.Errorf("the incident's notification carries group %+v and feedback %+v, want node:node-bad with 5 faults and no feedback", g, first.Incident.Feedback)
	}
	if f := second.Incident.Feedback; f == nil || f.Verdict != "wrong" || f.Note != "disk pressure" || second.Incident.ID != id ||
		second.IdempotencyKey == first.IdempotencyKey || second.Incident.Fault.Type != "NodeUnhealthy" {
		t.Errorf("the feedback notification %+v (feedback %+v)", second.Incident, f)
	}
}
