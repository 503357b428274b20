// Package agentjob runs an incident's agent as a Kubernetes Job: one Job per
// incident from the user's pod template, with a per-incident Secret that
// carries the incident's event, its own cluster's credentials and a one-time
// token, and the runner's own binary as the pod's entrypoint, which wraps
// the agent and returns its log, report, usage and exit status to the runner
// over an authenticated HTTP channel (results.go). Everything that speaks
// the Kubernetes API lives here; dispatch sees a Runtime like the local
// process one.
package agentjob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Paths inside an agent pod. The agent sees its workspace, event and
// kubeconfig there; its arguments and environment are rendered with them.
const (
	PodWorkspace = "/workspace"
	secretDir    = "/var/run/kubernetes-mcp-runner/secret"
	binDir       = "/var/run/kubernetes-mcp-runner/bin"
	// ImageBinary is where the runner's image keeps the binary, the
	// entrypoint when the agent image has it baked in.
	ImageBinary = "/usr/bin/kubernetes-mcp-runner"
	// AgentContainer is the container of the template the agent runs in
	// (the first one when none has this name).
	AgentContainer = "agent"
)

// Keys of the per-incident Secret. Environment entries are stored under
// envKeyPrefix+NAME so the Job lists names only, never values.
const (
	keyToken      = "token"
	keyEvent      = "event.json"
	keyKubeconfig = "kubeconfig"
	envKeyPrefix  = "env."
)

// Labels and annotations that name an incident's Job, its Secret and pod.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedBy       = "kubernetes-mcp-runner"
	LabelCluster    = "kubernetes-mcp-runner.io/cluster"
	LabelRunKey     = "kubernetes-mcp-runner.io/run-key"
	AnnotIncidentID = "kubernetes-mcp-runner.io/incident-id"
	AnnotFaultID    = "kubernetes-mcp-runner.io/fault-id"
	AnnotFaultType  = "kubernetes-mcp-runner.io/fault-type"
	AnnotResource   = "kubernetes-mcp-runner.io/resource"
)

