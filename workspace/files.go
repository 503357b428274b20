package workspace

import (
	"bytes"
	"io"
	"os"
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
