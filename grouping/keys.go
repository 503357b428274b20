package grouping

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Kind is what a group's key names: the resource itself, the top owner of
// its controller chain, or the node it runs on.
type Kind string

// Kinds of key, weakest first. A group takes the strongest kind among its
// members' keys: a node explains its pods, a Deployment its pods, a pod its
// own repeated faults.
const (
	KindResource Kind = "resource"
	KindOwner    Kind = "owner"
	KindNode     Kind = "node"
)

func (k Kind) strength() int {
	switch k {
	case KindNode:
		return 3
	case KindOwner:
		return 2
	case KindResource:
		return 1
	}
	return 0
}

// Key is a root-cause key: "resource:Pod/default/web-1",
// "owner:Deployment/default/web", "node:n1". Keys are what an incident
// remembers, so later faults can find it after the group has run.
type Key string

// MaxKeyBytes bounds a key. The names inside come from untrusted payloads
// (each up to fault.MaxFieldBytes); a longer key is replaced by its kind
// and a SHA-256 of the whole, so it stays stable, comparable and small in
// the journal.
const MaxKeyBytes = 256

// Kind is the key's kind, the part before the first colon.
func (k Key) Kind() Kind {
	kind, _, _ := strings.Cut(string(k), ":")
	return Kind(kind)
}

func makeKey(kind Kind, objKind, namespace, name string) Key {
	var b strings.Builder
	b.WriteString(string(kind))
	b.WriteByte(':')
	if objKind != "" {
		b.WriteString(objKind)
		b.WriteByte('/')
	}
	if namespace != "" {
		b.WriteString(namespace)
		b.WriteByte('/')
	}
	b.WriteString(name)
	if b.Len() <= MaxKeyBytes {
		return Key(b.String())
	}
	sum := sha256.Sum256([]byte(b.String()))
	return Key(string(kind) + ":sha256:" + hex.EncodeToString(sum[:]))
}

// memberKeys are a member's keys. node is set whenever the node is known;
// for a pod it only ties the pod to others when the node itself is at
// fault (see Plan).
type memberKeys struct {
	resource, owner, node Key
	nodeName              string
	nodeFault             bool
}

func keysOf(m Member) memberKeys {
	r := m.Event.Resource
	var k memberKeys
	if r.Name != "" {
		// Kind, namespace and name rather than the uid: an Alertmanager
		// alert carries no uid, and an alert and a server fault about one
		// pod must meet.
		k.resource = makeKey(KindResource, r.Kind, r.Namespace, r.Name)
	}
	if top, ok := m.Topology.Top(); ok {
		// Owner references never cross namespaces: the top owner lives
		// in the resource's namespace.
		k.owner = makeKey(KindOwner, top.Kind, r.Namespace, top.Name)
	} else if r.Name != "" && r.Kind != "" && r.Kind != "Pod" && r.Kind != "Node" {
		// A controller with no owner of its own is the top of its chain:
		// a DeploymentFailure joins the crashes of the Deployment's pods.
		k.owner = makeKey(KindOwner, r.Kind, r.Namespace, r.Name)
	}
	k.nodeFault = r.Kind == "Node"
	k.nodeName = m.Topology.Node
	if k.nodeFault && r.Name != "" {
		k.nodeName = r.Name
	}
	if k.nodeName != "" {
		k.node = makeKey(KindNode, "", "", k.nodeName)
	}
	return k
}

// all are the keys a member may match an incident by, strongest first.
func (k memberKeys) all() []Key {
	out := make([]Key, 0, 3)
	for _, key := range []Key{k.node, k.owner, k.resource} {
		if key != "" {
			out = append(out, key)
		}
	}
	return out
}

// active are the keys that join the member to others, strongest first:
// the node key only for a node fault or when the node is at fault.
func (k memberKeys) active(nodeAtFault bool) []Key {
	out := make([]Key, 0, 3)
	if k.node != "" && (k.nodeFault || nodeAtFault) {
		out = append(out, k.node)
	}
	for _, key := range []Key{k.owner, k.resource} {
		if key != "" {
			out = append(out, key)
		}
	}
	return out
}

// Keys are the member's root-cause keys, strongest first: its node (when
// known), its top owner (when it has one) and the resource itself. A
// pod's node key ties it to other faults only while the node is at fault.
func (m Member) Keys() []Key { return keysOf(m).all() }

// severity is the member's parsed severity.
func (m Member) severity() fault.Severity { return m.Event.Level() }