// RunKey identifies one queued fault across restarts of the runner: the
// incident id changes when a crash re-queues a fault, the cluster, fault
// id and enqueue time do not. Job names derive from it, so a restarted
// runner finds (adopts) the Job of the run a crash interrupted instead of
// starting a second one.
func RunKey(cluster, faultID string, enqueuedAt time.Time) string {
	h := sha256.Sum256([]byte(cluster + "\x00" + faultID + "\x00" + enqueuedAt.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(h[:8])
}

// JobName is the deterministic name of a run's Job and Secret.
func JobName(runKey string) string { return "kmr-agent-" + runKey }

// LoadTemplate reads the user's pod template (a PodTemplateSpec in YAML or
// JSON: image, resources, service account, node selector, tolerations).
func LoadTemplate(file string) (corev1.PodTemplateSpec, error) {
	var t corev1.PodTemplateSpec
	data, err := os.ReadFile(file)
	if err != nil {
		return t, fmt.Errorf("read agent job template: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &t); err != nil {
		return t, fmt.Errorf("parse agent job template %s: %w", file, err)
	}
	if len(t.Spec.Containers) == 0 {
		return t, fmt.Errorf("agent job template %s: spec.containers is empty: it needs the agent's container (image, resources)", file)
	}
	if c := t.Spec.Containers[agentIndex(t.Spec)]; c.Image == "" {
		return t, fmt.Errorf("agent job template %s: container %q has no image", file, c.Name)
	}
	return t, nil
}

func agentIndex(spec corev1.PodSpec) int {
	for i, c := range spec.Containers {
		if c.Name == AgentContainer {
			return i
		}
	}
	return 0
}

// Spec is one run as the Job builder needs it.
type Spec struct {
	Name      string // JobName(RunKey)
	Namespace string
	RunKey    string
	Cluster   string
	// IncidentID, FaultID, FaultType and Resource annotate the Job.
	IncidentID, FaultID, FaultType, Resource string
	// Command and Args are the agent's, rendered for the pod's paths; Env
	// its environment (NAME=value), stored in the Secret.
	Command string
	Args    []string
	Env     []string
	// Event is event.json as the pod sees it; Kubeconfig the cluster's own
	// credentials (empty: none); Token the run's one-time results token.
	Event      []byte
	Kubeconfig []byte
	Token      string
	// ResultsURL is where the entrypoint reports (…/v1/runs/<name>).
	ResultsURL string
	// Timeout is the agent's; StartTimeout the time allowed to get the pod
	// running. activeDeadlineSeconds is their sum: the Job ends by then even
	// when no runner is left to stop it.
	Timeout, StartTimeout, KillGrace time.Duration
	LogMaxBytes                      int64
	// EntrypointImage, when set, is an image holding the runner's binary
	// at ImageBinary, copied into the pod by an init container; empty: the
	// agent image has it at ImageBinary.
	EntrypointImage string
}

// Build returns the run's Job and Secret. The Secret is created first and
// then given the Job as its owner, so it is deleted with the Job.
func Build(tmpl corev1.PodTemplateSpec, s Spec) (*batchv1.Job, *corev1.Secret) {
	labels := map[string]string{LabelManagedBy: ManagedBy, LabelCluster: s.Cluster, LabelRunKey: s.RunKey}
	annotations := map[string]string{
		AnnotIncidentID: s.IncidentID, AnnotFaultID: s.FaultID,
		AnnotFaultType: s.FaultType, AnnotResource: s.Resource,
	}
	meta := metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: labels, Annotations: annotations}

	secret := &corev1.Secret{ObjectMeta: *meta.DeepCopy(), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{
		keyToken: []byte(s.Token),
		keyEvent: s.Event,
	}}
	items := []corev1.KeyToPath{{Key: keyToken, Path: keyToken}, {Key: keyEvent, Path: keyEvent}}
	if len(s.Kubeconfig) > 0 {
		secret.Data[keyKubeconfig] = s.Kubeconfig
		items = append(items, corev1.KeyToPath{Key: keyKubeconfig, Path: keyKubeconfig})
	}

	pod := *tmpl.DeepCopy()
	pod.Labels = merge(pod.Labels, labels)
	pod.Annotations = merge(pod.Annotations, annotations)
	// No restarts in place: a failed agent is an outcome, not a retry.
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	readOnly := int32(0o440)
	pod.Spec.Volumes = append(pod.Spec.Volumes,
		corev1.Volume{Name: "kmr-workspace", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "kmr-secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: s.Name, Items: items, DefaultMode: &readOnly,
		}}},
	)
	entrypoint := ImageBinary
	if s.EntrypointImage != "" {
		entrypoint = path.Join(binDir, path.Base(ImageBinary))
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "kmr-bin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{
			Name: "kmr-entrypoint", Image: s.EntrypointImage,
			Command:      []string{ImageBinary, "job-entrypoint", "install", binDir},
			VolumeMounts: []corev1.VolumeMount{{Name: "kmr-bin", MountPath: binDir}},
		})
	}

	i := agentIndex(pod.Spec)
	c := &pod.Spec.Containers[i]
	if c.Name == "" {
		c.Name = AgentContainer
	}
	c.Command = append([]string{entrypoint, "job-entrypoint", "run",
		"--results-url", s.ResultsURL,
		"--token-file", path.Join(secretDir, keyToken),
		"--event-file", path.Join(secretDir, keyEvent),
		"--workspace", PodWorkspace,
		"--timeout", s.Timeout.String(),
		"--kill-grace", s.KillGrace.String(),
		"--log-max-bytes", strconv.FormatInt(s.LogMaxBytes, 10),
		"--", s.Command}, s.Args...)
	c.Args = nil
	c.WorkingDir = PodWorkspace
	c.VolumeMounts = append(c.VolumeMounts,
		corev1.VolumeMount{Name: "kmr-workspace", MountPath: PodWorkspace},
		corev1.VolumeMount{Name: "kmr-secret", MountPath: secretDir, ReadOnly: true},
	)
	if s.EntrypointImage != "" {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "kmr-bin", MountPath: binDir, ReadOnly: true})
	}
	for _, kv := range s.Env {
		name, value, _ := strings.Cut(kv, "=")
		key := envKeyPrefix + name
		secret.Data[key] = []byte(value)
		c.Env = append(c.Env, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: s.Name}, Key: key},
		}})
	}

	zero := int32(0)
	deadline := int64((s.Timeout + s.StartTimeout + time.Second - 1) / time.Second)
	job := &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{
		BackoffLimit:          &zero,
		ActiveDeadlineSeconds: &deadline,
		// An agent's exit ends the Job at once; a pod the cluster took
		// away (eviction, preemption, node drain) runs the agent again
		// without counting against the zero backoff.
		PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
				{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
			}},
			{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: &c.Name, Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{0},
			}},
		}},
		Template: pod,
	}}
	return job, secret
}

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
