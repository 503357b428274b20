package dispatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

// incidentID is unique per run of a fault and safe as a path component:
// the fault id (already restricted by the parser) with anything outside
// [A-Za-z0-9_-] replaced, then a time suffix.
func incidentID(it queue.Item, now time.Time) string {
	var b strings.Builder
	for _, r := range it.Event.FaultID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	b.WriteByte('-')
	b.WriteString(strconv.FormatInt(now.UnixNano(), 36))
	return b.String()
}

// writeFile writes data atomically with mode 0600.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(data, '\n'))
}

// argTemplates are the parsed agent arguments.
type argTemplates []*template.Template

func parseTemplates(what string, args []string) (argTemplates, error) {
	out := make(argTemplates, len(args))
	for i, a := range args {
		t, err := template.New(fmt.Sprintf("%s[%d]", what, i)).Option("missingkey=error").Parse(a)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, a, err)
		}
		if _, err := render(t, incident.Fields{}); err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, a, err)
		}
		out[i] = t
	}
	return out, nil
}

func render(t *template.Template, f incident.Fields) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, f); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (ts argTemplates) render(f incident.Fields) ([]string, error) {
	out := make([]string, len(ts))
	for i, t := range ts {
		s, err := render(t, f)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// pruneWorkspace removes everything in a timed-out or interrupted
// workspace except the event, the log, the result and the agent's output
// (its partial report: the most useful thing a run cut short leaves; the
// workspace cap bounds its size), which are the record an operator needs.
func pruneWorkspace(ws string) error {
	entries, err := os.ReadDir(ws)
	if err != nil {
		return err
	}
	var firstErr error
	for _, e := range entries {
		switch e.Name() {
		case incident.EventFile, incident.LogFile, incident.ResultFile, incident.OutputDir:
			continue
		}
		if err := os.RemoveAll(filepath.Join(ws, e.Name())); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
