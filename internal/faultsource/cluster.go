package faultsource

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// ClusterState is the cluster the stand-in's read-only tools (pods_get,
// pods_list, resources_get, resources_list) answer about, in every
// context. Objects are the API's own types, as the API server would hold
// them (defaults filled in): gets answer them as the server's YAML, lists
// as its wide table.
type ClusterState struct {
	Nodes        []corev1.Node
	Pods         []corev1.Pod
	ReplicaSets  []appsv1.ReplicaSet
	Deployments  []appsv1.Deployment
	StatefulSets []appsv1.StatefulSet
	DaemonSets   []appsv1.DaemonSet
	Jobs         []batchv1.Job
	CronJobs     []batchv1.CronJob
}

// SetState replaces the cluster the read-only tools answer about.
func (s *Server) SetState(st ClusterState) {
	var objs []object
	add := func(apiVersion, kind, resource string, v any, meta func() (string, string, map[string]string), row func(time.Time) []string, match func(field string) (string, bool)) {
		ns, name, labels := meta()
		objs = append(objs, object{apiVersion: apiVersion, kind: kind, resource: resource, namespace: ns, name: name, labels: labels, value: v, row: row, field: match})
	}
	for i := range st.Nodes {
		n := st.Nodes[i]
		n.APIVersion, n.Kind = "v1", "Node"
		add("v1", "Node", "nodes", n, func() (string, string, map[string]string) { return "", n.Name, n.Labels }, func(now time.Time) []string { return nodeRow(n, now) }, metaField(n.Namespace, n.Name))
	}
	for i := range st.Pods {
		p := st.Pods[i]
		p.APIVersion, p.Kind = "v1", "Pod"
		add("v1", "Pod", "pods", p, func() (string, string, map[string]string) { return p.Namespace, p.Name, p.Labels }, func(now time.Time) []string { return podRow(p, now) }, func(f string) (string, bool) {
			switch f {
			case "spec.nodeName":
				return p.Spec.NodeName, true
			case "status.phase":
				return string(p.Status.Phase), true
			case "spec.restartPolicy":
				return string(p.Spec.RestartPolicy), true
			}
			return metaField(p.Namespace, p.Name)(f)
		})
	}
	for i := range st.ReplicaSets {
		r := st.ReplicaSets[i]
		r.APIVersion, r.Kind = "apps/v1", "ReplicaSet"
		add("apps/v1", "ReplicaSet", "replicasets.apps", r, func() (string, string, map[string]string) { return r.Namespace, r.Name, r.Labels }, func(now time.Time) []string {
			return []string{r.Name, fmt.Sprint(replicas(r.Spec.Replicas)), fmt.Sprint(r.Status.Replicas), fmt.Sprint(r.Status.ReadyReplicas), age(r.CreationTimestamp.Time, now), containers(r.Spec.Template.Spec), images(r.Spec.Template.Spec), selector(r.Spec.Selector != nil, func() map[string]string {
				if r.Spec.Selector == nil {
					return nil
				}
				return r.Spec.Selector.MatchLabels
			}())}
		}, metaField(r.Namespace, r.Name))
	}
	for i := range st.Deployments {
		d := st.Deployments[i]
		d.APIVersion, d.Kind = "apps/v1", "Deployment"
		add("apps/v1", "Deployment", "deployments.apps", d, func() (string, string, map[string]string) { return d.Namespace, d.Name, d.Labels }, func(now time.Time) []string {
			return []string{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)), fmt.Sprint(d.Status.UpdatedReplicas), fmt.Sprint(d.Status.AvailableReplicas), age(d.CreationTimestamp.Time, now), containers(d.Spec.Template.Spec), images(d.Spec.Template.Spec), selector(d.Spec.Selector != nil, func() map[string]string {
				if d.Spec.Selector == nil {
					return nil
				}
				return d.Spec.Selector.MatchLabels
			}())}
		}, metaField(d.Namespace, d.Name))
	}
	for i := range st.StatefulSets {
		x := st.StatefulSets[i]
		x.APIVersion, x.Kind = "apps/v1", "StatefulSet"
		add("apps/v1", "StatefulSet", "statefulsets.apps", x, func() (string, string, map[string]string) { return x.Namespace, x.Name, x.Labels }, func(now time.Time) []string {
			return []string{x.Name, fmt.Sprintf("%d/%d", x.Status.ReadyReplicas, replicas(x.Spec.Replicas)), age(x.CreationTimestamp.Time, now), containers(x.Spec.Template.Spec), images(x.Spec.Template.Spec)}
		}, metaField(x.Namespace, x.Name))
	}
	for i := range st.DaemonSets {
		x := st.DaemonSets[i]
		x.APIVersion, x.Kind = "apps/v1", "DaemonSet"
		add("apps/v1", "DaemonSet", "daemonsets.apps", x, func() (string, string, map[string]string) { return x.Namespace, x.Name, x.Labels }, func(now time.Time) []string {
			return []string{x.Name, fmt.Sprint(x.Status.DesiredNumberScheduled), fmt.Sprint(x.Status.CurrentNumberScheduled), fmt.Sprint(x.Status.NumberReady), age(x.CreationTimestamp.Time, now)}
		}, metaField(x.Namespace, x.Name))
	}
	for i := range st.Jobs {
		j := st.Jobs[i]
		j.APIVersion, j.Kind = "batch/v1", "Job"
		add("batch/v1", "Job", "jobs.batch", j, func() (string, string, map[string]string) { return j.Namespace, j.Name, j.Labels }, func(now time.Time) []string { return jobRow(j, now) }, metaField(j.Namespace, j.Name))
	}
	for i := range st.CronJobs {
		x := st.CronJobs[i]
		x.APIVersion, x.Kind = "batch/v1", "CronJob"
		add("batch/v1", "CronJob", "cronjobs.batch", x, func() (string, string, map[string]string) { return x.Namespace, x.Name, x.Labels }, func(now time.Time) []string {
			return []string{x.Name, x.Spec.Schedule, age(x.CreationTimestamp.Time, now)}
		}, metaField(x.Namespace, x.Name))
	}
	s.mu.Lock()
	s.state = objs
	s.mu.Unlock()
}

