package test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/tcpproxy"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// crashLoop is the live fault the stand-in sends for a pod made by
// faultsource.CrashLoopPod, with the server's id for it (cluster "a": the
// stand-in's context name).
func crashLoop(name string) fault.Event {
	ev := faultsource.Fault("a", 0, fault.TypeCrashLoop, "critical")
	ev.FaultID = clusterstate.FaultID("a", fault.TypeCrashLoop, "uid-"+name, "app")
	ev.Resource = fault.Resource{APIVersion: "v1", Kind: "Pod", Name: name, Namespace: "default", UID: "uid-" + name}
	return ev
}

// triaged lists the resources of every incident under dir's workspaces.
func triaged(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, r := range testagent.Results(t, filepath.Join(dir, "ws"), "a") {
		out = append(out, testagent.Event(t, filepath.Join(dir, "ws"), r).Fault.Resource.Name)
	}
	slices.Sort(out)
	return out
}

// brokeMeanwhile is the cluster after a second pod crashed and a job
// failed while no subscription was live.
func brokeMeanwhile() faultsource.ClusterState {
	return faultsource.ClusterState{
		Pods: []corev1.Pod{faultsource.CrashLoopPod("default", "ok-first", "uid-ok-first"), faultsource.CrashLoopPod("default", "ok-second", "uid-ok-second")},
		Jobs: []batchv1.Job{faultsource.FailedJob("default", "ok-batch", "uid-ok-batch", time.Now())},
	}
}

// TestBinaryReconcilesAfterARestart: a pod crash is triaged; the runner
// stops; a second pod crashes and a job fails while it is down (the
// stand-in sends nothing, no one is subscribed); started again on the same
// state dir, the runner reconciles the window it was away: both are
// triaged once, and the first pod is not triaged again.
func TestBinaryReconcilesAfterARestart(t *testing.T) {
	src := startSources(t, "a")["a"]
	src.SetState(faultsource.ClusterState{Pods: []corev1.Pod{faultsource.CrashLoopPod("default", "ok-first", "uid-ok-first")}})
	dir := t.TempDir()
	args := stateArgs(t, dir, "--cluster", "a="+src.URL())
	first := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	src.Emit(crashLoop("ok-first"))
	poll.Until(t, 20*time.Second, "the first pod triaged", func() bool {
		return first.metric("kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 1
	})
	if got := first.metric("kubernetes_mcp_runner_events_reconciled_total"); got != 0 {
		t.Fatalf("a first start reconciled %v faults without --reconcile-on-first-start", got)
	}
	if err := first.sigterm(t); err != nil {
		t.Fatalf("exit: %v", err)
	}

	src.SetState(brokeMeanwhile())
	second := startRunner(t, args...)
	poll.Until(t, 30*time.Second, "both triaged", func() bool {
		return second.metric("kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 2
	})
	poll.Until(t, 10*time.Second, "the window logged", func() bool { return strings.Contains(second.logs.String(), `"reconcile":"complete"`) })
	if got := strings.Join(triaged(t, dir), ","); got != "ok-batch,ok-first,ok-second" {
		t.Errorf("triaged %s, want ok-batch,ok-first,ok-second (each once)", got)
	}
	if got := second.metric("kubernetes_mcp_runner_events_reconciled_total", `cluster="a"`); got != 3 {
		t.Errorf("events_reconciled_total %v, want 3", got)
	}
	line := lineWith(second.logs.String(), "may have been missed")
	for _, want := range []string{`"recovered":2`, `"already_known":1`} {
		if !strings.Contains(line, want) {
			t.Errorf("blind-window line lacks %s: %s", want, line)
		}
	}
}

// TestBinaryReconcilesAfterADroppedSession: the same while the runner and
// the stand-in both keep running and only the network drops the session
// (its subscription gone with it).
func TestBinaryReconcilesAfterADroppedSession(t *testing.T) {
	src := startSources(t, "a")["a"]
	src.SetState(faultsource.ClusterState{Pods: []corev1.Pod{faultsource.CrashLoopPod("default", "ok-first", "uid-ok-first")}})
	proxy, err := tcpproxy.Start(src.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	dir := t.TempDir()
	r := startRunner(t, stateArgs(t, dir, "--cluster", "a=http://"+proxy.Addr()+"/mcp", "--sse-reconnect-max-delay", "1")...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return src.Subscribers() == 1 })
	src.Emit(crashLoop("ok-first"))
	poll.Until(t, 20*time.Second, "the first pod triaged", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 1
	})

	proxy.Cut(tcpproxy.Refuse)
	poll.Until(t, 15*time.Second, "the drop seen", func() bool { return r.metric("kubernetes_mcp_runner_sse_connections_active") == 0 })
	src.SetState(brokeMeanwhile())
	proxy.Restore()
	poll.Until(t, 30*time.Second, "both triaged", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_completed_total", `status="success"`) == 3
	})
	poll.Until(t, 10*time.Second, "the window logged", func() bool { return strings.Contains(r.logs.String(), `"reconcile":"complete"`) })
	if got := strings.Join(triaged(t, dir), ","); got != "ok-batch,ok-first,ok-second" {
		t.Errorf("triaged %s, want ok-batch,ok-first,ok-second (each once)", got)
	}
	if line := lineWith(r.logs.String(), "may have been missed"); !strings.Contains(line, `"recovered":2`) || !strings.Contains(line, `"already_known":1`) {
		t.Errorf("blind-window line %s", line)
	}
}
