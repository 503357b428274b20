package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// TestDocsNameOnlyRealFlags unless someone lists it here, which a review
// sees.
var otherTools = map[string][]string{
	"kubernetes-mcp-server": {"port", "disable-multi-cluster"},
	"kubectl": {"certificate-authority", "embed-certs", "server", "token", "user", "minify", "raw", "from-file",
		"from-literal", "for", "timeout", "show-labels", "replicas", "previous", "field-selector"},
	"helm":                 {"values", "install"},
	"docker":               {"build-arg", "rm", "stop-timeout", "init", "filter", "name"},
	"git":                  {"tags", "always"},
	"systemctl":            {"now"},
	"systemd-analyze":      {"offline"},
	"man":                  {"warnings"},
	"npm":                  {"global"},
	"claude (the example)": {"print", "output-format", "max-budget-usd"},
	"an agent's own args":  {"incident"},
}

// pendingFlags are documented ahead of the code that adds them; drop
// each once the options table has it.
var pendingFlags = []string{}

// TestDocsNameOnlyRealFlags: every --flag README.md and docs/*.md name is
// an option of the runner, a flag of one of its modes (demo, incidents,
// the load command), or listed above as another tool's.
func TestDocsNameOnlyRealFlags(t *testing.T) {
	// otherTools are the flags the docs name for commands other than the
	// runner, by command. A runner flag renamed in the code fails
	known := map[string]string{}
	for _, o := range config.Options() {
		known[o.Flag] = "options table"
	}
	helpFlag := regexp.MustCompile(`(?m)^  --([a-z0-9-]+)$`)
	for _, mode := range []string{"demo", "incidents"} {
		var out, errOut bytes.Buffer
		if code := run([]string{mode, "--help"}, &out, &errOut); code != exitOK {
			t.Fatalf("%s --help: exit %d %s", mode, code, errOut.String())
		}
		for _, m := range helpFlag.FindAllStringSubmatch(out.String(), -1) {
			known[m[1]] = mode
		}
	}
	// The load command is a separate binary; its flags are read from
	// where it defines them.
	loadSrc, _ := filepath.Glob("cmd/kubernetes-mcp-runner-load/*.go")
	defined := regexp.MustCompile(`\.(?:String|Int|Int64|Uint|Float64|Bool|Duration|Var|Func)\((?:[^,()]+, )?"([a-z0-9-]+)"`)
	for _, f := range loadSrc {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range defined.FindAllStringSubmatch(string(data), -1) {
			known[m[1]] = "kubernetes-mcp-runner-load"
		}
	}
	if known["faults"] != "kubernetes-mcp-runner-load" {
		t.Fatalf("the load command's flags were not found (%d files)", len(loadSrc))
	}
	for tool, flags := range otherTools {
		for _, f := range flags {
			if by, ok := known[f]; ok && by != tool {
				continue // the runner's own meaning wins
			}
			known[f] = tool
		}
	}
	known["help"], known["version"] = "runner", "runner"
	for _, f := range pendingFlags {
		if _, ok := known[f]; ok {
			t.Logf("--%s exists now: drop it from pendingFlags", f)
		}
		known[f] = "pending"
	}

	docs, _ := filepath.Glob("docs/*.md")
	docs = append(docs, "README.md")
	// A flag: two dashes after a space, backtick, quote or bracket, not
	// part of a longer word (--intake-* is a family, not a flag).
	named := regexp.MustCompile("(?:^|[\\s`'\"(\\[=])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\\b(-?\\*)?")
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range named.FindAllStringSubmatch(line, -1) {
				if m[2] != "" {
					continue
				}
				if _, ok := known[m[1]]; !ok {
					t.Errorf("%s:%d names --%s, which no command has (renamed? or list it under its tool in otherTools)", doc, i+1, m[1])
				}
			}
		}
	}
}
