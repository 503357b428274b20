package agentjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

// Options configure the Job runtime.
type Options struct {
	Logger    *slog.Logger
	Client    kubernetes.Interface
	Namespace string
	Template  corev1.PodTemplateSpec
	Results   *Results
	// ResultsURL is the base URL agent pods reach the results channel at.
	ResultsURL      string
	EntrypointImage string
	Timeout         time.Duration
	KillGrace       time.Duration
	StartTimeout    time.Duration
	LogMaxBytes     int64
	// ResultMaxBytes caps one run's upload (the workspace cap plus the log).
	ResultMaxBytes int64
	// TTLAfterCollected is set as the Job's ttlSecondsAfterFinished once its
	// result is in the workspace.
	TTLAfterCollected time.Duration
	// Kubeconfigs maps a cluster to the kubeconfig its agents get.
	Kubeconfigs map[string]string
	// Clusters are the clusters this runner owns: Sweep deletes only their Jobs.
	Clusters []string
	// PollInterval is how often a run's Job and pod are read (default 1 s).
	PollInterval time.Duration
}

// Runtime runs each agent as a Job (it is a dispatch.Runtime).
type Runtime struct{ o Options }

// New returns the Job runtime.
func New(o Options) *Runtime {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	o.Logger = o.Logger.With("component", "agent-job")
	return &Runtime{o: o}
}

// waitingErrors are container states an agent pod does not recover from
// by itself: the run is an error at once rather than at the start timeout.
var waitingErrors = map[string]bool{
	"InvalidImageName": true, "ErrImageNeverPull": true,
	"CreateContainerConfigError": true, "CreateContainerError": true,
}

// Run creates (or adopts) the run's Job and waits for its result. Its
// signature is dispatch.Runtime's.
func (r *Runtime) Run(ctx context.Context, spec procutil.Spec, f incident.Fields, render func(incident.Fields) ([]string, []string, error)) (procutil.Result, error) {
	res := procutil.Result{ExitCode: -1, Started: time.Now()}
	ws := spec.Dir
	doc, err := readEvent(filepath.Join(ws, incident.EventFile))
	if err != nil {
		return res, err
	}
	key := RunKey(f.Cluster, f.FaultID, doc.EnqueuedAt)
	name := JobName(key)
	log := r.o.Logger.With("cluster", f.Cluster, "incident_id", f.IncidentID, "job", name)

	lim := Limits{LogMaxBytes: r.o.LogMaxBytes, TotalBytes: r.o.ResultMaxBytes}
	job, token, adopted, err := r.adopt(ctx, name, key)
	if err != nil {
		return res, err
	}
	var exp *Expected
	if adopted {
		exp = r.o.Results.Expect(name, token, ws, lim)
		log.Warn("Adopted the agent Job of an interrupted run", "job_created", job.CreationTimestamp.Time)
	} else {
		token = newToken()
		exp = r.o.Results.Expect(name, token, ws, lim)
		if job, err = r.create(ctx, name, key, token, spec.Path, f, doc, render); err != nil {
			r.o.Results.Forget(name, exp)
			return res, err
		}
		log.Info("Created agent Job")
	}
	defer r.o.Results.Forget(name, exp)

	started := adopted && podRunning(ctx, r, name)
	if started {
		res.Started = job.CreationTimestamp.Time
	}
	poll := time.NewTicker(r.o.PollInterval)
	defer poll.Stop()
	for {
		select {
		case out := <-exp.Done():
			res = fromStatus(out.Status, res)
			r.collected(name, log)
			return res, nil
		case <-exp.Started():
			if !started {
				started, res.Started = true, time.Now()
			}
		case <-ctx.Done():
			res.Ended = time.Now()
			res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
			res.Cancelled = !res.TimedOut
			res.Killed, res.Signal = true, syscall.SIGKILL
			r.delete(name, log, "stopped")
			return res, nil
		case <-poll.C:
			end, err := r.check(ctx, name, started, job.CreationTimestamp.Time)
			if err == nil && !end.over {
				continue
			}
			// A result may be in flight as the Job ends: take it if so.
			select {
			case out := <-exp.Done():
				res = fromStatus(out.Status, res)
				r.collected(name, log)
				return res, nil
			case <-time.After(2 * r.o.PollInterval):
			}
			r.delete(name, log, "ended without a result")
			res.Ended = time.Now()
			if err != nil {
				return res, err
			}
			if end.deadline {
				res.TimedOut, res.Killed, res.Signal = true, true, syscall.SIGKILL
				return res, nil
			}
			res.ExitCode = end.exitCode
			return res, nil
		}
	}
}

