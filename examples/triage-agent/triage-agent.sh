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
#   GROUP_SIZE   how many correlated faults this incident covers (event.json's
#                "group": its key, every member with its node and owners, and
#                "recall", earlier incidents of the same key)
#   GROUP_KEY    the root cause they share ("node:n1", "owner:Deployment/ns/web")
#   USAGE_FILE   where to report what the run cost (usage.json, docs/budgets.md)
#   MAX_COST_USD when set, the most this run may spend (--max-budget-usd)
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
PROMPT
  if [ "${GROUP_SIZE:-1}" -gt 1 ]; then
    cat <<PROMPT

This incident covers ${GROUP_SIZE} faults that share one likely root cause
(${GROUP_KEY:-unknown}): the document below lists each under "group.members",
with the node and owner chain the runner found. Explain them together, and say
whether any member does not fit the shared cause.
PROMPT
  fi
  cat <<PROMPT

If "group.recall" lists earlier incidents of the same key, they were
investigated before: say whether this is the same problem again and what
changed.

The fault, as kubernetes-mcp-server reported it:

\`\`\`json
PROMPT
  cat "$EVENT_FILE"
  printf '\n```\n'
} >"$prompt"

# The CLI answers one JSON object (--output-format json): the report in
# "result", the cost in "total_cost_usd", tokens in "usage" and one entry
# per model in "modelUsage". It goes to a file first, so the cost is
# reported even when the run fails (a failed run was still billed).
set -- --print --output-format json --max-turns "${TRIAGE_MAX_TURNS:-25}" \
  --allowedTools 'Bash(kubectl get:*)' 'Bash(kubectl describe:*)' 'Bash(kubectl logs:*)' \
  'Bash(kubectl events:*)' 'Bash(kubectl top:*)'
if [ -n "${MAX_COST_USD:-}" ]; then
  set -- "$@" --max-budget-usd "$MAX_COST_USD"
fi
answer="$WORKSPACE/claude.json"
status=0
claude "$@" <"$prompt" >"$answer" || status=$?

# Node is in the image for the CLI already. It writes the report (beside
# the final name, renamed below, so a killed run never leaves a
# half-written report that could pass for a finished one) and the usage
# file, and fails when the CLI said the run failed. An answer that is not
# the JSON object (an older CLI, a wrapper printing text) is the report as
# it stands, with no usage to report.
node - "$answer" "$REPORT_FILE.partial" "${USAGE_FILE:-}" <<'JS' || { [ "$status" -ne 0 ] || status=1; }
const fs = require("fs");
const [answer, report, usageFile] = process.argv.slice(2);
const text = fs.readFileSync(answer, "utf8");
let out;
try { out = JSON.parse(text); } catch { out = null; }
if (out === null || typeof out !== "object" || Array.isArray(out)) {
  fs.writeFileSync(report, text);
  process.exit(0);
}
if (usageFile) {
  const usage = {};
  if (typeof out.total_cost_usd === "number") usage.cost_usd = out.total_cost_usd;
  const u = out.usage || {};
  if (Number.isInteger(u.input_tokens)) usage.input_tokens = u.input_tokens;
  if (Number.isInteger(u.output_tokens)) usage.output_tokens = u.output_tokens;
  // The model that cost the most names the run.
  const models = Object.entries(out.modelUsage || {});
  models.sort((a, b) => ((b[1] || {}).costUSD || 0) - ((a[1] || {}).costUSD || 0));
  if (models.length > 0) usage.model = models[0][0].slice(0, 200);
  fs.writeFileSync(usageFile, JSON.stringify(usage) + "\n");
}
if (out.is_error || typeof out.result !== "string") {
  console.error("claude: " + (out.subtype || "error") + ": " + String(out.result || "").slice(0, 500));
  process.exit(1);
}
fs.writeFileSync(report, out.result + "\n");
JS
if [ "$status" -ne 0 ]; then
  rm -f "$REPORT_FILE.partial"
  exit "$status"
fi
mv "$REPORT_FILE.partial" "$REPORT_FILE"
