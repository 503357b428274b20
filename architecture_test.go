package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The layers of the module, as the design states them: every package has
// a rank, and every import goes to a package of a lower rank. Packages of
// one rank never import each other (services never import services), so a
// new wrong-way arrow fails here without anyone writing a rule for it, and
// a new package fails until it is given a rank. Paths are relative to the
// module; "x/..." is x and everything under it, "." the root.
var ranks = []struct {
	rank     int
	packages []string
	why      string
}{
	{0, []string{"fault", "notification", "procutil", "config", "metrics", "httpserver", "logging"},
		"leaves: the domain's fault, the notification document, process groups, options, collectors, the HTTP listener, the logger"},
	{1, []string{"incident", "breaker", "workspace", "queue", "grouping"},
		"what an incident is, and the mechanisms over faults: breaker, workspaces, queues, grouping"},
	{2, []string{"budget", "intake", "ui", "services/health"},
		"budgets over incidents' usage; intake over the queues; the page; the probe handlers"},
	{3, []string{"journal", "notify"},
		"the store (it keeps queues, incidents, outbox records and budgets) and the sinks, which never meet"},
	{4, []string{"history", "services/mcpsession/clusterstate", "agentjob"},
		"read sides: incidents from the store; cluster state through the MCP tools; agents run as Kubernetes Jobs"},
	{5, []string{"services/..."}, "the supervised services: they never import each other"},
	{6, []string{"supervisor"}, "runs the services: no service imports it"},
	{7, []string{"app"}, "the composition: builds everything in dependency order"},
	{8, []string{".", "cmd/..."}, "binaries: the runner's modes, the load tool"},
	{9, []string{"internal/...", "test/...", "packaging"}, "test and demo equipment, outside the daemon"},
}

// Imports that go against the ranks on purpose.
var exceptions = []struct {
	from, to, why string
}{
	{".", "internal/faultsource", "the demo runs the bundled stand-in server"},
	{".", "internal/sampleagent", "the binary's sample-agent mode is the demo's agent"},
	{"cmd/...", "internal/...", "the load tool drives the stand-in and scrapes the runner"},
	{"internal/...", "internal/...", "test equipment builds on test equipment"},
}

// The root only wires: it reaches the services, the store, the queues and
// intake through app alone.
var rootMayNotImport = []string{"services/...", "journal", "queue", "intake", "supervisor"}

const module = "github.com/kubernetes-mcp-runner/kubernetes-mcp-runner"

// TestImportsPointDown reads the import graph of every package of the
// module (non-test files, default build) and fails on any import that does
// not go to a lower rank, and on any package without a rank.
func TestImportsPointDown(t *testing.T) {
	for _, e := range checkImports(importGraph(t)) {
		t.Error(e)
	}
}

// checkImports lists what breaks the layering in graph.
func checkImports(graph map[string][]string) []string {
	var problems []string
	pkgs := make([]string, 0, len(graph))
	for pkg := range graph {
		pkgs = append(pkgs, pkg)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		from, ok := rankOf(pkg)
		if !ok {
			problems = append(problems, pkg+" has no rank: add it to the ranks table where it belongs")
			continue
		}
		for _, imp := range graph[pkg] {
			if pkg == "." && matchesAny(rootMayNotImport, imp) {
				problems = append(problems, ". imports "+imp+": the root reaches services, the store, queues and intake through app")
				continue
			}
			to, ok := rankOf(imp)
			if !ok || to < from || excepted(pkg, imp) {
				continue
			}
			problems = append(problems, pkg+" (rank "+itoa(from)+") imports "+imp+" (rank "+itoa(to)+"): imports go to a lower rank")
		}
	}
	return problems
}

// TestLayeringCatchesWrongWayArrows feeds the check the arrows the layers
// exist to prevent, one at a time on top of the module's real graph.
func TestLayeringCatchesWrongWayArrows(t *testing.T) {
	base := importGraph(t)
	for _, arrow := range [][2]string{
		{"journal", "notify"},                         // the store pulling in the sinks
		{"journal", "services/dispatch"},              // store → service
		{"services/alertmanager", "services/sweeper"}, // service → service
		{".", "services/dispatch"},                    // root → service
		{".", "journal"},                              // root → store
		{"services/dispatch", "supervisor"},           // service → supervisor
		{"fault", "incident"},                         // domain upwards
		{"newpkg", "fault"},                           // a package given no rank
	} {
		graph := map[string][]string{}
		for k, v := range base {
			graph[k] = append([]string(nil), v...)
		}
		graph[arrow[0]] = append(graph[arrow[0]], arrow[1])
		if len(checkImports(graph)) == 0 {
			t.Errorf("%s → %s passed the layering check", arrow[0], arrow[1])
		}
	}
}

func rankOf(pkg string) (int, bool) {
	// The most specific pattern wins: services/mcpsession/clusterstate
	// before services/....
	best, rank := -1, 0
	for _, r := range ranks {
		for _, p := range r.packages {
			if matches(p, pkg) && len(p) > best {
				best, rank = len(p), r.rank
			}
		}
	}
	return rank, best >= 0
}

func excepted(from, to string) bool {
	for _, e := range exceptions {
		if matches(e.from, from) && matches(e.to, to) {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }

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
