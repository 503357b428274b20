package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// The import rules, as the design states them: imports point down only.
// Paths are relative to the module; "x/..." is x and everything under it,
// "..." is every package of the module, "." the root.
var importRules = []struct {
	from, to string
	but      []string // packages taken out of the rule: targets if from is one package, else sources
	why      string
}{
	{"fault", "...", nil, "the fault is a domain type at the bottom"},
	{"incident", "...", []string{"fault"}, "the incident is a domain type at the bottom, over the fault alone"},
	{"procutil", "...", nil, "procutil knows nothing of suture, metrics or incidents"},
	{"config", "...", nil, "config knows nothing of the layers above it"},
	{"metrics", "...", nil, "every package may count without metrics depending on it"},
	{"breaker", "...", nil, "the breaker takes its gauge as an interface"},
	{"workspace", "...", nil, "workspace retention takes its collectors as interfaces"},
	{"queue", "metrics", nil, "the queue takes its collectors as an interface"},
	{"intake", "metrics", nil, "intake takes its collectors as an interface"},
	{"services/...", "supervisor", nil, "services never import the supervisor that runs them"},
	{"journal", "services/...", nil, "the store never imports a service"},
	{"queue", "services/...", nil, "the queue is below the services that use it"},
	{"intake", "services/...", nil, "intake is below the sources that feed it"},
	{"services/dispatch", "services/alertmanager", nil, "dispatch never learns where a fault came from beyond its source value"},
	{"services/alertmanager", "journal", nil, "the Alertmanager endpoint hands faults to a Submitter; the root wires it to the store"},
	{"...", "internal/...", []string{".", "cmd/...", "internal/...", "test/..."},
		"test and demo equipment stays out of the daemon's packages (the root wires the demo)"},
}

const module = "github.com/kubernetes-mcp-runner/kubernetes-mcp-runner"

// TestImportsPointDown reads the import graph of every package of the
// module (non-test files, default build) and fails on any edge a rule
// forbids.
func TestImportsPointDown(t *testing.T) {
	graph := importGraph(t)
	for _, r := range importRules {
		matched := false
		for pkg, imports := range graph {
			multi := strings.HasSuffix(r.from, "...")
			if !matches(r.from, pkg) || (multi && matchesAny(r.but, pkg)) {
				continue
			}
			matched = true
			for _, imp := range imports {
				if matches(r.to, imp) && !(!multi && matchesAny(r.but, imp)) {
					t.Errorf("%s imports %s: %s", pkg, imp, r.why)
				}
			}
		}
		if !matched {
			t.Errorf("rule %q → %q matches no package: update the table", r.from, r.to)
		}
	}
}

// importGraph maps each package of the module to the module packages it
// imports directly, both relative to the module.
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, ok := relative(fields[0])
		if !ok {
			continue
		}
		graph[pkg] = nil
		for _, imp := range fields[1:] {
			if rel, ok := relative(imp); ok {
				graph[pkg] = append(graph[pkg], rel)
			}
		}
	}
	if len(graph) < 10 {
		t.Fatalf("go list found %d packages of %s", len(graph), module)
	}
	return graph
}

func relative(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

func matches(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

func matchesAny(patterns []string, pkg string) bool {
	for _, p := range patterns {
		if matches(p, pkg) {
			return true
		}
	}
	return false
}
