// Package logging builds the runner's logger. Text from outside (a
// server's error, an alert's label, an agent's output) reaches log lines,
// so every string value is cut to MaxValueBytes, and sources a client can
// make repeat (refused requests, bad frames) log through Limit, which
// reports a repeated warning once per interval with a count.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxValueBytes is the most of one attribute value a log line carries; the
// rest is replaced by a note of how much was cut.
const MaxValueBytes = 2048

// New is the runner's logger: JSON (or "text") at level, every string
// value cut to MaxValueBytes.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: cut}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// cut bounds string values, and errors and Stringers, which reach the
// handler as values of their own kinds.
func cut(_ []string, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); len(s) > MaxValueBytes {
			a.Value = slog.StringValue(Cut(s, MaxValueBytes))
		}
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			return a
		}
		if len(s) > MaxValueBytes {
			a.Value = slog.StringValue(Cut(s, MaxValueBytes))
		}
	}
	return a
}

// Cut returns s if it fits in n bytes, else its first bytes (whole UTF-8
// characters) and a note of the length cut.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := n
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return fmt.Sprintf("%s…[%d bytes cut]", s[:end], len(s)-end)
}

// Limit returns a logger whose records at warning level and above are
// reported once per interval for each source: the same message about the
// same cluster and component from the same remote host. The first is
// logged at once; the repeats until the interval has passed are counted and
// the next one logged carries "repeated" (how many were not). Records below
// warning pass through.
func Limit(l *slog.Logger, interval time.Duration, now func() time.Time) *slog.Logger {
	return slog.New(&limiter{next: l.Handler(), interval: interval, now: now, state: &limitState{seen: map[string]*seen{}}})
}

type limiter struct {
	next     slog.Handler
	interval time.Duration
	now      func() time.Time
	state    *limitState
	// with holds the key attributes given through With.
	with string
}

type limitState struct {
	mu   sync.Mutex
	seen map[string]*seen
}

type seen struct {
	at       time.Time
	repeated int
}

// maxSources bounds the sources remembered: past it, the oldest half is
// forgotten (their next warning is logged at once).
const maxSources = 4096

func (l *limiter) Enabled(ctx context.Context, level slog.Level) bool {
	return l.next.Enabled(ctx, level)
}

func (l *limiter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return l.next.Handle(ctx, r)
	}
	key := r.Level.String() + "\x00" + r.Message + "\x00" + l.with
	r.Attrs(func(a slog.Attr) bool {
		key += keyPart(a)
		return true
	})
	now := l.now()
	st := l.state
	st.mu.Lock()
	s, ok := st.seen[key]
	if ok && now.Sub(s.at) < l.interval {
		s.repeated++
		st.mu.Unlock()
		return nil
	}
	repeated := 0
	if ok {
		repeated = s.repeated
	} else if len(st.seen) >= maxSources {
		st.forgetOldest(now)
	}
	st.seen[key] = &seen{at: now}
	st.mu.Unlock()
	if repeated > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", repeated))
	}
	return l.next.Handle(ctx, r)
}

func (st *limitState) forgetOldest(now time.Time) {
	var oldest time.Duration
	for _, s := range st.seen {
		oldest = max(oldest, now.Sub(s.at))
	}
	for k, s := range st.seen {
		if now.Sub(s.at) >= oldest/2 {
			delete(st.seen, k)
		}
	}
}

// keyPart is what of an attribute names the source of a record.
func keyPart(a slog.Attr) string {
	switch a.Key {
	case "cluster", "component", "sink":
		return "\x00" + a.Key + "=" + a.Value.String()
	case "remote":
		host, _, err := net.SplitHostPort(a.Value.String())
		if err != nil {
			host = a.Value.String()
		}
		return "\x00remote=" + host
	}
	return ""
}

func (l *limiter) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(l.with)
	for _, a := range attrs {
		b.WriteString(keyPart(a))
	}
	return &limiter{next: l.next.WithAttrs(attrs), interval: l.interval, now: l.now, state: l.state, with: b.String()}
}

func (l *limiter) WithGroup(name string) slog.Handler {
	return &limiter{next: l.next.WithGroup(name), interval: l.interval, now: l.now, state: l.state, with: l.with}
}
