package packaging

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// slug is GitHub's anchor for a Markdown heading.
func slug(heading string) string {
	s := strings.ToLower(strings.TrimSpace(heading))
	s = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(s, "")
	return strings.ReplaceAll(s, " ", "-")
}

// TestAlertRunbooks: every alert has a summary, a description and a
// runbook_url whose anchor is a section of docs/operations.md with text.
func TestAlertRunbooks(t *testing.T) {
	data, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	parts := regexp.MustCompile(`(?m)^#{2,4} (.+)$`).FindAllStringSubmatchIndex(string(doc), -1)
	for i, p := range parts {
		end := len(doc)
		if i+1 < len(parts) {
			end = parts[i+1][0]
		}
		sections[slug(string(doc[p[2]:p[3]]))] = strings.TrimSpace(string(doc[p[1]:end]))
	}
	const base = "https://github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/blob/main/docs/operations.md#"
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s lacks a summary or description", r.Alert)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s severity %q", r.Alert, s)
			}
			url := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(url, base)
			if !ok {
				t.Errorf("%s runbook_url %q is not a section of docs/operations.md", r.Alert, url)
				continue
			}
			if anchor != slug(r.Alert) {
				t.Errorf("%s runbook anchor %q, want its own section %q", r.Alert, anchor, slug(r.Alert))
			}
			if len(sections[anchor]) < 80 {
				t.Errorf("%s: docs/operations.md has no runbook at #%s", r.Alert, anchor)
			}
		}
	}
	if n < 14 {
		t.Errorf("%d alerts, want the 14 the runbooks describe", n)
	}
	// Links inside the runbooks to other sections resolve too.
	for _, m := range regexp.MustCompile(`\]\(#([a-z0-9-]+)\)`).FindAllStringSubmatch(string(doc), -1) {
		if _, ok := sections[m[1]]; !ok {
			t.Errorf("docs/operations.md links to #%s, which is no heading", m[1])
		}
	}
}

// TestDashboardVariables: the dashboard filters by instance and cluster,
// uses $__rate_interval, and shows the breaker by name.
func TestDashboardVariables(t *testing.T) {
	data, err := os.ReadFile("grafana/kubernetes-mcp-runner.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title       string `json:"title"`
			FieldConfig struct {
				Defaults struct {
					Mappings []struct {
						Type    string `json:"type"`
						Options map[string]struct {
							Text string `json:"text"`
						} `json:"options"`
					} `json:"mappings"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, v := range dash.Templating.List {
		q, _ := json.Marshal(v.Query)
		vars[v.Name] = string(q)
	}
	for _, v := range []string{"datasource", "instance", "cluster"} {
		if _, ok := vars[v]; !ok {
			t.Errorf("dashboard has no $%s variable", v)
		}
	}
	if !strings.Contains(vars["cluster"], "label_values(") || !strings.Contains(vars["instance"], "label_values(") {
		t.Errorf("instance and cluster variables are not label_values queries: %v", vars)
	}
	breaker := false
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q does not filter by $instance: %s", p.Title, tg.Expr)
			}
			if regexp.MustCompile(`\[(1|5|15)m\]`).MatchString(tg.Expr) {
				t.Errorf("panel %q uses a fixed rate window instead of $__rate_interval: %s", p.Title, tg.Expr)
			}
			if strings.Contains(tg.Expr, "circuit_breaker_state") {
				names := map[string]string{}
				for _, m := range p.FieldConfig.Defaults.Mappings {
					for k, o := range m.Options {
						names[k] = o.Text
					}
				}
				if names["0"] != "closed" || names["0.5"] != "half-open" || names["1"] != "open" {
					t.Errorf("breaker panel maps %v, want 0 closed, 0.5 half-open, 1 open", names)
				}
				breaker = true
			}
		}
	}
	if !breaker {
		t.Error("no circuit breaker panel")
	}
}
