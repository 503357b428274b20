package packaging

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/agentjob"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

var agentJobValues = []string{
	"agent.runtime=job", "agent.job.namespace=agents", "networkPolicy.enabled=true",
	"agent.job.podTemplate.image=example.com/triage:2",
	"agent.job.podTemplate.serviceAccountName=triage",
	"agent.job.podTemplate.nodeSelector.pool=agents",
	"agent.job.podTemplate.tolerations[0].key=agents", "agent.job.podTemplate.tolerations[0].operator=Exists",
	"agent.job.podTemplate.tolerations[0].effect=NoSchedule",
	"agent.job.podTemplate.resources.limits.memory=1Gi",
	"agent.job.networkPolicy.apiServer.cidrs[0]=10.1.2.3/32",
	"agent.job.networkPolicy.apiServer.ports[0]=6443",
}

// egressTo maps each TCP/UDP port an egress rule list allows to the peers
// it allows it to.
func egressTo(rules []networkingv1.NetworkPolicyEgressRule) map[int32][]networkingv1.NetworkPolicyPeer {
	out := map[int32][]networkingv1.NetworkPolicyPeer{}
	for _, r := range rules {
		for _, p := range r.Ports {
			out[p.Port.IntVal] = append(out[p.Port.IntVal], r.To...)
		}
	}
	return out
}

func confOf(objs []object) (runnerConf, podTemplate string) {
	for _, cm := range all[*corev1.ConfigMap](objs) {
		if v, ok := cm.Data["runner.conf"]; ok {
			return v, cm.Data["agent-pod-template.yaml"]
		}
	}
	return "", ""
}

