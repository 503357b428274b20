package packaging

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// TestHelmChartSharded: sharding.enabled renders a StatefulSet of
// sharding.replicas runners instead of the Deployment, each with its own
// state claim and the shard count, a headless Service for it, and no
// shared claim; the runner takes each pod's shard from its name.
func TestHelmChartSharded(t *testing.T) {
	set := []string{"--set", "sharding.enabled=true", "--set", "sharding.replicas=4", "--set", "persistence.storageClassName=fast-ssd"}
	helm(t, append([]string{"lint", "--strict", chart}, set...)...)
	objs := decodeObjects(t, "helm template (sharded)", helm(t, append([]string{"template", "prod", chart, "--namespace", "ops", "--kube-version", kubeVersion}, set...)...))
	if n := len(all[*appsv1.Deployment](objs)); n != 0 {
		t.Errorf("%d Deployments rendered in sharded mode", n)
	}
	if n := len(all[*corev1.PersistentVolumeClaim](objs)); n != 0 {
		t.Errorf("%d shared claims rendered in sharded mode: each replica needs its own", n)
	}
	sts := only[*appsv1.StatefulSet](t, objs)
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 4 {
		t.Errorf("replicas %v, want 4", sts.Spec.Replicas)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "state" ||
		*sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName != "fast-ssd" {
		t.Fatalf("volumeClaimTemplates %+v, want one state claim per replica", sts.Spec.VolumeClaimTemplates)
	}
	pod := sts.Spec.Template.Spec
	if slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "state" }) {
		t.Error("the pod names a shared state volume besides the claim template")
	}
	c := pod.Containers[0]
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == "state" && m.MountPath == "/var/lib/kubernetes-mcp-runner"
	}) {
		t.Error("the state claim is not mounted at the state directory")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["TOTAL_SHARDS"].Value != "4" || env["POD_NAME"].ValueFrom == nil || env["POD_NAME"].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("shard environment TOTAL_SHARDS=%+v POD_NAME=%+v", env["TOTAL_SHARDS"], env["POD_NAME"])
	}
	var headless *corev1.Service
	for _, s := range all[*corev1.Service](objs) {
		if s.Name == sts.Spec.ServiceName {
			headless = s
		}
	}
	if headless == nil || headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("no headless Service %q for the StatefulSet", sts.Spec.ServiceName)
	}
	// The pods' names give the shards the runner parses: the last is 3.
	last := sts.Name + "-3"
	cfg, err := config.Parse([]string{"--cluster", "a=http://127.0.0.1:1/mcp", "--agent-command", "/bin/true"}, func(k string) string {
		return map[string]string{"TOTAL_SHARDS": env["TOTAL_SHARDS"].Value, "POD_NAME": last}[k]
	})
	if err != nil || cfg.Shard != 3 || cfg.TotalShards != 4 {
		t.Errorf("pod %s runs shard %d of %d (%v), want 3 of 4", last, cfg.Shard, cfg.TotalShards, err)
	}

	// One claim cannot serve several replicas.
	cmd := exec.Command(helmBinary(t), "template", "prod", chart, "--kube-version", kubeVersion,
		"--set", "sharding.enabled=true", "--set", "persistence.existingClaim=shared")
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "persistence.existingClaim") {
		t.Errorf("sharding with an existing claim rendered (%v):\n%.300s", err, out)
	}
}
