package clusterstate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

func decodeRecorded[T any](t *testing.T, file string) T {
	t.Helper()
	var v T
	if err := yaml.Unmarshal([]byte(recorded(t, file).text), &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// Over real HTTP, through a go-sdk client and SessionCaller, a reconcile
// of the stand-in holding the recorded cluster finds the same faults as
// the replayed answers, and topology the same owners.
func TestReconcileThroughTheStandIn(t *testing.T) {
	src := faultsource.Started(t, "")
	n2 := corev1.Node{}
	n2.Name = "n2"
	n2.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	st := faultsource.ClusterState{
		Nodes:       []corev1.Node{decodeRecorded[corev1.Node](t, "resources_get-node.response.json"), n2},
		ReplicaSets: []appsv1.ReplicaSet{decodeRecorded[appsv1.ReplicaSet](t, "resources_get-replicaset.response.json")},
		Deployments: []appsv1.Deployment{decodeRecorded[appsv1.Deployment](t, "after.resources_get-deployment.response.json")},
		Jobs:        []batchv1.Job{decodeRecorded[batchv1.Job](t, "after.resources_get-job.response.json")},
	}
	for _, p := range []string{"lonely", "web-7d9f-a", "web-7d9f-b"} {
		st.Pods = append(st.Pods, decodeRecorded[corev1.Pod](t, "after.pods_get-"+p+".response.json"))
	}
	src.SetState(st)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: src.URL(), MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	caller := clusterstate.SessionCaller(cs)

	res, err := newReconciler(clusterstate.Limits{}, nil).Reconcile(context.Background(), caller, clusterstate.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := newReconciler(clusterstate.Limits{}, nil).Reconcile(context.Background(), &replay{t: t}, clusterstate.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	got := checkAgainstStorm(t, res.Faults, "")
	if w := checkAgainstStorm(t, want.Faults, ""); strings.Join(got, ",") != strings.Join(w, ",") || !res.Complete() {
		t.Errorf("through the stand-in %v (%+v), replayed %v", got, res, w)
	}

	topo := clusterstate.NewResolver(caller, clusterstate.ResolverOptions{}).Resolve(context.Background(), stormFault(t, fault.TypeCrashLoop, "web-7d9f-b"))
	if topo.Node != "n1" || len(topo.Owners) != 2 || topo.Owners[1].Name != "web" || topo.Container != "app" || len(topo.Failures) != 0 {
		t.Errorf("topology %+v", topo)
	}
	// A refusal is an error that says so.
	if _, err := caller.CallTool(context.Background(), "pods_get", map[string]any{"name": "gone", "namespace": "default"}); !errors.Is(err, clusterstate.ErrToolError) || !strings.Contains(err.Error(), `pods "gone" not found`) {
		t.Errorf("missing pod: %v", err)
	}
}
