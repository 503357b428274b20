package alertmanager

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Source is the bounded source value of every fault this package maps.
const Source = "alertmanager"

// ResourceLabel says that an alert carrying Label is about a Kubernetes
// object of Kind named by the label's value.
type ResourceLabel struct {
	Label      string `yaml:"label"`
	Kind       string `yaml:"kind"`
	APIVersion string `yaml:"apiVersion"`
	// ClusterScoped objects (Nodes) get no namespace even when the alert
	// has a namespace label.
	ClusterScoped bool `yaml:"clusterScoped"`
}

// Mapping turns alert labels and annotations into fault fields. The zero
// value is not usable; start from DefaultMapping or ParseMapping.
type Mapping struct {
	// ClusterLabel names the cluster; its value must be a configured
	// cluster.
	ClusterLabel string
	// DefaultCluster, when set, is used for alerts without ClusterLabel:
	// an Alertmanager that serves one cluster rarely adds the label. An
	// alert whose label names an unconfigured cluster is still refused.
	DefaultCluster string
	// NamespaceLabel gives the resource's namespace.
	NamespaceLabel string
	// SeverityLabel's value is looked up, lower-cased, in Severities.
	SeverityLabel string
	// Severities maps label values to info, warning or critical. Values not
	// listed, and alerts without the label, get severity "unknown".
	Severities map[string]string
	// Resources are tried in order; the first label present on the alert
	// names the resource.
	Resources []ResourceLabel
	// ContextAnnotations are copied, in order, into the fault's context.
	ContextAnnotations []string
}

// DefaultMapping fits the alerts of kube-prometheus-stack (the
// kubernetes-mixin rules): severity critical/warning/info/none, the
// object in pod, deployment, statefulset, daemonset, job_name, cronjob,
// persistentvolumeclaim, horizontalpodautoscaler or node, and summary and
// description annotations.
//
// The Job label is job_name, not job: in Prometheus, job is the scrape job
// ("kube-state-metrics"), present on almost every alert.
func DefaultMapping() Mapping {
	return Mapping{
		ClusterLabel:   "cluster",
		NamespaceLabel: "namespace",
		SeverityLabel:  "severity",
		Severities: map[string]string{
			"critical": "critical",
			"error":    "critical",
			"page":     "critical",
			"warning":  "warning",
			"warn":     "warning",
			"info":     "info",
			"none":     "info",
		},
		Resources: []ResourceLabel{
			{Label: "pod", Kind: "Pod", APIVersion: "v1"},
			{Label: "deployment", Kind: "Deployment", APIVersion: "apps/v1"},
			{Label: "statefulset", Kind: "StatefulSet", APIVersion: "apps/v1"},
			{Label: "daemonset", Kind: "DaemonSet", APIVersion: "apps/v1"},
			{Label: "job_name", Kind: "Job", APIVersion: "batch/v1"},
			{Label: "cronjob", Kind: "CronJob", APIVersion: "batch/v1"},
			{Label: "persistentvolumeclaim", Kind: "PersistentVolumeClaim", APIVersion: "v1"},
			{Label: "horizontalpodautoscaler", Kind: "HorizontalPodAutoscaler", APIVersion: "autoscaling/v2"},
			{Label: "node", Kind: "Node", APIVersion: "v1", ClusterScoped: true},
		},
		ContextAnnotations: []string{"summary", "description"},
	}
}

