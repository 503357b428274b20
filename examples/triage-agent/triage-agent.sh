#!/bin/sh
# triage-agent: investigates one incident with Claude Code and writes the
# report kubernetes-mcp-runner waits for.
#
# The runner starts it once per incident, in the incident's workspace, with
#   EVENT_FILE   the fault as JSON (event.json: incidentId, cluster, fault)
#   REPORT_FILE  where the report must be written (output/investigation.md)
#   WORKSPACE    the incident's directory, the agent's scratch space
#   KUBECONFIG   the cluster's kubeconfig (the clusters file's "kubeconfig"),
#                bound to a read-only ClusterRole (rbac.yaml)
#   CLUSTER, FAULT_TYPE, SEVERITY, RESOURCE_KIND, RESOURCE_NAME, RESOURCE_NAMESPACE
# and ANTHROPIC_API_KEY when the runner passes it on (agent-env-allow).
#
# Success is exit 0 with a report of at least agent-report-min-bytes; the
# runner kills the whole process group at agent-timeout.
set -eu

: "${EVENT_FILE:?EVENT_FILE is not set: run me from kubernetes-mcp-runner}"
: "${REPORT_FILE:?REPORT_FILE is not set: run me from kubernetes-mcp-runner}"
: "${WORKSPACE:?WORKSPACE is not set: run me from kubernetes-mcp-runner}"
: "${ANTHROPIC_API_KEY:?ANTHROPIC_API_KEY is not set: add it to agent-env-allow}"

# The CLI keeps its settings and session files under $HOME; give each
# incident its own, inside the workspace (the image's root is read-only).
export HOME="$WORKSPACE/home"
mkdir -p "$HOME" "$(dirname "$REPORT_FILE")"

prompt="$WORKSPACE/prompt.md"
{
  cat <<PROMPT
You are an SRE investigating a fault in the Kubernetes cluster "${CLUSTER:-unknown}".
kubectl is configured (read-only) for that cluster. Find the most likely root
cause, using only read-only kubectl commands (get, describe, logs, events,
top). Answer in Markdown with the sections: Summary, Evidence (the commands
you ran and what they showed), Root cause, Suggested fix. Do not change the
cluster.

The fault, as kubernetes-mcp-server reported it:

\`\`\`json
PROMPT
  cat "$EVENT_FILE"
  printf '\n```\n'
} >"$prompt"

# Write beside the report and rename, so a killed run never leaves a
# half-written report that could pass for a finished one.
claude --print --output-format text --max-turns "${TRIAGE_MAX_TURNS:-25}" \
  --allowedTools 'Bash(kubectl get:*)' 'Bash(kubectl describe:*)' 'Bash(kubectl logs:*)' \
  'Bash(kubectl events:*)' 'Bash(kubectl top:*)' \
  <"$prompt" >"$REPORT_FILE.partial"
mv "$REPORT_FILE.partial" "$REPORT_FILE"
