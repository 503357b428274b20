package incident

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParseUsageValid(t *testing.T) {
	u, err := ParseUsage([]byte(`{"cost_usd":0.42,"input_tokens":12000,"output_tokens":1800,"model":"claude-sonnet-4"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !u.Reported || u.CostUSD == nil || *u.CostUSD != 0.42 || u.InputTokens == nil || *u.InputTokens != 12000 ||
		u.OutputTokens == nil || *u.OutputTokens != 1800 || u.Model != "claude-sonnet-4" {
		t.Fatalf("usage %+v", u)
	}
}

// A field left out or null is not reported; a reported 0 is a 0.
func TestParseUsageAbsentDiffersFromZero(t *testing.T) {
	u, err := ParseUsage([]byte(`{"cost_usd":0,"input_tokens":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if !u.Reported || u.CostUSD == nil || *u.CostUSD != 0 {
		t.Errorf("a reported 0 cost reads as %+v", u)
	}
	if u.InputTokens != nil || u.OutputTokens != nil || u.Model != "" {
		t.Errorf("absent and null fields read as reported: %+v", u)
	}
	u, err = ParseUsage([]byte(" {} \n"))
	if err != nil || !u.Reported || u.CostUSD != nil {
		t.Errorf("an empty object: %+v %v", u, err)
	}
}

func TestParseUsageIgnoresExtraFields(t *testing.T) {
	u, err := ParseUsage([]byte(`{"cost_usd":1.5,"session_id":"abc","usage":{"cache_read_input_tokens":5},"tags":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	if u.CostUSD == nil || *u.CostUSD != 1.5 {
		t.Errorf("usage %+v", u)
	}
}

func TestParseUsageRefuses(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"malformed", `{"cost_usd":`, "not valid"},
		{"not an object", `[1]`, "not a JSON object"},
		{"null document", `null`, "not a JSON object"},
		{"empty", ``, "not a JSON object"},
		{"two objects", `{}{}`, "after its JSON object"},
		{"negative cost", `{"cost_usd":-0.01}`, "cost_usd -0.01 is negative"},
		{"cost out of float range", `{"cost_usd":1e400}`, "not a finite number"},
		{"huge cost", `{"cost_usd":1e12}`, "more than"},
		{"quoted cost", `{"cost_usd":"0.5"}`, "cost_usd is a string"},
		{"boolean cost", `{"cost_usd":true}`, "cost_usd is a boolean"},
		{"fractional tokens", `{"input_tokens":1.5}`, "input_tokens 1.5 is not a whole number"},
		{"tokens past int64", `{"output_tokens":99999999999999999999}`, "output_tokens 99999999999999999999 is not a whole number"},
		{"huge tokens", `{"output_tokens":9000000000000000}`, "more than"},
		{"negative tokens", `{"input_tokens":-3}`, "input_tokens -3 is negative"},
		{"object tokens", `{"input_tokens":{}}`, "input_tokens is an object"},
		{"model not a string", `{"model":5}`, "model"},
		{"model too long", `{"model":"` + strings.Repeat("m", MaxUsageModelLen+1) + `"}`, "model is 201 bytes"},
		{"model with newline", `{"model":"a\nlevel=ERROR"}`, "control character U+000A"},
		{"model with escape", `{"model":"\u001b[31m"}`, "control character U+001B"},
		{"model not UTF-8", "{\"model\":\"\xff\"}", "not valid UTF-8"},
		{"oversized", `{"model":"x","pad":"` + strings.Repeat(" ", MaxUsageBytes) + `"}`, "more than the 4096 allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := ParseUsage([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseUsage(%.60q) = %+v, %v; want an error containing %q", c.data, u, err, c.want)
			}
			if u.Reported {
				t.Error("a refused usage reads as reported")
			}
		})
	}
}

func TestReadUsage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, UsageFile)

	u, err := ReadUsage(path)
	if err != nil || u.Reported {
		t.Fatalf("a missing file: %+v %v; want unreported and no error", u, err)
	}

	write := func(data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"cost_usd":0.25,"model":"m"}`)
	u, err = ReadUsage(path)
	if err != nil || !u.Reported || *u.CostUSD != 0.25 || u.Model != "m" {
		t.Fatalf("a valid file: %+v %v", u, err)
	}

	write(`{"cost_usd":-1}`)
	if _, err := ReadUsage(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "negative") {
		t.Errorf("a negative cost: %v; want an error naming the file and the fault", err)
	}

	big := `{"cost_usd":1,"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	write(big)
	if _, err := ReadUsage(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), strconv.Itoa(len(big))+" bytes") {
		t.Errorf("an oversized file: %v; want an error naming the file and its size", err)
	}
}

// An agent could leave a FIFO (which would block a read until a writer
// came) or a symlink to a file of the runner's: neither is read.
func TestReadUsageRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := ReadUsage(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO: %v", err)
	}
	target := filepath.Join(dir, "target.json")
	if err := os.WriteFile(target, []byte(`{"cost_usd":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, UsageFile)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadUsage(link); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a symlink: %v", err)
	}
}
