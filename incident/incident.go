// Package incident holds what an incident is, for every package that
// handles one: how its agent ended, the files of its workspace, the fields
// an agent sees, event.json, result.json and the history record. It imports
// only the fault it is about.
//
// # The usage file
//
// The runner tells an agent where to report what its run cost through
// USAGE_FILE (UsageFile, usage.json, in the workspace beside the report).
// Writing it is optional. When written it is one JSON object of at most
// MaxUsageBytes, every field optional:
//
//	{
//	  "cost_usd": 0.42,          // number, >= 0, finite, at most MaxUsageCostUSD
//	  "input_tokens": 12000,     // whole number, >= 0, at most MaxUsageTokens
//	  "output_tokens": 1800,     // whole number, >= 0, at most MaxUsageTokens
//	  "model": "claude-sonnet-4" // string, at most MaxUsageModelLen bytes, no control characters
//	}
//
// Other fields are ignored, so an agent may write more. A field of the
// wrong type, a number out of range, or a file that is not one JSON object
// makes the whole file unusable (ReadUsage says why and names the file);
// the run is then charged as if it had reported nothing. A field left out
// or null is not reported, which differs from a reported 0.
package incident

import (
	"strconv"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Status is how an incident's agent ended; the status label values.
type Status string

const (
	StatusSuccess     Status = "success"
	StatusFailure     Status = "failure"
	StatusTimeout     Status = "timeout"
	StatusInterrupted Status = "interrupted"
	// StatusError: the runner's own I/O failed (the workspace or event.json
	// could not be written) and the agent never ran. It says nothing about
	// the agent, so it does not count against the circuit breaker.
	StatusError Status = "error"
)

// Statuses lists every Status, in the order the metrics export them.
func Statuses() []Status {
	return []Status{StatusSuccess, StatusFailure, StatusTimeout, StatusInterrupted, StatusError}
}

// Files of an incident workspace.
const (
	EventFile  = "event.json"
	LogFile    = "agent.log"
	ResultFile = "result.json"
	OutputDir  = "output"
)

// Fields are what agent arguments, environment and the cleanup command can
// use: {{.IncidentID}}, {{.Cluster}}, ...
type Fields struct {
	IncidentID        string
	Cluster           string
	Source            string
	Workspace         string
	EventFile         string
	ReportFile        string
	Kubeconfig        string
	FaultID           string
	FaultType         string
	Severity          string
	ResourceKind      string
	ResourceName      string
	ResourceNamespace string
	// UsageFile is where the agent may report its run's cost (UsageFile);
	// MaxCostUSD the most the run may spend, 0 when no limit is set.
	UsageFile  string
	MaxCostUSD float64
	// GroupKey and GroupSize describe the group the incident covers
	// (group.go); a fault on its own has size 1 and no key.
	GroupKey  string
	GroupSize int
}

// Env is Fields as the agent's environment variables.
func (f Fields) Env() map[string]string {
	env := map[string]string{
		"INCIDENT_ID":        f.IncidentID,
		"CLUSTER":            f.Cluster,
		"FAULT_SOURCE":       f.Source,
		"WORKSPACE":          f.Workspace,
		"EVENT_FILE":         f.EventFile,
		"REPORT_FILE":        f.ReportFile,
		"FAULT_ID":           f.FaultID,
		"FAULT_TYPE":         f.FaultType,
		"SEVERITY":           f.Severity,
		"RESOURCE_KIND":      f.ResourceKind,
		"RESOURCE_NAME":      f.ResourceName,
		"RESOURCE_NAMESPACE": f.ResourceNamespace,
		"GROUP_KEY":          f.GroupKey,
		"GROUP_SIZE":         strconv.Itoa(max(f.GroupSize, 1)),
	}
	if f.Kubeconfig != "" {
		env["KUBECONFIG"] = f.Kubeconfig
	}
	if f.UsageFile != "" {
		env["USAGE_FILE"] = f.UsageFile
	}
	if f.MaxCostUSD > 0 {
		env["MAX_COST_USD"] = strconv.FormatFloat(f.MaxCostUSD, 'f', -1, 64)
	}
	return env
}

// EventDocument is event.json: the fault and its cluster context.
type EventDocument struct {
	IncidentID string      `json:"incidentId"`
	Cluster    string      `json:"cluster"`
	Kubeconfig string      `json:"kubeconfig,omitempty"`
	EnqueuedAt time.Time   `json:"enqueuedAt"`
	Fault      fault.Event `json:"fault"`
	// Group is what the incident covers when faults were grouped; Fault
	// is then its primary.
	Group *Group `json:"group,omitempty"`
}

// Result is result.json.
type Result struct {
	IncidentID      string    `json:"incidentId"`
	Cluster         string    `json:"cluster"`
	FaultID         string    `json:"faultId"`
	Status          Status    `json:"status"`
	Reason          string    `json:"reason,omitempty"`
	ExitCode        *int      `json:"exitCode,omitempty"`
	Signal          string    `json:"signal,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	EndedAt         time.Time `json:"endedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	TimeoutSeconds  float64   `json:"timeoutSeconds"`
	Killed          bool      `json:"killed,omitempty"`
	OutputTruncated bool      `json:"outputTruncated,omitempty"`
	ReportBytes     int64     `json:"reportBytes"`
	// Attempt is 1 for the first run of a fault, more after restarts
	// interrupted earlier runs.
	Attempt   int    `json:"attempt"`
	Workspace string `json:"workspace"`
	// FaultResolvedAt is when the fault's source reported it over while
	// the agent ran (an Alertmanager alert resolving); the agent was left
	// to finish. Absent when no source reported an end.
	FaultResolvedAt *time.Time `json:"faultResolvedAt,omitempty"`
	// Spend is what the run reported costing and was charged (usage.go);
	// absent for results written before budgets existed.
	Spend *Spend `json:"spend,omitempty"`
	// Group is what the incident covered, without its recall.
	Group *Group `json:"group,omitempty"`
}

// Record is one finished incident in the history, as the state store keeps
// it and /incidents serves it: the result's summary and the fault type.
// It is a type of its own, not Result, because stored history and the
// /incidents output keep the field names they were published with.
type Record struct {
	IncidentID string `json:"incidentId"`
	Cluster    string `json:"cluster"`
	FaultID    string `json:"faultId"`
	FaultType  string `json:"faultType"`
	// Source, Severity and Resource ("Kind/namespace/name") are the
	// fault's, kept with the record so that listing the history needs no
	// read of each workspace. Records written before they existed lack them.
	Source   string `json:"source,omitempty"`
	Severity string `json:"severity,omitempty"`
	Resource string `json:"resource,omitempty"`
	// EnqueuedAt is when its fault was queued (its queue wait is
	// StartedAt - EnqueuedAt); zero in records from before it was kept.
	EnqueuedAt      time.Time `json:"enqueuedAt,omitzero"`
	Status          Status    `json:"status"`
	Reason          string    `json:"reason,omitempty"`
	Attempts        int       `json:"attempts"`
	StartedAt       time.Time `json:"startedAt"`
	EndedAt         time.Time `json:"endedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	Workspace       string    `json:"workspace"`
	// FaultResolvedAt is Result.FaultResolvedAt.
	FaultResolvedAt *time.Time `json:"faultResolvedAt,omitempty"`
	// Spend is Result.Spend.
	Spend *Spend `json:"spend,omitempty"`
	// Group is Result.Group.
	Group *Group `json:"group,omitempty"`
	// Feedback is what people said of the diagnosis (feedback.go).
	Feedback *Feedback `json:"feedback,omitempty"`
}

// Record is the history record of a result for a fault of faultType.
func (r Result) Record(faultType string) Record {
	return Record{
		IncidentID: r.IncidentID, Cluster: r.Cluster, FaultID: r.FaultID, FaultType: faultType,
		Status: r.Status, Reason: r.Reason, Attempts: r.Attempt,
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, DurationSeconds: r.DurationSeconds,
		Workspace: r.Workspace, FaultResolvedAt: r.FaultResolvedAt, Spend: r.Spend, Group: r.Group,
	}
}

// DrainReport names the incidents that finished while the runner drained
// at shutdown and those that were interrupted.
type DrainReport struct {
	Completed   []string
	Interrupted []string
}
