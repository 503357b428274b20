package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// httpRoute holds the fields of a Gateway API HTTPRoute the chart renders;
// decoded strictly like the other kinds, so a misspelt field fails.
type httpRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ParentRefs []struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace,omitempty"`
		} `json:"parentRefs"`
		Hostnames []string `json:"hostnames"`
		Rules     []struct {
			Matches []struct {
				Path struct {
					Type  string `json:"type"`
					Value string `json:"value"`
				} `json:"path"`
			} `json:"matches"`
			BackendRefs []struct {
				Name string `json:"name"`
				Port int32  `json:"port"`
			} `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
}

func helmTemplate(t *testing.T, set ...string) []object {
	t.Helper()
	args := []string{"template", "prod", chart, "--namespace", "ops", "--kube-version", kubeVersion}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return decodeObjects(t, "helm template "+strings.Join(set, " "), helm(t, args...))
}

// helmRefuses renders with set and returns helm's output, failing the test
// if the chart renders.
func helmRefuses(t *testing.T, set ...string) string {
	t.Helper()
	args := []string{"template", "prod", chart, "--kube-version", kubeVersion}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("helm template %v rendered; want a refusal", set)
	}
	return string(out)
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func serviceNamed(t *testing.T, objs []object, name string) *corev1.Service {
	t.Helper()
	for _, s := range all[*corev1.Service](objs) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no Service %s", name)
	return nil
}

// TestHelmChartExposure: the incidents page, the Alertmanager intake and
// the notifications file, each from its Secret: container ports, Services
// whose target ports exist, an Ingress and an HTTPRoute to the page's
// Service, NetworkPolicy rules for both ports (the intake from the
// configured peer only), and a runner.conf the runner's parser accepts with
// every file it names mounted where it says.
func TestHelmChartExposure(t *testing.T) {
	set := []string{
		"ui.enabled=true", "ui.bearerTokenSecret.name=ui-token", "ui.externalURL=https://runner.example.com",
		"ui.ingress.enabled=true", "ui.ingress.className=nginx",
		"ui.httpRoute.enabled=true", "ui.httpRoute.parentRefs[0].name=gw", "ui.httpRoute.hostnames[0]=runner.example.com",
		"intake.enabled=true", "intake.basicAuth.username=alertmanager", "intake.basicAuth.passwordSecret.name=am-pass",
		"notifications.enabled=true", "notifications.secretName=notify", "notifications.key=sinks.yaml",
		"networkPolicy.enabled=true",
	}
	helm(t, append([]string{"lint", "--strict", chart}, func() (a []string) {
		for _, s := range set {
			a = append(a, "--set", s)
		}
		return a
	}()...)...)
	objs := helmTemplate(t, set...)
	dep := only[*appsv1.Deployment](t, objs)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if containerPort(c, "ui") != 8081 || containerPort(c, "intake") != 9095 {
		t.Errorf("container ports %+v, want ui 8081 and intake 9095", c.Ports)
	}
	for name, port := range map[string]string{"prod-kubernetes-mcp-runner-ui": "ui", "prod-kubernetes-mcp-runner-intake": "intake"} {
		svc := serviceNamed(t, objs, name)
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.StrVal != port || containerPort(c, port) == 0 {
			t.Errorf("Service %s ports %+v do not reach the container port %s", name, svc.Spec.Ports, port)
		}
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(dep.Spec.Template.Labels)) {
			t.Errorf("Service %s does not select the pod", name)
		}
	}
	ing := only[*networkingv1.Ingress](t, objs)
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" || len(ing.Spec.Rules) != 1 ||
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "prod-kubernetes-mcp-runner-ui" ||
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name != "http" {
		t.Errorf("Ingress %+v does not route to the page's Service", ing.Spec)
	}
	route := only[*httpRoute](t, objs)
	if len(route.Spec.Rules) != 1 || route.Spec.Rules[0].BackendRefs[0].Name != "prod-kubernetes-mcp-runner-ui" ||
		route.Spec.Rules[0].BackendRefs[0].Port != 8081 || route.Spec.ParentRefs[0].Name != "gw" {
		t.Errorf("HTTPRoute %+v does not route to the page's Service", route.Spec)
	}

	np := only[*networkingv1.NetworkPolicy](t, objs)
	admits := map[int32][]networkingv1.NetworkPolicyPeer{}
	for _, r := range np.Spec.Ingress {
		for _, p := range r.Ports {
			admits[p.Port.IntVal] = r.From
		}
	}
	if _, ok := admits[8081]; !ok {
		t.Error("the NetworkPolicy does not admit the incidents page")
	}
	if from, ok := admits[9095]; !ok || len(from) != 1 || from[0].NamespaceSelector == nil ||
		from[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
		t.Errorf("the intake is admitted from %+v, want Alertmanager's namespace only", from)
	}

	// Every file runner.conf names is in a volume mounted at its directory,
	// from the Secret the values name, and the runner accepts the conf.
	var conf string
	for _, cm := range all[*corev1.ConfigMap](objs) {
		if v, ok := cm.Data["runner.conf"]; ok {
			conf = v
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	secretOf := func(file string) string {
		for _, m := range c.VolumeMounts {
			if filepath.Dir(file) != m.MountPath {
				continue
			}
			v := volumes[m.Name]
			switch {
			case v.Secret != nil:
				for _, it := range v.Secret.Items {
					if it.Path == filepath.Base(file) {
						return v.Secret.SecretName + "/" + it.Key
					}
				}
			case v.Projected != nil:
				for _, s := range v.Projected.Sources {
					for _, it := range s.Secret.Items {
						if it.Path == filepath.Base(file) {
							return s.Secret.Name + "/" + it.Key
						}
					}
				}
			}
		}
		return ""
	}
	dir := t.TempDir()
	want := map[string]string{
		"ui-bearer-token-file":            "ui-token/token",
		"intake-basic-auth-password-file": "am-pass/password",
		"notify-file":                     "notify/sinks.yaml",
	}
	var lines []string
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && want[f[0]] != "" {
			if got := secretOf(f[1]); got != want[f[0]] {
				t.Errorf("%s %s comes from %q, want the Secret key %s", f[0], f[1], got, want[f[0]])
			}
			local := filepath.Join(dir, f[0])
			content := "secret\n"
			if f[0] == "notify-file" {
				content = "sinks: []\n"
			}
			if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			line = f[0] + " " + local
		}
		if len(f) == 2 && f[0] == "clusters-file" {
			clusters := filepath.Join(dir, "clusters.yaml")
			if err := os.WriteFile(clusters, []byte("clusters:\n  - name: a\n    endpoint: http://127.0.0.1:1/mcp\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			line = "clusters-file " + clusters
		}
		lines = append(lines, line)
	}
	confPath := filepath.Join(dir, "runner.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]string{"--config", confPath}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("runner.conf: %v\n%s", err, conf)
	}
	if cfg.UIAddress != ":8081" || cfg.IntakeAddress != ":9095" || cfg.IntakeBasicAuthUsername != "alertmanager" ||
		cfg.ExternalURL != "https://runner.example.com" || cfg.NotifyFile == "" {
		t.Errorf("runner.conf gives ui %q intake %q user %q external %q notify %q", cfg.UIAddress, cfg.IntakeAddress,
			cfg.IntakeBasicAuthUsername, cfg.ExternalURL, cfg.NotifyFile)
	}
}

// TestHelmChartRefuses: values the runner or Kubernetes would reject, or
// that would silently do the wrong thing, stop the render with a message
// naming the value.
func TestHelmChartRefuses(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"sharding.enable=true"}, "enable"},
		{[]string{"agent.timeoutSeconds=abc"}, "timeoutSeconds"},
		{[]string{"sharding.replicas=0"}, "replicas"},
		{[]string{"shutdownTimeoutSeconds=55"}, "terminationGracePeriodSeconds"},
		{[]string{"terminationGracePeriodSeconds=35"}, "terminationGracePeriodSeconds"},
		{[]string{"ui.enabled=true"}, "ui.bearerTokenSecret.name"},
		{[]string{"intake.enabled=true"}, "intake.bearerTokenSecret.name"},
		{[]string{"ui.ingress.enabled=true"}, "ui.enabled"},
		{[]string{"sharding.enabled=true", "ui.enabled=true", "ui.bearerTokenSecret.name=t", "ui.ingress.enabled=true"}, "sharded"},
		{[]string{"notifications.enabled=true"}, "notifications.secretName"},
		{[]string{"serviceMonitor.runnerClusterLabel=runner_cluster", "serviceMonitor.honorLabels=true"}, "honorLabels"},
	} {
		if out := helmRefuses(t, c.set...); !strings.Contains(out, c.want) {
			t.Errorf("helm template %v: the refusal does not name %s:\n%.400s", c.set, c.want, out)
		}
	}
	// At the limit it renders: 30 + 5 < 36.
	helmTemplate(t, "terminationGracePeriodSeconds=36")
}

// TestHelmChartShardedMonitoring: in sharded mode the ServiceMonitor
// selects exactly one Service (the headless one selects the same pods and
// would double every series), the intake is on the headless Service for
// one webhook per shard, and a PodDisruptionBudget and a topology spread
// cover the shards.
func TestHelmChartShardedMonitoring(t *testing.T) {
	objs := helmTemplate(t, "sharding.enabled=true", "serviceMonitor.enabled=true", "prometheusRule.enabled=true",
		"intake.enabled=true", "intake.bearerTokenSecret.name=am-token")
	sm := only[*monitoringv1.ServiceMonitor](t, objs)
	var selected []string
	for _, s := range all[*corev1.Service](objs) {
		if labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(s.Labels)) {
			selected = append(selected, s.Name)
		}
	}
	if !slices.Equal(selected, []string{"prod-kubernetes-mcp-runner-metrics"}) {
		t.Errorf("the ServiceMonitor selects %v, want the metrics Service only", selected)
	}
	sts := only[*appsv1.StatefulSet](t, objs)
	headless := serviceNamed(t, objs, sts.Spec.ServiceName)
	if !slices.ContainsFunc(headless.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "intake" && p.TargetPort.StrVal == "intake" }) {
		t.Errorf("the headless Service %+v lacks the intake port", headless.Spec.Ports)
	}
	for _, s := range all[*corev1.Service](objs) {
		if s.Name == "prod-kubernetes-mcp-runner-intake" {
			t.Error("a load-balanced intake Service in sharded mode would deliver each alert to one shard at random")
		}
	}
	pods := labels.Set(sts.Spec.Template.Labels)
	pdb := only[*policyv1.PodDisruptionBudget](t, objs)
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !sel.Matches(pods) || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntVal != 1 {
		t.Errorf("PodDisruptionBudget %+v does not bound the shards' disruption", pdb.Spec)
	}
	spread := sts.Spec.Template.Spec.TopologySpreadConstraints
	if len(spread) != 1 || spread[0].TopologyKey != "kubernetes.io/hostname" || spread[0].LabelSelector == nil {
		t.Fatalf("topology spread %+v, want one over hosts", spread)
	}
	if sel, err := metav1.LabelSelectorAsSelector(spread[0].LabelSelector); err != nil || !sel.Matches(pods) {
		t.Errorf("the topology spread selects %v, not the shards", spread[0].LabelSelector)
	}
	// One replica has nothing to spread or protect.
	if n := len(all[*policyv1.PodDisruptionBudget](helmTemplate(t))); n != 0 {
		t.Errorf("%d PodDisruptionBudgets for the one-replica Deployment", n)
	}
}

// TestHelmChartRunnerClusterLabel: the ServiceMonitor option that keeps
// both cluster labels renders relabelings Prometheus accepts (decoded into
// prometheus-operator's types) moving the runner's label to the one named.
func TestHelmChartRunnerClusterLabel(t *testing.T) {
	objs := helmTemplate(t, "serviceMonitor.enabled=true", "serviceMonitor.runnerClusterLabel=runner_cluster",
		"serviceMonitor.metricRelabelings[0].action=drop", "serviceMonitor.metricRelabelings[0].sourceLabels[0]=__name__",
		"serviceMonitor.metricRelabelings[0].regex=go_.*")
	ep := only[*monitoringv1.ServiceMonitor](t, objs).Spec.Endpoints[0]
	if len(ep.RelabelConfigs) != 1 || ep.RelabelConfigs[0].TargetLabel != "cluster" {
		t.Errorf("relabelings %+v, want the placeholder cluster target label", ep.RelabelConfigs)
	}
	mr := ep.MetricRelabelConfigs
	if len(mr) != 4 || mr[0].TargetLabel != "runner_cluster" || len(mr[0].SourceLabels) != 1 || mr[0].SourceLabels[0] != "exported_cluster" ||
		mr[3].Action != "drop" {
		t.Errorf("metricRelabelings %+v, want exported_cluster moved to runner_cluster, then the values' own", mr)
	}
	objs = helmTemplate(t, "serviceMonitor.enabled=true", "serviceMonitor.honorLabels=true")
	if ep := only[*monitoringv1.ServiceMonitor](t, objs).Spec.Endpoints[0]; !ep.HonorLabels || len(ep.MetricRelabelConfigs) != 0 {
		t.Errorf("honorLabels not rendered alone: %+v", ep)
	}
}

// TestHelmChartIdentity: the chart makes a ServiceAccount (annotations for
// cloud identities) whose token is mounted only with rbac.create, which
// grants read-only access and never Secrets; an existing account is used
// by name; security contexts and probes come from values.
func TestHelmChartIdentity(t *testing.T) {
	objs := helmTemplate(t)
	pod := only[*appsv1.Deployment](t, objs).Spec.Template.Spec
	sa := only[*corev1.ServiceAccount](t, objs)
	if pod.ServiceAccountName != sa.Name || *pod.AutomountServiceAccountToken || len(all[*rbacv1.ClusterRole](objs)) != 0 {
		t.Errorf("default: pod account %s (automount %v), account %s", pod.ServiceAccountName, *pod.AutomountServiceAccountToken, sa.Name)
	}

	objs = helmTemplate(t, "rbac.create=true", "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/r",
		"livenessProbe.periodSeconds=20", "securityContext.readOnlyRootFilesystem=false", "podSecurityContext.runAsUser=1000")
	dep := only[*appsv1.Deployment](t, objs)
	pod = dep.Spec.Template.Spec
	sa = only[*corev1.ServiceAccount](t, objs)
	if sa.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::1:role/r" || !*pod.AutomountServiceAccountToken {
		t.Errorf("IRSA annotation %v, automount %v", sa.Annotations, *pod.AutomountServiceAccountToken)
	}
	role := only[*rbacv1.ClusterRole](t, objs)
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("verb %s on %v is not read-only", v, r.Resources)
			}
		}
		if slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "*") {
			t.Errorf("the agents may read %v", r.Resources)
		}
	}
	binding := only[*rbacv1.ClusterRoleBinding](t, objs)
	if binding.RoleRef.Name != role.Name || binding.Subjects[0].Name != sa.Name || binding.Subjects[0].Namespace != "ops" {
		t.Errorf("binding %+v does not bind the role to the pod's account", binding)
	}
	c := pod.Containers[0]
	if c.LivenessProbe.PeriodSeconds != 20 || c.LivenessProbe.HTTPGet.Path != "/healthz" || *c.SecurityContext.ReadOnlyRootFilesystem ||
		*pod.SecurityContext.RunAsUser != 1000 {
		t.Errorf("probe and security context values not rendered: %+v %+v %+v", c.LivenessProbe, c.SecurityContext, pod.SecurityContext)
	}

	objs = helmTemplate(t, "serviceAccount.create=false", "serviceAccount.name=runner")
	if n := len(all[*corev1.ServiceAccount](objs)); n != 0 || only[*appsv1.Deployment](t, objs).Spec.Template.Spec.ServiceAccountName != "runner" {
		t.Errorf("existing account: %d accounts rendered, pod uses %s", n, only[*appsv1.Deployment](t, objs).Spec.Template.Spec.ServiceAccountName)
	}
}
