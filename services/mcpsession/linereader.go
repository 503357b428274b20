package mcpsession

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

// lineBufferSize is the most of one line the event stream's reader holds
// at once; longer lines are returned in pieces (bufio.ErrBufferFull).
const lineBufferSize = 1024

// lineBuffers are the line readers' buffers while they hold unread bytes.
var lineBuffers = sync.Pool{New: func() any {
	b := make([]byte, lineBufferSize)
	return &b
}}

// lineReader is bufio.Reader's ReadSlice('\n') over a buffer that exists
// only while it holds unread bytes. An idle session's event stream spends
// its life in one blocked read; bufio would hold its buffer there, one per
// session. This reader blocks reading into a few bytes of its own and
// takes a buffer from lineBuffers when they arrive, giving it back once
// every byte was read.
type lineReader struct {
	r          io.Reader
	buf        *[]byte // nil while empty
	start, end int     // unread bytes: (*buf)[start:end]
	err        error   // the read error, returned once the bytes before it are
	first      [64]byte
}

// readSlice reads until the first '\n' and returns a slice of its buffer
// that holds until the next call; as bufio.Reader.ReadSlice, with
// bufio.ErrBufferFull when a line has no '\n' within lineBufferSize bytes.
func (l *lineReader) readSlice() ([]byte, error) {
	if l.buf != nil && l.start == l.end && l.err == nil {
		// The caller is done with the last slice: nothing is left.
		l.release()
	}
	searched := 0
	for {
		if l.buf != nil {
			b := (*l.buf)[l.start:l.end]
			if i := bytes.IndexByte(b[searched:], '\n'); i >= 0 {
				l.start += searched + i + 1
				return b[:searched+i+1], nil
			}
		}
		if l.err != nil {
			err := l.err
			l.err = nil
			var rest []byte
			if l.buf != nil {
				rest = (*l.buf)[l.start:l.end]
				l.start = l.end
			}
			return rest, err
		}
		if l.buf != nil {
			b := (*l.buf)[l.start:l.end]
			if len(b) == lineBufferSize {
				l.start = l.end
				return b, bufio.ErrBufferFull
			}
			searched = len(b)
		}
		l.fill()
	}
}

// fill reads once more: into first while there is no buffer (the blocking
// read of an idle stream), else after the unread bytes.
func (l *lineReader) fill() {
	for range 100 {
		var n int
		var err error
		if l.buf == nil {
			n, err = l.r.Read(l.first[:])
			if n > 0 {
				l.buf = lineBuffers.Get().(*[]byte)
				l.start, l.end = 0, copy(*l.buf, l.first[:n])
			}
		} else {
			if l.start > 0 {
				l.end = copy(*l.buf, (*l.buf)[l.start:l.end])
				l.start = 0
			}
			n, err = l.r.Read((*l.buf)[l.end:])
			l.end += n
		}
		if err != nil {
			l.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	l.err = io.ErrNoProgress
}

func (l *lineReader) release() {
	lineBuffers.Put(l.buf)
	l.buf, l.start, l.end = nil, 0, 0
}
