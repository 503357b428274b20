package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// clusterName is a DNS label: it becomes a Prometheus label value and a
// directory name, so it must be short, lower case and free of separators.
var clusterName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// maxClustersFileBytes bounds the clusters file; ten thousand clusters fit
// comfortably.
const maxClustersFileBytes = 16 << 20

// clustersFile is the --clusters-file document.
type clustersFile struct {
	Clusters []clusterEntry `yaml:"clusters"`
}

// clusterEntry is Cluster as written in YAML, with pointers where an absent
// field takes a default.
type clusterEntry struct {
	Name            string    `yaml:"name"`
	Endpoint        string    `yaml:"endpoint"`
	Transport       Transport `yaml:"transport"`
	Triage          *bool     `yaml:"triage"`
	Kubeconfig      string    `yaml:"kubeconfig"`
	BearerTokenFile string    `yaml:"bearerTokenFile"`
	CAFile          string    `yaml:"caFile"`
	Context         string    `yaml:"context"`
	Filters         Filters   `yaml:"filters"`
	ClusterBudget   `yaml:",inline"`
}

// LoadClustersFile reads a --clusters-file.
func LoadClustersFile(path string) ([]Cluster, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--clusters-file (CLUSTERS_FILE): %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxClustersFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--clusters-file (CLUSTERS_FILE) %s: %w", path, err)
	}
	if len(data) > maxClustersFileBytes {
		return nil, fmt.Errorf("--clusters-file (CLUSTERS_FILE) %s: larger than %d bytes", path, maxClustersFileBytes)
	}
	clusters, err := ParseClusters(data)
	if err != nil {
		return nil, fmt.Errorf("--clusters-file (CLUSTERS_FILE) %s: %w", path, err)
	}
	return clusters, nil
}

// ParseClusters decodes a clusters document strictly: unknown keys are errors,
// so a typo such as "endpiont" cannot silently drop a setting.
func ParseClusters(data []byte) ([]Cluster, error) {
	var doc clustersFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no clusters in file")
		}
		return nil, describeClustersError(data, err)
	}
	out := make([]Cluster, 0, len(doc.Clusters))
	for _, e := range doc.Clusters {
		c := Cluster{
			Name:            e.Name,
			Endpoint:        e.Endpoint,
			Transport:       e.Transport,
			Triage:          true,
			Kubeconfig:      e.Kubeconfig,
			BearerTokenFile: e.BearerTokenFile,
			CAFile:          e.CAFile,
			Context:         e.Context,
			Filters:         e.Filters,
			Budget:          e.ClusterBudget,
		}
		if c.Transport == "" {
			c.Transport = TransportStreamable
		}
		if e.Triage != nil {
			c.Triage = *e.Triage
		}
		out = append(out, c)
	}
	return out, nil
}

// oneLine folds a multi-line decoder error so the daemon's fatal message
// stays on one line.
func oneLine(err error) error {
	parts := strings.Split(err.Error(), "\n")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return errors.New(strings.Join(parts, " "))
}

// AlertOnly reports whether the cluster receives faults only from the
// Alertmanager intake: it has no MCP endpoint, so no session is started
// for it.
func (c Cluster) AlertOnly() bool { return c.Endpoint == "" }

func (c Cluster) validate() error {
	if !clusterName.MatchString(c.Name) {
		return fmt.Errorf("invalid cluster name %q: use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit", c.Name)
	}
	if err := c.Budget.validate(c.Name); err != nil {
		return err
	}
	if c.AlertOnly() {
		return c.validateAlertOnly()
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cluster %q: endpoint %q is not an http(s) URL", c.Name, RedactURL(c.Endpoint))
	}
	switch c.Transport {
	case TransportStreamable, TransportSSE:
	default:
		return fmt.Errorf("cluster %q: transport %q is not %q or %q", c.Name, c.Transport, TransportStreamable, TransportSSE)
	}
	if err := c.validateSubscription(); err != nil {
		return err
	}
	for _, p := range []struct{ field, path string }{
		{"kubeconfig", c.Kubeconfig}, {"bearerTokenFile", c.BearerTokenFile}, {"caFile", c.CAFile},
	} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil {
			return fmt.Errorf("cluster %q: %s: %w", c.Name, p.field, err)
		}
	}
	return nil
}

