// Package sampleagent is the investigation agent bundled with the runner,
// run as "kubernetes-mcp-runner sample-agent". It reads the incident's
// event.json and writes a short Markdown report, the same contract a real
// LLM agent fulfils. The demo, the tests and the benchmarks run it; its
// flags, and the resource names of FailPrefix and HangPrefix, make it
// misbehave on purpose for the demo and fault-injection tests.
package sampleagent

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// Resource-name prefixes that make the agent misbehave for one fault, so a
// demo or a test picks each incident's outcome by the fault it sends.
const (
	// FailPrefix: the agent exits 1 at once, without a report.
	FailPrefix = "fail-"
	// HangPrefix: the agent never finishes (the runner's timeout ends it).
	HangPrefix = "hang-"
)

// event is the part of event.json the agent reads.
type event struct {
	IncidentID string      `json:"incidentId"`
	Cluster    string      `json:"cluster"`
	Fault      fault.Event `json:"fault"`
}

// Main runs the agent and returns its exit code.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sample-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	delay := fs.Duration("delay", 0, "simulate investigation work for this long")
	failRate := fs.Float64("fail-rate", 0, "probability (0-1) of exiting 1 without a report")
	hang := fs.Bool("hang", false, "never finish (to exercise the agent timeout)")
	ignoreTerm := fs.Bool("ignore-sigterm", false, "ignore SIGTERM (to exercise SIGKILL escalation)")
	eventPath := fs.String("event", getenv("EVENT_FILE"), "event.json to read")
	reportPath := fs.String("report", getenv("REPORT_FILE"), "report to write")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	if *eventPath == "" || *reportPath == "" {
		fmt.Fprintln(stderr, "sample-agent: EVENT_FILE and REPORT_FILE (or --event and --report) are required")
		return 2
	}
	data, err := os.ReadFile(*eventPath)
	if err != nil {
		fmt.Fprintf(stderr, "sample-agent: %v\n", err)
		return 1
	}
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		fmt.Fprintf(stderr, "sample-agent: %s: %v\n", *eventPath, err)
		return 1
	}
	fmt.Fprintf(stdout, "investigating %s %s/%s on cluster %s\n", ev.Fault.FaultType, ev.Fault.Resource.Namespace, ev.Fault.Resource.Name, ev.Cluster)
	name := ev.Fault.Resource.Name
	if strings.HasPrefix(name, FailPrefix) {
		fmt.Fprintf(stderr, "sample-agent: simulated failure (the resource's name starts with %s)\n", FailPrefix)
		return 1
	}
	if *hang || strings.HasPrefix(name, HangPrefix) {
		// A bare select{} would be reported by the runtime as a deadlock.
		for {
			time.Sleep(time.Hour)
		}
	}
	time.Sleep(*delay)
	if *failRate > 0 && rand.Float64() < *failRate {
		fmt.Fprintln(stderr, "sample-agent: simulated failure")
		return 1
	}
	if err := os.MkdirAll(filepath.Dir(*reportPath), 0o700); err != nil {
		fmt.Fprintf(stderr, "sample-agent: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*reportPath, []byte(report(ev)), 0o600); err != nil {
		fmt.Fprintf(stderr, "sample-agent: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "report written to %s\n", *reportPath)
	return 0
}

func report(ev event) string {
	f := ev.Fault
	where := f.Resource.Name
	if f.Resource.Namespace != "" {
		where = f.Resource.Namespace + "/" + where
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Investigation %s\n\n", ev.IncidentID)
	fmt.Fprintf(&b, "- Cluster: %s\n- Fault: %s (%s), id %s\n- Resource: %s %s\n- Observed: %s\n\n",
		ev.Cluster, f.FaultType, f.Severity, f.FaultID, f.Resource.Kind, where, f.Timestamp.Format(time.RFC3339))
	b.WriteString("## Findings\n\n")
	switch f.FaultType {
	case fault.TypeCrashLoop, fault.TypePodCrash:
		b.WriteString("The container keeps exiting. Check its last logs (kubectl logs --previous), its memory limit against usage (OOMKilled), and recent image or config changes.\n")
	case fault.TypeNodeUnhealthy:
		b.WriteString("The node reports an unhealthy condition. Check kubelet status, disk and memory pressure, and whether pods were evicted.\n")
	case fault.TypeDeploymentFailure:
		b.WriteString("The rollout is not progressing. Check the new ReplicaSet's pods for image pull or readiness failures and consider a rollback.\n")
	case fault.TypeJobFailure:
		b.WriteString("The job exhausted its retries. Check the failed pods' logs and the job's backoffLimit and activeDeadlineSeconds.\n")
	default:
		b.WriteString("Unknown fault type; inspect the resource's events (kubectl describe).\n")
	}
	if len(f.Context) > 0 {
		fmt.Fprintf(&b, "\n## Context from the server\n\n```\n%s\n```\n", string(f.Context))
	}
	return b.String()
}
