package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestValuesAreCut(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "json", slog.LevelInfo)
	huge := strings.Repeat("é", 3<<20) // 6 MiB of two-byte characters
	l.Warn("Connect failed", "error", huge, "err", errors.New(huge), "short", "kept")
	line := buf.String()
	if len(line) > 3*MaxValueBytes+512 {
		t.Fatalf("log line of %d bytes for values cut at %d", len(line), MaxValueBytes)
	}
	var rec map[string]string
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("the cut line is not valid JSON: %v", err)
	}
	for _, k := range []string{"error", "err"} {
		if !strings.HasSuffix(rec[k], "bytes cut]") || !strings.HasPrefix(rec[k], "éé") {
			t.Errorf("%s = %.80q…, want a cut value with its note", k, rec[k])
		}
	}
	if rec["short"] != "kept" {
		t.Errorf("short value %q changed", rec["short"])
	}
}

func TestRepeatedWarningsAreLoggedOncePerInterval(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	l := Limit(New(&buf, "json", slog.LevelInfo), 10*time.Second, func() time.Time { return now }).With("component", "alertmanager-intake")
	for i := range 1000 {
		l.Warn("Refused notification: bad or missing credentials", "remote", "10.0.0.9:"+string(rune('0'+i%10))+"000")
	}
	l.Warn("Refused notification: bad or missing credentials", "remote", "10.0.0.8:1234") // another client
	l.Info("Not limited")
	l.Info("Not limited")
	if n := strings.Count(buf.String(), "\n"); n != 4 {
		t.Fatalf("%d lines for 1000 repeats, one other client and two infos, want 4:\n%s", n, buf.String())
	}
	now = now.Add(11 * time.Second)
	buf.Reset()
	l.Warn("Refused notification: bad or missing credentials", "remote", "10.0.0.9:5555")
	if !strings.Contains(buf.String(), `"repeated":999`) {
		t.Errorf("after the interval: %s, want the 999 repeats counted", buf.String())
	}
}
