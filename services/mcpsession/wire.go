package mcpsession

import (
	"encoding/json"
	"fmt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Loggers kubernetes-mcp-server uses in notifications/message. Faults are
// sent at level warning whatever their severity.
const (
	LoggerFaults            = "kubernetes/faults"
	LoggerSubscriptionError = "kubernetes/subscription_error"
)

// SubscriptionError is the server telling that its own Kubernetes watch is
// failing.
type SubscriptionError struct {
	SubscriptionID string `json:"subscriptionId"`
	Cluster        string `json:"cluster"`
	Error          string `json:"error"`
	Degraded       bool   `json:"degraded"`
}

// ParseFault decodes a kubernetes/faults payload into a fault from the MCP
// source and validates it. The error says what was wrong and wraps
// fault.ErrMalformed.
func ParseFault(data []byte) (fault.Event, error) {
	if len(data) > fault.MaxPayloadBytes {
		return fault.Event{}, fmt.Errorf("%w: payload of %d bytes exceeds %d", fault.ErrMalformed, len(data), fault.MaxPayloadBytes)
	}
	var e fault.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return fault.Event{}, fmt.Errorf("%w: not a JSON fault object: %v", fault.ErrMalformed, err)
	}
	// The payload does not get to say where it came from.
	e.Source = fault.SourceMCP
	// Nor what its resource runs on or belongs to: the runner looks that
	// up itself (topology.go).
	e.Topology = nil
	if err := e.Validate(); err != nil {
		return fault.Event{}, err
	}
	return e, nil
}

// ParseSubscriptionError decodes a kubernetes/subscription_error payload.
func ParseSubscriptionError(data []byte) (SubscriptionError, error) {
	var s SubscriptionError
	if len(data) > fault.MaxPayloadBytes {
		return s, fmt.Errorf("%w: payload of %d bytes exceeds %d", fault.ErrMalformed, len(data), fault.MaxPayloadBytes)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return SubscriptionError{}, fmt.Errorf("%w: not a JSON subscription error: %v", fault.ErrMalformed, err)
	}
	s.Error = truncate(s.Error, fault.MaxFieldBytes)
	s.SubscriptionID = truncate(s.SubscriptionID, 64)
	s.Cluster = truncate(s.Cluster, 64)
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
