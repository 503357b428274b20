package clusterstate

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// ResolverOptions shape a Resolver. Zero values take the defaults.
type ResolverOptions struct {
	// Context is the tools' context argument; "" leaves it out.
	Context string
	// CallTimeout bounds each lookup, the wait for a slot included;
	// 0 means 5 s.
	CallTimeout time.Duration
	// MaxConcurrent is how many lookups run at once on the session;
	// 0 means 4.
	MaxConcurrent int
	// CacheSize is how many owner lookups are kept; 0 means 4096.
	CacheSize int
	// MaxBytes bounds one answer; 0 means 1 MiB.
	MaxBytes int
	// MaxDepth bounds the owner chain; 0 means 5.
	MaxDepth int
}

// Resolver finds the topology of faults through one session's tools:
// pods_get for a Pod's node, container and controller, then resources_get
// up the owner chain. Owners change rarely, so what each owner's own owner
// is stays cached by the owner's uid (least recently used out first); the
// faulting pod itself is always read again.
type Resolver struct {
	c     Caller
	o     ResolverOptions
	slots chan struct{}

	mu    sync.Mutex
	lru   *list.List // of *cached, most recent first
	byUID map[string]*list.Element
}

type cached struct {
	uid  string
	next *fault.Owner // the owner's own controller; nil at the top
}

// NewResolver returns a Resolver over c.
func NewResolver(c Caller, o ResolverOptions) *Resolver {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 5 * time.Second
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 4
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 4096
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 20
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 5
	}
	return &Resolver{c: c, o: o, slots: make(chan struct{}, o.MaxConcurrent), lru: list.New(), byUID: map[string]*list.Element{}}
}

// Resolve returns what the tools say of the fault's resource. It never
// fails and never waits longer than the per-call timeout for each lookup
// it makes: a lookup that fails is named in Failures and the topology
// stops where it was. The fallback is the pod alone: when pods_get fails,
// a Pod's topology is empty but for the failure, and grouping keys it on
// the pod itself; when an owner lookup fails, the chain ends at the last
// owner known. A Node is its own node and needs no call.
func (r *Resolver) Resolve(ctx context.Context, ev fault.Event) fault.Topology {
	var t fault.Topology
	res := ev.Resource
	switch res.Kind {
	case kindNode:
		t.Node = res.Name
		return t
	case kindPod:
		what := "pods_get " + res.Namespace + "/" + res.Name
		args := map[string]any{"name": res.Name}
		if res.Namespace != "" {
			args["namespace"] = res.Namespace
		}
		pod, err := r.get(ctx, "pods_get", args)
		if err != nil {
			t.Failures = append(t.Failures, what+": "+err.Error())
			return t
		}
		t.Node = pod.Spec.NodeName
		t.Container = containerOf(ev, pod)
		if ref, ok := pod.Controller(); ok {
			r.walk(ctx, &t, ownerOf(ref), res.Namespace)
		}
		return t
	case "":
		return t
	}
	// Any other kind (a Job, a Deployment) is the first link of its own
	// chain: what owns it comes from its own object, cached like an owner.
	self := fault.Owner{APIVersion: res.APIVersion, Kind: res.Kind, Name: res.Name, UID: res.UID}
	r.walk(ctx, &t, self, res.Namespace)
	if len(t.Owners) > 0 && t.Owners[0].Kind == res.Kind && t.Owners[0].Name == res.Name {
		t.Owners = t.Owners[1:]
	}
	if len(t.Owners) == 0 {
		t.Owners = nil
	}
	return t
}

// walk appends first and its owners, nearest first, up to MaxDepth.
func (r *Resolver) walk(ctx context.Context, t *fault.Topology, first fault.Owner, namespace string) {
	cur := &first
	for depth := 0; cur != nil && depth < r.o.MaxDepth; depth++ {
		t.Owners = append(t.Owners, *cur)
		next, ok := r.cachedNext(cur.UID)
		if !ok {
			args := map[string]any{"apiVersion": cur.APIVersion, "kind": cur.Kind, "name": cur.Name}
			if namespace != "" {
				args["namespace"] = namespace
			}
			o, err := r.get(ctx, "resources_get", args)
			if err != nil {
				t.Failures = append(t.Failures, fmt.Sprintf("resources_get %s %s/%s: %v", cur.Kind, namespace, cur.Name, err))
				return
			}
			if ref, ok := o.Controller(); ok {
				n := ownerOf(ref)
				next = &n
			}
			uid := cur.UID
			if uid == "" {
				uid = o.Metadata.UID
			}
			t.Owners[len(t.Owners)-1].UID = uid
			r.remember(uid, next)
		}
		cur = next
	}
}

func ownerOf(ref OwnerRef) fault.Owner {
	return fault.Owner{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: ref.UID}
}

// get makes one lookup under the session's concurrency bound and the
// per-call timeout, which covers the wait for a slot too.
func (r *Resolver) get(ctx context.Context, tool string, args map[string]any) (Object, error) {
	if r.o.Context != "" {
		args["context"] = r.o.Context
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.CallTimeout)
	defer cancel()
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return Object{}, fmt.Errorf("wait for a lookup slot: %w", ctx.Err())
	}
	text, err := r.c.CallTool(ctx, tool, args)
	<-r.slots
	if err != nil {
		return Object{}, err
	}
	if len(text) > r.o.MaxBytes {
		return Object{}, fmt.Errorf("answer of %d bytes: %w of %d", len(text), ErrOverLimit, r.o.MaxBytes)
	}
	return ParseObject(text)
}

func (r *Resolver) cachedNext(uid string) (*fault.Owner, bool) {
	if uid == "" {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byUID[uid]
	if !ok {
		return nil, false
	}
	r.lru.MoveToFront(e)
	return e.Value.(*cached).next, true
}

func (r *Resolver) remember(uid string, next *fault.Owner) {
	if uid == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.byUID[uid]; ok {
		e.Value.(*cached).next = next
		r.lru.MoveToFront(e)
		return
	}
	r.byUID[uid] = r.lru.PushFront(&cached{uid: uid, next: next})
	for r.lru.Len() > r.o.CacheSize {
		last := r.lru.Back()
		r.lru.Remove(last)
		delete(r.byUID, last.Value.(*cached).uid)
	}
}

// containerOf is the container the fault is about. The server's faultId
// hashes the container's name, so the container whose id matches is the
// one; failing that (a fault from elsewhere), a pod of one container.
func containerOf(ev fault.Event, pod Object) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if ev.FaultID != "" && FaultID(ev.Cluster, ev.FaultType, ev.Resource.UID, cs.Name) == ev.FaultID {
			return cs.Name
		}
	}
	if len(pod.Status.ContainerStatuses) == 1 {
		return pod.Status.ContainerStatuses[0].Name
	}
	return ""
}
