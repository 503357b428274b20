package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
)

// historyDir is a state directory holding n finished incidents, alternately
// of clusters prod and staging.
func historyDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := journal.Open(dir, journal.Options{Logger: slog.New(slog.DiscardHandler), HistoryMaxEntries: 10 * n})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range n {
		cluster := []string{"prod", "staging"}[i%2]
		if err := s.Finish(incident.Record{IncidentID: fmt.Sprintf("i%03d", i), Cluster: cluster, Status: incident.StatusSuccess,
			EndedAt: now.Add(time.Duration(i-n) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func listIncidents(t *testing.T, args ...string) (int, []incident.Record, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runIncidents(append([]string{"--json"}, args...), func(string) string { return "" }, &stdout, &stderr)
	var records []incident.Record
	if code == exitOK {
		if err := json.Unmarshal(stdout.Bytes(), &records); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stdout.String())
		}
	}
	return code, records, stderr.String()
}

// TestIncidentsLimitZeroListsAll: --limit 0 lists the whole history.
func TestIncidentsLimitZeroListsAll(t *testing.T) {
	dir := historyDir(t, 150)
	if code, got, _ := listIncidents(t, "--state-dir", dir, "--limit", "0"); code != exitOK || len(got) != 150 {
		t.Fatalf("--limit 0: exit %d, %d records, want 150", code, len(got))
	}
	if code, got, _ := listIncidents(t, "--state-dir", dir); code != exitOK || len(got) != 50 {
		t.Fatalf("default: exit %d, %d records, want 50", code, len(got))
	}
	code, got, _ := listIncidents(t, "--state-dir", dir, "--limit", "0", "--cluster", "staging", "--since", "30m")
	if code != exitOK || len(got) != 15 {
		t.Fatalf("--cluster staging --since 30m: exit %d, %d records, want 15", code, len(got))
	}
	for _, r := range got {
		if r.Cluster != "staging" {
			t.Errorf("record of %s", r.Cluster)
		}
	}
}

// TestIncidentsInvalidParametersExit2: a limit, status or since that does
// not parse is exit 2 naming the flag.
func TestIncidentsInvalidParametersExit2(t *testing.T) {
	dir := historyDir(t, 1)
	for _, args := range [][]string{{"--limit", "-1"}, {"--limit", "lots"}, {"--status", "done"}, {"--since", "last week"}} {
		code, _, stderr := listIncidents(t, append([]string{"--state-dir", dir}, args...)...)
		if code != exitConfig || !strings.Contains(stderr, args[0]) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", args, code, stderr, args[0])
		}
	}
}

// TestIncidentsOfATruncatedStore: a truncated state file is an error
// naming it (exit 1), not a crash, and it is not moved aside.
func TestIncidentsOfATruncatedStore(t *testing.T) {
	dir := historyDir(t, 200)
	path := filepath.Join(dir, journal.FileName)
	if err := os.Truncate(path, 12<<10); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := listIncidents(t, "--state-dir", dir, "--limit", "0")
	if code != exitFailure || !strings.Contains(stderr, "corrupt") || !strings.Contains(stderr, path) {
		t.Fatalf("exit %d, stderr %q; want 1 naming the corrupt file", code, stderr)
	}
}
