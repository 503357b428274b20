package app

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
)

// leftWorkspace makes a workspace as an earlier run would have left it:
// finished (a result.json written at ended) or not (event.json only).
func leftWorkspace(t *testing.T, root, id string, finished bool, ended time.Time) string {
	t.Helper()
	ws := filepath.Join(root, "prod", id)
	if err := os.MkdirAll(filepath.Join(ws, incident.OutputDir), 0o700); err != nil {
		t.Fatal(err)
	}
	name := incident.EventFile
	if finished {
		name = incident.ResultFile
	}
	p := filepath.Join(ws, name)
	if err := os.WriteFile(p, make([]byte, 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, ended, ended); err != nil {
		t.Fatal(err)
	}
	return ws
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestWorkspacesFollowTheHistory: with --history-max-entries 2, each
// incident past the second takes the oldest record's workspace with it.
// At the next start, a finished workspace without a record that ended
// before the oldest record kept (its record was pruned) is removed; one
// that ended later (from a state file since replaced), an unfinished one
// (for leftover recovery), and everything while the history is empty (a
// quarantined state file) are kept. The gauges show what is on disk.
func TestWorkspacesFollowTheHistory(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	dir := t.TempDir()
	root := filepath.Join(dir, "ws")
	stateDir := filepath.Join(root, ".state") // under the root: must never be touched
	cfg, err := config.Parse([]string{
		"--cluster", "prod=" + src.URL(), "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--workspace-root", root, "--state-dir", stateDir, "--history-max-entries", "2",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}

	// First start, empty history: a workspace from an earlier store stays.
	foreignOld := leftWorkspace(t, root, "aaaaaaaaaaaaaaaa-quarantined", true, time.Now().Add(-time.Hour))
	d := startInProcess(t, cfg, nil)
	if !exists(foreignOld) {
		t.Fatal("a workspace was removed while the history was empty")
	}
	poll.Until(t, 30*time.Second, "the session to subscribe", func() bool { return src.Subscribers() == 1 })
	var workspaces []string
	for i := range 3 {
		ev := faultsource.Fault("prod", i+1, fault.TypeCrashLoop, "critical")
		src.Emit(ev)
		poll.Until(t, 30*time.Second, "the incident to finish", func() bool {
			return d.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="prod"`) == float64(i+1)
		})
		matches, _ := filepath.Glob(filepath.Join(root, "prod", ev.FaultID+"-*"))
		if len(matches) != 1 {
			t.Fatalf("workspaces of %s: %v", ev.FaultID, matches)
		}
		workspaces = append(workspaces, matches[0])
	}
	if exists(workspaces[0]) {
		t.Error("the oldest incident's workspace survived its pruned record")
	}
	for _, ws := range workspaces[1:] {
		if !exists(filepath.Join(ws, incident.ResultFile)) {
			t.Errorf("workspace %s, whose record is kept, is gone", ws)
		}
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces"); got != 3 {
		t.Errorf("workspaces gauge = %v, want 3 (two incidents and the earlier one)", got)
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces_bytes"); got < 5000 {
		t.Errorf("workspaces_bytes = %v, want at least the earlier workspace's 5000", got)
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces_removed_total", `reason="pruned"`); got != 1 {
		t.Errorf("pruned removals = %v, want 1", got)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	records, err := journal.ReadHistory(stateDir, 0)
	if err != nil || len(records) != 2 {
		t.Fatalf("history = %+v (%v), want two records", records, err)
	}
	oldest := records[1].EndedAt

	// Second start: what a crash between pruning and removing leaves.
	pruned := leftWorkspace(t, root, "bbbbbbbbbbbbbbbb-pruned", true, oldest.Add(-time.Minute))
	foreignNew := leftWorkspace(t, root, "cccccccccccccccc-foreign", true, oldest.Add(time.Minute))
	unfinished := leftWorkspace(t, root, "dddddddddddddddd-crashed", false, oldest.Add(-time.Minute))
	d = startInProcess(t, cfg, nil)
	if exists(pruned) || exists(foreignOld) {
		t.Error("a finished workspace older than the history's oldest record and named by none survived the start")
	}
	for _, ws := range append([]string{foreignNew, unfinished, stateDir}, workspaces[1:]...) {
		if !exists(ws) {
			t.Errorf("%s was removed at start", ws)
		}
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces_removed_total", `reason="orphaned"`); got != 2 {
		t.Errorf("orphaned removals = %v, want 2", got)
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces"); got != 4 {
		t.Errorf("workspaces gauge = %v, want 4", got)
	}
}