// The wide table's columns per kind, between NAMESPACE/APIVERSION/KIND
// and LABELS, as the API server's table printers name them.
var tableColumns = map[string][]string{
	"Pod":         {"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"},
	"Node":        {"NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"},
	"ReplicaSet":  {"NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
	"Deployment":  {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
	"StatefulSet": {"NAME", "READY", "AGE", "CONTAINERS", "IMAGES"},
	"DaemonSet":   {"NAME", "DESIRED", "CURRENT", "READY", "AGE"},
	"Job":         {"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
	"CronJob":     {"NAME", "SCHEDULE", "AGE"},
}

type object struct {
	apiVersion, kind, resource, namespace, name string
	labels                                      map[string]string
	value                                       any
	row                                         func(now time.Time) []string
	field                                       func(name string) (string, bool)
}

func metaField(ns, name string) func(string) (string, bool) {
	return func(f string) (string, bool) {
		switch f {
		case "metadata.name":
			return name, true
		case "metadata.namespace":
			return ns, true
		}
		return "", false
	}
}

func (s *Server) now() time.Time {
	if s.o.Now != nil {
		return s.o.Now()
	}
	return time.Now()
}

func (s *Server) objects() []object {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

type readArgs struct {
	APIVersion    string `json:"apiVersion"`
	Kind          string `json:"kind"`
	Name          string `json:"name"`
	Namespace     string `json:"namespace"`
	LabelSelector string `json:"labelSelector"`
	FieldSelector string `json:"fieldSelector"`
}

func (s *Server) readTool(name string) mcp.ToolHandler {
	return func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var a readArgs
		_ = json.Unmarshal(req.Params.Arguments, &a)
		switch name {
		case "pods_get":
			ns := a.Namespace
			if ns == "" {
				ns = "default" // the server's configured namespace
			}
			o, ok := s.find("v1", "Pod", ns, a.Name)
			if !ok {
				return refusal(fmt.Sprintf("failed to get pod %s in namespace %s: pods %q not found", a.Name, a.Namespace, a.Name)), nil
			}
			return text(yamlOf(o.value)), nil
		case "resources_get":
			o, ok := s.find(a.APIVersion, a.Kind, a.Namespace, a.Name)
			if !ok {
				return refusal(fmt.Sprintf("failed to get resource: %s %q not found", resourceName(a.APIVersion, a.Kind), a.Name)), nil
			}
			return text(yamlOf(o.value)), nil
		case "pods_list":
			a.APIVersion, a.Kind, a.Namespace = "v1", "Pod", ""
		}
		t, err := s.table(a)
		if err != nil {
			return refusal("failed to list resources: " + err.Error()), nil
		}
		return text(t), nil
	}
}

func text(t string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: t}}}
}

