//go:build jobs

package test

// The Job runtime against a real control plane (make jobs): etcd,
// kube-apiserver and kube-controller-manager v1.35 built from the
// k8s.io/kubernetes module, and kubetest.Node playing the kubelet, so the
// Job controller, the per-incident Secret, the results channel and the
// adoption after a kill -9 are real.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/agentjob"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/kubetest"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
)

const jobNS = "agents"

type jobEnv struct {
	cluster *kubetest.Cluster
	node    *kubetest.Node
	args    []string
}

func startJobEnv(t *testing.T, src string, extra ...string) jobEnv {
	t.Helper()
	return startJobEnvNode(t, src, nil, extra...)
}

// startJobEnvNode is startJobEnv with a node that refuses the pods refuse
// names a reason for.
func startJobEnvNode(t *testing.T, src string, refuse func(corev1.Pod) string, extra ...string) jobEnv {
	t.Helper()
	bins, ok := kubetest.Binaries("..")
	if !ok {
		t.Skip("kube-apiserver and kube-controller-manager are not built (make jobs builds them into bin/)")
	}
	c := kubetest.Start(t, bins, jobNS)
	node := &kubetest.Node{Client: c.Client, Namespace: jobNS, Images: map[string]string{agentjob.ImageBinary: binary(t)}, Refuse: refuse}
	node.Run(t)
	tmpl := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(tmpl, []byte("spec:\n  containers:\n  - name: agent\n    image: example.com/triage:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(freePort(t))
	args := append([]string{
		"--cluster", "prod=" + src, "--agent-runtime", "job", "--agent-job-kubeconfig", c.Kubeconfig,
		"--agent-job-namespace", jobNS, "--agent-job-template", tmpl,
		"--agent-job-results-address", "127.0.0.1:" + port, "--agent-job-results-url", "http://127.0.0.1:" + port,
		"--agent-report-file", "output/report.md",
	}, extra...)
	return jobEnv{cluster: c, node: node, args: args}
}

// resultOf waits for the one result.json under root/prod and reads it.
func resultOf(t *testing.T, root string, within time.Duration) (incident.Result, string) {
	t.Helper()
	var r incident.Result
	var ws string
	poll.Until(t, within, "result.json", func() bool {
		files, _ := filepath.Glob(filepath.Join(root, "prod", "*", incident.ResultFile))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err == nil && json.Unmarshal(data, &r) == nil && r.Status != incident.StatusInterrupted {
				ws = filepath.Dir(f)
				return true
			}
		}
		return false
	})
	return r, ws
}

func jobsIn(t *testing.T, e jobEnv) []string {
	t.Helper()
	list, err := e.cluster.Client.BatchV1().Jobs(jobNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range list.Items {
		out = append(out, j.Name)
	}
	return out
}

// TestJobFaultBecomesJob: a fault becomes a Job; the agent's report and
// log come back into the workspace through the entrypoint, the incident
// page shows it like a local run, and the Job gets its TTL only then.
func TestJobFaultBecomesJob(t *testing.T) {
	src := startSources(t, "prod")["prod"]
	e := startJobEnv(t, src.URL())
	r := startRunner(t, append(e.args, testAgentArgs(t)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	emit(src, "prod", 1, "ok-web")

	res, ws := resultOf(t, r.workspace, 90*time.Second)
	if res.Status != incident.StatusSuccess {
		t.Fatalf("status %s (%s), want success", res.Status, res.Reason)
	}
	log, _ := os.ReadFile(filepath.Join(ws, incident.LogFile))
	if !strings.Contains(string(log), "test agent for ok-web") {
		t.Errorf("agent.log = %q", log)
	}
	if report, err := os.ReadFile(filepath.Join(ws, "output", "report.md")); err != nil || !strings.Contains(string(report), "finding") {
		t.Errorf("report: %v %q", err, report)
	}
	if _, err := os.Stat(filepath.Join(ws, incident.EventFile)); err != nil {
		t.Errorf("event.json: %v", err)
	}
	jobs := jobsIn(t, e)
	if len(jobs) != 1 {
		t.Fatalf("jobs = %v, want one", jobs)
	}
	job, err := e.cluster.Client.BatchV1().Jobs(jobNS).Get(context.Background(), jobs[0], metav1.GetOptions{})
	if err != nil || job.Spec.TTLSecondsAfterFinished == nil || job.Annotations[agentjob.AnnotIncidentID] != res.IncidentID {
		t.Errorf("job after collection: %v %+v", err, job.Spec.TTLSecondsAfterFinished)
	}
	poll.Until(t, 10*time.Second, "the incident on /api/incidents", func() bool {
		_, body := httpGet(r.uiURL + "/api/incidents")
		return strings.Contains(body, res.IncidentID) && strings.Contains(body, `"success"`)
	})
}

// TestJobHungAgentStoppedAtDeadline: a hung agent is a timeout at
// --agent-timeout and its Job is deleted.
func TestJobHungAgentStoppedAtDeadline(t *testing.T) {
	src := startSources(t, "prod")["prod"]
	e := startJobEnv(t, src.URL(), "--agent-timeout", "5")
	r := startRunner(t, append(e.args, testAgentArgs(t)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	emit(src, "prod", 1, "hang-web")
	res, _ := resultOf(t, r.workspace, 90*time.Second)
	if res.Status != incident.StatusTimeout {
		t.Fatalf("status %s (%s), want timeout", res.Status, res.Reason)
	}
	poll.Until(t, 30*time.Second, "the hung agent's Job deleted", func() bool {
		for _, name := range jobsIn(t, e) {
			if _, err := e.cluster.Client.BatchV1().Jobs(jobNS).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false
			}
		}
		return true
	})
}

// TestJobAdoptedAfterKill9: the runner is killed while its Job runs; the
// restarted runner adopts the Job, collects its result once, and starts
// no second Job.
func TestJobAdoptedAfterKill9(t *testing.T) {
	src := startSources(t, "prod")["prod"]
	e := startJobEnv(t, src.URL())
	dir := t.TempDir()
	agent := []string{"--agent-command", "sh", "--agent-arg", "-c", "--agent-arg",
		`echo started; sleep 8; for i in $(seq 40); do echo finding; done > "$REPORT_FILE"`, "--agent-env-allow", "PATH"}
	args := append(append(append([]string{}, e.args...), agent...), "--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state"))
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	emit(src, "prod", 1, "slow-web")
	poll.Until(t, 60*time.Second, "the agent pod running", func() bool { return len(e.node.Started()) == 1 })
	_ = r.cmd.Process.Kill()
	_ = r.wait()

	r2 := startRunner(t, args...)
	res, ws := resultOf(t, filepath.Join(dir, "ws"), 90*time.Second)
	if res.Status != incident.StatusSuccess {
		t.Fatalf("status %s (%s), want success", res.Status, res.Reason)
	}
	if log, _ := os.ReadFile(filepath.Join(ws, incident.LogFile)); !strings.Contains(string(log), "started") {
		t.Errorf("agent.log = %q", log)
	}
	if !strings.Contains(r2.logs.String(), "Adopted the agent Job of an interrupted run") {
		t.Error("the restarted runner did not adopt the Job")
	}
	if jobs, started := jobsIn(t, e), e.node.Started(); len(jobs) != 1 || len(started) != 1 {
		t.Errorf("jobs %v, pods run %v: want one of each", jobs, started)
	}
}
