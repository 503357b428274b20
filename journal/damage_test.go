package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// storeOf15 writes a store the way a runner that handled 15 incidents
// leaves it (queued faults, in-flight records, dedup marks, history) and
// returns the bytes of its file.
func storeOf15(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir, Options{HistoryMaxEntries: 100})
	now := time.Now()
	for i := range 15 {
		e := entry("prod", fmt.Sprintf("%016x", i), now.Add(time.Duration(i)*time.Second))
		seq, err := s.Enqueue(e)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = seq
		id := fmt.Sprintf("prod-%d-%s", i, strings.Repeat("i", 40))
		if err := s.Start(InFlight{IncidentID: id, Item: e, StartedAt: now, Workspace: "/var/lib/ws/prod/" + id}); err != nil {
			t.Fatal(err)
		}
		if i%4 == 3 {
			continue // left in flight, as a crash leaves it
		}
		reason := strings.Repeat("r", 200)
		if i%5 == 0 {
			reason = strings.Repeat("long ", 2000) // spans overflow pages
		}
		if err := s.Finish(incident.Record{IncidentID: id, Cluster: "prod", FaultID: e.Event.FaultID, Status: incident.StatusSuccess,
			Reason: reason, StartedAt: now, EndedAt: now.Add(time.Duration(i) * time.Second), Workspace: "/var/lib/ws/prod/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, err := s.Enqueue(entry("staging", fmt.Sprintf("q%015x", i), now)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// openDamaged writes data as the state file of a fresh directory and opens
// it. It fails the test unless Open returned a usable store; it reports
// whether the file was quarantined.
func openDamaged(t *testing.T, data []byte) (quarantined bool, logs string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	corruptions := 0
	s, err := Open(dir, Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), OnCorrupt: func() { corruptions++ }, HistoryMaxEntries: 100})
	if err != nil {
		t.Fatalf("Open of a damaged store failed instead of quarantining: %v", err)
	}
	defer s.Close()
	// Whatever Open kept must read without a fault.
	if _, err := s.Load(); err != nil {
		t.Fatalf("Load after Open: %v", err)
	}
	if _, err := s.History(0); err != nil {
		t.Fatalf("History after Open: %v", err)
	}
	if _, err := s.Enqueue(entry("prod", "after", time.Now())); err != nil {
		t.Fatalf("store unusable after Open: %v", err)
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if corruptions != len(aside) {
		t.Fatalf("OnCorrupt called %d times, %d files moved aside", corruptions, len(aside))
	}
	return corruptions == 1, buf.String()
}

// TestTruncatedStoreIsQuarantined: a state file cut short mid-file makes
// bbolt read past the end of its memory map. That must be a quarantine at
// every size, not SIGBUS.
func TestTruncatedStoreIsQuarantined(t *testing.T) {
	data := storeOf15(t)
	t.Logf("store of 15 incidents: %d bytes", len(data))
	sizes := 0
	for kib := 8; kib <= 40; kib += 4 {
		n := kib << 10
		if n >= len(data) {
			continue
		}
		sizes++
		t.Run(fmt.Sprintf("%dKiB", kib), func(t *testing.T) {
			quarantined, logs := openDamaged(t, data[:n])
			if !quarantined {
				t.Fatalf("a file truncated to %d of %d bytes was accepted", n, len(data))
			}
			if !strings.Contains(logs, "State file is corrupt") {
				t.Errorf("quarantine not logged: %s", logs)
			}
		})
	}
	if sizes < 5 {
		t.Fatalf("store of %d bytes too small to truncate at 5 sizes", len(data))
	}
}

// TestRandomPageDamageNeverPanics: 64 random bytes written into a data page
// are either read safely or quarantined, on every read at start (open,
// Load, the dedup marks, history), however they fall.
//
// Under -race the loop runs in a test binary built without it: the race
// build's checkptr turns bbolt's pointer arithmetic over a damaged page
// into a fatal error of its own, which the runner's release build does not
// have (there the same read panics or faults, and guard recovers it).
func TestRandomPageDamageNeverPanics(t *testing.T) {
	if raceBuild {
		cmd := exec.Command("go", "test", "-count=1", "-run", "^TestRandomPageDamageNeverPanics$", ".")
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("random page damage without -race: %v\n%s", err, out)
		}
		return
	}
	data := storeOf15(t)
	const pageSize = 4096
	pages := len(data) / pageSize
	tries := 200
	if testing.Short() {
		tries = 40
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	quarantined := 0
	for i := range tries {
		damaged := bytes.Clone(data)
		page := 2 + rng.IntN(pages-2) // 0 and 1 are the meta pages
		off := page*pageSize + rng.IntN(pageSize-64)
		for j := range 64 {
			damaged[off+j] = byte(rng.Uint32())
		}
		t.Run(fmt.Sprintf("try%d-page%d-off%d", i, page, off), func(t *testing.T) {
			if q, _ := openDamaged(t, damaged); q {
				quarantined++
			}
		})
	}
	t.Logf("%d of %d damaged stores quarantined, the rest read safely", quarantined, tries)
}

// TestReadHistoryOfATruncatedStore: `incidents --state-dir` on a truncated
// file answers with an error naming the file, not a crash.
func TestReadHistoryOfATruncatedStore(t *testing.T) {
	data := storeOf15(t)
	for _, n := range []int{8 << 10, 16 << 10, 24 << 10} {
		if n >= len(data) {
			continue
		}
		dir := t.TempDir()
		path := filepath.Join(dir, FileName)
		if err := os.WriteFile(path, data[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadHistory(dir, 0)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("truncated to %d: %v, want ErrCorrupt naming %s", n, err, path)
		}
		if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
			t.Errorf("a read-only listing moved the file aside: %v", aside)
		}
	}
}

// TestUnusableStateDir: a state directory that cannot be created or
// written is ErrUnusableDir naming the directory: nothing moved aside,
// nothing counted as corrupt.
func TestUnusableStateDir(t *testing.T) {
	cases := map[string]func(t *testing.T) string{
		"a file in its place": func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "state")
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		},
		"under a file": func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(p, "state")
		},
		"state file is a directory": func(t *testing.T) string {
			p := t.TempDir()
			if err := os.Mkdir(filepath.Join(p, FileName), 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		},
	}
	if os.Geteuid() != 0 {
		cases["read-only directory"] = func(t *testing.T) string {
			p := t.TempDir()
			if err := os.Chmod(p, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(p, 0o700) })
			return p
		}
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			dir := mk(t)
			corruptions := 0
			_, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler), OnCorrupt: func() { corruptions++ }})
			if !errors.Is(err, ErrUnusableDir) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Open: %v, want ErrUnusableDir naming %s", err, dir)
			}
			if corruptions != 0 {
				t.Errorf("counted %d corruptions", corruptions)
			}
			if aside, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "*", "*.corrupt-*")); len(aside) != 0 {
				t.Errorf("moved aside: %v", aside)
			}
		})
	}
}

