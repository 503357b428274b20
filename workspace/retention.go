// Package workspace keeps the incident workspaces on disk in step with the
// incident history: a workspace lives as long as the history record that
// names it. When the history prunes a record (by age or count) its
// workspace is removed; at start, the caller decides which workspaces no
// record accounts for any more (left by a stop between the two) and they
// are removed too.
//
// It also keeps the number and total size of the workspaces on disk, for
// two gauges. They are maintained as workspaces come and go — one walk of
// the tree at start, then one walk of each finished or removed workspace —
// so a scrape never walks the tree.
//
// Workspaces are <root>/<cluster>/<incident-id>/. Only directories at
// exactly that depth under the root are ever removed: a record naming a
// path elsewhere (an older --workspace-root) is left alone, and so is
// anything whose name starts with a dot (the state directory may live
// under the root).
package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Gauge is the one method of a Prometheus gauge the retention uses.
type Gauge interface{ Set(float64) }

// Counter is the one method of a Prometheus counter the retention uses.
type Counter interface{ Inc() }

// Options are the retention's dependencies.
type Options struct {
	Root   string
	Logger *slog.Logger
	// Count and Bytes are set to the workspaces on disk and their size.
	Count, Bytes Gauge
	// Pruned counts workspaces removed with their pruned record; Orphaned
	// those removed at start because no record named them; Failed the
	// removals that failed (the workspace stays, and is tried again at
	// the next start).
	Pruned, Orphaned, Failed Counter
}

// Retention tracks and removes workspaces. It is safe for concurrent use.
type Retention struct {
	o     Options
	root  string
	mu    sync.Mutex
	sizes map[string]int64 // workspace → bytes when last seen
	total int64
}

// New returns the retention of the workspaces under o.Root. Nothing is
// read until Start.
func New(o Options) *Retention {
	return &Retention{o: o, root: filepath.Clean(o.Root), sizes: map[string]int64{}}
}

// Start walks the root once: it removes every workspace for which keep
// (given the workspace's cleaned path) is false, and counts the rest. It
// returns how many it removed.
func (r *Retention) Start(keep func(workspace string) bool) (int, error) {
	clusters, err := os.ReadDir(r.root)
	if errors.Is(err, fs.ErrNotExist) {
		r.publish()
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("workspace root %s: %w", r.root, err)
	}
	removed := 0
	for _, c := range clusters {
		if !c.IsDir() || hidden(c.Name()) {
			continue
		}
		incidents, err := os.ReadDir(filepath.Join(r.root, c.Name()))
		if err != nil {
			r.o.Logger.Warn("Could not list incident workspaces", "dir", filepath.Join(r.root, c.Name()), "error", err.Error())
			continue
		}
		for _, in := range incidents {
			if !in.IsDir() || hidden(in.Name()) {
				continue
			}
			ws := filepath.Join(r.root, c.Name(), in.Name())
			if keep(ws) {
				r.mu.Lock()
				r.add(ws, Size(ws))
				r.mu.Unlock()
				continue
			}
			if r.remove(ws, r.o.Orphaned) {
				removed++
			}
		}
	}
	if removed > 0 {
		r.o.Logger.Info("Removed incident workspaces no history record names", "removed", removed, "workspace_root", r.root)
	}
	r.publish()
	return removed, nil
}

// Added counts a finished incident's workspace (walking that directory
// alone).
func (r *Retention) Added(ws string) {
	ws = filepath.Clean(ws)
	if !r.owns(ws) {
		return
	}
	size := Size(ws)
	r.mu.Lock()
	r.add(ws, size)
	r.mu.Unlock()
	r.publish()
}

// Pruned removes the workspaces of pruned history records.
func (r *Retention) Pruned(workspaces []string) {
	for _, ws := range workspaces {
		ws = filepath.Clean(ws)
		if !r.owns(ws) {
			continue
		}
		r.remove(ws, r.o.Pruned)
	}
	r.publish()
}

// Stats reports the workspaces counted on disk and their total bytes.
func (r *Retention) Stats() (count int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sizes), r.total
}

// add records ws at size; r.mu is held.
func (r *Retention) add(ws string, size int64) {
	r.total += size - r.sizes[ws]
	r.sizes[ws] = size
}

// remove deletes ws and forgets it, counting the removal on removed (or on
// Failed). It reports whether ws is gone.
func (r *Retention) remove(ws string, removed Counter) bool {
	if _, err := os.Lstat(ws); errors.Is(err, fs.ErrNotExist) {
		removed = nil // already gone: nothing was removed
	}
	if err := os.RemoveAll(ws); err != nil {
		r.o.Logger.Error("Could not remove an incident workspace", "workspace", ws, "error", err.Error())
		if r.o.Failed != nil {
			r.o.Failed.Inc()
		}
		return false
	}
	r.mu.Lock()
	r.total -= r.sizes[ws]
	delete(r.sizes, ws)
	r.mu.Unlock()
	if removed != nil {
		removed.Inc()
	}
	return true
}

// owns reports whether ws is a workspace of this root:
// <root>/<cluster>/<incident-id>, neither part hidden.
func (r *Retention) owns(ws string) bool {
	rel, err := filepath.Rel(r.root, ws)
	if err != nil || !filepath.IsLocal(rel) {
		return false
	}
	parts := strings.Split(rel, string(filepath.Separator))
	return len(parts) == 2 && !hidden(parts[0]) && !hidden(parts[1])
}

func (r *Retention) publish() {
	count, bytes := r.Stats()
	if r.o.Count != nil {
		r.o.Count.Set(float64(count))
	}
	if r.o.Bytes != nil {
		r.o.Bytes.Set(float64(bytes))
	}
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// Size sums the sizes of the regular files under dir: what a workspace
// holds on disk, for retention and for the agent's size cap alike.
func Size(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