func yamlOf(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func resourceName(apiVersion, kind string) string {
	plural := strings.ToLower(kind) + "s"
	if group, _, ok := strings.Cut(apiVersion, "/"); ok {
		return plural + "." + group
	}
	return plural
}

func (s *Server) find(apiVersion, kind, ns, name string) (object, bool) {
	for _, o := range s.objects() {
		if o.apiVersion == apiVersion && o.kind == kind && o.name == name && (o.namespace == "" || ns == "" || o.namespace == ns) {
			if o.namespace != "" && ns == "" && o.namespace != "default" {
				continue // a namespaced get without namespace reads "default"
			}
			return o, true
		}
	}
	return object{}, false
}

// table renders a list as the server's default list output: kubectl's
// table printer, wide, with kind and labels, NAMESPACE only when the
// objects have one; nothing at all when nothing matched.
func (s *Server) table(a readArgs) (string, error) {
	labelMatch, err := parseLabelSelector(a.LabelSelector)
	if err != nil {
		return "", err
	}
	fieldMatch, err := parseFieldSelector(a.FieldSelector)
	if err != nil {
		return "", err
	}
	var rows []object
	for _, o := range s.objects() {
		if o.apiVersion != a.APIVersion || o.kind != a.Kind || (a.Namespace != "" && o.namespace != "" && o.namespace != a.Namespace) {
			continue
		}
		if !labelMatch(o.labels) {
			continue
		}
		ok, err := fieldMatch(o.field)
		if err != nil {
			return "", err
		}
		if ok {
			rows = append(rows, o)
		}
	}
	if len(rows) == 0 {
		return "", nil
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].namespace != rows[j].namespace {
			return rows[i].namespace < rows[j].namespace
		}
		return rows[i].name < rows[j].name
	})
	withNS := rows[0].namespace != ""
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 6, 4, 3, ' ', 0)
	cols := tableColumns[a.Kind]
	if cols == nil {
		cols = []string{"NAME"}
	}
	header := slices.Concat([]string{"APIVERSION", "KIND"}, cols, []string{"LABELS"})
	if withNS {
		header = append([]string{"NAMESPACE"}, header...)
	}
	fmt.Fprintln(w, strings.Join(header, "\t"))
	now := s.now()
	for _, o := range rows {
		cells := []string{o.name}
		if o.row != nil {
			cells = o.row(now)
		}
		line := slices.Concat([]string{o.apiVersion, o.kind}, cells, []string{labelsOf(o.labels)})
		if withNS {
			line = append([]string{o.namespace}, line...)
		}
		fmt.Fprintln(w, strings.Join(line, "\t"))
	}
	_ = w.Flush()
	return b.String(), nil
}

func labelsOf(l map[string]string) string {
	if len(l) == 0 {
		return "<none>"
	}
	kv := make([]string, 0, len(l))
	for k, v := range l {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// parseLabelSelector takes the equality and existence forms ("a=b",
// "a!=b", "a", "!a", comma-separated); the set forms ("a in (b)") are
// refused, the stand-in has no use for them.
func parseLabelSelector(sel string) (func(map[string]string) bool, error) {
	var tests []func(map[string]string) bool
	for part := range strings.SplitSeq(sel, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.Contains(part, " in ") || strings.Contains(part, " notin "):
			return nil, fmt.Errorf("the stand-in does not take set-based selector %q", part)
		case strings.Contains(part, "!="):
			k, v, _ := strings.Cut(part, "!=")
			tests = append(tests, func(l map[string]string) bool { return l[k] != v })
		case strings.Contains(part, "="):
			k, v, _ := strings.Cut(strings.Replace(part, "==", "=", 1), "=")
			tests = append(tests, func(l map[string]string) bool { x, ok := l[k]; return ok && x == v })
		case strings.HasPrefix(part, "!"):
			tests = append(tests, func(l map[string]string) bool { _, ok := l[part[1:]]; return !ok })
		default:
			tests = append(tests, func(l map[string]string) bool { _, ok := l[part]; return ok })
		}
	}
	return func(l map[string]string) bool {
		for _, t := range tests {
			if !t(l) {
				return false
			}
		}
		return true
	}, nil
}

func parseFieldSelector(sel string) (func(func(string) (string, bool)) (bool, error), error) {
	type test struct {
		field, value string
		not          bool
	}
	var tests []test
	for part := range strings.SplitSeq(sel, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if k, v, ok := strings.Cut(part, "!="); ok {
			tests = append(tests, test{k, v, true})
			continue
		}
		k, v, ok := strings.Cut(strings.Replace(part, "==", "=", 1), "=")
		if !ok {
			return nil, fmt.Errorf("invalid selector: '%s'; can't understand '%s'", sel, part)
		}
		tests = append(tests, test{k, v, false})
	}
	return func(get func(string) (string, bool)) (bool, error) {
		for _, t := range tests {
			v, ok := get(t.field)
			if !ok {
				return false, fmt.Errorf("field label not supported: %s", t.field)
			}
			if (v == t.value) == t.not {
				return false, nil
			}
		}
		return true, nil
	}, nil
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func containers(spec corev1.PodSpec) string {
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

func images(spec corev1.PodSpec) string {
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Image)
	}
	return strings.Join(names, ",")
}

// selector is a label selector's matchLabels as the printer writes it;
// matchExpressions are not rendered by the stand-in.
func selector(present bool, matchLabels map[string]string) string {
	if !present {
		return "<none>"
	}
	if len(matchLabels) == 0 {
		return "<none>"
	}
	return labelsOf(matchLabels)
}
