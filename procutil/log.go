package procutil

import (
	"fmt"
	"io"
	"os"
)

// cappedLog writes to a file until a byte cap, then notes the truncation
// once and silently drops the rest.
type cappedLog struct {
	f         *os.File
	max       int64
	written   int64
	truncated bool
}

func newCappedLog(path string, max int64) (*cappedLog, error) {
	if path == "" {
		return &cappedLog{}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &cappedLog{f: f, max: max}, nil
}

// Write always reports the whole of p as written, so the copy from the
// child's pipe keeps draining after the cap.
func (l *cappedLog) Write(p []byte) (int, error) {
	if l.f == nil || l.truncated {
		return len(p), nil
	}
	chunk := p
	if l.max > 0 && l.written+int64(len(p)) > l.max {
		chunk = p[:l.max-l.written]
		l.truncated = true
	}
	n, err := l.f.Write(chunk)
	l.written += int64(n)
	if err != nil {
		// A full disk must not block the child either: stop writing.
		l.truncated = true
		return len(p), nil
	}
	if l.truncated {
		fmt.Fprintf(l.f, "\n[output truncated at %d bytes]\n", l.max)
	}
	return len(p), nil
}

func (l *cappedLog) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

var _ io.Writer = (*cappedLog)(nil)