// jobEnd is what a poll found.
type jobEnd struct {
	over     bool
	deadline bool
	exitCode int
}

// check reads the Job and its pod. An error means the agent never started
// (the Job could not get a running pod): the run is an error, not the
// agent's failure.
func (r *Runtime) check(ctx context.Context, name string, started bool, created time.Time) (jobEnd, error) {
	job, err := r.o.Client.BatchV1().Jobs(r.o.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if !started {
			return jobEnd{}, fmt.Errorf("agent Job %s was deleted before the agent started", name)
		}
		return jobEnd{over: true, exitCode: -1}, nil
	}
	if err != nil {
		return jobEnd{}, nil // the API is unreachable for now: try again next poll
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			if c.Reason == batchv1.JobReasonDeadlineExceeded && started {
				return jobEnd{over: true, deadline: true}, nil
			}
			if !started {
				return jobEnd{}, fmt.Errorf("agent Job failed before the agent started: %s: %s", c.Reason, c.Message)
			}
			return jobEnd{over: true, exitCode: r.exitCode(ctx, name)}, nil
		case batchv1.JobComplete, batchv1.JobSuccessCriteriaMet:
			return jobEnd{over: true, exitCode: r.exitCode(ctx, name)}, nil
		}
	}
	if started {
		return jobEnd{}, nil
	}
	why := "no pod yet (quota or admission may refuse it)"
	pods, err := r.pods(ctx, name)
	if err == nil {
		for _, p := range pods {
			if reason, fatal := notStarting(p); reason != "" {
				why = reason
				if fatal {
					return jobEnd{}, fmt.Errorf("agent pod cannot start: %s", why)
				}
			}
		}
	}
	if time.Since(created) > r.o.StartTimeout {
		return jobEnd{}, fmt.Errorf("agent pod did not start within %s: %s", r.o.StartTimeout, why)
	}
	return jobEnd{}, nil
}

// notStarting says why a pod is not running its agent yet, and whether
// that is final.
func notStarting(p corev1.Pod) (string, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return "unschedulable: " + c.Message, false
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			return cs.Name + ": " + w.Reason + ": " + w.Message, waitingErrors[w.Reason]
		}
	}
	return "", false
}

func (r *Runtime) pods(ctx context.Context, name string) ([]corev1.Pod, error) {
	list, err := r.o.Client.CoreV1().Pods(r.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// exitCode is the agent container's exit code in the Job's last pod.
func (r *Runtime) exitCode(ctx context.Context, name string) int {
	pods, err := r.pods(ctx, name)
	if err != nil {
		return -1
	}
	for _, p := range pods {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && cs.Name == r.agentName() {
				return int(t.ExitCode)
			}
		}
	}
	return -1
}

func (r *Runtime) agentName() string {
	if n := r.o.Template.Spec.Containers[agentIndex(r.o.Template.Spec)].Name; n != "" {
		return n
	}
	return AgentContainer
}

func podRunning(ctx context.Context, r *Runtime, name string) bool {
	pods, err := r.pods(ctx, name)
	if err != nil {
		return false
	}
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return true
		}
	}
	return false
}

