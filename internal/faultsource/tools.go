package faultsource

import (
	"encoding/json"
	"slices"

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

// The read-only tools the stand-in answers from its ClusterState, as the
// real server lists them (tools-list.response.json).
var readTools = []struct {
	name, title, description, properties, required string
	openWorld                                      bool
}{
	{
		name: "pods_get", title: "Pods: Get", openWorld: true,
		description: "Get a Kubernetes Pod in the current or provided namespace with the provided name",
		properties:  `"name":{"type":"string","description":"Name of the Pod"},"namespace":{"type":"string","description":"Namespace to get the Pod from"}`,
		required:    `["name"]`,
	},
	{
		name: "pods_list", title: "Pods: List", openWorld: true,
		description: "List all the Kubernetes pods in the current cluster from all namespaces",
		properties:  `"fieldSelector":{"type":"string","description":"Optional Kubernetes field selector to filter pods by field values (e.g. 'status.phase=Running', 'spec.nodeName=node1'). Supported fields: metadata.name, metadata.namespace, spec.nodeName, spec.restartPolicy, spec.schedulerName, spec.serviceAccountName, status.phase (Pending/Running/Succeeded/Failed/Unknown), status.podIP, status.nominatedNodeName. Note: CrashLoopBackOff is a container state, not a pod phase, so it cannot be filtered directly. See https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/","pattern":"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"},"labelSelector":{"type":"string","description":"Optional Kubernetes label selector (e.g. 'app=myapp,env=prod' or 'app in (myapp,yourapp)'), use this option when you want to filter the pods by label","pattern":"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"}`,
	},
	{
		name: "resources_get", title: "Resources: Get", openWorld: true,
		description: "Get a Kubernetes resource in the current cluster by providing its apiVersion, kind, optionally the namespace, and its name\n(common apiVersion and kind include: v1 Pod, v1 Service, v1 Node, apps/v1 Deployment, networking.k8s.io/v1 Ingress)",
		properties:  `"apiVersion":{"type":"string","description":"apiVersion of the resource (examples of valid apiVersion are: v1, apps/v1, networking.k8s.io/v1)"},"kind":{"type":"string","description":"kind of the resource (examples of valid kind are: Pod, Service, Deployment, Ingress)"},"name":{"type":"string","description":"Name of the resource"},"namespace":{"type":"string","description":"Optional Namespace to retrieve the namespaced resource from (ignored in case of cluster scoped resources). If not provided, will get resource from configured namespace"}`,
		required:    `["apiVersion","kind","name"]`,
	},
	{
		name: "resources_list", title: "Resources: List", openWorld: true,
		description: "List Kubernetes resources and objects in the current cluster by providing their apiVersion and kind and optionally the namespace and label selector\n(common apiVersion and kind include: v1 Pod, v1 Service, v1 Node, apps/v1 Deployment, networking.k8s.io/v1 Ingress)",
		properties:  `"apiVersion":{"type":"string","description":"apiVersion of the resources (examples of valid apiVersion are: v1, apps/v1, networking.k8s.io/v1)"},"fieldSelector":{"type":"string","description":"Optional Kubernetes field selector to filter resources by field values (e.g. 'status.phase=Running', 'metadata.name=myresource'). Supported fields vary by resource type. For Pods: metadata.name, metadata.namespace, spec.nodeName, spec.restartPolicy, spec.schedulerName, spec.serviceAccountName, status.phase (Pending/Running/Succeeded/Failed/Unknown), status.podIP, status.nominatedNodeName. See https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/","pattern":"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"},"kind":{"type":"string","description":"kind of the resources (examples of valid kind are: Pod, Service, Deployment, Ingress)"},"labelSelector":{"type":"string","description":"Optional Kubernetes label selector (e.g. 'app=myapp,env=prod' or 'app in (myapp,yourapp)'), use this option when you want to filter the resources by label","pattern":"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"},"namespace":{"type":"string","description":"Optional Namespace to retrieve the namespaced resources from (ignored in case of cluster scoped resources). If not provided, will list resources from all namespaces"}`,
		required:    `["apiVersion","kind"]`,
	},
}

// Tools are the events_* tools and the read-only tools this server lists, with their input
// schemas; in multi-cluster mode every tool takes a "context" argument
// listing the server's contexts.
func (s *Server) Tools() []*mcp.Tool {
	var ctxProp string
	if len(s.o.Contexts) > 0 {
		enum, _ := json.Marshal(s.o.Contexts)
		desc, _ := json.Marshal("Optional parameter selecting which context to run the tool in. Defaults to " + s.o.DefaultContext + " if not set")
		ctxProp = `"context":{"type":"string","description":` + string(desc) + `,"enum":` + string(enum) + `}`
	}
	out := make([]*mcp.Tool, 0, len(eventsTools)+len(readTools))
	for _, t := range append(slices.Clone(eventsTools), readTools...) {
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
