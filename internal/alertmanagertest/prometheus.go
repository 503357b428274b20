package alertmanagertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// PrometheusConfig is a Prometheus that scrapes Targets and evaluates
// Rules every second and sends its alerts to Alertmanager.
type PrometheusConfig struct {
	// Targets are host:port scraped at /metrics.
	Targets []string
	// Alertmanager is host:port (Alertmanager.Addr).
	Alertmanager string
	// Rules is a Prometheus rule file ("groups: ...").
	Rules string
	// ExternalLabels are added to every alert, as clusters do with
	// cluster: NAME.
	ExternalLabels map[string]string
}

// YAML renders prometheus.yml, referring to the rule file rules.
func (c PrometheusConfig) YAML(rules string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
	if len(c.ExternalLabels) > 0 {
		keys := make([]string, 0, len(c.ExternalLabels))
		for k := range c.ExternalLabels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("  external_labels:\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "    %s: %q\n", k, c.ExternalLabels[k])
		}
	}
	fmt.Fprintf(&b, "rule_files: [%q]\n", rules)
	if c.Alertmanager != "" {
		fmt.Fprintf(&b, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", c.Alertmanager)
	}
	b.WriteString("scrape_configs:\n  - job_name: test\n    static_configs:\n      - targets: [")
	for i, t := range c.Targets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(t))
	}
	b.WriteString("]\n")
	return b.String()
}

// Prometheus is one running Prometheus process.
type Prometheus struct {
	// URL is its base URL, http://127.0.0.1:PORT.
	URL     string
	Version string
	proc    *process
}

// StartPrometheus runs Debian's (or upstream's) prometheus binary with c
// on a free loopback port, waits until it is ready, and stops it when the
// test ends. Alerts are re-sent to Alertmanager every second rather than
// every minute, so resolutions arrive quickly.
func StartPrometheus(t testing.TB, c PrometheusConfig) *Prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		skipOrFail(t, fmt.Errorf("prometheus not installed (Debian: apt-get install prometheus): %w", err))
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(c.Rules), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(c.YAML(rules)), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := startProcess("prometheus", bin, func(addr string) []string {
		return []string{
			"--config.file=" + cfg,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--rules.alert.resend-delay=1s",
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("prometheus logs:\n%s", p.logs.String())
		}
	})
	return &Prometheus{URL: p.url, Version: p.version, proc: p}
}

// Gauge is a scrape target exposing one gauge the test sets.
type Gauge struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	v    float64
}

// NewGauge serves name at /metrics on a loopback port, with value 0.
func NewGauge(name string) *Gauge {
	g := &Gauge{name: name}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		g.mu.Lock()
		v := g.v
		g.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE %s gauge\n%s %s\n", g.name, g.name, strconv.FormatFloat(v, 'g', -1, 64))
	}))
	return g
}

// Set changes the value the next scrape sees.
func (g *Gauge) Set(v float64) {
	g.mu.Lock()
	g.v = v
	g.mu.Unlock()
}

// Addr is host:port, a scrape target.
func (g *Gauge) Addr() string { return strings.TrimPrefix(g.srv.URL, "http://") }

// Close stops serving.
func (g *Gauge) Close() { g.srv.Close() }
