package config

import (
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// WriteEffective prints the configuration the runner would run with, once
// flags, environment, config file and defaults are merged: every option as
// a "flag value" line (the --config file format) and the clusters as a
// --clusters-file document. Nothing secret is printed: the configuration
// holds credentials only as file paths, URL passwords are redacted, and an
// agent argument or cleanup command word that looks like a credential
// (token=, password=, a URL with a password) has its value hidden.
func (c Config) WriteEffective(w io.Writer) error {
	opts := options(&c)
	var b strings.Builder
	b.WriteString("# Effective configuration: flag > environment > config file > default.\n")
	for _, o := range opts {
		switch o.Flag {
		case "config", "cluster":
			// The config file is where these came from; the clusters
			// (from --cluster and --clusters-file) follow below.
			continue
		case "agent-arg", "agent-env-allow":
			var list []string
			if o.Flag == "agent-arg" {
				list = c.AgentArgs
			} else {
				list = c.AgentEnvAllow
			}
			if len(list) == 0 {
				fmt.Fprintf(&b, "# %s (none)\n", o.Flag)
			}
			for _, v := range list {
				fmt.Fprintf(&b, "%s %s\n", o.Flag, redactWord(v))
			}
			continue
		case "agent-cleanup-command":
			fields := strings.Fields(c.AgentCleanupCommand)
			for i, f := range fields {
				fields[i] = redactWord(f)
			}
			if len(fields) == 0 {
				fmt.Fprintf(&b, "# %s (empty)\n", o.Flag)
			} else {
				fmt.Fprintf(&b, "%s %s\n", o.Flag, strings.Join(fields, " "))
			}
			continue
		}
		if v := o.value.String(); v != "" {
			fmt.Fprintf(&b, "%s %s\n", o.Flag, v)
		} else {
			fmt.Fprintf(&b, "# %s (empty)\n", o.Flag)
		}
	}
	if c.ConfigFile != "" {
		fmt.Fprintf(&b, "# read from config file %s\n", c.ConfigFile)
	}
	b.WriteString("\n# Clusters (from --cluster and --clusters-file), as a clusters file:\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(printedClusters{Clusters: entries(c.Clusters)}); err != nil {
		return fmt.Errorf("print clusters: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("print clusters: %w", err)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printedClusters is the clusters file as printed: fields left at their
// zero value are omitted.
type printedClusters struct {
	Clusters []printedCluster `yaml:"clusters"`
}

type printedCluster struct {
	Name            string         `yaml:"name"`
	Endpoint        string         `yaml:"endpoint,omitempty"` // none: alert-only
	Transport       Transport      `yaml:"transport"`
	Triage          bool           `yaml:"triage"`
	Context         string         `yaml:"context,omitempty"`
	Kubeconfig      string         `yaml:"kubeconfig,omitempty"`
	BearerTokenFile string         `yaml:"bearerTokenFile,omitempty"`
	CAFile          string         `yaml:"caFile,omitempty"`
	Filters         printedFilters `yaml:"filters,omitempty"`
}

type printedFilters struct {
	Namespaces        []string `yaml:"namespaces,omitempty"`
	LabelSelector     string   `yaml:"labelSelector,omitempty"`
	InvolvedKind      string   `yaml:"involvedKind,omitempty"`
	InvolvedName      string   `yaml:"involvedName,omitempty"`
	InvolvedNamespace string   `yaml:"involvedNamespace,omitempty"`
	Reason            string   `yaml:"reason,omitempty"`
	Type              string   `yaml:"type,omitempty"`
}

// entries turns clusters back into their file form with endpoints redacted.
func entries(clusters []Cluster) []printedCluster {
	out := make([]printedCluster, len(clusters))
	for i, c := range clusters {
		f := c.Filters
		out[i] = printedCluster{
			Name: c.Name, Endpoint: RedactURL(c.Endpoint), Transport: c.Transport, Triage: c.Triage,
			Kubeconfig: c.Kubeconfig, BearerTokenFile: c.BearerTokenFile, CAFile: c.CAFile, Context: c.Context,
			Filters: printedFilters{
				Namespaces: f.Namespaces, LabelSelector: f.LabelSelector, InvolvedKind: f.InvolvedKind,
				InvolvedName: f.InvolvedName, InvolvedNamespace: f.InvolvedNamespace, Reason: f.Reason, Type: f.Type,
			},
		}
	}
	return out
}

// secretWords mark a key=value word whose value is a credential.
var secretWords = []string{"token", "password", "passwd", "secret", "apikey", "api-key", "api_key", "credential", "authorization"}

// redactWord hides the value of a word that carries a credential: the
// password of a URL, and the value of key=value when the key names one.
func redactWord(s string) string {
	if strings.Contains(s, "://") {
		return RedactURL(s)
	}
	key, _, ok := strings.Cut(s, "=")
	if !ok {
		return s
	}
	lower := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return key + "=xxxxx"
		}
	}
	return s
}

// RestartOnly lists, by flag name, the options other than the clusters
// whose values differ between running and next: a reload applies the
// cluster list alone, and the rest take effect only after a restart. It
// walks the options table, so a new option is covered without a word here.
func RestartOnly(running, next Config) []string {
	before, after := options(&running), options(&next)
	var changed []string
	for i, o := range before {
		switch o.Flag {
		case "config", "cluster", "clusters-file":
			continue
		}
		if o.value.String() != after[i].value.String() {
			changed = append(changed, "--"+o.Flag)
		}
	}
	return changed
}