// TestHelmChartAgentJobRuntime: agent.runtime job renders the runner's Job
// flags (parsed by the runner's own parser), a pod template the runner's
// loader accepts with the values' image, service account, node selector,
// tolerations and resources, a Role in the agent namespace with exactly
// the verbs the runtime calls, the results port on the container and a
// Service, and NetworkPolicies that keep agent pods to DNS, the results
// port and the API server and admit them to the runner's results port.
func TestHelmChartAgentJobRuntime(t *testing.T) {
	helm(t, append([]string{"lint", "--strict", chart}, func() (a []string) {
		for _, s := range agentJobValues {
			a = append(a, "--set", s)
		}
		return a
	}()...)...)
	objs := helmTemplate(t, agentJobValues...)
	dep := only[*appsv1.Deployment](t, objs)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if containerPort(c, "agent-results") != 8082 {
		t.Errorf("container ports %+v, want agent-results 8082", c.Ports)
	}
	if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Error("the runner's token is not mounted: it cannot create Jobs with its in-cluster identity")
	}

	// The runner's config and the pod template it names.
	conf, tmplText := confOf(objs)
	dir := t.TempDir()
	var lines []string
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "clusters-file":
			clusters := filepath.Join(dir, "clusters.yaml")
			if err := os.WriteFile(clusters, []byte("clusters:\n  - name: a\n    endpoint: http://127.0.0.1:1/mcp\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			line = "clusters-file " + clusters
		case len(f) == 2 && f[0] == "agent-job-template":
			if filepath.Dir(f[1]) != "/etc/kubernetes-mcp-runner" || !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.Name == "config" && m.MountPath == filepath.Dir(f[1])
			}) {
				t.Errorf("the pod template %s is not in the mounted ConfigMap", f[1])
			}
			local := filepath.Join(dir, filepath.Base(f[1]))
			if err := os.WriteFile(local, []byte(tmplText), 0o600); err != nil {
				t.Fatal(err)
			}
			line = "agent-job-template " + local
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
	j := cfg.AgentJob
	if cfg.AgentRuntime != config.RuntimeJob || j.Namespace != "agents" || j.ResultsAddress != ":8082" ||
		j.EntrypointImage != "ghcr.io/kubernetes-mcp-runner/kubernetes-mcp-runner:"+appVersion(t) || j.Kubeconfig != "" {
		t.Errorf("runner.conf gives runtime %q, job options %+v", cfg.AgentRuntime, j)
	}
	tmpl, err := agentjob.LoadTemplate(j.Template)
	if err != nil {
		t.Fatalf("pod template: %v\n%s", err, tmplText)
	}
	ac := tmpl.Spec.Containers[0]
	if ac.Name != agentjob.AgentContainer || ac.Image != "example.com/triage:2" || tmpl.Spec.ServiceAccountName != "triage" ||
		tmpl.Spec.NodeSelector["pool"] != "agents" || len(tmpl.Spec.Tolerations) != 1 || tmpl.Spec.Tolerations[0].Key != "agents" ||
		ac.Resources.Limits.Memory().String() != "1Gi" || ac.SecurityContext == nil || ac.SecurityContext.AllowPrivilegeEscalation == nil {
		t.Errorf("pod template: %+v", tmpl.Spec)
	}
	agentPod := labels.Set(tmpl.Labels)

	// The results URL reaches the results port through a Service that
	// selects the runner and never an agent.
	u, err := url.Parse(j.ResultsURL)
	if err != nil {
		t.Fatal(err)
	}
	svc := serviceNamed(t, objs, "prod-kubernetes-mcp-runner-agent-results")
	if u.Hostname() != svc.Name+".ops.svc" || u.Port() != "8082" || len(svc.Spec.Ports) != 1 ||
		svc.Spec.Ports[0].Port != 8082 || svc.Spec.Ports[0].TargetPort.StrVal != "agent-results" {
		t.Errorf("results URL %s, Service ports %+v", j.ResultsURL, svc.Spec.Ports)
	}
	for _, s := range all[*corev1.Service](objs) {
		sel := labels.SelectorFromSet(s.Spec.Selector)
		if s.Name == svc.Name && !sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
			t.Errorf("Service %s does not select the runner", s.Name)
		}
		if sel.Matches(agentPod) {
			t.Errorf("Service %s selects agent pods", s.Name)
		}
	}

	// RBAC: a Role in the agent namespace only, the verbs the runtime calls.
	if len(all[*rbacv1.ClusterRole](objs)) != 0 {
		t.Error("a ClusterRole with rbac.create off")
	}
	role := only[*rbacv1.Role](t, objs)
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create", "get", "list", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get", "update", "patch", "delete"}},
	}
	if role.Namespace != "agents" || len(role.Rules) != len(want) {
		t.Fatalf("Role %s/%s rules %+v", role.Namespace, role.Name, role.Rules)
	}
	for i, r := range role.Rules {
		if !slices.Equal(r.APIGroups, want[i].APIGroups) || !slices.Equal(r.Resources, want[i].Resources) || !slices.Equal(r.Verbs, want[i].Verbs) {
			t.Errorf("Role rule %d = %+v, want %+v", i, r, want[i])
		}
	}
	rb := only[*rbacv1.RoleBinding](t, objs)
	if rb.Namespace != "agents" || rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name || len(rb.Subjects) != 1 ||
		rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != pod.ServiceAccountName || rb.Subjects[0].Namespace != "ops" {
		t.Errorf("RoleBinding %+v", rb)
	}

	// NetworkPolicies.
	var runnerNP, agentNP *networkingv1.NetworkPolicy
	for _, np := range all[*networkingv1.NetworkPolicy](objs) {
		sel := labels.SelectorFromSet(np.Spec.PodSelector.MatchLabels)
		switch {
		case sel.Matches(labels.Set(dep.Spec.Template.Labels)) && np.Namespace == "ops":
			runnerNP = np
		case sel.Matches(agentPod) && np.Namespace == "agents":
			agentNP = np
		default:
			t.Errorf("NetworkPolicy %s/%s selects neither the runner nor the agents", np.Namespace, np.Name)
		}
		if sel.Matches(agentPod) && sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
			t.Errorf("NetworkPolicy %s selects both the runner and agents", np.Name)
		}
	}
	if runnerNP == nil || agentNP == nil {
		t.Fatalf("NetworkPolicies: runner %v, agents %v", runnerNP != nil, agentNP != nil)
	}
	admitted := false
	for _, r := range runnerNP.Spec.Ingress {
		for _, p := range r.Ports {
			if p.Port.IntVal != 8082 {
				continue
			}
			for _, f := range r.From {
				admitted = f.NamespaceSelector != nil && f.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "agents" &&
					f.PodSelector != nil && labels.SelectorFromSet(f.PodSelector.MatchLabels).Matches(agentPod)
			}
		}
	}
	if !admitted {
		t.Errorf("the runner's policy does not admit agent pods to the results port: %+v", runnerNP.Spec.Ingress)
	}
	if api := egressTo(runnerNP.Spec.Egress)[6443]; len(api) != 1 || api[0].IPBlock == nil || api[0].IPBlock.CIDR != "10.1.2.3/32" {
		t.Errorf("the runner may not reach the API server: %+v", api)
	}
	if !slices.Contains(agentNP.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || len(agentNP.Spec.Ingress) != 0 ||
		!slices.Contains(agentNP.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("agent pods' policy types %v, ingress %+v: want no ingress", agentNP.Spec.PolicyTypes, agentNP.Spec.Ingress)
	}
	to := egressTo(agentNP.Spec.Egress)
	var ports []int32
	for p := range to {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	if !slices.Equal(ports, []int32{53, 6443, 8082}) {
		t.Errorf("agent pods may reach ports %v, want DNS, the API server and the results port only", ports)
	}
	if r := to[8082]; len(r) != 1 || r[0].NamespaceSelector == nil || r[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "ops" ||
		r[0].PodSelector == nil || !labels.SelectorFromSet(r[0].PodSelector.MatchLabels).Matches(labels.Set(dep.Spec.Template.Labels)) {
		t.Errorf("the results port is open to %+v, want the runner's pods only", r)
	}
	if r := to[6443]; len(r) != 1 || r[0].IPBlock == nil || r[0].IPBlock.CIDR != "10.1.2.3/32" {
		t.Errorf("the API port is open to %+v, want the API server's address only", r)
	}
	for _, r := range to[53] {
		if r.NamespaceSelector == nil || r.PodSelector == nil {
			t.Errorf("DNS is open to %+v, want the DNS pods only", r)
		}
	}
}

// TestHelmChartAgentJobSharded: each shard hands its agents its own results
// URL (its name on the headless Service, which carries the port), as the
// shard that created a Job is the one waiting for its result.
func TestHelmChartAgentJobSharded(t *testing.T) {
	objs := helmTemplate(t, "agent.runtime=job", "sharding.enabled=true")
	sts := only[*appsv1.StatefulSet](t, objs)
	c := sts.Spec.Template.Spec.Containers[0]
	var podName, resultsURL = -1, -1
	for i, e := range c.Env {
		switch e.Name {
		case "POD_NAME":
			podName = i
		case "AGENT_JOB_RESULTS_URL":
			resultsURL = i
			if e.Value != "http://$(POD_NAME).prod-kubernetes-mcp-runner-shards.ops.svc:8082" {
				t.Errorf("AGENT_JOB_RESULTS_URL = %q", e.Value)
			}
		}
	}
	// $(POD_NAME) is expanded only from variables defined before it.
	if podName < 0 || resultsURL < podName {
		t.Errorf("env %+v: want POD_NAME before AGENT_JOB_RESULTS_URL", c.Env)
	}
	headless := serviceNamed(t, objs, sts.Spec.ServiceName)
	if !slices.ContainsFunc(headless.Spec.Ports, func(p corev1.ServicePort) bool {
		return p.Port == 8082 && p.TargetPort.StrVal == "agent-results" && containerPort(c, "agent-results") == 8082
	}) {
		t.Errorf("the headless Service %+v lacks the results port", headless.Spec.Ports)
	}
	for _, s := range all[*corev1.Service](objs) {
		if s.Name == "prod-kubernetes-mcp-runner-agent-results" {
			t.Error("a load-balanced results Service in sharded mode would send a result to a shard that is not waiting for it")
		}
	}
}

// TestHelmChartAgentProcessRuntime: the default renders nothing of the Job
// runtime, and a Job runtime without an agent image is refused.
func TestHelmChartAgentProcessRuntime(t *testing.T) {
	objs := helmTemplate(t, "networkPolicy.enabled=true")
	if len(all[*rbacv1.Role](objs)) != 0 || len(all[*networkingv1.NetworkPolicy](objs)) != 1 {
		t.Error("the process runtime renders a Role or the agents' NetworkPolicy")
	}
	if conf, tmpl := confOf(objs); strings.Contains(conf, "agent-runtime") || strings.Contains(conf, "agent-job-") || tmpl != "" {
		t.Errorf("runner.conf names the Job runtime:\n%s", conf)
	}
	dep := only[*appsv1.Deployment](t, objs)
	if containerPort(dep.Spec.Template.Spec.Containers[0], "agent-results") != 0 {
		t.Error("the results port is open with the process runtime")
	}
	if out := helmRefuses(t, "agent.runtime=jobs"); !strings.Contains(out, "runtime") {
		t.Errorf("agent.runtime=jobs: %s", out)
	}
	if out := helmRefuses(t, "agent.runtime=job", "agent.job.podTemplate.image="); !strings.Contains(out, "agent.job.podTemplate.image") {
		t.Errorf("no agent image: %s", out)
	}
}
