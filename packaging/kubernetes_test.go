package packaging

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

var update = flag.Bool("update", false, "rewrite the generated copies of the alert rules and the dashboard")

// object is one rendered manifest, decoded strictly into its API type.
type object struct {
	kind, name string
	labels     map[string]string
	value      any
}

// kinds maps apiVersion/kind to the Go type the API server would decode it into.
var kinds = map[string]func() any{
	"v1/Namespace":                                    func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                                    func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                       func() any { return &corev1.Secret{} },
	"v1/Service":                                      func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                               func() any { return &corev1.ServiceAccount{} },
	"v1/PersistentVolumeClaim":                        func() any { return &corev1.PersistentVolumeClaim{} },
	"apps/v1/Deployment":                              func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                             func() any { return &appsv1.StatefulSet{} },
	"networking.k8s.io/v1/NetworkPolicy":              func() any { return &networkingv1.NetworkPolicy{} },
	"networking.k8s.io/v1/Ingress":                    func() any { return &networkingv1.Ingress{} },
	"policy/v1/PodDisruptionBudget":                   func() any { return &policyv1.PodDisruptionBudget{} },
	"gateway.networking.k8s.io/v1/HTTPRoute":          func() any { return &httpRoute{} },
	"rbac.authorization.k8s.io/v1/ClusterRole":        func() any { return &rbacv1.ClusterRole{} },
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": func() any { return &rbacv1.ClusterRoleBinding{} },
	"rbac.authorization.k8s.io/v1/Role":               func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding":        func() any { return &rbacv1.RoleBinding{} },
	"monitoring.coreos.com/v1/ServiceMonitor":         func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule":         func() any { return &monitoringv1.PrometheusRule{} },
}

// decodeObjects splits a multi-document stream and decodes every document
// strictly: an unknown or misspelt field fails, as kubectl apply
// --validate=strict would.
func decodeObjects(t *testing.T, source string, stream []byte) []object {
	t.Helper()
	var out []object
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(stream), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("%s: %v\n%s", source, err, doc)
		}
		newObj, ok := kinds[head.APIVersion+"/"+head.Kind]
		if !ok {
			t.Fatalf("%s: %s/%s %s is of a kind this test does not know", source, head.APIVersion, head.Kind, head.Metadata.Name)
		}
		v := newObj()
		if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
			t.Fatalf("%s: %s %s: %v", source, head.Kind, head.Metadata.Name, err)
		}
		out = append(out, object{kind: head.Kind, name: head.Metadata.Name, labels: head.Metadata.Labels, value: v})
	}
	return out
}

func renderKustomize(t *testing.T, dir string) []object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, "kustomize build "+dir, out)
}

func only[T any](t *testing.T, objs []object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.value.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T, found %d", zero, len(found))
	}
	return found[0]
}

func all[T any](objs []object) []T {
	var found []T
	for _, o := range objs {
		if v, ok := o.value.(T); ok {
			found = append(found, v)
		}
	}
	return found
}

// expectations of one rendering: what differs between kustomize, its
// overlay and the chart.
type expect struct {
	image         string
	releaseLabel  string // on the ServiceMonitor and PrometheusRule; "" if none rendered
	monitoring    bool   // ServiceMonitor, PrometheusRule, dashboard rendered
	networkPolicy bool
	agentCommand  string
	persistent    bool
	credentials   string // where the projected cluster Secret is mounted
}

