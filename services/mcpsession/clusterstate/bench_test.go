package clusterstate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// bigCluster answers like the server for a cluster of n running pods of
// which every step-th is crash-looping.
type bigCluster struct{ pods string }

func newBigCluster(n, step int) bigCluster {
	var b strings.Builder
	b.WriteString("NAMESPACE   APIVERSION   KIND   NAME         READY   STATUS             RESTARTS   AGE   IP          NODE   NOMINATED NODE   READINESS GATES   LABELS\n")
	for i := range n {
		status, restarts := "Running", 0
		if i%step == 0 {
			status, restarts = "CrashLoopBackOff", 4
		}
		fmt.Fprintf(&b, "default     v1           Pod    p-%07d    1/1     %-18s %d          3d    10.0.0.1    n1     <none>           <none>            app=p\n", i, status, restarts)
	}
	return bigCluster{pods: b.String()}
}

func (c bigCluster) CallTool(_ context.Context, name string, args map[string]any) (string, error) {
	switch {
	case name == "resources_list" && args["kind"] == "Pod":
		return c.pods, nil
	case name == "resources_list":
		return "", nil
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: default\n  uid: u-%s\nstatus:\n  containerStatuses:\n  - name: app\n    restartCount: 4\n    state:\n      waiting:\n        reason: CrashLoopBackOff\n", args["name"], args["name"]), nil
}

// BenchmarkReconcile10000Pods is one reconcile of a cluster of ten
// thousand pods, twenty of them crash-looping, at the default limits: four
// lists, twenty gets. docs/benchmarks.md has the figure.
func BenchmarkReconcile10000Pods(b *testing.B) {
	c := newBigCluster(10000, 500)
	b.SetBytes(int64(len(c.pods)))
	rec := clusterstate.NewReconciler(clusterstate.ReconcilerOptions{})
	for b.Loop() {
		res, err := rec.Reconcile(context.Background(), c, clusterstate.Scope{})
		if err != nil || len(res.Faults) != 20 || res.Calls != 24 || !res.Complete() {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