// TestQuarantineAfterOpen: a store whose content fails to read after Open
// (at recovery) is moved aside and replaced by an empty, usable one.
func TestQuarantineAfterOpen(t *testing.T) {
	dir := t.TempDir()
	corruptions := 0
	s := open(t, dir, Options{OnCorrupt: func() { corruptions++ }})
	defer s.Close()
	if _, err := s.Enqueue(entry("prod", "before", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.Quarantine(fmt.Errorf("%w: test", ErrCorrupt)); err != nil {
		t.Fatal(err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, FileName+".corrupt-*")); len(aside) != 1 || corruptions != 1 {
		t.Fatalf("moved aside %v, counted %d", aside, corruptions)
	}
	st, err := s.Load()
	if err != nil || len(st.Queued["prod"]) != 0 {
		t.Fatalf("after quarantine: %v %+v", err, st.Queued)
	}
	if _, err := s.Enqueue(entry("prod", "after", time.Now())); err != nil {
		t.Fatalf("fresh store unusable: %v", err)
	}
}

// TestCyclicPageTreeIsQuarantined: a branch page that names itself as its
// child would send bbolt's cursor down forever, growing until memory runs
// out. The page check finds the cycle before bbolt maps the file.
func TestCyclicPageTreeIsQuarantined(t *testing.T) {
	data := storeOf15(t)
	const pageSize = 4096
	branch := -1
	for p := 2; p < len(data)/pageSize; p++ {
		off := p * pageSize
		if binary.LittleEndian.Uint64(data[off:]) == uint64(p) && binary.LittleEndian.Uint16(data[off+8:])&0x01 != 0 {
			branch = p
			break
		}
	}
	if branch < 0 {
		t.Fatal("the store has no branch page to damage")
	}
	damaged := bytes.Clone(data)
	// The first branch element's child pgid, 8 bytes into the element.
	binary.LittleEndian.PutUint64(damaged[branch*pageSize+16+8:], uint64(branch))
	quarantined, logs := openDamaged(t, damaged)
	if !quarantined || !strings.Contains(logs, "reached twice") {
		t.Fatalf("a cyclic page tree was not quarantined as such: %s", logs)
	}
}
