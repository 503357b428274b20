package app

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// TestRecordedStormIsThreeRuns replays the storm recorded from the real
// server (8 faults: node n1, the two pods of Deployment web on it, a bare
// pod on n2, a job) through the real session against the stand-in holding
// the recorded cluster: the session looks up each fault's topology over
// MCP, dispatch groups them, and 3 agents run, not 8. The node's
// event.json names both pods and their Deployment.
func TestRecordedStormIsThreeRuns(t *testing.T) {
	st, storm, err := faultsource.RecordedStorm()
	if err != nil {
		t.Fatal(err)
	}
	src := faultsource.Started(t, "")
	src.SetState(st)
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	cfg, err := config.Parse([]string{
		"--cluster", "dev=" + src.URL(), "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--agent-env-allow", "GORACE", "--workspace-root", ws, "--state-dir", filepath.Join(dir, "state"),
		// Long enough that the storm, emitted at once, is all queued
		// before the first group is ready: the debounce restarts with
		// each member.
		"--group-wait", "3",
	}, func(k string) string { return map[string]string{"GORACE": "atexit_sleep_ms=0"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	d := startInProcess(t, cfg, nil)
	poll.Until(t, 30*time.Second, "the session to subscribe", func() bool { return src.Subscribers() == 1 })

	for _, f := range storm {
		src.EmitRaw(f)
	}
	poll.Until(t, 60*time.Second, "all 8 faults to leave the queue and their runs to end", func() bool {
		return d.metric("kubernetes_mcp_runner_events_dequeued_total", `cluster="dev"`) == 8 &&
			d.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="dev"`) == 3
	})
	if got := d.metric("kubernetes_mcp_runner_agents_spawned_total", `cluster="dev"`); got != 3 {
		t.Errorf("%v agent runs for the recorded storm, want 3", got)
	}
	if got := d.metric("kubernetes_mcp_runner_events_grouped_total", `cluster="dev"`); got != 5 {
		t.Errorf("events_grouped_total %v, want 5 (8 faults in 3 runs)", got)
	}

	docs := eventDocuments(t, filepath.Join(ws, "dev"))
	if len(docs) != 3 {
		t.Fatalf("%d event.json files, want 3", len(docs))
	}
	var node *incident.EventDocument
	for i := range docs {
		if g := docs[i].Group; g != nil && g.Key == "node:n1" {
			node = &docs[i]
		}
	}
	if node == nil {
		t.Fatalf("no incident keyed on node n1 among %+v", docs)
	}
	if node.Fault.Resource.Kind != "Node" || node.Group.Kind != "node" {
		t.Errorf("node incident's primary is %s %s, kind %s", node.Fault.Resource.Kind, node.Fault.Resource.Name, node.Group.Kind)
	}
	var pods []string
	for _, m := range node.Group.Members {
		if m.Resource.Kind != "Pod" {
			continue
		}
		if !slices.Contains(pods, m.Resource.Name) {
			pods = append(pods, m.Resource.Name)
		}
		if m.Topology == nil {
			t.Errorf("member %s has no topology", m.Resource.Name)
			continue
		}
		if top, ok := m.Topology.Top(); !ok || top.Kind != "Deployment" || top.Name != "web" || m.Topology.Node != "n1" {
			t.Errorf("member %s topology %+v, want node n1 and Deployment web on top", m.Resource.Name, m.Topology)
		}
	}
	slices.Sort(pods)
	if !slices.Equal(pods, []string{"web-7d9f-a", "web-7d9f-b"}) || len(node.Group.Members) != 5 {
		t.Errorf("node incident covers pods %v in %d members, want web-7d9f-a and web-7d9f-b in 5 (the node, a crash and a crash loop each)", pods, len(node.Group.Members))
	}

	// The page lists the member count, and the incident's page and its
	// API row the members.
	if code, body := get(t, d.uiURL+"/incidents"); code != 200 || !strings.Contains(body, "5 faults") {
		t.Errorf("incidents list (%d) does not show the node incident's 5 faults:\n%s", code, body)
	}
	code, body := get(t, d.uiURL+"/incidents/"+node.IncidentID)
	if code != 200 || !strings.Contains(body, "Faults covered") || !strings.Contains(body, "web-7d9f-b") || !strings.Contains(body, "Deployment/web") {
		t.Errorf("incident page (%d) does not list the members with their owner:\n%s", code, body)
	}
	var rows []incident.Record
	_, api := get(t, d.uiURL+"/api/incidents")
	if err := json.Unmarshal([]byte(api), &rows); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rows, func(r incident.Record) bool { return r.IncidentID == node.IncidentID })
	if i < 0 || rows[i].Group == nil || len(rows[i].Group.Members) != 5 {
		t.Errorf("/api/incidents row of the node incident: %+v", rows)
	}
}

// eventDocuments reads every incident's event.json under a cluster's
// workspaces.
func eventDocuments(t *testing.T, dir string) []incident.EventDocument {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []incident.EventDocument
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), incident.EventFile))
		if err != nil {
			t.Fatal(err)
		}
		var doc incident.EventDocument
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		out = append(out, doc)
	}
	return out
}

// Feedback round trip: a repeat of an investigated fault attaches to its
// incident; a person marks the diagnosis wrong through the API (a POST
// from another site's page is refused); the page shows the verdict, it
// is counted, and the next fault of that key runs.
func TestWrongVerdictLiftsTheCooldown(t *testing.T) {
	src := faultsource.Started(t, "prod")
	dir := t.TempDir()
	cfg, err := config.Parse([]string{
		"--cluster", "prod=" + src.URL(), "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--agent-env-allow", "GORACE", "--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state"),
		"--group-wait", "1",
	}, func(k string) string { return map[string]string{"GORACE": "atexit_sleep_ms=0"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	d := startInProcess(t, cfg, nil)
	poll.Until(t, 30*time.Second, "the session to subscribe", func() bool { return src.Subscribers() == 1 })
	emitOn := func(n int) {
		ev := faultsource.Fault("prod", n, fault.TypeCrashLoop, "critical")
		ev.Resource.Name = "ok-feedback"
		src.Emit(ev)
	}
	emitOn(1)
	poll.Until(t, 30*time.Second, "the first run", func() bool {
		return d.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="prod"`) == 1
	})
	emitOn(2)
	poll.Until(t, 30*time.Second, "the repeat to attach", func() bool {
		return d.metric("kubernetes_mcp_runner_events_related_total", `cluster="prod"`) == 1
	})
	var rows []incident.Record
	_, api := get(t, d.uiURL+"/api/incidents")
	if err := json.Unmarshal([]byte(api), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("/api/incidents: %v %s", err, api)
	}
	id := rows[0].IncidentID

	post := func(origin string) int {
		req, _ := http.NewRequest(http.MethodPost, d.uiURL+"/api/incidents/"+id+"/feedback",
			strings.NewReader(`{"verdict":"wrong","note":"the image was fine; the node ran out of disk"}`))
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if _, body := get(t, d.uiURL+"/incidents/"+id); !strings.Contains(body, `<form class="feedback" method="post" action="/incidents/`+id+`/feedback">`) {
		t.Errorf("the finished incident's page has no feedback form:\n%s", body)
	}
	if code := post("https://attacker.example"); code != http.StatusForbidden {
		t.Errorf("feedback from another site: %d, want 403", code)
	}
	if code := post(""); code != http.StatusOK {
		t.Fatalf("feedback: %d", code)
	}
	if got := d.metric("kubernetes_mcp_runner_incident_feedback_total", `cluster="prod"`, `verdict="wrong"`); got != 1 {
		t.Errorf("incident_feedback_total{verdict=wrong} = %v, want 1", got)
	}
	if _, body := get(t, d.uiURL+"/incidents/"+id); !strings.Contains(body, ">wrong</span>") || !strings.Contains(body, "ran out of disk") {
		t.Errorf("the page does not show the verdict and note:\n%s", body)
	}
	if _, list := get(t, d.uiURL+"/incidents"); !strings.Contains(list, ">wrong</span>") {
		t.Errorf("the list does not show the verdict")
	}

	emitOn(3)
	poll.Until(t, 30*time.Second, "the next fault of the key to run", func() bool {
		return d.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="prod"`) == 2
	})
	if got := d.metric("kubernetes_mcp_runner_events_related_total", `cluster="prod"`); got != 1 {
		t.Errorf("events_related_total %v after the wrong verdict, want still 1", got)
	}
	// The new run recalls the incident judged wrong, with the verdict.
	for _, doc := range eventDocuments(t, filepath.Join(dir, "ws", "prod")) {
		if doc.IncidentID == id {
			continue
		}
		if doc.Group == nil || len(doc.Group.Recall) != 1 || doc.Group.Recall[0].Feedback == nil || doc.Group.Recall[0].Feedback.Verdict != "wrong" {
			t.Errorf("the new run's recall %+v, want the incident marked wrong", doc.Group)
		}
	}
}