// checkRunner holds what every way of installing on Kubernetes must get
// right; kustomize and the Helm chart are both held to it.
func checkRunner(t *testing.T, objs []object, want expect) {
	t.Helper()
	dep := only[*appsv1.Deployment](t, objs)
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, found %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != want.image {
		t.Errorf("image %s, want %s", c.Image, want.image)
	}
	if dep.Spec.Replicas != nil && *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("want one replica with Recreate: two runners would investigate every fault twice")
	}
	probe := func(name string, p *corev1.Probe, path string, delay, period, failures int32) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.InitialDelaySeconds != delay || p.PeriodSeconds != period || p.FailureThreshold != failures {
			t.Errorf("%s probe %+v, want %s %d/%d/%d", name, p, path, delay, period, failures)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz", 10, 10, 3)
	probe("readiness", c.ReadinessProbe, "/readyz", 5, 5, 2)
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Error("enableServiceLinks must be false: a Service named metrics would inject METRICS_PORT=tcp://... and the runner exits 2")
	}
	d := config.Defaults()
	shutdown := d.ShutdownTimeout
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if e.Name == "SHUTDOWN_TIMEOUT_SECONDS" {
			v, err := time.ParseDuration(e.Value + "s")
			if err != nil {
				t.Fatal(err)
			}
			shutdown = v
		}
	}
	if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= shutdown+d.AgentKillGrace {
		t.Errorf("terminationGracePeriodSeconds %v not above shutdown timeout %v + kill grace %v", pod.TerminationGracePeriodSeconds, shutdown, d.AgentKillGrace)
	}
	if key := env["ANTHROPIC_API_KEY"]; key.ValueFrom == nil || key.ValueFrom.SecretKeyRef == nil || key.ValueFrom.SecretKeyRef.Key == "" {
		t.Errorf("the agent's API key does not come from a Secret: %+v", key)
	}
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem || csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("security context is not restrictive: %+v %+v", psc, csc)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if pod.ShareProcessNamespace != nil && *pod.ShareProcessNamespace {
		t.Error("shareProcessNamespace: the runner reaps its agents' orphans itself; sharing the namespace only lets other containers see its processes")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the runner needs no Kubernetes API token")
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.Volume{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Errorf("mount %s names no volume", m.Name)
		}
		mounts[m.MountPath] = v
	}
	state := mounts[d.StateDir]
	if want.persistent {
		pvcs := all[*corev1.PersistentVolumeClaim](objs)
		if state.PersistentVolumeClaim == nil || len(pvcs) != 1 || state.PersistentVolumeClaim.ClaimName != pvcs[0].Name {
			t.Errorf("the state directory %s is not on the rendered PersistentVolumeClaim", d.StateDir)
		}
	} else if state.EmptyDir == nil {
		t.Errorf("the state directory %s is not mounted", d.StateDir)
	}
	if mounts["/tmp"].EmptyDir == nil {
		t.Error("/tmp is not writable (read-only root file system)")
	}
	creds := mounts[want.credentials]
	if creds.Projected == nil || len(creds.Projected.Sources) == 0 || creds.Projected.Sources[0].Secret == nil {
		t.Errorf("no projected Secret of cluster credentials at %s", want.credentials)
	}

	// The configuration passes the runner's own parsers, and every file
	// it names is where the pod mounts it.
	var cm *corev1.ConfigMap
	for _, v := range all[*corev1.ConfigMap](objs) {
		if _, ok := v.Data["runner.conf"]; ok {
			cm = v
		}
	}
	if cm == nil {
		t.Fatal("no ConfigMap holds runner.conf")
	}
	confDir := ""
	for path, v := range mounts {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
			confDir = path
		}
	}
	if !slices.Contains(c.Args, "--config="+confDir+"/runner.conf") {
		t.Errorf("args %v do not name %s/runner.conf", c.Args, confDir)
	}
	clusters, err := config.ParseClusters([]byte(cm.Data["clusters.yaml"]))
	if err != nil {
		t.Fatalf("clusters.yaml: %v", err)
	}
	for _, cl := range clusters {
		for _, f := range []string{cl.Kubeconfig, cl.BearerTokenFile, cl.CAFile} {
			if f != "" && !strings.HasPrefix(f, want.credentials+"/") {
				t.Errorf("cluster %s names %s, outside the credentials mount %s", cl.Name, f, want.credentials)
			}
		}
	}
	// The Secret's files, stood in for by empty files in a scratch copy of
	// the mount, so the parser's checks that they exist pass.
	dir := t.TempDir()
	credDir := filepath.Join(dir, "credentials")
	if err := os.Mkdir(credDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, cl := range clusters {
		for _, f := range []string{cl.Kubeconfig, cl.BearerTokenFile, cl.CAFile} {
			if f != "" {
				if err := os.WriteFile(filepath.Join(credDir, strings.TrimPrefix(f, want.credentials+"/")), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	clustersFile := strings.ReplaceAll(cm.Data["clusters.yaml"], want.credentials+"/", credDir+"/")
	if err := os.WriteFile(filepath.Join(dir, "clusters.yaml"), []byte(clustersFile), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := strings.ReplaceAll(cm.Data["runner.conf"], confDir+"/clusters.yaml", filepath.Join(dir, "clusters.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "runner.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]string{"--config", filepath.Join(dir, "runner.conf")}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("runner.conf: %v", err)
	}
	if cfg.AgentCommand != want.agentCommand {
		t.Errorf("agent-command %s, want %s", cfg.AgentCommand, want.agentCommand)
	}
	if !slices.Contains(cfg.AgentEnvAllow, "ANTHROPIC_API_KEY") {
		t.Error("the API key is not passed on to agents (agent-env-allow)")
	}
	if cfg.StateDir != d.StateDir || !strings.HasPrefix(cfg.WorkspaceRoot, d.StateDir+"/") {
		t.Errorf("state %s and workspaces %s are not on the state volume %s", cfg.StateDir, cfg.WorkspaceRoot, d.StateDir)
	}

	// Metrics: the Service selects the pod, the ServiceMonitor the Service.
	svc := only[*corev1.Service](t, objs)
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %v does not select the pod %v", svc.Spec.Selector, dep.Spec.Template.Labels)
		}
	}
	if np := all[*networkingv1.NetworkPolicy](objs); want.networkPolicy {
		if len(np) != 1 {
			t.Fatalf("want one NetworkPolicy, found %d", len(np))
		}
		checkNetworkPolicy(t, np[0], dep)
	} else if len(np) != 0 {
		t.Error("NetworkPolicy rendered though disabled")
	}
	sms := all[*monitoringv1.ServiceMonitor](objs)
	rules := all[*monitoringv1.PrometheusRule](objs)
	if !want.monitoring {
		if len(sms)+len(rules) != 0 {
			t.Error("monitoring objects rendered though disabled")
		}
		return
	}
	if len(sms) != 1 || len(rules) != 1 {
		t.Fatalf("want one ServiceMonitor and one PrometheusRule, found %d and %d", len(sms), len(rules))
	}
	sm := sms[0]
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selector %v does not select the Service %v", sm.Spec.Selector.MatchLabels, svc.Labels)
		}
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name {
		t.Errorf("ServiceMonitor endpoints %+v do not name the Service port", sm.Spec.Endpoints)
	}
	// The job label the alerts match on.
	if job := svc.Labels[sm.Spec.JobLabel]; sm.Spec.JobLabel == "" || job != "kubernetes-mcp-runner" {
		t.Errorf("ServiceMonitor jobLabel %q gives job %q, want kubernetes-mcp-runner", sm.Spec.JobLabel, job)
	}
	for _, o := range objs {
		if (o.kind == "ServiceMonitor" || o.kind == "PrometheusRule") && o.labels["release"] != want.releaseLabel {
			t.Errorf("%s label release=%q, want %q (kube-prometheus-stack selects by it)", o.kind, o.labels["release"], want.releaseLabel)
		}
	}
	checkRuleGroups(t, rules[0])
	dash := false
	for _, v := range all[*corev1.ConfigMap](objs) {
		if v.Labels["grafana_dashboard"] == "1" {
			want, _ := os.ReadFile("grafana/kubernetes-mcp-runner.json")
			if v.Data["kubernetes-mcp-runner.json"] != string(want) {
				t.Error("dashboard ConfigMap differs from grafana/kubernetes-mcp-runner.json")
			}
			dash = true
		}
	}
	if !dash {
		t.Error("no ConfigMap labelled grafana_dashboard: \"1\" for Grafana's sidecar")
	}
}

// checkRuleGroups: the PrometheusRule carries exactly prometheus/rules.yml.
func checkRuleGroups(t *testing.T, pr *monitoringv1.PrometheusRule) {
	t.Helper()
	data, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		t.Fatalf("rules.yml: %v", err)
	}
	if !reflect.DeepEqual(file, pr.Spec) {
		t.Error("the PrometheusRule differs from prometheus/rules.yml")
	}
}

func checkNetworkPolicy(t *testing.T, np *networkingv1.NetworkPolicy, dep *appsv1.Deployment) {
	t.Helper()
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("NetworkPolicy does not select the runner's pod")
		}
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("policy types %v: want Ingress and Egress", np.Spec.PolicyTypes)
	}
	ports := func(rules []networkingv1.NetworkPolicyPort) (out []int32) {
		for _, p := range rules {
			out = append(out, p.Port.IntVal)
		}
		return out
	}
	var in, out []int32
	for _, r := range np.Spec.Ingress {
		in = append(in, ports(r.Ports)...)
	}
	for _, r := range np.Spec.Egress {
		if len(r.Ports) == 0 {
			t.Error("an egress rule allows every port")
		}
		out = append(out, ports(r.Ports)...)
	}
	slices.Sort(in)
	if !slices.Equal(in, []int32{8080, 9090}) {
		t.Errorf("ingress ports %v, want the probes (8080) and metrics (9090) only", in)
	}
	for _, p := range []int32{53, 443, 8080} {
		if !slices.Contains(out, p) {
			t.Errorf("egress lacks port %d (DNS, the LLM API, in-cluster MCP server)", p)
		}
	}
}

