package clusterstate_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

var reconcileClock = time.Date(2026, 12, 2, 7, 26, 0, 0, time.UTC)

func newReconciler(l clusterstate.Limits, g *clusterstate.Gate) *clusterstate.Reconciler {
	return clusterstate.NewReconciler(clusterstate.ReconcilerOptions{Limits: l, Gate: g, Now: func() time.Time { return reconcileClock }})
}

// checkAgainstStorm asserts that every fault equals the recorded
// notification of the same faultId in all the server's fields but
// subscriptionId and timestamp (and context for skipContextOf), and
// returns the ids, sorted.
func checkAgainstStorm(t *testing.T, faults []fault.Event, skipContextOf string) []string {
	t.Helper()
	want := storm(t)
	var ids []string
	for _, f := range faults {
		if err := f.Validate(); err != nil {
			t.Errorf("%s: %v", f.FaultID, err)
		}
		if f.Source != clusterstate.SourceReconcile {
			t.Errorf("%s: source %q", f.FaultID, f.Source)
		}
		w, ok := want[f.FaultID]
		if !ok {
			t.Errorf("fault %s %s %s is not in the storm", f.FaultID, f.FaultType, f.Resource.Name)
			continue
		}
		var gotCtx, wantCtx string
		_ = json.Unmarshal(f.Context, &gotCtx)
		_ = json.Unmarshal(w.Context, &wantCtx)
		if f.FaultType != w.FaultType || f.Severity != w.Severity || f.Resource != w.Resource || f.Cluster != w.Cluster || (gotCtx != wantCtx && f.FaultType != skipContextOf) {
			t.Errorf("fault %s:\n got %+v %q\nwant %+v %q", f.FaultID, f, gotCtx, w, wantCtx)
		}
		ids = append(ids, f.FaultID)
	}
	sort.Strings(ids)
	return ids
}

// The state after the storm shows five of its eight faults. The three
// PodCrash faults cannot be seen: each pod's container is waiting in
// CrashLoopBackOff now (no terminated state), and the recorded status
// was written by hand, so lastState is empty where a kubelet would keep
// the crash (see TestReconcileSeesACrashInTheWindow).
func TestReconcileRecordedStateGivesTheStormsFaultIDs(t *testing.T) {
	r := &replay{t: t}
	res, err := newReconciler(clusterstate.Limits{}, nil).Reconcile(context.Background(), r, clusterstate.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	got := checkAgainstStorm(t, res.Faults, "")
	want := []string{"2559bc383fc1a232", "4fa46cba9d277c19", "72cac2353fa294e4", "8e2a766da2374e83", "afea55626a3c9039"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("faultIds %v, want %v", got, want)
	}
	for _, f := range res.Faults {
		want := reconcileClock // CrashLoop carries no time of its own
		switch f.FaultType {
		case fault.TypeNodeUnhealthy, fault.TypeJobFailure:
			want = time.Date(2026, 12, 2, 7, 5, 42, 0, time.UTC) // the condition's lastTransitionTime
		}
		if !f.Timestamp.Equal(want) {
			t.Errorf("%s %s timestamp %v, want %v", f.FaultType, f.Resource.Name, f.Timestamp, want)
		}
	}
	// Four lists; gets only for rows that show a fault state: n1 (not n2,
	// Ready), the three pods, job batch, deployment web (0/2 ready, whose
	// get shows no failure).
	if res.Calls != 10 || r.count("resources_list") != 4 || r.count("pods_get") != 3 || res.Candidates != 6 {
		t.Errorf("calls %d (%v), candidates %d", res.Calls, r.calls, res.Candidates)
	}
	if r.count("resources_get kind=Node name=n2") != 0 {
		t.Error("a Ready node was fetched")
	}
	if !res.Complete() || res.Bytes == 0 {
		t.Errorf("result %+v", res)
	}
}

// With a kubelet, a restarted container keeps its crash in lastState; a
// crash inside the window gives the storm's PodCrash fault.
func TestReconcileSeesACrashInTheWindow(t *testing.T) {
	text := recorded(t, "after.pods_get-web-7d9f-a.response.json").text
	kubelet := strings.Replace(text, "    lastState: {}\n", "    lastState:\n      terminated:\n        exitCode: 137\n        finishedAt: \"2026-12-02T07:05:43Z\"\n        message: killed\n        reason: Error\n", 1)
	if kubelet == text {
		t.Fatal("recorded pod has no empty lastState")
	}
	r := &replay{t: t, extra: map[string]string{"after.pods_get-web-7d9f-a.response.json": kubelet}}
	for _, tc := range []struct {
		since    time.Time
		podCrash bool
	}{
		{time.Time{}, false}, // window unknown: lastState is not used
		{time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 12, 2, 7, 10, 0, 0, time.UTC), false}, // crashed before the window
	} {
		res, err := newReconciler(clusterstate.Limits{}, nil).Reconcile(context.Background(), r, clusterstate.Scope{Since: tc.since})
		if err != nil {
			t.Fatal(err)
		}
		// CrashLoop's context now tells the last exit too, as the
		// detector's does when lastState is there.
		ids := checkAgainstStorm(t, res.Faults, fault.TypeCrashLoop)
		has := strings.Contains(strings.Join(ids, ","), "05f4b573ef840d84")
		if has != tc.podCrash {
			t.Errorf("since %v: PodCrash of web-7d9f-a found %v, want %v (%v)", tc.since, has, tc.podCrash, ids)
		}
		// Node and job went bad at 07:05:42: before a window from 07:10.
		if node := strings.Contains(strings.Join(ids, ","), "8e2a766da2374e83"); node != tc.since.Before(time.Date(2026, 12, 2, 7, 5, 42, 0, time.UTC)) {
			t.Errorf("since %v: NodeUnhealthy found %v", tc.since, node)
		}
	}
}

