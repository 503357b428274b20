package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated table in docs/configuration.md")

const (
	docsPath   = "../docs/configuration.md"
	beginTable = "<!-- BEGIN GENERATED OPTIONS: go test ./config -run TestConfigurationDocs -update -->"
	endTable   = "<!-- END GENERATED OPTIONS -->"
)

// optionsTable renders every option as the docs list it: one table per
// --help section.
func optionsTable() string {
	var b strings.Builder
	section := ""
	for _, o := range Options() {
		if o.Section != section {
			if section != "" {
				b.WriteString("\n")
			}
			section = o.Section
			fmt.Fprintf(&b, "### %s\n\n| flag | environment variable | default | meaning |\n|---|---|---|---|\n", section)
		}
		def := o.Default
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | `%s` | %s |\n", o.Flag, o.Env, def, strings.ReplaceAll(o.Usage, "|", "\\|"))
	}
	return b.String()
}

// TestConfigurationDocs keeps docs/configuration.md in step with the
// binary's flag set: the table between the markers must list exactly the
// options, their environment variables and defaults.
func TestConfigurationDocs(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, beginTable), strings.Index(doc, endTable)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-table markers", docsPath)
	}
	want := optionsTable()
	got := doc[i+len(beginTable)+1 : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(docsPath, []byte(doc[:i+len(beginTable)+1]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/configuration.md is out of step with the flags; run: go test ./config -run TestConfigurationDocs -update\n--- docs\n%s\n--- flags\n%s", got, want)
}
