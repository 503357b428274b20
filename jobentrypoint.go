package main

import (
	"io"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/agentjob"
)

// runJobEntrypoint is the job-entrypoint mode: the command of an agent
// pod (--agent-runtime job), which wraps the agent and returns its
// results to the runner.
func runJobEntrypoint(args []string, stderr io.Writer) int {
	return agentjob.Entrypoint(args, stderr)
}
