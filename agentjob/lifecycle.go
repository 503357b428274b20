package agentjob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func readEvent(file string) (incident.EventDocument, error) {
	var doc incident.EventDocument
	data, err := os.ReadFile(file)
	if err != nil {
		return doc, fmt.Errorf("read event.json for the agent Job: %w", err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return doc, fmt.Errorf("parse event.json for the agent Job: %w", err)
	}
	return doc, nil
}

// podEnv drops what the image, not the runner's host, must decide.
func podEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "PATH", "HOME", "TMPDIR", "USER", "SHELL":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// fromStatus turns the entrypoint's report into procutil's terms.
func fromStatus(st Status, res procutil.Result) procutil.Result {
	res.ExitCode, res.TimedOut, res.Killed = st.ExitCode, st.TimedOut, st.Killed
	res.OutputBytes, res.OutputTruncated = st.OutputBytes, st.OutputTruncated
	if !st.StartedAt.IsZero() {
		res.Started, res.Ended = st.StartedAt, st.EndedAt
	} else {
		res.Ended = time.Now()
	}
	if st.Signal != "" {
		res.Signal = signalNamed(st.Signal)
		res.ExitCode = -1
	}
	return res
}

func signalNamed(name string) syscall.Signal {
	for s := syscall.Signal(1); s < 65; s++ {
		if s.String() == name {
			return s
		}
	}
	return syscall.SIGKILL
}

// collected lets the cluster remove the finished Job (and with it its pod
// and Secret) once its result is in the workspace; until then it stays, so
// a result is never lost to a TTL.
func (r *Runtime) collected(name string, log *slog.Logger) {
	ttl := int32(r.o.TTLAfterCollected / time.Second)
	patch := fmt.Sprintf(`{"spec":{"ttlSecondsAfterFinished":%d}}`, ttl)
	if _, err := r.o.Client.BatchV1().Jobs(r.o.Namespace).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		log.Warn("Could not set the collected agent Job's TTL; deleting it", "error", err.Error())
		r.delete(name, log, "collected")
		return
	}
	log.Info("Collected agent Job result", "ttl_seconds_after_finished", ttl)
}

// delete removes a Job with its pods and Secret (background propagation:
// the garbage collector takes the dependents).
func (r *Runtime) delete(name string, log *slog.Logger, why string) {
	policy := metav1.DeletePropagationBackground
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.o.Client.BatchV1().Jobs(r.o.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy})
	// The Secret is owned by the Job; deleting it here too covers an
	// owner reference that could not be set.
	_ = r.o.Client.CoreV1().Secrets(r.o.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil {
		log.Warn("Could not delete agent Job", "reason", why, "error", err.Error())
		return
	}
	log.Info("Deleted agent Job", "reason", why)
}

// Sweep deletes the Jobs of this runner's clusters that no run holds and
// that are older than the adoption window (the start timeout): a
// restarted runner adopts the Jobs it re-queued within it; what is left
// after it was abandoned (its incident given up, its cluster removed, the
// fault expired in the queue). Collected Jobs are left to their TTL.
func (r *Runtime) Sweep(ctx context.Context) error {
	list, err := r.o.Client.BatchV1().Jobs(r.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy})
	if err != nil {
		return fmt.Errorf("list agent Jobs: %w", err)
	}
	for _, job := range list.Items {
		if !slices.Contains(r.o.Clusters, job.Labels[LabelCluster]) || job.Spec.TTLSecondsAfterFinished != nil || job.DeletionTimestamp != nil {
			continue
		}
		if time.Since(job.CreationTimestamp.Time) < r.o.StartTimeout || r.o.Results.expecting(job.Name) {
			continue
		}
		r.delete(job.Name, r.o.Logger.With("job", job.Name, "cluster", job.Labels[LabelCluster],
			"incident_id", job.Annotations[AnnotIncidentID]), "abandoned")
	}
	return nil
}

// Serve sweeps abandoned Jobs once a minute (a suture service).
func (r *Runtime) Serve(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.o.Logger.Warn("Could not sweep abandoned agent Jobs", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// String names the sweeper for the supervisor's logs.
func (r *Runtime) String() string { return "agent-job-sweeper" }
