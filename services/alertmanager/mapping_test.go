package alertmanager_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

var prod = map[string]bool{"prod": true}

func alert(labels map[string]string) alertmanager.Alert {
	l := map[string]string{"alertname": "Test", "cluster": "prod"}
	for k, v := range labels {
		if v == "" {
			delete(l, k)
			continue
		}
		l[k] = v
	}
	return alertmanager.Alert{Status: "firing", Labels: l, StartsAt: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Fingerprint: "0123456789abcdef"}
}

func TestSeverityMapping(t *testing.T) {
	m := alertmanager.DefaultMapping()
	for v, want := range map[string]string{
		"critical": "critical", "page": "critical", "error": "critical", "Critical": "critical",
		"warning": "warning", "warn": "warning", "info": "info", "none": "info",
		"": "unknown", "sev1": "unknown",
	} {
		a := alert(map[string]string{"severity": v})
		f, o := m.Map(a, prod)
		if o != "" || f.Severity != want {
			t.Errorf("severity %q mapped to %q (%s), want %q", v, f.Severity, o, want)
		}
	}
}

func TestResourceMapping(t *testing.T) {
	m := alertmanager.DefaultMapping()
	for _, tc := range []struct {
		labels map[string]string
		want   fault.Resource
	}{
		{map[string]string{"namespace": "shop", "pod": "p", "node": "n1", "deployment": "d"},
			fault.Resource{APIVersion: "v1", Kind: "Pod", Name: "p", Namespace: "shop"}},
		{map[string]string{"namespace": "shop", "deployment": "d", "statefulset": "s"},
			fault.Resource{APIVersion: "apps/v1", Kind: "Deployment", Name: "d", Namespace: "shop"}},
		{map[string]string{"namespace": "shop", "statefulset": "s"},
			fault.Resource{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "s", Namespace: "shop"}},
		{map[string]string{"namespace": "shop", "daemonset": "ds"},
			fault.Resource{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", Namespace: "shop"}},
		// job is Prometheus's scrape job, not a Kubernetes Job.
		{map[string]string{"namespace": "shop", "job": "kube-state-metrics", "job_name": "backup-29"},
			fault.Resource{APIVersion: "batch/v1", Kind: "Job", Name: "backup-29", Namespace: "shop"}},
		{map[string]string{"namespace": "monitoring", "job": "kube-state-metrics", "node": "n1"},
			fault.Resource{APIVersion: "v1", Kind: "Node", Name: "n1"}},
		{map[string]string{"namespace": "shop", "job": "kube-state-metrics"},
			fault.Resource{Namespace: "shop"}},
		{nil, fault.Resource{}},
	} {
		f, o := m.Map(alert(tc.labels), prod)
		if o != "" || f.Resource != tc.want {
			t.Errorf("labels %v: resource %+v (%s), want %+v", tc.labels, f.Resource, o, tc.want)
		}
	}
}

func TestMapRefusesWhatCannotBeAFault(t *testing.T) {
	m := alertmanager.DefaultMapping()
	long := strings.Repeat("x", fault.MaxFieldBytes+1)
	noStart := alert(nil)
	noStart.StartsAt = time.Time{}
	badStatus := alert(nil)
	badStatus.Status = "pending"
	for name, tc := range map[string]struct {
		a    alertmanager.Alert
		want alertmanager.Outcome
	}{
		"no alertname":   {alert(map[string]string{"alertname": ""}), alertmanager.Malformed},
		"long alertname": {alert(map[string]string{"alertname": long}), alertmanager.Malformed},
		"long pod":       {alert(map[string]string{"pod": long}), alertmanager.Malformed},
		"no startsAt":    {noStart, alertmanager.Malformed},
		"bad status":     {badStatus, alertmanager.Malformed},
		"other cluster":  {alert(map[string]string{"cluster": "dev"}), alertmanager.UnknownCluster},
		"no cluster":     {alert(map[string]string{"cluster": ""}), alertmanager.UnknownCluster},
	} {
		if _, o := m.Map(tc.a, prod); o != tc.want {
			t.Errorf("%s: outcome %q, want %q", name, o, tc.want)
		}
	}
}

func TestFaultID(t *testing.T) {
	a := alert(nil)
	id := alertmanager.FaultID(a)
	if !hex16.MatchString(id) {
		t.Fatalf("fault id %q is not 16 hex characters", id)
	}
	same := a
	same.StartsAt = a.StartsAt.In(time.FixedZone("CET", 3600))
	same.Annotations = map[string]string{"summary": "changed"}
	if alertmanager.FaultID(same) != id {
		t.Error("the same start in another zone, or new annotations, changed the id")
	}
	later := a
	later.StartsAt = a.StartsAt.Add(time.Millisecond)
	other := a
	other.Fingerprint = "fedcba9876543210"
	if alertmanager.FaultID(later) == id || alertmanager.FaultID(other) == id {
		t.Error("a new start or another fingerprint kept the id")
	}
	// Without a fingerprint, the labels stand in for it.
	a.Fingerprint = ""
	b := alert(map[string]string{"pod": "p"})
	b.Fingerprint = ""
	c := alert(nil)
	c.Fingerprint = ""
	if alertmanager.FaultID(a) == alertmanager.FaultID(b) || alertmanager.FaultID(a) != alertmanager.FaultID(c) {
		t.Error("label-derived ids are not stable and distinct")
	}
}

func TestContextIsBounded(t *testing.T) {
	m := alertmanager.DefaultMapping()
	a := alert(nil)
	a.Annotations = map[string]string{
		"summary":     "short",
		"description": strings.Repeat("é\x00", 40000),
	}
	for i := range 200 {
		a.Labels[fmt.Sprintf("label_%03d", i)] = strings.Repeat("\"", 2000)
	}
	f, o := m.Map(a, prod)
	if o != "" {
		t.Fatal(o)
	}
	if len(f.Context) > fault.MaxContextBytes || !json.Valid(f.Context) {
		t.Fatalf("context of %d bytes, valid JSON %v", len(f.Context), json.Valid(f.Context))
	}
	var ctx map[string]any
	_ = json.Unmarshal(f.Context, &ctx)
	d, _ := ctx["description"].(string)
	if ctx["summary"] != "short" || d == "" || len(d) > 1024 || !utf8.ValidString(d) {
		t.Errorf("context summary %v, description of %d bytes", ctx["summary"], len(d))
	}
	if len(f.Labels) != 64 || len(f.Labels["label_000"]) != 1024 {
		t.Errorf("label copy has %d entries", len(f.Labels))
	}
}

func TestParseMapping(t *testing.T) {
	m, err := alertmanager.ParseMapping([]byte(`
clusterLabel: k8s_cluster
defaultCluster: prod
severities:
  P1: critical
  P3: info
resources:
  - {label: app, kind: Deployment, apiVersion: apps/v1}
`))
	if err != nil {
		t.Fatal(err)
	}
	def := alertmanager.DefaultMapping()
	if m.ClusterLabel != "k8s_cluster" || m.DefaultCluster != "prod" || m.NamespaceLabel != def.NamespaceLabel ||
		len(m.Severities) != 2 || len(m.Resources) != 1 || len(m.ContextAnnotations) != 2 {
		t.Errorf("parsed %+v", m)
	}
	f, _ := m.Map(alert(map[string]string{"cluster": "", "severity": "p1", "app": "web", "pod": "ignored"}), prod)
	if f.Cluster != "prod" || f.Severity != "critical" || f.Resource.Kind != "Deployment" {
		t.Errorf("mapped %+v", f)
	}
	if m, err := alertmanager.ParseMapping(nil); err != nil || m.ClusterLabel != "cluster" {
		t.Errorf("empty file: %v, %+v", err, m)
	}
}

func TestParseMappingErrorsNameTheKey(t *testing.T) {
	for yaml, key := range map[string]string{
		"clusterlabel: c\n":                                                      "clusterlabel",
		"clusterLabel: \"not a label\"\n":                                        "clusterLabel",
		"severities:\n  P1: fatal\n":                                             "severities.P1",
		"severities:\n  P1: critical\n  p1: warning\n":                           "severities.p1",
		"resources:\n  - {label: pod}\n":                                         "resources[0].kind",
		"resources:\n  - {label: pod, kind: Pod, name: x}\n":                     "name",
		"resources:\n  - {label: pod, kind: Pod}\n  - {label: pod, kind: Pod}\n": "resources[1].label",
		"contextAnnotations: [summary, labels]\n":                                "contextAnnotations[1]",
		"severities: [critical]\n":                                               "severities",
	} {
		_, err := alertmanager.ParseMapping([]byte(yaml))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: error %v, want one naming %s", yaml, err, key)
		}
	}
}

func TestLoadMapping(t *testing.T) {
	if m, err := alertmanager.LoadMapping(""); err != nil || m.ClusterLabel != "cluster" {
		t.Errorf("no path: %v %+v", err, m)
	}
	p := secretFile(t, "mapping.yaml", "severityLabel: priority\n")
	if m, err := alertmanager.LoadMapping(p); err != nil || m.SeverityLabel != "priority" {
		t.Errorf("file: %v %+v", err, m)
	}
	bad := secretFile(t, "bad.yaml", "nope: 1\n")
	if _, err := alertmanager.LoadMapping(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v", err)
	}
}

// The default mapping applied to a notification recorded from Alertmanager.
func ExampleMapping_Map() {
	body, _ := os.ReadFile("testdata/firing.json")
	n, err := alertmanager.DecodeBytes(body)
	if err != nil {
		panic(err)
	}
	f, outcome := alertmanager.DefaultMapping().Map(n.Alerts[0], map[string]bool{"prod": true})
	fmt.Println(outcome == "", f.Cluster, f.Source, f.FaultID, f.FaultType, f.Severity)
	fmt.Println(f.Resource.APIVersion, f.Resource.Kind, f.Resource.Namespace+"/"+f.Resource.Name)
	fmt.Println(f.Timestamp)
	// Output:
	// true prod alertmanager 629af73145dc5d6d KubePodCrashLooping warning
	// v1 Pod shop/api-7d9c8b6f5-x2k4q
	// 2026-11-27 00:11:14.077 +0000 UTC
}

// TestFaultIsAValidFaultEvent: a mapped fault, encoded, is accepted by the
// fault event parser with the same values, so it maps field for field.
func TestFaultIsAValidFaultEvent(t *testing.T) {
	m := alertmanager.DefaultMapping()
	big := alert(map[string]string{"pod": strings.Repeat("p", fault.MaxFieldBytes)})
	big.Annotations = map[string]string{"description": strings.Repeat("\x01", 100000)}
	for i := range 100 {
		big.Labels[fmt.Sprintf("l%03d", i)] = strings.Repeat("<", 5000)
	}
	alerts := []alertmanager.Alert{big}
	for _, name := range []string{"firing", "grouped", "partly-resolved", "resolved", "refired"} {
		n, err := alertmanager.DecodeBytes(recorded(t, name))
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, n.Alerts...)
	}
	for _, a := range alerts {
		f, o := m.Map(a, prod)
		if o != "" {
			t.Fatal(o)
		}
		// Labels and annotations are not event fields; they travel in the
		// context.
		ef := f
		ef.Labels, ef.Annotations = nil, nil
		b, err := json.Marshal(ef)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := fault.Parse(b)
		if err != nil {
			t.Fatalf("fault event parser refuses a mapped alert: %v", err)
		}
		if ev.Cluster != f.Cluster || ev.FaultID != f.FaultID || ev.FaultType != f.FaultType || ev.Severity != f.Severity ||
			ev.Resource.Kind != f.Resource.Kind || ev.Resource.Name != f.Resource.Name || ev.Resource.Namespace != f.Resource.Namespace ||
			ev.Resource.APIVersion != f.Resource.APIVersion || !ev.Timestamp.Equal(f.Timestamp) || string(ev.Context) != string(f.Context) {
			t.Errorf("event %+v from fault %+v", ev, f)
		}
	}
}