// Filters narrow a cluster's fault subscription. They are the filter
// arguments of kubernetes-mcp-server's events_subscribe; empty ones are
// not sent.
type Filters struct {
	// Namespaces to watch; none means every namespace.
	Namespaces []string `yaml:"namespaces"`
	// LabelSelector filters by the involved object's labels, such as
	// "app=nginx,tier=frontend".
	LabelSelector     string `yaml:"labelSelector"`
	InvolvedKind      string `yaml:"involvedKind"`
	InvolvedName      string `yaml:"involvedName"`
	InvolvedNamespace string `yaml:"involvedNamespace"`
	// Reason is an event reason prefix, such as "BackOff".
	Reason string `yaml:"reason"`
	// Type is "Warning"; the server refuses "Normal" for faults.
	Type string `yaml:"type"`
}

// Arguments are the filters as events_subscribe arguments.
func (f Filters) Arguments() map[string]any {
	args := map[string]any{}
	if len(f.Namespaces) > 0 {
		args["namespaces"] = append([]string(nil), f.Namespaces...)
	}
	for k, v := range map[string]string{
		"labelSelector": f.LabelSelector, "involvedKind": f.InvolvedKind, "involvedName": f.InvolvedName,
		"involvedNamespace": f.InvolvedNamespace, "reason": f.Reason, "type": f.Type,
	} {
		if v != "" {
			args[k] = v
		}
	}
	return args
}

// dnsLabel is a Kubernetes namespace name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// validateSubscription checks what can be checked before the server sees
// it; the server refuses the rest, and the refusal is logged in its words.
func (c Cluster) validateSubscription() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("cluster %q: %s: %s", c.Name, key, fmt.Sprintf(format, a...))
	}
	if c.Context != "" && (len(c.Context) > 253 || strings.ContainsFunc(c.Context, unicode.IsControl)) {
		return bad("context", "%.40q is not a kubeconfig context name", c.Context)
	}
	f := c.Filters
	for i, ns := range f.Namespaces {
		if !dnsLabel.MatchString(ns) {
			return bad(fmt.Sprintf("filters.namespaces[%d]", i), "%.70q is not a namespace name", ns)
		}
	}
	if f.InvolvedNamespace != "" && !dnsLabel.MatchString(f.InvolvedNamespace) {
		return bad("filters.involvedNamespace", "%.70q is not a namespace name", f.InvolvedNamespace)
	}
	switch f.Type {
	case "", "Warning":
	case "Normal":
		return bad("filters.type", "faults cannot be filtered for Normal events (the server refuses it); use Warning or leave it out")
	default:
		return bad("filters.type", "%.20q is not Warning (or Normal, which faults refuse)", f.Type)
	}
	if f.LabelSelector != "" {
		for _, req := range strings.Split(f.LabelSelector, ",") {
			if strings.TrimSpace(req) == "" {
				return bad("filters.labelSelector", "%.100q has an empty requirement", f.LabelSelector)
			}
		}
	}
	for _, kv := range []struct{ key, v string }{
		{"filters.labelSelector", f.LabelSelector}, {"filters.involvedKind", f.InvolvedKind},
		{"filters.involvedName", f.InvolvedName}, {"filters.reason", f.Reason},
	} {
		if len(kv.v) > 1024 || strings.ContainsFunc(kv.v, unicode.IsControl) {
			return bad(kv.key, "%.40q is too long or holds control characters", kv.v)
		}
	}
	return nil
}

// checkSharedSubscriptions refuses two clusters that would subscribe to the
// same faults of the same server (same endpoint, context and filters): each
// fault would be triaged twice under two names.
func checkSharedSubscriptions(clusters []Cluster) error {
	seen := make(map[string]string, len(clusters))
	for _, c := range clusters {
		if c.AlertOnly() {
			continue
		}
		f := c.Filters
		key := fmt.Sprintf("%s\x00%s\x00%q\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s", c.Endpoint, c.Context, f.Namespaces,
			f.LabelSelector, f.InvolvedKind, f.InvolvedName, f.InvolvedNamespace, f.Reason, f.Type)
		if other, ok := seen[key]; ok {
			what := "its default context"
			if c.Context != "" {
				what = "context " + strconv.Quote(c.Context)
			}
			return fmt.Errorf("clusters %q and %q subscribe to the same faults (endpoint %s, %s, same filters): each fault would be triaged twice; give each a different context: or filters", other, c.Name, RedactURL(c.Endpoint), what)
		}
		seen[key] = c.Name
	}
	return nil
}
