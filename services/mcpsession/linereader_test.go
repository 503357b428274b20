package mcpsession

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"
)

// slicesOf reads every slice and error of r until an error, as the stream
// filter does (each slice copied before the next call).
func slicesOf(read func() ([]byte, error)) []string {
	var out []string
	for {
		b, err := read()
		s := string(b)
		if err != nil {
			s += "|" + err.Error()
		}
		out = append(out, s)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return out
		}
	}
}

// The event stream's line reader answers as a 1 KiB bufio.Reader's
// ReadSlice('\n') does, however the body hands out its bytes.
func TestLineReaderReadsAsBufio(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	wrappers := map[string]func(io.Reader) io.Reader{
		"whole":      func(r io.Reader) io.Reader { return r },
		"one byte":   iotest.OneByteReader,
		"half":       iotest.HalfReader,
		"data + err": iotest.DataErrReader,
	}
	for i := range 300 {
		var in bytes.Buffer
		for range rng.IntN(20) {
			// Lines around the buffer's size and the first read's.
			n := []int{0, 1, 63, 64, 65, 500, 1023, 1024, 1025, 3000}[rng.IntN(10)]
			in.Write(bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, n))
			if rng.IntN(8) > 0 {
				in.WriteByte('\n')
			}
		}
		for name, wrap := range wrappers {
			br := bufio.NewReaderSize(wrap(bytes.NewReader(in.Bytes())), lineBufferSize)
			want := slicesOf(func() ([]byte, error) { return br.ReadSlice('\n') })
			l := &lineReader{r: wrap(bytes.NewReader(in.Bytes()))}
			got := slicesOf(l.readSlice)
			if len(got) != len(want) {
				t.Fatalf("input %d, %s: %d slices, bufio %d\n got %q\nwant %q", i, name, len(got), len(want), got, want)
			}
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("input %d, %s: slice %d is %q, bufio's %q", i, name, j, got[j], want[j])
				}
			}
		}
	}
}

// blockingReader hands out its lines one read at a time, then blocks
// until closed, as an idle event stream does.
type blockingReader struct {
	lines  [][]byte
	closed chan struct{}
	reads  chan struct{} // a receive per blocked read
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.lines) > 0 {
		n := copy(p, b.lines[0])
		b.lines[0] = b.lines[0][n:]
		if len(b.lines[0]) == 0 {
			b.lines = b.lines[1:]
		}
		return n, nil
	}
	b.reads <- struct{}{}
	<-b.closed
	return 0, io.EOF
}

// Between events an idle session's filter holds no line buffer: it waits
// in a read of a few bytes, and a buffer of the longest line it saw is
// let go.
func TestIdleStreamFilterHoldsNoBuffer(t *testing.T) {
	long := append(bytes.Repeat([]byte("x"), 5000), '\n')
	body := &blockingReader{
		lines:  [][]byte{[]byte(": comment\n"), []byte("data: {\"a\":1}\n\n"), []byte(": "), long, []byte("\n")},
		closed: make(chan struct{}),
		reads:  make(chan struct{}),
	}
	f := newStreamFilter(io.NopCloser(body), 0, func(error) {}, func(json.RawMessage) {}, func(error) {})
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(f)
		done <- err
	}()
	select {
	case <-body.reads:
	case <-time.After(10 * time.Second):
		t.Fatal("the filter never waited for more of the stream")
	}
	// The filter's goroutine is blocked in the body's Read now.
	if f.src.buf != nil {
		t.Errorf("blocked between events, the filter holds a %d-byte buffer", len(*f.src.buf))
	}
	if cap(f.line) > lineBufferSize {
		t.Errorf("blocked between events, the filter keeps a %d-byte line", cap(f.line))
	}
	close(body.closed)
	if err := <-done; err != nil {
		t.Fatalf("read: %v", err)
	}
}
