// Package fault holds the domain types shared by intake, queue and dispatch:
// the fault event, its severity, and the validation every fault passes
// before it is queued, whichever source it came from. Decoding a source's
// wire format (MCP notifications, webhooks) belongs to that source.
package fault

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Sources a fault can come from; the bounded values of Event.Source.
const (
	// SourceMCP is a kubernetes-mcp-server fault subscription.
	SourceMCP = "mcp"
	// SourceAlertmanager is an alert from Alertmanager's webhook.
	SourceAlertmanager = "alertmanager"
)

// Fault types the server sends. Others are accepted unchanged.
const (
	TypePodCrash          = "PodCrash"
	TypeCrashLoop         = "CrashLoop"
	TypeNodeUnhealthy     = "NodeUnhealthy"
	TypeDeploymentFailure = "DeploymentFailure"
	TypeJobFailure        = "JobFailure"
)

// Severity orders faults; Unknown sorts lowest.
type Severity int8

const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityWarning
	SeverityCritical
)

// ParseSeverity maps the wire value to a Severity, ignoring case and
// surrounding space ("CRITICAL" is critical); anything else is Unknown.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "info":
		return SeverityInfo
	case "warning":
		return SeverityWarning
	case "critical":
		return SeverityCritical
	}
	return SeverityUnknown
}

// String is the severity's metric label value.
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	}
	return "unknown"
}

// Resource identifies the Kubernetes object a fault is about. Cluster-scoped
// objects such as Nodes carry no namespace.
type Resource struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// Event is one fault. Its JSON form is what the state store keeps and what
// an agent reads in event.json; the field names are kubernetes-mcp-server's.
type Event struct {
	// Source names where the fault came from (SourceMCP, ...): a short
	// lower-case word, never an address or a name from the payload.
	Source         string   `json:"source,omitempty"`
	SubscriptionID string   `json:"subscriptionId,omitempty"`
	Cluster        string   `json:"cluster"`
	FaultID        string   `json:"faultId"`
	FaultType      string   `json:"faultType"`
	Severity       string   `json:"severity"`
	Resource       Resource `json:"resource"`
	// Context is free-form detail (logs, events); kept as raw JSON so any
	// shape the server sends survives to the agent unchanged.
	Context   json.RawMessage `json:"context,omitempty"`
	Timestamp time.Time       `json:"timestamp"`
	// Topology is what the runner found out about the resource after the
	// fault arrived (its node and owner chain); nil when nothing was
	// looked up. Only the runner sets it: a source's own decoder clears
	// whatever the payload claimed.
	Topology *Topology `json:"topology,omitempty"`
}

// Level is the event's parsed severity.
func (e Event) Level() Severity { return ParseSeverity(e.Severity) }

// Limits on untrusted input. A payload over them is malformed: the runner
// never holds or forwards unbounded data from a server.
const (
	MaxFieldBytes   = 1024
	MaxContextBytes = 64 << 10
	MaxPayloadBytes = MaxContextBytes + 16*MaxFieldBytes
)

// ErrMalformed wraps every reason a payload is refused.
var ErrMalformed = errors.New("malformed fault")

// faultID is what the runner accepts as an id: it becomes part of an incident
// id and a directory name. The server sends 16 hex characters.
var faultID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// source is what Event.Source may hold.
var source = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// controlByte is the offset of the first ASCII control byte (NUL, newline,
// escape, DEL …) in s, or -1. A fault's fields become an agent's
// environment (exec refuses a NUL), log lines and parts of paths: none of
// them may carry one.
func controlByte(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return i
		}
	}
	return -1
}

