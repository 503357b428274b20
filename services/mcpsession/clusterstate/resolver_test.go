package clusterstate_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// stormFault is the recorded fault of type and resource name.
func stormFault(t *testing.T, faultType, name string) fault.Event {
	t.Helper()
	for _, f := range storm(t) {
		if f.FaultType == faultType && f.Resource.Name == name {
			return f
		}
	}
	t.Fatalf("no %s of %s in the storm", faultType, name)
	return fault.Event{}
}

func TestResolveRecordedTopology(t *testing.T) {
	r := &replay{t: t}
	res := clusterstate.NewResolver(r, clusterstate.ResolverOptions{})
	got := res.Resolve(context.Background(), stormFault(t, fault.TypeCrashLoop, "web-7d9f-a"))
	want := fault.Topology{Node: "n1", Container: "app", Owners: []fault.Owner{
		{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f", UID: "d712790d-4624-4b38-aba9-bb4829315722"},
		{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "7423220c-c930-47af-a6db-992389a275ff"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("web-7d9f-a: %+v, want %+v", got, want)
	}
	got = res.Resolve(context.Background(), stormFault(t, fault.TypePodCrash, "lonely"))
	if !reflect.DeepEqual(got, fault.Topology{Node: "n2", Container: "app"}) {
		t.Errorf("lonely: %+v", got)
	}
	got = res.Resolve(context.Background(), stormFault(t, fault.TypeNodeUnhealthy, "n1"))
	if !reflect.DeepEqual(got, fault.Topology{Node: "n1"}) {
		t.Errorf("n1: %+v", got)
	}
	// A bare Job has no owner: one get of the job itself, nothing else.
	before := len(r.calls)
	got = res.Resolve(context.Background(), stormFault(t, fault.TypeJobFailure, "batch"))
	if !reflect.DeepEqual(got, fault.Topology{}) || len(r.calls) != before+1 {
		t.Errorf("batch: %+v after %v", got, r.calls[before:])
	}
}

func TestResolveCachesOwners(t *testing.T) {
	r := &replay{t: t}
	res := clusterstate.NewResolver(r, clusterstate.ResolverOptions{})
	a := res.Resolve(context.Background(), stormFault(t, fault.TypeCrashLoop, "web-7d9f-a"))
	owners := r.count("resources_get")
	if owners != 2 {
		t.Fatalf("first resolve made %d owner calls: %v", owners, r.calls)
	}
	b := res.Resolve(context.Background(), stormFault(t, fault.TypePodCrash, "web-7d9f-b"))
	if n := r.count("resources_get"); n != owners {
		t.Errorf("second pod of the ReplicaSet made %d more owner calls: %v", n-owners, r.calls)
	}
	if r.count("pods_get name=web-7d9f-b") != 1 {
		t.Errorf("the pod itself was not read: %v", r.calls)
	}
	if !reflect.DeepEqual(a.Owners, b.Owners) || b.Node != "n1" {
		t.Errorf("b: %+v, a: %+v", b, a)
	}
}

func TestResolveEvictsLeastRecentlyUsed(t *testing.T) {
	r := &replay{t: t}
	res := clusterstate.NewResolver(r, clusterstate.ResolverOptions{CacheSize: 1})
	ev := stormFault(t, fault.TypeCrashLoop, "web-7d9f-a")
	res.Resolve(context.Background(), ev)
	res.Resolve(context.Background(), ev)
	// Only the Deployment's entry stays: the ReplicaSet is read again.
	if n := r.count("resources_get kind=ReplicaSet"); n != 2 {
		t.Errorf("ReplicaSet read %d times with a cache of one", n)
	}
}

func TestResolveFailedLookupGivesPartialTopology(t *testing.T) {
	for _, tc := range []struct {
		name    string
		blocks  string
		want    fault.Topology
		failure string
	}{
		{"owner times out", "resources_get",
			fault.Topology{Node: "n1", Container: "app", Owners: []fault.Owner{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f", UID: "d712790d-4624-4b38-aba9-bb4829315722"}}},
			"resources_get ReplicaSet default/web-7d9f: context deadline exceeded"},
		{"pod times out", "pods_get", fault.Topology{}, "pods_get default/web-7d9f-a: context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &replay{t: t, blocks: map[string]bool{tc.blocks: true}}
			res := clusterstate.NewResolver(r, clusterstate.ResolverOptions{CallTimeout: 50 * time.Millisecond})
			got := res.Resolve(context.Background(), stormFault(t, fault.TypeCrashLoop, "web-7d9f-a"))
			if len(got.Failures) != 1 || got.Failures[0] != tc.failure {
				t.Errorf("failures %q, want %q", got.Failures, tc.failure)
			}
			got.Failures = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("topology %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResolveMissingPodNamesTheRefusal(t *testing.T) {
	res := clusterstate.NewResolver(&replay{t: t}, clusterstate.ResolverOptions{})
	ev := stormFault(t, fault.TypeCrashLoop, "web-7d9f-a")
	ev.Resource.Name = "gone"
	got := res.Resolve(context.Background(), ev)
	if len(got.Failures) != 1 || !strings.HasPrefix(got.Failures[0], "pods_get default/gone: ") || !strings.Contains(got.Failures[0], "not found") {
		t.Errorf("%+v", got)
	}
}

// A session whose lookups hang holds a slot; a resolve that waits for one
// gives up at its own timeout, with the wait named.
func TestResolveWaitForASlotIsBounded(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	c := callerFunc(func(ctx context.Context, name string, args map[string]any) (string, error) {
		close(started)
		<-release
		return "", context.Canceled
	})
	res := clusterstate.NewResolver(c, clusterstate.ResolverOptions{MaxConcurrent: 1, CallTimeout: 50 * time.Millisecond})
	ev := stormFault(t, fault.TypeCrashLoop, "web-7d9f-a")
	done := make(chan fault.Topology)
	go func() { done <- res.Resolve(context.Background(), ev) }()
	<-started
	got := res.Resolve(context.Background(), ev)
	if len(got.Failures) != 1 || !strings.Contains(got.Failures[0], "wait for a lookup slot: context deadline exceeded") {
		t.Errorf("%+v", got)
	}
	close(release)
	<-done
}