func TestKustomize(t *testing.T) {
	var kust struct {
		Resources          []string `json:"resources"`
		Components         []string `json:"components"`
		ConfigMapGenerator []struct {
			Name  string   `json:"name"`
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
		Images []struct {
			Name, NewName, NewTag string
		} `json:"images"`
	}
	data, _ := os.ReadFile("kubernetes/kustomization.yaml")
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatal(err)
	}
	// The configuration is generated from files (a content hash in the
	// name rolls the pod on a change), not a hand-written ConfigMap.
	if len(kust.ConfigMapGenerator) != 1 || !slices.Equal(kust.ConfigMapGenerator[0].Files, []string{"runner.conf", "clusters.yaml"}) {
		t.Errorf("configMapGenerator %+v, want runner.conf and clusters.yaml", kust.ConfigMapGenerator)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		if f != "kubernetes/kustomization.yaml" && !slices.Contains(kust.Resources, filepath.Base(f)) &&
			!slices.Contains(kust.ConfigMapGenerator[0].Files, filepath.Base(f)) {
			t.Errorf("%s is not in kustomization.yaml", f)
		}
	}
	// Monitoring objects are optional components, each a Component.
	components, _ := filepath.Glob("kubernetes/components/*")
	for _, dir := range components {
		if !slices.Contains(kust.Components, "components/"+filepath.Base(dir)) {
			t.Errorf("%s is not in the components of kustomization.yaml", dir)
		}
		var comp struct{ Kind string }
		data, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err := yaml.Unmarshal(data, &comp); err != nil || comp.Kind != "Component" {
			t.Errorf("%s is not a kustomize Component: %v", dir, err)
		}
	}
	image := publishedImage(t)
	if len(kust.Images) != 1 || kust.Images[0].Name != image || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(kust.Images[0].NewTag) {
		t.Fatalf("kustomization images %+v: want %s with a release's bare version tag", kust.Images, image)
	}
	objs := renderKustomize(t, "kubernetes")
	checkRunner(t, objs, expect{
		image: image + ":" + kust.Images[0].NewTag, releaseLabel: "kube-prometheus-stack", monitoring: true,
		networkPolicy: true, agentCommand: "/usr/bin/kubernetes-mcp-runner", persistent: true,
		credentials: "/var/run/secrets/kubernetes-mcp-runner",
	})
	ns := only[*corev1.Namespace](t, objs)
	if ns.Name != "kubernetes-mcp-runner" || ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s labels %v: want the restricted Pod Security Standard enforced", ns.Name, ns.Labels)
	}
	dep := only[*appsv1.Deployment](t, objs)
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && !regexp.MustCompile(`^kubernetes-mcp-runner-[a-z0-9]{10}$`).MatchString(v.ConfigMap.Name) {
			t.Errorf("the pod mounts ConfigMap %s, not the generated (hashed) one", v.ConfigMap.Name)
		}
	}
	// Without the components: no monitoring objects, nothing else lost.
	dir := t.TempDir()
	stripped := regexp.MustCompile(`(?s)\ncomponents:\n(  - [^\n]*\n)+`).ReplaceAll(data, []byte("\n"))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), stripped, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(kust.Resources, kust.ConfigMapGenerator[0].Files...) {
		body, _ := os.ReadFile(filepath.Join("kubernetes", f))
		if err := os.WriteFile(filepath.Join(dir, f), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bare := renderKustomize(t, dir)
	checkRunner(t, bare, expect{
		image: image + ":" + kust.Images[0].NewTag, monitoring: false, networkPolicy: true,
		agentCommand: "/usr/bin/kubernetes-mcp-runner", persistent: true, credentials: "/var/run/secrets/kubernetes-mcp-runner",
	})
}

// TestKustomizeTriageAgent renders the worked agent example's overlay.
func TestKustomizeTriageAgent(t *testing.T) {
	objs := renderKustomize(t, "../examples/triage-agent/kubernetes")
	checkRunner(t, objs, expect{
		image: "registry.example.com/kubernetes-mcp-runner-triage:0.1.0", releaseLabel: "kube-prometheus-stack", monitoring: true,
		networkPolicy: true, agentCommand: "/agents/triage-agent", persistent: true,
		credentials: "/var/run/secrets/kubernetes-mcp-runner",
	})
	// The agent in the image is the one the configuration runs.
	data, _ := os.ReadFile("../examples/triage-agent/Dockerfile")
	if !strings.Contains(string(data), " /agents/triage-agent\n") {
		t.Error("the example image does not install /agents/triage-agent")
	}
}

// TestAgentRBAC: the agent's ClusterRole reads and never writes, and never
// reads Secrets.
func TestAgentRBAC(t *testing.T) {
	data, err := os.ReadFile("../examples/triage-agent/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeObjects(t, "rbac.yaml", data)
	role := only[*rbacv1.ClusterRole](t, objs)
	binding := only[*rbacv1.ClusterRoleBinding](t, objs)
	sa := only[*corev1.ServiceAccount](t, objs)
	token := only[*corev1.Secret](t, objs)
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("verb %s on %v is not read-only", v, r.Resources)
			}
		}
		for _, res := range r.Resources {
			if res == "*" || res == "secrets" || strings.HasSuffix(res, "/exec") || strings.HasSuffix(res, "/attach") {
				t.Errorf("the agent may read %s", res)
			}
		}
		if slices.Contains(r.APIGroups, "*") {
			t.Error("wildcard API group")
		}
	}
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != sa.Name || binding.Subjects[0].Namespace != sa.Namespace {
		t.Errorf("the binding does not bind the role to the agent's ServiceAccount")
	}
	if token.Type != corev1.SecretTypeServiceAccountToken || token.Annotations[corev1.ServiceAccountNameKey] != sa.Name {
		t.Errorf("the token Secret is not the ServiceAccount's")
	}
}

