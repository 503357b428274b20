package main

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

// TestWorkspacesFollowTheHistory: a workspace left on disk without a
// record is removed at start; with --history-max-entries 2, each incident
// past the second takes the oldest record's workspace with it; the gauges
// show what is on disk.
func TestWorkspacesFollowTheHistory(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	dir := t.TempDir()
	root := filepath.Join(dir, "ws")
	orphan := filepath.Join(root, "prod", "0123456789abcdef-old")
	if err := os.MkdirAll(filepath.Join(orphan, "output"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"agent.log", incident.ResultFile} {
		if err := os.WriteFile(filepath.Join(orphan, f), make([]byte, 5000), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A workspace a crash left unfinished stays for dispatch's recovery.
	unfinished := filepath.Join(root, "prod", "fedcba9876543210-crashed")
	if err := os.MkdirAll(unfinished, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(unfinished, incident.EventFile), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]string{
		"--cluster", "prod=" + src.URL(), "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
		"--workspace-root", root, "--state-dir", filepath.Join(root, ".state"),
		"--history-max-entries", "2",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d := startInProcess(t, cfg, nil)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("the workspace without a record is still there (%v)", err)
	}
	if _, err := os.Stat(unfinished); err != nil {
		t.Fatalf("the unfinished workspace was removed before recovery: %v", err)
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces_removed_total", `reason="orphaned"`); got != 1 {
		t.Errorf("orphaned removals = %v, want 1", got)
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
	if _, err := os.Stat(workspaces[0]); !os.IsNotExist(err) {
		t.Errorf("the oldest incident's workspace survived its pruned record (%v)", err)
	}
	for _, ws := range workspaces[1:] {
		if _, err := os.Stat(filepath.Join(ws, incident.ResultFile)); err != nil {
			t.Errorf("a workspace whose record is kept is gone: %v", err)
		}
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces"); got != 3 {
		t.Errorf("workspaces gauge = %v, want 3 (two kept incidents and the unfinished one)", got)
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces_bytes"); got <= 0 {
		t.Errorf("workspaces_bytes = %v, want the size of two workspaces", got)
	}
	if got := d.metric("kubernetes_mcp_runner_workspaces_removed_total", `reason="pruned"`); got != 1 {
		t.Errorf("pruned removals = %v, want 1", got)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	records, err := journal.ReadHistory(filepath.Join(root, ".state"), 0)
	if err != nil || len(records) != 2 || records[1].Workspace != workspaces[1] {
		t.Fatalf("history = %+v (%v), want the two newest", records, err)
	}
}
