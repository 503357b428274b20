package incident

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// UsageFile is where an agent may report what its run cost, beside the
// report in the workspace; the agent finds the path in USAGE_FILE.
const UsageFile = "usage.json"

// Bounds of the usage file. The file is written by the agent, which the
// runner does not trust: it is read through a limit, and values no single
// run can reach are refused rather than allowed to pause every budget.
const (
	MaxUsageBytes    = 4 << 10
	MaxUsageModelLen = 200     // bytes of the model name
	MaxUsageCostUSD  = 1e6     // per run
	MaxUsageTokens   = 1 << 40 // per run, per direction
)

// Usage is what an agent reported about one run. Each pointer is nil when
// the agent left that field out (or wrote null), so "not reported" differs
// from a reported 0; Reported says whether a usage file was there at all.
type Usage struct {
	Reported     bool
	CostUSD      *float64
	InputTokens  *int64
	OutputTokens *int64
	Model        string
}

// usageDoc is the file as written. Numbers are kept raw and parsed here:
// encoding/json would accept a quoted number into a json.Number and round
// a float into nothing useful, and a float where an integer belongs, a
// string where a number belongs or a number no int64 holds must be refused
// with the field's name.
type usageDoc struct {
	CostUSD      json.RawMessage `json:"cost_usd"`
	InputTokens  json.RawMessage `json:"input_tokens"`
	OutputTokens json.RawMessage `json:"output_tokens"`
	Model        *string         `json:"model"`
}

// number is a raw JSON value that must be a number literal; absent or
// null is ok false.
func number(field string, raw json.RawMessage) (lit string, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return "", false, fmt.Errorf("usage %s is %s, not a number", field, kind(c))
	}
	return string(raw), true, nil
}

func kind(c byte) string {
	switch c {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	default:
		return "a boolean"
	}
}

// ParseUsage reads a usage file's content (schema in the package comment).
// Unknown fields are ignored, so agents can write more than the runner
// reads; a field of the wrong type, a negative or out-of-range number, or a
// model name that is too long or holds control characters is an error.
func ParseUsage(data []byte) (Usage, error) {
	if len(data) > MaxUsageBytes {
		return Usage{}, fmt.Errorf("usage is %d bytes, more than the %d allowed", len(data), MaxUsageBytes)
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD silently.
	if !utf8.Valid(data) {
		return Usage{}, errors.New("usage is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Usage{}, errors.New("usage is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var doc usageDoc
	if err := dec.Decode(&doc); err != nil {
		return Usage{}, fmt.Errorf("usage is not valid: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Usage{}, errors.New("usage has data after its JSON object")
	}
	u := Usage{Reported: true}
	lit, ok, err := number("cost_usd", doc.CostUSD)
	if err != nil {
		return Usage{}, err
	}
	if ok {
		c, err := strconv.ParseFloat(lit, 64)
		switch {
		case err != nil || math.IsNaN(c) || math.IsInf(c, 0):
			return Usage{}, fmt.Errorf("usage cost_usd %s is not a finite number", lit)
		case c < 0:
			return Usage{}, fmt.Errorf("usage cost_usd %s is negative", lit)
		case c > MaxUsageCostUSD:
			return Usage{}, fmt.Errorf("usage cost_usd %s is more than %g for one run", lit, float64(MaxUsageCostUSD))
		}
		u.CostUSD = &c
	}
	if u.InputTokens, err = tokens("input_tokens", doc.InputTokens); err != nil {
		return Usage{}, err
	}
	if u.OutputTokens, err = tokens("output_tokens", doc.OutputTokens); err != nil {
		return Usage{}, err
	}
	if doc.Model != nil {
		if err := checkModel(*doc.Model); err != nil {
			return Usage{}, err
		}
		u.Model = *doc.Model
	}
	return u, nil
}

func tokens(field string, raw json.RawMessage) (*int64, error) {
	lit, ok, err := number(field, raw)
	if err != nil || !ok {
		return nil, err
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	switch {
	case err != nil:
		return nil, fmt.Errorf("usage %s %s is not a whole number an int64 holds", field, lit)
	case v < 0:
		return nil, fmt.Errorf("usage %s %d is negative", field, v)
	case v > MaxUsageTokens:
		return nil, fmt.Errorf("usage %s %d is more than %d for one run", field, v, int64(MaxUsageTokens))
	}
	return &v, nil
}

// checkModel keeps the model name fit for a log line and the incidents
// page: bounded, no control characters (no newlines that
// could forge a log line, no terminal escapes).
func checkModel(m string) error {
	if len(m) > MaxUsageModelLen {
		return fmt.Errorf("usage model is %d bytes, more than the %d allowed", len(m), MaxUsageModelLen)
	}
	for _, r := range m {
		if unicode.IsControl(r) {
			return fmt.Errorf("usage model holds the control character %U", r)
		}
	}
	return nil
}

// ReadUsage reads the usage file at path. A missing file is an unreported
// usage (Reported false) and no error: reporting is optional. Anything but
// a regular file (a symlink, a FIFO that would block the read, a device)
// is refused before it is opened, and at most MaxUsageBytes+1 bytes are
// read, so an agent cannot make the runner read much or wait.
func ReadUsage(path string) (Usage, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Usage{}, nil
	}
	if err != nil {
		return Usage{}, fmt.Errorf("usage file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return Usage{}, fmt.Errorf("usage file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxUsageBytes {
		return Usage{}, fmt.Errorf("usage file %s is %d bytes, more than the %d allowed", path, fi.Size(), MaxUsageBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		return Usage{}, fmt.Errorf("usage file %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxUsageBytes+1))
	if err != nil {
		return Usage{}, fmt.Errorf("usage file %s: %w", path, err)
	}
	if len(data) > MaxUsageBytes {
		// It grew after Lstat: its size now is at least what was read.
		return Usage{}, fmt.Errorf("usage file %s is more than %d bytes", path, MaxUsageBytes)
	}
	u, err := ParseUsage(data)
	if err != nil {
		return Usage{}, fmt.Errorf("usage file %s: %w", path, err)
	}
	return u, nil
}
