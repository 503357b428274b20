package config

import (
	"strings"
	"testing"
)

// TestEveryOptionHasASection: a flag added to the options table must be
// placed in a --help section (config/help.go), or it lands under "Other".
func TestEveryOptionHasASection(t *testing.T) {
	listed := map[string]int{}
	for _, s := range sections() {
		for _, f := range s.flags {
			listed[f]++
		}
	}
	c := Defaults()
	known := map[string]bool{}
	for _, o := range options(&c) {
		known[o.Flag] = true
		if listed[o.Flag] != 1 {
			t.Errorf("--%s is in %d sections of config/help.go, want 1", o.Flag, listed[o.Flag])
		}
	}
	for f := range listed {
		if !known[f] {
			t.Errorf("config/help.go places --%s, which is no option", f)
		}
	}
}

// TestHelpIsGroupedBySection: --help prints each section's title once,
// in order, with its options under it.
func TestHelpIsGroupedBySection(t *testing.T) {
	var b strings.Builder
	WriteHelp(&b)
	help := b.String()
	last := -1
	for _, s := range sections() {
		heading := "\n" + s.title + ":\n"
		i := strings.Index(help, heading)
		if i < 0 || strings.Count(help, heading) != 1 {
			t.Fatalf("help has %d headings %q", strings.Count(help, heading), s.title)
		}
		if i < last {
			t.Errorf("section %q is out of order", s.title)
		}
		last = i
		body := help[i+len(heading):]
		if next := strings.Index(body, "\n\n"); next >= 0 {
			body = body[:next]
		}
		for _, f := range s.flags {
			if !strings.Contains(body, "  --"+f+"\n") {
				t.Errorf("--%s is not under %q", f, s.title)
			}
		}
	}
	for _, o := range Options() {
		if o.Section == OtherSection {
			t.Errorf("--%s has no section", o.Flag)
		}
	}
}

// TestUnknownFlagIsEchoedAsTypedWithSuggestion: the error repeats the flag
// as the user typed it and offers the nearest real one; a word that is
// near nothing gets no suggestion.
func TestUnknownFlagIsEchoedAsTypedWithSuggestion(t *testing.T) {
	cases := []struct {
		arg, want, notWant string
	}{
		{"--agent-timout", "unknown flag --agent-timout; did you mean --agent-timeout?", "-agent-timout:"},
		{"-agent-timout=5", "unknown flag -agent-timout; did you mean --agent-timeout?", ""},
		{"--helth-port", "did you mean --health-port?", ""},
		{"--frobnicate", "unknown flag --frobnicate (--help", "did you mean"},
	}
	for _, tc := range cases {
		_, err := Parse(append(append([]string{}, base...), tc.arg, "5"), env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.arg, err, tc.want)
			continue
		}
		if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
			t.Errorf("%s: error %q contains %q", tc.arg, err, tc.notWant)
		}
	}
	// The flag after a switch and after a value is still checked.
	_, err := Parse(append(append([]string{}, base...), "--reconcile-on-first-start", "--log-level", "info", "--bogus"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "unknown flag --bogus") {
		t.Errorf("flag after a switch: %v", err)
	}
	// A value that looks like a flag is a value, not an unknown flag.
	if _, err := Parse(append(append([]string{}, base...), "--agent-arg", "--verbose"), env(nil)); err != nil {
		t.Errorf("--agent-arg --verbose: %v", err)
	}
}

func TestFlagWithoutValueNamesItsEnvironmentVariable(t *testing.T) {
	_, err := Parse(append(append([]string{}, base...), "--agent-timeout"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "--agent-timeout (AGENT_TIMEOUT_SECONDS) needs a value") {
		t.Errorf("error %v", err)
	}
}

// TestConfigFileErrorsNameTheirLine: an unknown option and a bad value in
// the --config file are reported with the file and the line they are on.
func TestConfigFileErrorsNameTheirLine(t *testing.T) {
	cases := map[string][]string{
		"# runner\n\nlog-level info\nagent-timeot 30\n":  {"line 4: unknown option \"agent-timeot\"; did you mean \"agent-timeout\"?"},
		"log-level info\n# x\nagent-timeout abc # bad\n": {"line 3: invalid --agent-timeout (AGENT_TIMEOUT_SECONDS)", `"abc"`},
		"health-port 99999":                              {"line 1: invalid --health-port (HEALTH_PORT)", "out of range"},
	}
	for content, want := range cases {
		path := writeFile(t, "runner.conf", content)
		_, err := Parse(append(append([]string{}, base...), "--config", path), env(nil))
		if err == nil {
			t.Errorf("%q accepted", content)
			continue
		}
		for _, w := range append(want, path) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", content, err, w)
			}
		}
	}
	// The plain format still reads switches, comments after values and
	// tabs.
	path := writeFile(t, "runner.conf", "reconcile-on-first-start\nagent-timeout\t45 # comment\n")
	c, err := Parse(append(append([]string{}, base...), "--config", path), env(nil))
	if err != nil || !c.ReconcileOnFirstStart || c.AgentTimeout.Seconds() != 45 {
		t.Errorf("config %+v, %v", c.AgentTimeout, err)
	}
}

// TestClustersFileErrorsPointAtTheLine: a YAML syntax error is reported
// at the line that breaks the document (the decoder names the line its
// block began on); an unknown key by name, line and file with the nearest
// known key, never a Go type.
func TestClustersFileErrorsPointAtTheLine(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"indentation", "clusters:\n  - name: a\n    endpoint: http://a/mcp\n  - name: b\n   endpoint: [\n", []string{"line 5: "}},
		{"tab", "clusters:\n  - name: a\n    endpoint: http://a/mcp\n\ttriage: false\n", []string{"line 4: ", "tab"}},
		{"unknown key", "clusters:\n  - name: a\n    endpoint: http://a/mcp\n  - name: b\n    endpiont: http://b/mcp\n",
			[]string{`line 5: unknown key "endpiont" in cluster "b"; did you mean "endpoint"?`}},
		{"unknown filter", "clusters:\n  - name: a\n    endpoint: http://a/mcp\n    filters:\n      namespace: [x]\n",
			[]string{`line 5: unknown key "namespace" in the filters of cluster "a"; did you mean "namespaces"?`}},
		{"unknown top-level key", "cluster:\n  - name: a\n", []string{`line 1: unknown key "cluster" at the top level; did you mean "clusters"?`}},
		{"wrong type", "clusters:\n  - name: a\n    triage: maybe\n", []string{"line 3: ", "maybe"}},
		{"not a list", "clusters: {a: 1}\n", []string{"line 1: ", "a list of clusters"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "clusters.yaml", tc.doc)
			_, err := LoadClustersFile(path)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tc.want, path, "CLUSTERS_FILE") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "config.") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q names a Go type or spans lines", err)
			}
		})
	}
}
