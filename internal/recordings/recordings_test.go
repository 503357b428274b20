package recordings

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Where the project's fixture directory sits beside the checkout (CI lays
// it there), the copies here must be the same bytes: a new recording is
// then not silently missed. A clone with nothing beside it skips this.
func TestCopiesMatchTheSharedRecordings(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(filepath.Dir(root), "shared/fixtures")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("no recordings beside the checkout (%s): the embedded copies are used alone", shared)
	}
	for dir, copy := range map[string]fs.FS{"upstream": Upstream(), "upstream-tools": UpstreamTools()} {
		want := os.DirFS(filepath.Join(shared, dir))
		names := map[string]bool{}
		for _, f := range []fs.FS{want, copy} {
			entries, err := fs.ReadDir(f, ".")
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			for _, e := range entries {
				names[e.Name()] = true
			}
		}
		for name := range names {
			a, errA := fs.ReadFile(want, name)
			b, errB := fs.ReadFile(copy, name)
			switch {
			case errA != nil:
				t.Errorf("%s/%s is in the repository but no longer among the shared recordings", dir, name)
			case errB != nil:
				t.Errorf("%s/%s is a new shared recording: copy it into internal/recordings/%s and feed it through a test", dir, name, dir)
			case !bytes.Equal(a, b):
				t.Errorf("%s/%s differs from the shared recording: copy the new bytes in", dir, name)
			}
		}
	}
}

func TestEveryDirectoryIsEmbedded(t *testing.T) {
	for dir, f := range map[string]fs.FS{"upstream": Upstream(), "upstream-tools": UpstreamTools()} {
		if _, err := fs.ReadFile(f, "README.md"); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
}
