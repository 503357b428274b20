package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMetricsDocs: docs/metrics.md lists exactly the registered metrics,
// each with its labels.
func TestMetricsDocs(t *testing.T) {
	data, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, "<!-- BEGIN METRICS LIST"), strings.Index(doc, "<!-- END METRICS LIST -->")
	if i < 0 || j < i {
		t.Fatal("docs/metrics.md lacks the metrics list markers")
	}
	row := regexp.MustCompile("(?m)^\\| `(" + Namespace + "_[a-z_]+)` \\| [a-z]+ \\| ?([a-z_, ]*?) ?\\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(doc[i:j], -1) {
		documented[m[1]] = strings.TrimSpace(m[2])
	}

	registered := map[string]string{}
	for name, labels := range Catalog() {
		registered[name] = strings.Join(labels, ", ")
	}
	for name, labels := range registered {
		doc, ok := documented[name]
		if !ok {
			t.Errorf("%s is not documented in docs/metrics.md", name)
			continue
		}
		parts := strings.Split(doc, ", ")
		if doc == "" {
			parts = nil
		}
		slices.Sort(parts)
		if strings.Join(parts, ", ") != labels {
			t.Errorf("%s documented with labels %q, registered with %q", name, doc, labels)
		}
	}
	for name := range documented {
		if _, ok := registered[name]; !ok {
			t.Errorf("docs/metrics.md documents %s, which is not registered", name)
		}
	}
}
