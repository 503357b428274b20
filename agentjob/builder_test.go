package agentjob

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

const templateYAML = `
metadata:
  labels: {team: sre}
spec:
  serviceAccountName: triage
  nodeSelector: {pool: agents}
  tolerations: [{key: agents, operator: Exists, effect: NoSchedule}]
  containers:
  - name: agent
    image: example.com/triage:1
    resources: {limits: {memory: 1Gi, cpu: "1"}}
`

func loadTestTemplate(t *testing.T) corev1.PodTemplateSpec {
	t.Helper()
	file := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(file, []byte(templateYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl, err := LoadTemplate(file)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func testSpec() Spec {
	key := RunKey("prod", "abcdef0123456789", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	return Spec{
		Name: JobName(key), Namespace: "agents", RunKey: key, Cluster: "prod",
		IncidentID: "abcdef0123456789-x1", FaultID: "abcdef0123456789", FaultType: "CrashLoop", Resource: "Pod shop/web",
		Command: "claude", Args: []string{"-p", "investigate /workspace/event.json"},
		Env:   []string{"ANTHROPIC_API_KEY=sk-secret", "INCIDENT_ID=abcdef0123456789-x1"},
		Event: []byte(`{"incidentId":"abcdef0123456789-x1"}`), Kubeconfig: []byte("apiVersion: v1\n"), Token: "tok",
		ResultsURL: "http://runner.ns.svc:8082/v1/runs/x", Timeout: 300 * time.Second, StartTimeout: 120 * time.Second,
		KillGrace: 5 * time.Second, LogMaxBytes: 1 << 20,
	}
}

// TestBuildJob checks the Job a run gets: the user's template kept, the
// entrypoint wrapping the agent command, no retries, the deadline, the
// failure policy, names that identify the incident, no TTL before the
// result is collected, and secrets only in the Secret.
func TestBuildJob(t *testing.T) {
	s := testSpec()
	job, secret := Build(loadTestTemplate(t), s)

	if job.Name != s.Name || secret.Name != s.Name || job.Namespace != "agents" || !strings.HasPrefix(job.Name, "kmr-agent-") {
		t.Errorf("names: job %s/%s secret %s", job.Namespace, job.Name, secret.Name)
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 {
		t.Errorf("backoffLimit = %v, want 0", job.Spec.BackoffLimit)
	}
	if d := job.Spec.ActiveDeadlineSeconds; d == nil || *d != 420 {
		t.Errorf("activeDeadlineSeconds = %v, want 420 (timeout + start timeout)", d)
	}
	if job.Spec.TTLSecondsAfterFinished != nil {
		t.Error("ttlSecondsAfterFinished set before the result was collected")
	}
	rules := job.Spec.PodFailurePolicy.Rules
	if len(rules) != 2 || rules[0].Action != batchv1.PodFailurePolicyActionIgnore || rules[1].Action != batchv1.PodFailurePolicyActionFailJob ||
		*rules[1].OnExitCodes.ContainerName != "agent" {
		t.Errorf("pod failure policy = %+v", rules)
	}
	for _, labels := range []map[string]string{job.Labels, secret.Labels, job.Spec.Template.Labels} {
		if labels[LabelRunKey] != s.RunKey || labels[LabelCluster] != "prod" || labels[LabelManagedBy] != ManagedBy {
			t.Errorf("labels = %v", labels)
		}
	}
	if job.Annotations[AnnotIncidentID] != s.IncidentID || job.Annotations[AnnotFaultID] != s.FaultID {
		t.Errorf("annotations = %v", job.Annotations)
	}
	pod := job.Spec.Template.Spec
	if pod.ServiceAccountName != "triage" || pod.NodeSelector["pool"] != "agents" || len(pod.Tolerations) != 1 ||
		job.Spec.Template.Labels["team"] != "sre" || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("template not kept: %+v", pod)
	}
	c := pod.Containers[0]
	if c.Image != "example.com/triage:1" || c.Resources.Limits.Memory().String() != "1Gi" {
		t.Errorf("container = %+v", c)
	}
	cmd := strings.Join(c.Command, " ")
	if !strings.HasPrefix(cmd, ImageBinary+" job-entrypoint run ") || !strings.HasSuffix(cmd, "-- claude -p investigate /workspace/event.json") ||
		!strings.Contains(cmd, "--timeout 5m0s") || !strings.Contains(cmd, "--results-url "+s.ResultsURL) {
		t.Errorf("command = %s", cmd)
	}
	if len(pod.InitContainers) != 0 {
		t.Error("an init container without an entrypoint image")
	}
	for _, e := range c.Env {
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != s.Name {
			t.Errorf("env %s is not read from the run's Secret: %+v", e.Name, e)
		}
	}
	if string(secret.Data["env.ANTHROPIC_API_KEY"]) != "sk-secret" || string(secret.Data[keyToken]) != "tok" ||
		string(secret.Data[keyKubeconfig]) != "apiVersion: v1\n" || len(secret.Data[keyEvent]) == 0 {
		t.Errorf("secret data keys: %v", keys(secret.Data))
	}
	if strings.Contains(mustJSON(t, job), "sk-secret") || strings.Contains(mustJSON(t, job), `"tok"`) {
		t.Error("a secret value is in the Job object")
	}

	// The same run builds the same names; another enqueue does not.
	if RunKey("prod", s.FaultID, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)) != s.RunKey ||
		RunKey("prod", s.FaultID, time.Date(2026, 1, 2, 3, 4, 5, 7, time.UTC)) == s.RunKey ||
		RunKey("staging", s.FaultID, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)) == s.RunKey {
		t.Error("run keys are not a function of cluster, fault and enqueue time")
	}
}

// TestBuildJobEntrypointImage: with an entrypoint image, an init
// container copies the runner's binary into the pod and the agent
// container runs that copy.
func TestBuildJobEntrypointImage(t *testing.T) {
	s := testSpec()
	s.EntrypointImage = "ghcr.io/example/kubernetes-mcp-runner:1"
	job, _ := Build(loadTestTemplate(t), s)
	pod := job.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Image != s.EntrypointImage ||
		strings.Join(pod.InitContainers[0].Command, " ") != ImageBinary+" job-entrypoint install "+binDir {
		t.Fatalf("init containers = %+v", pod.InitContainers)
	}
	if got := pod.Containers[0].Command[0]; got != binDir+"/kubernetes-mcp-runner" {
		t.Errorf("agent entrypoint = %s", got)
	}
}

func TestLoadTemplateRefusesNoImage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pod.yaml")
	_ = os.WriteFile(file, []byte("spec:\n  containers:\n  - name: agent\n"), 0o600)
	if _, err := LoadTemplate(file); err == nil || !strings.Contains(err.Error(), "no image") {
		t.Errorf("err = %v", err)
	}
	_ = os.WriteFile(file, []byte("spec:\n  containerz: []\n"), 0o600)
	if _, err := LoadTemplate(file); err == nil {
		t.Error("an unknown field was accepted")
	}
}