// adopt finds the Job a previous runner started for this run. Its token is
// read back from the run's Secret, so the result the entrypoint keeps
// offering is taken by this runner.
func (r *Runtime) adopt(ctx context.Context, name, key string) (*batchv1.Job, string, bool, error) {
	job, err := r.o.Client.BatchV1().Jobs(r.o.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("look for the agent Job: %w", err)
	}
	if job.Labels[LabelRunKey] != key || job.DeletionTimestamp != nil {
		// Someone else's object by our name, or one on its way out.
		return nil, "", false, fmt.Errorf("agent Job %s exists and is not this run's (or is being deleted)", name)
	}
	secret, err := r.o.Client.CoreV1().Secrets(r.o.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, "", false, fmt.Errorf("read the adopted agent Job's secret: %w", err)
	}
	return job, string(secret.Data[keyToken]), true, nil
}

func (r *Runtime) create(ctx context.Context, name, key, token, command string, f incident.Fields, doc incident.EventDocument,
	render func(incident.Fields) ([]string, []string, error)) (*batchv1.Job, error) {
	pf := f
	pf.Workspace = PodWorkspace
	pf.EventFile = path.Join(PodWorkspace, incident.EventFile)
	// Every path inside the runner's workspace is the same path inside the
	// pod's: the entrypoint sends the pod's workspace back, so a report or
	// usage file written anywhere else would never reach the runner.
	for _, p := range []*string{&pf.ReportFile, &pf.UsageFile} {
		if *p == "" {
			continue
		}
		rel, err := filepath.Rel(f.Workspace, *p)
		if err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("agent file %s is outside the workspace %s", *p, f.Workspace)
		}
		*p = path.Join(PodWorkspace, filepath.ToSlash(rel))
	}
	var kubeconfig []byte
	if src := r.o.Kubeconfigs[f.Cluster]; src != "" {
		var err error
		if kubeconfig, err = FlattenKubeconfig(src); err != nil {
			return nil, err
		}
		pf.Kubeconfig = path.Join(secretDir, keyKubeconfig)
	} else {
		pf.Kubeconfig = ""
	}
	args, env, err := render(pf)
	if err != nil {
		return nil, fmt.Errorf("render agent arguments for the pod: %w", err)
	}
	doc.Kubeconfig = pf.Kubeconfig
	event, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	job, secret := Build(r.o.Template, Spec{
		Name: name, Namespace: r.o.Namespace, RunKey: key, Cluster: f.Cluster,
		IncidentID: f.IncidentID, FaultID: f.FaultID, FaultType: f.FaultType,
		Resource: strings.Trim(f.ResourceKind+" "+f.ResourceNamespace+"/"+f.ResourceName, " /"),
		Command:  command, Args: args, Env: podEnv(env),
		Event: event, Kubeconfig: kubeconfig, Token: token,
		ResultsURL: strings.TrimRight(r.o.ResultsURL, "/") + "/v1/runs/" + name,
		Timeout:    r.o.Timeout, StartTimeout: r.o.StartTimeout, KillGrace: r.o.KillGrace,
		LogMaxBytes: r.o.LogMaxBytes, EntrypointImage: r.o.EntrypointImage,
	})
	secrets := r.o.Client.CoreV1().Secrets(r.o.Namespace)
	if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create the agent Job's secret: %w", err)
	} else if apierrors.IsAlreadyExists(err) {
		// Left by a run whose Job was never created: ours now.
		if _, err := secrets.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("update the agent Job's secret: %w", err)
		}
	}
	created, err := r.o.Client.BatchV1().Jobs(r.o.Namespace).Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		_ = secrets.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
		return nil, fmt.Errorf("create the agent Job: %w", err)
	}
	// Owned by the Job, the Secret goes with it (the garbage collector).
	owner := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"batch/v1","kind":"Job","name":%q,"uid":%q,"blockOwnerDeletion":true}]}}`, name, created.UID)
	if _, err := secrets.Patch(ctx, name, types.MergePatchType, []byte(owner), metav1.PatchOptions{}); err != nil {
		r.o.Logger.Warn("Could not make the agent Job own its secret; it is deleted with the Job by the runner only", "job", name, "error", err.Error())
	}
	return created, nil
}
