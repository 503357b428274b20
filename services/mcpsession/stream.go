package mcpsession

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// MaxJSONDepth is the deepest nesting of objects and arrays the runner
// accepts in a message on the event stream; deeper messages are dropped as
// malformed before anything decodes them.
const MaxJSONDepth = 1000

// streamFilter sits between the standalone GET event stream of a session
// and the SDK reading it. The SDK treats one bad event as the end of the
// stream, and keeps every message it has read in memory until its handler
// takes it; a server can therefore end a session with one frame, or grow the
// runner's memory without bound by sending faster than intake takes faults.
// The filter reads one event at a time, drops what is bad (over the size
// bound, not JSON, nested too deep, not a well-formed SSE event) and hands
// fault notifications to the session itself, so the SDK only ever sees the
// few other messages (pings' answers travel on POST responses, not here).
type streamFilter struct {
	src  lineReader
	body io.Closer
	max  int
	// bad is told of each dropped event.
	bad func(err error)
	// faults takes each fault notification's data; the SDK never sees it.
	faults func(data json.RawMessage)
	// ended is told, once, why the stream ended (io.EOF when the server
	// closed it, ErrStreamClosed when the SDK did).
	ended     func(err error)
	endedOnce sync.Once

	out  bytes.Buffer // re-encoded events waiting for the SDK
	line []byte
	err  error
	// ev is the event being read, size its bytes so far (next).
	ev                sseEvent
	size              int
	oversize, started bool
}

func newStreamFilter(body io.ReadCloser, maxEventBytes int, bad func(error), faults func(json.RawMessage), ended func(error)) *streamFilter {
	if maxEventBytes <= 0 {
		maxEventBytes = 16 << 20
	}
	// Lines longer than the reader's buffer are read in pieces; an idle
	// session holds no buffer (lineReader).
	return &streamFilter{src: lineReader{r: body}, body: body, max: maxEventBytes, bad: bad, faults: faults, ended: ended}
}

// errStreamClosed is the end of a stream closed by its reader.
var errStreamClosed = errors.New("event stream closed by the client")

func (f *streamFilter) Close() error {
	f.end(errStreamClosed)
	return f.body.Close()
}

func (f *streamFilter) end(err error) {
	f.endedOnce.Do(func() { f.ended(err) })
}

func (f *streamFilter) Read(p []byte) (int, error) {
	for f.out.Len() == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if f.err = f.next(); f.err != nil {
			f.end(f.err)
		}
	}
	n, _ := f.out.Read(p)
	if f.out.Len() == 0 {
		// Give the buffer back between events: an idle session holds
		// no copy of the largest event it ever saw.
		f.out = bytes.Buffer{}
	}
	return n, nil
}

// sseEvent is one event as read off the wire.
type sseEvent struct {
	name, id string
	data     []byte
	hasData  bool
	badLine  []byte
}

// next reads one event and either drops it, hands it to faults, or queues
// it re-encoded for the SDK. It returns the stream's own error (EOF, a
// broken connection) only.
//
// An idle session spends its life blocked in next, under the SDK's reader
// and above the HTTP body's, on a goroutine whose stack started at 4 KiB.
// The event being assembled lives in the filter and each line is taken by
// a function of its own, so that next's frame stays small: with the
// event on next's frame, the blocked reader needed just over 4 KiB and
// every idle session kept an 8 KiB stack.
func (f *streamFilter) next() error {
	f.ev = sseEvent{}
	f.size, f.oversize, f.started = 0, false, false
	if cap(f.line) > lineBufferSize {
		// An idle session keeps no copy of the longest line it saw.
		f.line = nil
	}
	for {
		// Past the bound the rest of the event is read and discarded;
		// the budget still lets a blank line end it.
		line, err := f.readLine(max(f.max+1-f.size, 2))
		if done, err := f.take(line, err); done {
			return err
		}
	}
}

