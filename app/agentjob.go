package app

import (
	"fmt"
	"log/slog"

	"github.com/thejerf/suture/v4"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/agentjob"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
)

// defaultResultMaxBytes bounds a Job's upload when no workspace cap is set.
const defaultResultMaxBytes = 256 << 20

// agentJobs is the Job runtime and what it runs beside dispatch: the
// results channel's server (in the HTTP tree, which stops after the drain,
// so results of agents finishing during it still arrive) and the sweeper
// of abandoned Jobs. All nil with --agent-runtime process.
type agentJobs struct {
	runtime dispatch.Runtime
	server  *httpserver.Server
	sweeper suture.Service
}

func agentJobRuntime(cfg config.Config, logger *slog.Logger) (agentJobs, error) {
	if cfg.AgentRuntime != config.RuntimeJob {
		return agentJobs{}, nil
	}
	j := cfg.AgentJob
	tmpl, err := agentjob.LoadTemplate(j.Template)
	if err != nil {
		return agentJobs{}, ConfigError{fmt.Errorf("--agent-job-template (AGENT_JOB_TEMPLATE): %w", err)}
	}
	// An empty kubeconfig path means the in-cluster service account.
	rest, err := clientcmd.BuildConfigFromFlags("", j.Kubeconfig)
	if err != nil {
		return agentJobs{}, ConfigError{fmt.Errorf("--agent-job-kubeconfig (AGENT_JOB_KUBECONFIG): %w", err)}
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return agentJobs{}, ConfigError{fmt.Errorf("--agent-job-kubeconfig (AGENT_JOB_KUBECONFIG): %w", err)}
	}
	results := agentjob.NewResults(logger)
	maxBytes := int64(defaultResultMaxBytes)
	if cfg.AgentWorkspaceMaxBytes > 0 {
		maxBytes = int64(cfg.AgentWorkspaceMaxBytes) + int64(cfg.AgentLogMaxBytes) + 1<<20
	}
	clusters := make([]string, len(cfg.Clusters))
	for i, c := range cfg.Clusters {
		clusters[i] = c.Name
	}
	rt := agentjob.New(agentjob.Options{
		Logger: logger, Client: client, Namespace: j.Namespace, Template: tmpl, Results: results,
		ResultsURL: j.ResultsURL, EntrypointImage: j.EntrypointImage,
		Timeout: cfg.AgentTimeout, KillGrace: cfg.AgentKillGrace, StartTimeout: j.StartTimeout,
		LogMaxBytes: int64(cfg.AgentLogMaxBytes), ResultMaxBytes: maxBytes,
		TTLAfterCollected: cfg.AgentTimeout, Kubeconfigs: kubeconfigs(cfg), Clusters: clusters,
	})
	srv := httpserver.New("agent-job-results", j.ResultsAddress, results, logger)
	if err := srv.Bind(); err != nil {
		return agentJobs{}, listenError(cfg, "agent-job-results", err)
	}
	return agentJobs{runtime: rt, server: srv, sweeper: rt}, nil
}
