package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const chart = "../charts/kubernetes-mcp-runner"

// helmBinary is the pinned helm that make bin/helm (and .ci/run) installs
// into ./bin, or one on PATH.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := filepath.Abs("../bin/helm"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return tool(t, "helm")
}

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// kubeVersion is given to helm template, whose built-in default (from a
// source build) predates the chart's kubeVersion floor.
const kubeVersion = "1.34.0"

func appVersion(t *testing.T) string {
	t.Helper()
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	data, err := os.ReadFile(chart + "/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.AppVersion
}

func TestHelmChartDefaults(t *testing.T) {
	helm(t, "lint", "--strict", chart)
	objs := decodeObjects(t, "helm template (defaults)", helm(t, "template", "prod", chart, "--namespace", "ops", "--kube-version", kubeVersion))
	checkRunner(t, objs, expect{
		image: publishedImage(t) + ":" + appVersion(t), monitoring: false, networkPolicy: false,
		agentCommand: "/usr/bin/kubernetes-mcp-runner", persistent: true, credentials: "/var/run/secrets/kubernetes-mcp-runner",
	})
	// The chart installs the image the release publishes, at the version the
	// kustomize manifests name.
	var kust struct {
		Images []struct{ NewTag string } `json:"images"`
	}
	data, _ := os.ReadFile("kubernetes/kustomization.yaml")
	if err := yaml.Unmarshal(data, &kust); err != nil || len(kust.Images) != 1 || kust.Images[0].NewTag != appVersion(t) {
		t.Errorf("chart appVersion %s differs from the kustomize image tag %+v", appVersion(t), kust.Images)
	}
}

func TestHelmChartFullValues(t *testing.T) {
	values := chart + "/ci/full-values.yaml"
	helm(t, "lint", "--strict", chart, "--values", values)
	objs := decodeObjects(t, "helm template (full values)", helm(t, "template", "prod", chart, "--namespace", "ops", "--kube-version", kubeVersion, "--values", values))
	checkRunner(t, objs, expect{
		image: "registry.example.com/kubernetes-mcp-runner-triage:0.1.0", releaseLabel: "kube-prometheus-stack", monitoring: true,
		networkPolicy: true, agentCommand: "/agents/triage-agent", persistent: true, credentials: "/var/run/secrets/kubernetes-mcp-runner",
	})
	dep := only[*appsv1.Deployment](t, objs)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if pod.PriorityClassName != "system-cluster-critical" || pod.NodeSelector["kubernetes.io/os"] != "linux" ||
		len(pod.Tolerations) != 1 || pod.Affinity == nil || pod.Affinity.NodeAffinity == nil {
		t.Errorf("scheduling values not rendered: %+v", pod)
	}
	if dep.Spec.Template.Annotations["example.com/team"] != "sre" || dep.Spec.Template.Annotations["checksum/config"] == "" {
		t.Errorf("pod annotations %v", dep.Spec.Template.Annotations)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "agent-extra-env" {
		t.Errorf("extraEnvFrom not rendered: %+v", c.EnvFrom)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["TZ"].Value != "UTC" {
		t.Error("extraEnv not rendered")
	}
	if ref := env["ANTHROPIC_API_KEY"].ValueFrom.SecretKeyRef; ref.Name != "llm-api" || ref.Key != "anthropic" {
		t.Errorf("API key Secret %+v", ref)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/cache/agent" }) ||
		!slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "agent-cache" && v.EmptyDir != nil }) {
		t.Error("extraVolumes / extraVolumeMounts not rendered")
	}
	var projected []string
	for _, v := range pod.Volumes {
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				projected = append(projected, s.Secret.Name)
			}
		}
	}
	if !slices.Equal(projected, []string{"runner-clusters", "runner-prod-eu"}) {
		t.Errorf("projected credential Secrets %v", projected)
	}
	pvc := only[*corev1.PersistentVolumeClaim](t, objs)
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "fast-ssd" || pvc.Spec.Resources.Requests.Storage().String() != "50Gi" {
		t.Errorf("persistence values not rendered: %+v", pvc.Spec)
	}
	for _, cm := range all[*corev1.ConfigMap](objs) {
		if conf, ok := cm.Data["runner.conf"]; ok && !strings.Contains(conf, "\nmax-queue-age 1800\n") {
			t.Errorf("extraConfig not in runner.conf:\n%s", conf)
		}
	}
}

// TestHelmChartPersistenceOff: without persistence the state is on an
// emptyDir and no claim is rendered.
func TestHelmChartPersistenceOff(t *testing.T) {
	objs := decodeObjects(t, "helm template (no persistence)", helm(t, "template", "prod", chart, "--kube-version", kubeVersion, "--set", "persistence.enabled=false"))
	checkRunner(t, objs, expect{
		image: publishedImage(t) + ":" + appVersion(t), agentCommand: "/usr/bin/kubernetes-mcp-runner", persistent: false,
		credentials: "/var/run/secrets/kubernetes-mcp-runner",
	})
	if n := len(all[*corev1.PersistentVolumeClaim](objs)); n != 0 {
		t.Errorf("%d claims rendered with persistence off", n)
	}
}

// TestHelmTriageAgentValues renders the values file docs/deployment.md
// installs the worked agent example with.
func TestHelmTriageAgentValues(t *testing.T) {
	values := "../examples/triage-agent/helm-values.yaml"
	helm(t, "lint", "--strict", chart, "--values", values)
	objs := decodeObjects(t, "helm template (triage agent)", helm(t, "template", "kubernetes-mcp-runner", chart, "--namespace", "kubernetes-mcp-runner", "--kube-version", kubeVersion, "--values", values))
	checkRunner(t, objs, expect{
		image: "registry.example.com/kubernetes-mcp-runner-triage:0.1.0", releaseLabel: "kube-prometheus-stack", monitoring: true,
		networkPolicy: true, agentCommand: "/agents/triage-agent", persistent: true, credentials: "/var/run/secrets/kubernetes-mcp-runner",
	})
	// The release name the docs use gives the Secrets the kustomize names.
	dep := only[*appsv1.Deployment](t, objs)
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "ANTHROPIC_API_KEY" && e.ValueFrom.SecretKeyRef.Name != "kubernetes-mcp-runner-agent" {
			t.Errorf("API key Secret %s, want kubernetes-mcp-runner-agent as docs/deployment.md creates it", e.ValueFrom.SecretKeyRef.Name)
		}
	}
	// And the metrics Service the kustomize manifests name.
	kustSvc := only[*corev1.Service](t, renderKustomize(t, "kubernetes"))
	if svc := only[*corev1.Service](t, objs); svc.Name != kustSvc.Name {
		t.Errorf("the chart's metrics Service is %s, kustomize's %s: docs/deployment.md says they match", svc.Name, kustSvc.Name)
	}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Projected != nil && v.Projected.Sources[0].Secret.Name != "kubernetes-mcp-runner-clusters" {
			t.Errorf("credentials Secret %s, want kubernetes-mcp-runner-clusters", v.Projected.Sources[0].Secret.Name)
		}
	}
}
