package faultsource

import (
	"context"
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// eventsList answers events_list as the real server does: a markdown line,
// then the events as YAML with the fields it prints (recorded in
// internal/recordings/upstream-tools/events_list.response.json), or
// "# No events found". The runner does not call it; the stand-in answers
// it so an agent run against the demo sees the server's format.
func (s *Server) eventsList(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var a struct {
		Namespace string `json:"namespace"`
	}
	if req != nil && req.Params != nil {
		_ = json.Unmarshal(req.Params.Arguments, &a)
	}
	s.mu.Lock()
	events := s.events
	s.mu.Unlock()
	var out []map[string]any
	for _, e := range events {
		if a.Namespace != "" && e.Namespace != a.Namespace {
			continue
		}
		at := e.LastTimestamp.Time
		if at.IsZero() {
			at = e.EventTime.Time
		}
		out = append(out, map[string]any{
			"InvolvedObject": map[string]any{"Kind": e.InvolvedObject.Kind, "Name": e.InvolvedObject.Name, "apiVersion": e.InvolvedObject.APIVersion},
			"Message":        e.Message, "Namespace": e.Namespace, "Reason": e.Reason,
			"Timestamp": at.UTC().Format("2006-01-02 15:04:05.999999999 -0700 MST"), "Type": e.Type,
		})
	}
	if len(out) == 0 {
		return text("# No events found"), nil
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		return nil, err
	}
	return text("# The following events (YAML format) were found:\n" + string(b)), nil
}

// SetEvents replaces the events events_list answers with.
func (s *Server) SetEvents(events []corev1.Event) {
	s.mu.Lock()
	s.events = events
	s.mu.Unlock()
}
