// Package fault holds the domain types shared by intake, queue and dispatch:
// the fault event kubernetes-mcp-server reports, its severity, and the
// parsing that turns untrusted notification payloads into events.
package fault

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Loggers used by kubernetes-mcp-server in notifications/message.
const (
	LoggerFaults            = "kubernetes/faults"
	LoggerSubscriptionError = "kubernetes/subscription_error"
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

// ParseSeverity maps the wire value to a Severity; anything else is Unknown.
func ParseSeverity(s string) Severity {
	switch s {
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

// Event is one fault as the server reports it.
type Event struct {
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
}

// Level is the event's parsed severity.
func (e Event) Level() Severity { return ParseSeverity(e.Severity) }

// SubscriptionError is the server telling that its own Kubernetes watch is
// failing.
type SubscriptionError struct {
	SubscriptionID string `json:"subscriptionId"`
	Cluster        string `json:"cluster"`
	Error          string `json:"error"`
	Degraded       bool   `json:"degraded"`
}

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

// Parse decodes and validates a kubernetes/faults payload. The error says
// what was wrong and wraps ErrMalformed.
func Parse(data []byte) (Event, error) {
	var e Event
	if len(data) > MaxPayloadBytes {
		return e, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrMalformed, len(data), MaxPayloadBytes)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("%w: not a JSON fault object: %v", ErrMalformed, err)
	}
	if e.FaultID == "" {
		return Event{}, fmt.Errorf("%w: missing faultId", ErrMalformed)
	}
	if !faultID.MatchString(e.FaultID) {
		return Event{}, fmt.Errorf("%w: faultId %.64q is not 1-64 letters, digits, '.', '_' or '-'", ErrMalformed, e.FaultID)
	}
	for _, f := range []struct{ name, v string }{
		{"subscriptionId", e.SubscriptionID}, {"cluster", e.Cluster}, {"faultType", e.FaultType},
		{"severity", e.Severity}, {"resource.apiVersion", e.Resource.APIVersion},
		{"resource.kind", e.Resource.Kind}, {"resource.name", e.Resource.Name},
		{"resource.namespace", e.Resource.Namespace}, {"resource.uid", e.Resource.UID},
	} {
		if len(f.v) > MaxFieldBytes {
			return Event{}, fmt.Errorf("%w: field %s is %d bytes, over %d", ErrMalformed, f.name, len(f.v), MaxFieldBytes)
		}
	}
	if len(e.Context) > MaxContextBytes {
		return Event{}, fmt.Errorf("%w: field context is %d bytes, over %d", ErrMalformed, len(e.Context), MaxContextBytes)
	}
	if e.FaultType == "" {
		return Event{}, fmt.Errorf("%w: missing faultType", ErrMalformed)
	}
	return e, nil
}

// ParseSubscriptionError decodes a kubernetes/subscription_error payload.
func ParseSubscriptionError(data []byte) (SubscriptionError, error) {
	var s SubscriptionError
	if len(data) > MaxPayloadBytes {
		return s, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrMalformed, len(data), MaxPayloadBytes)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return SubscriptionError{}, fmt.Errorf("%w: not a JSON subscription error: %v", ErrMalformed, err)
	}
	if len(s.Error) > MaxFieldBytes {
		s.Error = s.Error[:MaxFieldBytes]
	}
	return s, nil
}