// Validate checks a decoded fault against the limits every source's faults
// must meet: a safe id, bounded fields free of control bytes, a fault type
// and a source. The
// error says what was wrong and wraps ErrMalformed.
func (e Event) Validate() error {
	if !source.MatchString(e.Source) {
		return fmt.Errorf("%w: source %.32q is not 1-32 lower-case letters, digits or '-'", ErrMalformed, e.Source)
	}
	if e.FaultID == "" {
		return fmt.Errorf("%w: missing faultId", ErrMalformed)
	}
	if !faultID.MatchString(e.FaultID) {
		return fmt.Errorf("%w: faultId %.64q is not 1-64 letters, digits, '.', '_' or '-'", ErrMalformed, e.FaultID)
	}
	for _, f := range []struct{ name, v string }{
		{"subscriptionId", e.SubscriptionID}, {"cluster", e.Cluster}, {"faultType", e.FaultType},
		{"severity", e.Severity}, {"resource.apiVersion", e.Resource.APIVersion},
		{"resource.kind", e.Resource.Kind}, {"resource.name", e.Resource.Name},
		{"resource.namespace", e.Resource.Namespace}, {"resource.uid", e.Resource.UID},
	} {
		if len(f.v) > MaxFieldBytes {
			return fmt.Errorf("%w: field %s is %d bytes, over %d", ErrMalformed, f.name, len(f.v), MaxFieldBytes)
		}
		if i := controlByte(f.v); i >= 0 {
			return fmt.Errorf("%w: field %s holds control byte %#02x at offset %d", ErrMalformed, f.name, f.v[i], i)
		}
	}
	if len(e.Context) > MaxContextBytes {
		return fmt.Errorf("%w: field context is %d bytes, over %d", ErrMalformed, len(e.Context), MaxContextBytes)
	}
	if e.FaultType == "" {
		return fmt.Errorf("%w: missing faultType", ErrMalformed)
	}
	if e.Topology != nil {
		if err := e.Topology.validate(); err != nil {
			return err
		}
	}
	return nil
}

// Bounds of a topology: the chains Kubernetes builds are two or three
// owners deep, and a lookup that failed more than a few times says so
// already.
const (
	MaxOwners   = 8
	MaxFailures = 8
)

func (t Topology) validate() error {
	if len(t.Owners) > MaxOwners {
		return fmt.Errorf("%w: topology has %d owners, over %d", ErrMalformed, len(t.Owners), MaxOwners)
	}
	if len(t.Failures) > MaxFailures {
		return fmt.Errorf("%w: topology has %d lookup failures, over %d", ErrMalformed, len(t.Failures), MaxFailures)
	}
	fields := []string{t.Node, t.Container}
	for _, o := range t.Owners {
		fields = append(fields, o.APIVersion, o.Kind, o.Name, o.UID)
	}
	fields = append(fields, t.Failures...)
	for _, f := range fields {
		if len(f) > MaxFieldBytes {
			return fmt.Errorf("%w: a topology field is %d bytes, over %d", ErrMalformed, len(f), MaxFieldBytes)
		}
	}
	return nil
}

// Parse decodes the JSON form of an Event (the form the state store keeps
// and event.json holds) and validates it. Sources with a wire format of
// their own decode it themselves and call Validate.
func Parse(data []byte) (Event, error) {
	if len(data) > MaxPayloadBytes {
		return Event{}, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrMalformed, len(data), MaxPayloadBytes)
	}
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("%w: not a JSON fault object: %v", ErrMalformed, err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Topology is what ties a fault to others with the same root cause, found
// after the fault arrived (a fault names one resource and nothing else):
// the node its resource runs on and its controller chain. The sessions
// look it up through the server's read-only tools; Alertmanager alerts
// carry it in their labels.
type Topology struct {
	// Node is the node the resource runs on (a Pod's spec.nodeName), or
	// the node itself for a node fault.
	Node string `json:"node,omitempty"`
	// Owners is the controller chain, nearest first: a Pod's ReplicaSet,
	// then its Deployment. The last is the top owner.
	Owners []Owner `json:"owners,omitempty"`
	// Container is the container the fault is about, where known (the
	// server's faultId hashes it).
	Container string `json:"container,omitempty"`
	// Failures are the lookups that failed ("pods_get default/web-1:
	// timeout"): the topology is then partial, never invented.
	Failures []string `json:"lookupFailures,omitempty"`
}

// Owner is one controller in a resource's owner chain.
type Owner struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
}

// Top is the top owner of the chain, if any.
func (t Topology) Top() (Owner, bool) {
	if len(t.Owners) == 0 {
		return Owner{}, false
	}
	return t.Owners[len(t.Owners)-1], true
}