// ParseMapping reads a YAML mapping over DefaultMapping. Absent keys keep
// their defaults; a list or map that is present replaces the default whole,
// so what the file says is all there is. Unknown keys are errors, and every
// error names the key it is about.
func ParseMapping(data []byte) (Mapping, error) {
	m := DefaultMapping()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Mapping{}, fmt.Errorf("alertmanager mapping: %w", err)
	}
	if len(doc.Content) == 0 {
		return m, nil // an empty file: all defaults
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return Mapping{}, fmt.Errorf("alertmanager mapping: line %d: want a mapping of keys such as clusterLabel", root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, v := root.Content[i].Value, root.Content[i+1]
		var err error
		switch key {
		case "clusterLabel":
			err = v.Decode(&m.ClusterLabel)
		case "defaultCluster":
			err = v.Decode(&m.DefaultCluster)
		case "namespaceLabel":
			err = v.Decode(&m.NamespaceLabel)
		case "severityLabel":
			err = v.Decode(&m.SeverityLabel)
		case "severities":
			m.Severities = nil
			err = v.Decode(&m.Severities)
		case "resources":
			if m.Resources, err = decodeResources(v); err != nil {
				return Mapping{}, fmt.Errorf("alertmanager mapping: %w", err)
			}
		case "contextAnnotations":
			m.ContextAnnotations = nil
			err = v.Decode(&m.ContextAnnotations)
		default:
			return Mapping{}, fmt.Errorf("alertmanager mapping: %s: unknown key (line %d)", key, root.Content[i].Line)
		}
		if err != nil {
			return Mapping{}, fmt.Errorf("alertmanager mapping: %s: %w", key, err)
		}
	}
	if err := m.Validate(); err != nil {
		return Mapping{}, err
	}
	return m, nil
}

