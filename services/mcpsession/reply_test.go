package mcpsession

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/logging"
)

// endlessReply answers every POST with a JSON-RPC reply that never ends
// (a valid start, then spaces without end) and counts the bytes it got
// out before the client hung up.
type endlessReply struct{ sent atomic.Int64 }

func (e *endlessReply) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "no stream", http.StatusMethodNotAllowed)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"pad":"`)
	chunk := []byte(strings.Repeat(" ", 64<<10))
	for e.sent.Load() < 1<<30 { // a gigabyte
		n, err := w.Write(chunk)
		e.sent.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// A reply of a gigabyte to initialize is cut at --mcp-max-reply-bytes: the
// session fails (and is retried) without ever holding more than the bound,
// where the SDK alone would read the whole reply into memory.
func TestHugeReplyIsCutAtTheBound(t *testing.T) {
	srv := &endlessReply{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	const bound = 4 << 20
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var attempts atomic.Int32
	h := startSession(t, streamable("prod", ts.URL+"/mcp"), func(o *Options) {
		o.MaxReplyBytes = bound
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			attempts.Add(1)
			<-ctx.Done()
			return ctx.Err()
		}
	})
	waitFor(t, "the first attempt to fail", func() bool { return attempts.Load() > 0 })
	h.stop(t)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if !strings.Contains(h.logs.String(), "exceeds --mcp-max-reply-bytes") {
		t.Errorf("the failure does not name the bound:\n%.2000s", h.logs.String())
	}
	// What the process allocated over the whole attempt, the SDK's buffer
	// growth included: a few times the bound, never the gigabyte.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16*bound {
		t.Errorf("allocated %d MiB for one reply bounded at %d MiB", grew>>20, bound>>20)
	}
	if sent := srv.sent.Load(); sent >= 1<<30 {
		t.Errorf("the whole gigabyte was read (%d bytes)", sent)
	}
}

// A server whose JSON-RPC error carries 5 MiB of text, retried: through
// the runner's logger each log line stays bounded, whatever the server
// sends and however often.
func TestHugeErrorTextMakesBoundedLogLines(t *testing.T) {
	huge := strings.Repeat("x", 5<<20)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"`+huge+`"}}`)
	}))
	defer ts.Close()
	var attempts atomic.Int32
	logs := &testlog.Buffer{}
	h := startSession(t, streamable("prod", ts.URL+"/mcp"), func(o *Options) {
		o.Logger = logging.New(logs, "json", slog.LevelInfo)
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			if attempts.Add(1) >= 3 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
	})
	waitFor(t, "three failed attempts", func() bool { return attempts.Load() >= 3 })
	h.stop(t)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d log lines, want one per attempt", len(lines))
	}
	for i, l := range lines {
		if len(l) > 4*logging.MaxValueBytes {
			t.Errorf("line %d is %d bytes: %.200s…", i, len(l), l)
		}
	}
}
