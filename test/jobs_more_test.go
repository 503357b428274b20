//go:build jobs

package test

import (
	"context"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/agentjob"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
)

// TestJobUsageCostAndWebhook: an agent in a Job that writes usage.json at
// the USAGE_FILE it is given (inside the pod's workspace) has the file
// reach the runner's workspace through the results channel; the run's
// cost is charged to the budget; and a webhook receives the incident
// document as for a local run.
func TestJobUsageCostAndWebhook(t *testing.T) {
	rcv := startReceiver(t, nil)
	src := startSources(t, "prod")["prod"]
	e := startJobEnv(t, src.URL())
	args := append(append(e.args, testAgentArgs(t)...), "--budget-usd-per-day", "10")
	args = append(args, notifyArgs(t, t.TempDir(), map[string]string{"hook": rcv.srv.URL})...)
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	emit(src, "prod", 1, "paid-web")

	res, ws := resultOf(t, r.workspace, 90*time.Second)
	if res.Status != incident.StatusSuccess {
		t.Fatalf("status %s (%s), want success", res.Status, res.Reason)
	}
	// The agent was pointed at the pod's workspace, not at the runner's
	// (which the pod cannot see): the file came back over the channel.
	jobs := jobsIn(t, e)
	if len(jobs) != 1 {
		t.Fatalf("jobs = %v, want one", jobs)
	}
	secret, err := e.cluster.Client.CoreV1().Secrets(jobNS).Get(context.Background(), jobs[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(secret.Data["env.USAGE_FILE"]), path.Join(agentjob.PodWorkspace, incident.UsageFile); got != want {
		t.Errorf("the pod's USAGE_FILE is %q, want %q", got, want)
	}
	usage, err := incident.ReadUsage(filepath.Join(ws, incident.UsageFile))
	if err != nil || usage.CostUSD == nil || *usage.CostUSD != 0.40 {
		t.Errorf("usage.json in the workspace: %+v %v", usage, err)
	}
	poll.Until(t, 15*time.Second, "the cost charged", func() bool {
		return math.Abs(r.metric("kubernetes_mcp_runner_agent_cost_usd_total")-0.40) < 1e-9
	})
	if got := r.metric("kubernetes_mcp_runner_budget_remaining_usd", `scope="global"`); math.Abs(got-9.60) > 1e-9 {
		t.Errorf("budget_remaining_usd{scope=global} = %v, want 9.60", got)
	}

	poll.Until(t, 30*time.Second, "the webhook", func() bool { _, handled := rcv.counts(); return handled == 1 })
	rcv.mu.Lock()
	n := rcv.handled[0]
	rcv.mu.Unlock()
	if n.Kind != notify.KindIncident || n.Incident.ID != res.IncidentID || n.Incident.Cluster != "prod" ||
		n.Incident.Status != notify.StatusSuccess || n.Incident.Fault.Resource.Name != "paid-web" || n.Incident.Report.Bytes == 0 ||
		n.Incident.Links.Incident != "https://runner.example.com/incidents/"+res.IncidentID {
		t.Errorf("delivered document: %+v", n.Incident)
	}
	if n.Incident.Spend == nil || n.Incident.Spend.CostUSD == nil || *n.Incident.Spend.CostUSD != 0.40 {
		t.Errorf("delivered spend: %+v", n.Incident.Spend)
	}
}

// TestJobCannotStartIsError: a pod the node cannot start (its image cannot
// be pulled) ends the incident as an error at the start timeout, not as
// the agent's failure: the breaker, at a threshold of one failure, stays
// closed, and the Job is deleted.
func TestJobCannotStartIsError(t *testing.T) {
	src := startSources(t, "prod")["prod"]
	refuse := func(p corev1.Pod) string { return "ErrImagePull" }
	e := startJobEnvNode(t, src.URL(), refuse, "--agent-job-start-timeout", "3",
		"--circuit-breaker-threshold", "1", "--circuit-breaker-cooldown", "600")
	r := startRunner(t, append(e.args, testAgentArgs(t)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	emit(src, "prod", 1, "ok-web")

	res, _ := resultOf(t, r.workspace, 90*time.Second)
	if res.Status != incident.StatusError {
		t.Fatalf("status %s (%s), want error", res.Status, res.Reason)
	}
	if !strings.Contains(res.Reason, "ErrImagePull") {
		t.Errorf("reason %q does not say why the pod did not start", res.Reason)
	}
	if got := r.metric("kubernetes_mcp_runner_circuit_breaker_state"); got != 0 {
		t.Errorf("circuit_breaker_state = %v, want 0 (closed): a pod that never started is not the agent's failure", got)
	}
	if started := e.node.Started(); len(started) != 0 {
		t.Errorf("the node ran %v", started)
	}
	poll.Until(t, 30*time.Second, "the Job deleted", func() bool {
		for _, name := range jobsIn(t, e) {
			if _, err := e.cluster.Client.BatchV1().Jobs(jobNS).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false
			}
		}
		return true
	})
	// A later fault still runs: the cluster was not given up on.
	emit(src, "prod", 2, "ok-api")
	poll.Until(t, 90*time.Second, "a second incident", func() bool {
		files, _ := filepath.Glob(filepath.Join(r.workspace, "prod", "*", incident.ResultFile))
		return len(files) == 2
	})
}

// TestJobEntrypointInstalled: with --agent-job-entrypoint-image the pod's
// init container runs `job-entrypoint install`, copying the runner's
// binary into a volume the agent container then starts from (the agent
// image needs no copy of its own), and the run succeeds through it.
func TestJobEntrypointInstalled(t *testing.T) {
	src := startSources(t, "prod")["prod"]
	e := startJobEnv(t, src.URL(), "--agent-job-entrypoint-image", "example.com/kubernetes-mcp-runner:1")
	r := startRunner(t, append(e.args, testAgentArgs(t)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	emit(src, "prod", 1, "ok-web")

	res, ws := resultOf(t, r.workspace, 90*time.Second)
	if res.Status != incident.StatusSuccess {
		t.Fatalf("status %s (%s), want success", res.Status, res.Reason)
	}
	if log, _ := os.ReadFile(filepath.Join(ws, incident.LogFile)); !strings.Contains(string(log), "test agent for ok-web") {
		t.Errorf("agent.log = %q", log)
	}
	jobs := jobsIn(t, e)
	if len(jobs) != 1 {
		t.Fatalf("jobs = %v, want one", jobs)
	}
	job, err := e.cluster.Client.BatchV1().Jobs(jobNS).Get(context.Background(), jobs[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := job.Spec.Template.Spec
	if len(spec.InitContainers) != 1 || spec.InitContainers[0].Image != "example.com/kubernetes-mcp-runner:1" ||
		!slices.Equal(spec.InitContainers[0].Command[1:3], []string{"job-entrypoint", "install"}) {
		t.Fatalf("init containers %+v", spec.InitContainers)
	}
	// The agent container starts from the installed copy: the node knows
	// no program at that path, so only the init container's copy can run.
	entry := spec.Containers[0].Command[0]
	if entry == agentjob.ImageBinary || path.Dir(entry) != spec.InitContainers[0].Command[3] {
		t.Errorf("the agent container starts from %s, want the copy in %s", entry, spec.InitContainers[0].Command[3])
	}
	if _, known := e.node.Images[entry]; known {
		t.Errorf("the node maps %s to a local program: the test would not show the copy ran", entry)
	}
}
