package workspace_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

type fixture struct {
	root                     string
	count, bytes             prometheus.Gauge
	pruned, orphaned, failed prometheus.Counter
	ret                      *workspace.Retention
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		root:     t.TempDir(),
		count:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "count"}),
		bytes:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "bytes"}),
		pruned:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pruned"}),
		orphaned: prometheus.NewCounter(prometheus.CounterOpts{Name: "orphaned"}),
		failed:   prometheus.NewCounter(prometheus.CounterOpts{Name: "failed"}),
	}
	f.ret = workspace.New(workspace.Options{
		Root: f.root, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Count: f.count, Bytes: f.bytes, Pruned: f.pruned, Orphaned: f.orphaned, Failed: f.failed,
	})
	return f
}

// make creates a workspace with files of the given sizes and returns it.
func (f *fixture) make(t *testing.T, cluster, id string, sizes ...int) string {
	t.Helper()
	ws := filepath.Join(f.root, cluster, id)
	if err := os.MkdirAll(filepath.Join(ws, "output"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		name := filepath.Join(ws, "f"+string(rune('a'+i)))
		if i%2 == 1 {
			name = filepath.Join(ws, "output", "r"+string(rune('a'+i)))
		}
		if err := os.WriteFile(name, make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func (f *fixture) expect(t *testing.T, count int, bytes int64) {
	t.Helper()
	if got := testutil.ToFloat64(f.count); got != float64(count) {
		t.Errorf("workspaces gauge = %v, want %d", got, count)
	}
	if got := testutil.ToFloat64(f.bytes); got != float64(bytes) {
		t.Errorf("bytes gauge = %v, want %d", got, bytes)
	}
}

// TestStartRemovesWorkspacesWithoutRecord: at start, workspaces no record
// names are removed and counted; named ones stay and are measured; what
// is not a workspace (hidden dirs such as a state dir under the root,
// plain files) is left alone.
func TestStartRemovesWorkspacesWithoutRecord(t *testing.T) {
	f := newFixture(t)
	kept := f.make(t, "prod", "aaaa-1", 100, 20)
	orphan := f.make(t, "prod", "bbbb-2", 4000)
	otherCluster := f.make(t, "dev", "cccc-3", 7)
	state := filepath.Join(f.root, ".state")
	if err := os.MkdirAll(filepath.Join(state, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	hiddenWS := filepath.Join(f.root, "prod", ".tmp")
	if err := os.MkdirAll(hiddenWS, 0o700); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(f.root, "README")
	if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{kept: true, otherCluster: true}
	removed, err := f.ret.Start(func(ws string) bool { return named[ws] })
	if err != nil {
		t.Fatal(err)
	}
	if removed != 1 || exists(orphan) {
		t.Errorf("removed %d, orphan still there: %v", removed, exists(orphan))
	}
	for _, p := range []string{kept, otherCluster, filepath.Join(state, "x"), hiddenWS, stray} {
		if !exists(p) {
			t.Errorf("%s was removed", p)
		}
	}
	f.expect(t, 2, 127)
	if got := testutil.ToFloat64(f.orphaned); got != 1 {
		t.Errorf("orphaned = %v, want 1", got)
	}
}

// TestPrunedWorkspacesGoWithTheirRecords: the workspaces of pruned records
// are removed and leave the gauges; a path outside the root, or not at
// <cluster>/<incident> depth, is never removed.
func TestPrunedWorkspacesGoWithTheirRecords(t *testing.T) {
	f := newFixture(t)
	if _, err := f.ret.Start(func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	f.expect(t, 0, 0)
	a := f.make(t, "prod", "a-1", 10, 5)
	b := f.make(t, "prod", "b-2", 1000)
	f.ret.Added(a)
	f.ret.Added(b)
	f.expect(t, 2, 1015)

	outside := filepath.Join(t.TempDir(), "prod", "c-3")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	clusterDir := filepath.Join(f.root, "prod")
	f.ret.Pruned([]string{a, outside, clusterDir, f.root + "/prod/../../escape"})
	if exists(a) {
		t.Error("pruned workspace is still on disk")
	}
	if !exists(outside) || !exists(b) || !exists(clusterDir) {
		t.Error("a path that is not a pruned workspace of this root was removed")
	}
	f.expect(t, 1, 1000)
	if got := testutil.ToFloat64(f.pruned); got != 1 {
		t.Errorf("pruned = %v, want 1", got)
	}
	// A record pruned twice, or whose workspace is already gone, counts once.
	f.ret.Pruned([]string{a})
	if got := testutil.ToFloat64(f.pruned); got != 1 {
		t.Errorf("pruned = %v after pruning a missing workspace, want 1", got)
	}
}

// TestRemovalFailureIsCountedAndKept: a workspace that cannot be removed
// (its cluster directory is read-only) stays counted and the failure is
// counted.
func TestRemovalFailureIsCountedAndKept(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root removes from read-only directories")
	}
	f := newFixture(t)
	ws := f.make(t, "prod", "a-1", 10)
	f.ret.Added(ws)
	dir := filepath.Join(f.root, "prod")
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	f.ret.Pruned([]string{ws})
	if !exists(ws) {
		t.Fatal("workspace removed from a read-only directory")
	}
	if got := testutil.ToFloat64(f.failed); got != 1 {
		t.Errorf("failed = %v, want 1", got)
	}
	f.expect(t, 1, 10)
}
