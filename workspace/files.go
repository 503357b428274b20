package workspace

import (
	"bytes"
	"cmp"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Bounded reads of an incident's files: an agent writes them, so every
// read is limited, and a file that is missing, not regular or unreadable
// reads as empty.

// ReadHead reads up to limit bytes of a file and returns its size; a
// missing or unreadable report is an empty one.
func ReadHead(path string, limit int64) (int64, []byte) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0, nil
	}
	b, _ := io.ReadAll(io.LimitReader(f, limit))
	return st.Size(), b
}

// ReadTail reads the last limit bytes of a file, from a line start when it
// had to cut.
func ReadTail(path string, limit int64) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, false
	}
	if st.Size() <= limit {
		b, _ := io.ReadAll(f)
		return b, false
	}
	b := make([]byte, limit)
	n, _ := f.ReadAt(b, st.Size()-limit)
	b = b[:n]
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return b, true
}

// Trim removes the largest regular files under dir, except those named in
// keep (relative to dir), until what is left is at most limit bytes. It
// returns the files it removed, relative to dir. An agent stopped for
// filling its workspace would otherwise leave what it wrote on the disk,
// and the next incidents would fill it.
func Trim(dir string, limit int64, keep ...string) (removed []string) {
	type file struct {
		rel  string
		size int64
	}
	var files []file
	var total int64
	_ = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		total += info.Size()
		rel, _ := filepath.Rel(dir, path)
		if !slices.Contains(keep, rel) {
			files = append(files, file{rel, info.Size()})
		}
		return nil
	})
	slices.SortFunc(files, func(a, b file) int { return cmp.Compare(b.size, a.size) })
	for _, f := range files {
		if total <= limit {
			break
		}
		if os.Remove(filepath.Join(dir, f.rel)) == nil {
			total -= f.size
			removed = append(removed, f.rel)
		}
	}
	return removed
}
