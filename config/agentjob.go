package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Agent runtimes (--agent-runtime).
const (
	RuntimeProcess = "process"
	RuntimeJob     = "job"
)

// AgentJob configures the Kubernetes Job runtime (--agent-runtime job):
// where agent Jobs go, the pod template they are made from, and the
// results channel their entrypoint reports to.
type AgentJob struct {
	Namespace       string
	Kubeconfig      string
	Template        string
	ResultsAddress  string
	ResultsURL      string
	EntrypointImage string
	StartTimeout    time.Duration
}

func agentJobDefaults() AgentJob {
	return AgentJob{Namespace: "default", ResultsAddress: ":8082", StartTimeout: 5 * time.Minute}
}

func agentJobOptions(c *Config, o func(name, usage string, v flag.Value) option) []option {
	str := func(s *string) flag.Value { return (*stringValue)(s) }
	j := &c.AgentJob
	return []option{
		o("agent-runtime", "where agents run: process (a process group on this host) or job (a Kubernetes Job per incident)", str(&c.AgentRuntime)),
		o("agent-job-namespace", "namespace agent Jobs, their pods and Secrets are created in (--agent-runtime job)", str(&j.Namespace)),
		o("agent-job-kubeconfig", "kubeconfig of the cluster agent Jobs run in (empty: the in-cluster service account)", str(&j.Kubeconfig)),
		o("agent-job-template", "YAML file of the agents' pod template (image, resources, serviceAccountName, nodeSelector, tolerations); required with --agent-runtime job", str(&j.Template)),
		o("agent-job-results-address", "host:port the results channel listens on: agent pods send their log, report and usage there", str(&j.ResultsAddress)),
		o("agent-job-results-url", "base URL agent pods reach the results channel at (e.g. http://runner.ns.svc:8082); required with --agent-runtime job", str(&j.ResultsURL)),
		o("agent-job-entrypoint-image", "image holding the runner's binary, copied into agent pods by an init container (empty: the agent image has it at /usr/bin/kubernetes-mcp-runner)", str(&j.EntrypointImage)),
		o("agent-job-start-timeout", "seconds an agent pod may take to start (image pull, scheduling, quota) before the incident is an error", secondsValue{d: &j.StartTimeout}),
	}
}

// validateAgentJob checks the runtime and, for Jobs, what they need.
func (c Config) validateAgentJob() error {
	switch c.AgentRuntime {
	case RuntimeProcess:
		return nil
	case RuntimeJob:
	default:
		return fmt.Errorf("invalid --agent-runtime (AGENT_RUNTIME): %q is not process or job", c.AgentRuntime)
	}
	j := c.AgentJob
	if j.Template == "" {
		return errors.New("missing --agent-job-template (AGENT_JOB_TEMPLATE): --agent-runtime job needs the agents' pod template")
	}
	if j.Namespace == "" {
		return errors.New("missing --agent-job-namespace (AGENT_JOB_NAMESPACE)")
	}
	if _, _, err := net.SplitHostPort(j.ResultsAddress); err != nil {
		return fmt.Errorf("invalid --agent-job-results-address (AGENT_JOB_RESULTS_ADDRESS): %q is not host:port", j.ResultsAddress)
	}
	u, err := url.Parse(j.ResultsURL)
	if j.ResultsURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid --agent-job-results-url (AGENT_JOB_RESULTS_URL): %q is not an absolute http(s) URL agent pods can reach", j.ResultsURL)
	}
	if j.StartTimeout <= 0 {
		return errors.New("invalid --agent-job-start-timeout (AGENT_JOB_START_TIMEOUT_SECONDS): must be positive")
	}
	return nil
}