// decodeResources decodes the resources list, refusing unknown keys in its
// entries.
func decodeResources(v *yaml.Node) ([]ResourceLabel, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("resources: line %d: want a list", v.Line)
	}
	out := make([]ResourceLabel, 0, len(v.Content))
	for i, item := range v.Content {
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("resources[%d]: line %d: want a mapping with label, kind, apiVersion, clusterScoped", i, item.Line)
		}
		for j := 0; j < len(item.Content); j += 2 {
			switch k := item.Content[j].Value; k {
			case "label", "kind", "apiVersion", "clusterScoped":
			default:
				return nil, fmt.Errorf("resources[%d].%s: unknown key (line %d)", i, k, item.Content[j].Line)
			}
		}
		var r ResourceLabel
		if err := item.Decode(&r); err != nil {
			return nil, fmt.Errorf("resources[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// LoadMapping reads a mapping file; an empty path means DefaultMapping.
func LoadMapping(path string) (Mapping, error) {
	if path == "" {
		return DefaultMapping(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Mapping{}, fmt.Errorf("alertmanager mapping: %w", err)
	}
	m, err := ParseMapping(data)
	if err != nil {
		return Mapping{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// labelName is Prometheus's label name syntax.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// maxContextAnnotations bounds the context: each annotation is at most
// maxAnnotationBytes, and all of them fit fault.MaxContextBytes even fully
// escaped.
const (
	maxContextAnnotations = 8
	maxAnnotationBytes    = 1024
)

// Validate checks every field and names the YAML key of the first wrong one.
func (m Mapping) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("alertmanager mapping: %s: %s", key, fmt.Sprintf(format, a...))
	}
	for _, f := range []struct{ key, v string }{
		{"clusterLabel", m.ClusterLabel}, {"namespaceLabel", m.NamespaceLabel}, {"severityLabel", m.SeverityLabel},
	} {
		if !labelName.MatchString(f.v) {
			return bad(f.key, "%q is not a label name", f.v)
		}
	}
	if len(m.DefaultCluster) > fault.MaxFieldBytes {
		return bad("defaultCluster", "longer than %d bytes", fault.MaxFieldBytes)
	}
	keys := make([]string, 0, len(m.Severities))
	for k := range m.Severities {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lower := make(map[string]string, len(keys))
	for _, k := range keys {
		v := m.Severities[k]
		if k == "" {
			return bad("severities", "empty label value")
		}
		if s := fault.ParseSeverity(v); s == fault.SeverityUnknown {
			return bad("severities."+k, "%q is not info, warning or critical", v)
		}
		if prev, dup := lower[strings.ToLower(k)]; dup && prev != v {
			return bad("severities."+k, "differs only in case from another value mapped to %q", prev)
		}
		lower[strings.ToLower(k)] = v
	}
	seen := map[string]bool{}
	for i, r := range m.Resources {
		key := fmt.Sprintf("resources[%d]", i)
		if !labelName.MatchString(r.Label) {
			return bad(key+".label", "%q is not a label name", r.Label)
		}
		if seen[r.Label] {
			return bad(key+".label", "%q is listed twice", r.Label)
		}
		seen[r.Label] = true
		if r.Kind == "" || len(r.Kind) > 128 {
			return bad(key+".kind", "must be a Kubernetes kind such as Pod")
		}
		if len(r.APIVersion) > 128 {
			return bad(key+".apiVersion", "longer than 128 bytes")
		}
	}
	if len(m.ContextAnnotations) > maxContextAnnotations {
		return bad("contextAnnotations", "at most %d annotations", maxContextAnnotations)
	}
	for i, a := range m.ContextAnnotations {
		if !labelName.MatchString(a) {
			return bad(fmt.Sprintf("contextAnnotations[%d]", i), "%q is not an annotation name", a)
		}
		if a == "labels" || a == "annotations" || a == "generatorURL" {
			return bad(fmt.Sprintf("contextAnnotations[%d]", i), "%q is a key the context already has", a)
		}
	}
	return nil
}

// Fault is one alert mapped to the runner's fault event (Source is always
// "alertmanager"; Context is a JSON object: the ContextAnnotations by name,
// then "labels", "annotations" and "generatorURL" while they fit
// fault.MaxContextBytes), with the alert's own detail beside it.
type Fault struct {
	fault.Event

	// What follows is alert detail beyond the fault event's fields,
	// bounded like the context.
	Status       string            `json:"status"`
	Fingerprint  string            `json:"fingerprint,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// Outcome is where one alert ended. Firing alerts that were mapped take the
// Submitter's outcomes (queued, duplicate, severity_low, ...); the ones
// below are this package's own.
type Outcome string

// Outcomes decided here.
const (
	// UnknownCluster: the alert names no configured cluster, and there is
	// no default cluster.
	UnknownCluster Outcome = "unknown_cluster"
	// Malformed: no alertname, an unknown status, no start time, or a
	// name longer than fault.MaxFieldBytes.
	Malformed Outcome = "malformed"
	// ResolvedRemoved: a resolved alert removed its still queued fault.
	ResolvedRemoved Outcome = "resolved_removed"
	// ResolvedRunning: a resolved alert's agent is running; it finishes.
	ResolvedRunning Outcome = "resolved_running"
	// ResolvedIdle: a resolved alert had no queued or running fault (it
	// was filtered, or its investigation is over).
	ResolvedIdle Outcome = "resolved_idle"
)

// AlertOutcomes lists the outcomes decided here, for initialising metric
// series.
var AlertOutcomes = []Outcome{UnknownCluster, Malformed, ResolvedRemoved, ResolvedRunning, ResolvedIdle}

// Severity values Map produces besides those of Severities.
const SeverityUnknown = "unknown"

// Map turns one alert into a fault for a cluster in clusters. It returns
// the fault, or the outcome that says why there is none.
func (m Mapping) Map(a Alert, clusters map[string]bool) (Fault, Outcome) {
	labels := a.Labels
	if a.Status != StatusFiring && a.Status != StatusResolved {
		return Fault{}, Malformed
	}
	name := labels["alertname"]
	if name == "" || len(name) > fault.MaxFieldBytes || a.StartsAt.IsZero() {
		return Fault{}, Malformed
	}
	cluster, ok := labels[m.ClusterLabel]
	if !ok || cluster == "" {
		cluster = m.DefaultCluster
	}
	if !clusters[cluster] {
		return Fault{}, UnknownCluster
	}
	f := Fault{
		Event: fault.Event{
			Cluster: cluster, Source: Source, FaultID: FaultID(a), FaultType: name,
			Severity: m.severity(labels[m.SeverityLabel]), Timestamp: a.StartsAt.UTC(),
		},
		Status:       a.Status,
		Fingerprint:  truncate(a.Fingerprint, 64),
		GeneratorURL: truncate(a.GeneratorURL, fault.MaxFieldBytes),
		Labels:       boundedCopy(labels),
		Annotations:  boundedCopy(a.Annotations),
	}
	ns := labels[m.NamespaceLabel]
	for _, r := range m.Resources {
		if v := labels[r.Label]; v != "" {
			f.Resource = fault.Resource{APIVersion: r.APIVersion, Kind: r.Kind, Name: v}
			if !r.ClusterScoped {
				f.Resource.Namespace = ns
			}
			break
		}
	}
	if f.Resource.Kind == "" {
		// Namespaced alerts about no particular object (quota, namespace
		// wide rules) still tell the agent where to look.
		f.Resource.Namespace = ns
	}
	if len(f.Resource.Name) > fault.MaxFieldBytes || len(f.Resource.Namespace) > fault.MaxFieldBytes {
		return Fault{}, Malformed
	}
	f.Context = m.context(a, f)
	return f, ""
}

func (m Mapping) severity(v string) string {
	if v == "" {
		return SeverityUnknown
	}
	if s, ok := m.Severities[v]; ok {
		return s
	}
	for k, s := range m.Severities {
		if strings.EqualFold(k, v) {
			return s
		}
	}
	return SeverityUnknown
}

// FaultID is the alert's fault id: 16 hex characters of a SHA-256 over
// its fingerprint and start time. Alertmanager repeats an alert with both
// unchanged, so repeats are duplicates; an alert that resolves and fires
// again starts at a new time, so it is a new incident. Senders that omit
// the fingerprint get one computed from the labels.
func FaultID(a Alert) string {
	fp := a.Fingerprint
	if fp == "" {
		keys := make([]string, 0, len(a.Labels))
		for k := range a.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("labels:")
		for _, k := range keys {
			b.WriteString(k)
			b.WriteByte(0xff)
			b.WriteString(a.Labels[k])
			b.WriteByte(0xff)
		}
		fp = b.String()
	}
	sum := sha256.Sum256([]byte(fp + "\x00" + a.StartsAt.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:8])
}

// context builds the fault's context object, dropping the label and
// annotation copies if together they would exceed fault.MaxContextBytes.
func (m Mapping) context(a Alert, f Fault) json.RawMessage {
	var head []byte
	for _, k := range m.ContextAnnotations {
		if v, ok := a.Annotations[k]; ok {
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(truncate(v, maxAnnotationBytes))
			head = append(append(append(append(head, kb...), ':'), vb...), ',')
		}
	}
	build := func(full bool) []byte {
		b := append([]byte{'{'}, head...)
		if full {
			lb, _ := json.Marshal(f.Labels)
			ab, _ := json.Marshal(f.Annotations)
			b = append(append(b, `"labels":`...), lb...)
			b = append(append(b, `,"annotations":`...), ab...)
			b = append(b, ',')
		}
		ub, _ := json.Marshal(f.GeneratorURL)
		b = append(append(b, `"generatorURL":`...), ub...)
		return append(b, '}')
	}
	if b := build(true); len(b) <= fault.MaxContextBytes {
		return b
	}
	return build(false)
}

// Bounds on the label and annotation copies a fault carries.
const (
	maxCopyEntries    = 64
	maxCopyKeyBytes   = 128
	maxCopyValueBytes = 1024
)

// boundedCopy copies at most maxCopyEntries entries, in key order; longer
// keys are skipped and longer values truncated.
func boundedCopy(src map[string]string) map[string]string {
	if len(src) == 0 {
		return nil
	}
	keys := make([]string, 0, len(src))
	for k := range src {
		if len(k) <= maxCopyKeyBytes {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > maxCopyEntries {
		keys = keys[:maxCopyEntries]
	}
	dst := make(map[string]string, len(keys))
	for _, k := range keys {
		dst[k] = truncate(src[k], maxCopyValueBytes)
	}
	return dst
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
