package faultsource

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// CrashLoopPod is a running pod whose one container, "app", is in
// CrashLoopBackOff after three restarts: what the server's CrashLoop
// detector fires on.
func CrashLoopPod(namespace, name, uid string) corev1.Pod {
	p := corev1.Pod{}
	p.Namespace, p.Name, p.UID = namespace, name, types.UID(uid)
	p.Spec.Containers = []corev1.Container{{Name: "app", Image: "busybox"}}
	p.Spec.NodeName = "n1"
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "app", RestartCount: 3, Image: "busybox",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container"}},
	}}
	return p
}

// FailedJob is a Job whose Failed condition turned True at at, for
// BackoffLimitExceeded: what the server's JobFailure detector fires on.
func FailedJob(namespace, name, uid string, at time.Time) batchv1.Job {
	j := batchv1.Job{}
	j.Namespace, j.Name, j.UID = namespace, name, types.UID(uid)
	j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}
	j.Status.Failed = 7
	j.Status.Conditions = []batchv1.JobCondition{{
		Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded",
		Message: "Job has reached the specified backoff limit", LastTransitionTime: metav1.NewTime(at),
	}}
	return j
}