// --- generated copies ---

// The alert rules and the dashboard have one source each (prometheus/ and
// grafana/); kustomize and the chart carry copies, which this test keeps
// equal. go test ./packaging -run TestGeneratedCopies -update rewrites them.
func TestGeneratedCopies(t *testing.T) {
	rules, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	dashboard, err := os.ReadFile("grafana/kubernetes-mcp-runner.json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(dashboard) {
		t.Fatal("dashboard is not JSON")
	}
	groups := rules[bytes.Index(rules, []byte("groups:")):]
	var rule bytes.Buffer
	rule.WriteString("# Generated from packaging/prometheus/rules.yml by\n# go test ./packaging -run TestGeneratedCopies -update\n")
	rule.WriteString("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: kubernetes-mcp-runner\n  namespace: kubernetes-mcp-runner\n  labels:\n    app.kubernetes.io/name: kubernetes-mcp-runner\nspec:\n")
	rule.WriteString(indent(string(groups), "  "))
	var cm bytes.Buffer
	cm.WriteString("# Generated from packaging/grafana/kubernetes-mcp-runner.json by\n# go test ./packaging -run TestGeneratedCopies -update\n")
	cm.WriteString("# Grafana's dashboard sidecar (kube-prometheus-stack) loads ConfigMaps\n# labelled grafana_dashboard: \"1\".\n")
	cm.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubernetes-mcp-runner-dashboard\n  namespace: kubernetes-mcp-runner\n  labels:\n    app.kubernetes.io/name: kubernetes-mcp-runner\n    grafana_dashboard: \"1\"\ndata:\n  kubernetes-mcp-runner.json: |\n")
	cm.WriteString(indent(string(dashboard), "    "))
	want := map[string][]byte{
		"kubernetes/components/prometheus/prometheusrule.yaml":           rule.Bytes(),
		"kubernetes/components/grafana-dashboard/grafana-dashboard.yaml": cm.Bytes(),
		"../charts/kubernetes-mcp-runner/files/rules.yml":                rules,
		"../charts/kubernetes-mcp-runner/files/dashboard.json":           dashboard,
	}
	for path, content := range want {
		if *update {
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s is stale: go test ./packaging -run TestGeneratedCopies -update", path)
		}
	}
	// The generated PrometheusRule is still YAML of the right shape.
	var probe map[string]any
	if err := yamlv3.Unmarshal(rule.Bytes(), &probe); err != nil {
		t.Fatalf("generated PrometheusRule: %v", err)
	}
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			b.WriteString(prefix)
		}
		b.WriteString(l)
	}
	return b.String()
}