func TestReconcilePassesScopeToTheTools(t *testing.T) {
	var args []map[string]any
	c := callerFunc(func(_ context.Context, name string, a map[string]any) (string, error) {
		args = append(args, a)
		return "", nil
	})
	res, err := newReconciler(clusterstate.Limits{}, nil).Reconcile(context.Background(), c, clusterstate.Scope{
		Cluster: "eu-prod", Context: "eu-prod", Namespaces: []string{"a", "b"}, LabelSelector: "app=web",
	})
	if err != nil || !res.Complete() {
		t.Fatal(err, res)
	}
	// nodes once, then pods, deployments, jobs per namespace
	if len(args) != 7 {
		t.Fatalf("%d lists: %v", len(args), args)
	}
	for i, a := range args {
		if a["context"] != "eu-prod" {
			t.Errorf("list %d without context: %v", i, a)
		}
		if i == 0 && (a["namespace"] != nil || a["labelSelector"] != nil) {
			t.Errorf("nodes narrowed: %v", a)
		}
		if i > 0 && (a["labelSelector"] != "app=web" || (a["namespace"] != "a" && a["namespace"] != "b")) {
			t.Errorf("list %d not narrowed: %v", i, a)
		}
	}
	if args[1]["kind"] != "Pod" || args[1]["fieldSelector"] != "status.phase!=Succeeded" {
		t.Errorf("pods listed with %v", args[1])
	}
}

func TestReconcileStopsAtTheByteLimit(t *testing.T) {
	r := &replay{t: t}
	nodes := len(recorded(t, "resources_list-nodes.response.json").text)
	res, err := newReconciler(clusterstate.Limits{MaxBytes: nodes + 10}, nil).Reconcile(context.Background(), r, clusterstate.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || res.Bytes > nodes+10 || res.Calls != 2 || len(res.Faults) != 0 {
		t.Errorf("result %+v", res)
	}
}

type callerFunc func(ctx context.Context, name string, args map[string]any) (string, error)

func (f callerFunc) CallTool(ctx context.Context, name string, args map[string]any) (string, error) {
	return f(ctx, name, args)
}