// take adds one line to the event being read; done when the event or the
// stream ended, with the stream's error.
//
//go:noinline
func (f *streamFilter) take(line []byte, err error) (done bool, _ error) {
	if errors.Is(err, errLineTooLong) {
		f.oversize, err = true, nil
	}
	f.size += len(line)
	if f.size > f.max {
		f.oversize = true
	}
	if len(line) == 0 && err != nil {
		// The stream ended; a partial event is not passed on.
		return true, err
	}
	trimmed := bytes.TrimRight(line, "\r\n")
	if len(trimmed) == 0 {
		if f.started {
			f.deliver(&f.ev, f.oversize)
		}
		return true, err
	}
	f.started = true
	if err != nil {
		return true, err
	}
	if !f.oversize {
		f.field(&f.ev, trimmed)
	}
	return false, nil
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line of at most budget bytes; a longer line is read to
// its end and discarded, and errLineTooLong returned with what fit.
func (f *streamFilter) readLine(budget int) ([]byte, error) {
	f.line = f.line[:0]
	tooLong := false
	for {
		chunk, err := f.src.readSlice()
		if !tooLong {
			if len(f.line)+len(chunk) > budget {
				tooLong = true
				f.line = f.line[:0]
			} else {
				f.line = append(f.line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong && err == nil {
			// Report a non-empty line so the event is not taken
			// as ended.
			return []byte{'x'}, errLineTooLong
		}
		return f.line, err
	}
}

func (f *streamFilter) field(ev *sseEvent, line []byte) {
	if line[0] == ':' {
		return // a comment
	}
	key, value, found := bytes.Cut(line, []byte{':'})
	if !found {
		if ev.badLine == nil {
			ev.badLine = append([]byte(nil), truncateBytes(line, 64)...)
		}
		return
	}
	value = bytes.TrimPrefix(value, []byte{' '})
	switch string(key) {
	case "event":
		ev.name = string(bytes.TrimSpace(value))
	case "id":
		ev.id = string(bytes.TrimSpace(value))
	case "data":
		if ev.hasData {
			ev.data = append(ev.data, '\n')
		}
		ev.data = append(ev.data, value...)
		ev.hasData = true
	}
}

func (f *streamFilter) deliver(ev *sseEvent, oversize bool) {
	switch {
	case oversize:
		f.bad(fmt.Errorf("%w: event stream message over %d bytes", fault.ErrMalformed, f.max))
		return
	case ev.badLine != nil:
		f.bad(fmt.Errorf("%w: event stream line without a field name: %q", fault.ErrMalformed, ev.badLine))
		return
	case !ev.hasData && ev.name == "" && ev.id == "":
		return // nothing but comments: the SDK would skip it too
	}
	if ev.name == "" || ev.name == "message" {
		// JSON-RPC messages; other events (the legacy transport's
		// endpoint) carry other data.
		if err := checkJSON(ev.data); err != nil {
			f.bad(err)
			return
		}
		if data, ok := faultNotification(ev.data); ok {
			f.faults(data)
			return
		}
	}
	if ev.name != "" {
		fmt.Fprintf(&f.out, "event: %s\n", ev.name)
	}
	if ev.id != "" {
		fmt.Fprintf(&f.out, "id: %s\n", ev.id)
	}
	for line := range bytes.SplitSeq(ev.data, []byte{'\n'}) {
		f.out.WriteString("data: ")
		f.out.Write(line)
		f.out.WriteByte('\n')
	}
	f.out.WriteByte('\n')
}

// checkJSON accepts a JSON value nested at most MaxJSONDepth deep.
func checkJSON(data []byte) error {
	if d := jsonDepth(data); d > MaxJSONDepth {
		return fmt.Errorf("%w: event stream message nested deeper than %d", fault.ErrMalformed, MaxJSONDepth)
	}
	if !json.Valid(data) {
		return fmt.Errorf("%w: event stream message is not JSON (%d bytes)", fault.ErrMalformed, len(data))
	}
	return nil
}

// jsonDepth is the deepest nesting of objects and arrays in data, counted
// without decoding; it stops counting once past MaxJSONDepth.
func jsonDepth(data []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > MaxJSONDepth {
					return deepest
				}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// faultsMark is in every message whose logger is kubernetes/faults, however
// its "/" is written.
var faultsMark = []byte(LoggerFaults[strings.LastIndexByte(LoggerFaults, '/')+1:])

// faultNotification returns the data of a kubernetes/faults
// notifications/message in msg, which checkJSON accepted. It answers as
// decodeFaultNotification does, without decoding: the envelope's members
// are found by a scan (envelope.go) that needs little stack, and the
// reader's goroutine, blocked for an idle session's life with 3 KiB of its
// 4 KiB stack in use, would keep the 8 KiB that json.Unmarshal grows it
// to (the runtime shrinks a stack only when under a quarter is in use).
// Envelopes the scan does not settle (escapes, non-ASCII or repeated
// keys) are decoded.
func faultNotification(msg []byte) (json.RawMessage, bool) {
	// A cheap look first: most messages on the stream are faults, the
	// rest are rare. For the logger's last segment, not its whole name: an
	// encoder may write its "/" as "\/", and that is still a fault.
	if !bytes.Contains(msg, faultsMark) {
		return nil, false
	}
	if data, ok, settled := scanFaultNotification(msg); settled {
		return data, ok
	}
	return decodeFaultNotification(msg)
}

// decodeFaultNotification is faultNotification by json.Unmarshal: the
// envelope as the SDK's decoding reads it.
func decodeFaultNotification(msg []byte) (json.RawMessage, bool) {
	var env struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Logger string          `json:"logger"`
			Data   json.RawMessage `json:"data"`
		} `json:"params"`
	}
	if err := json.Unmarshal(msg, &env); err != nil {
		return nil, false
	}
	if env.ID != nil || env.Method != "notifications/message" || env.Params.Logger != LoggerFaults {
		return nil, false
	}
	return env.Params.Data, true
}

func truncateBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n]
}
