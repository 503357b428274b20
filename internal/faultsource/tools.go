package faultsource

import (
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The events_* tools as the real server lists them.
var eventsTools = []struct {
	name, title, description, properties, required string
	openWorld                                      bool
}{
	{
		name: "events_list", title: "Events: List", openWorld: true,
		description: "List all the Kubernetes events in the current cluster from all namespaces",
		properties:  `"namespace":{"type":"string","description":"Optional Namespace to retrieve the events from. If not provided, will list events from all namespaces"}`,
	},
	{
		name: "events_list_subscriptions", title: "Events: List Subscriptions",
		description: "List active event subscriptions for the current session",
	},
	{
		name: "events_subscribe", title: "Events: Subscribe", openWorld: true,
		description: "Subscribe to Kubernetes event notifications in real-time. Requires HTTP/SSE transport (start server with --port). Client must call logging/setLevel before receiving notifications.",
		properties: `"involvedKind":{"type":"string","description":"Optional involved object kind filter (e.g., 'Pod', 'Deployment')"},` +
			`"involvedName":{"type":"string","description":"Optional involved object name filter"},` +
			`"involvedNamespace":{"type":"string","description":"Optional involved object namespace filter"},` +
			`"labelSelector":{"type":"string","description":"Optional label selector for filtering events by involved object labels (e.g., 'app=nginx,tier=frontend')"},` +
			`"mode":{"type":"string","description":"Subscription mode: 'events' for all events (default), 'faults' for resource-based fault detection with edge-triggered state change notifications","default":"events","enum":["events","faults"]},` +
			`"namespaces":{"type":"array","items":{"type":"string"},"description":"Optional list of namespaces to watch. If not provided, watches all namespaces (cluster-wide)"},` +
			`"reason":{"type":"string","description":"Optional event reason prefix filter (e.g., 'BackOff', 'Failed')"},` +
			`"type":{"type":"string","description":"Optional event type filter: 'Normal' or 'Warning'","enum":["Normal","Warning"]}`,
	},
	{
		name: "events_unsubscribe", title: "Events: Unsubscribe",
		description: "Unsubscribe from event notifications by subscription ID",
		properties:  `"subscriptionId":{"type":"string","description":"The subscription ID returned by events_subscribe"}`,
		required:    `["subscriptionId"]`,
	},
}

// Tools are the events_* tools this server lists, with their input
// schemas; in multi-cluster mode every tool takes a "context" argument
// listing the server's contexts.
func (s *Server) Tools() []*mcp.Tool {
	var ctxProp string
	if len(s.o.Contexts) > 0 {
		enum, _ := json.Marshal(s.o.Contexts)
		desc, _ := json.Marshal("Optional parameter selecting which context to run the tool in. Defaults to " + s.o.DefaultContext + " if not set")
		ctxProp = `"context":{"type":"string","description":` + string(desc) + `,"enum":` + string(enum) + `}`
	}
	out := make([]*mcp.Tool, 0, len(eventsTools))
	for _, t := range eventsTools {
		props := t.properties
		if ctxProp != "" {
			if props != "" {
				props = ctxProp + "," + props
			} else {
				props = ctxProp
			}
		}
		schema := `{"type":"object","properties":{` + props + `}`
		if t.required != "" {
			schema += `,"required":` + t.required
		}
		schema += `}`
		f := false
		out = append(out, &mcp.Tool{
			Name: t.name, Title: t.title, Description: t.description, InputSchema: json.RawMessage(schema),
			Annotations: &mcp.ToolAnnotations{
				Title: t.title, ReadOnlyHint: true, DestructiveHint: &f, OpenWorldHint: &t.openWorld,
			},
		})
	}
	return out
}
