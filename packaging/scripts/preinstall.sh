#!/bin/sh
# Create the service user the unit runs as, and the account its agents run
# as (--agent-user in runner.conf): another uid, so an agent cannot signal
# the runner, read its environment or its secret files (docs/security.md).
set -e
if ! getent group kubernetes-mcp-runner >/dev/null 2>&1; then
  groupadd --system kubernetes-mcp-runner
fi
if ! getent passwd kubernetes-mcp-runner >/dev/null 2>&1; then
  useradd --system --gid kubernetes-mcp-runner --home-dir /var/lib/kubernetes-mcp-runner \
    --no-create-home --shell /usr/sbin/nologin kubernetes-mcp-runner
fi
if ! getent group kubernetes-mcp-agent >/dev/null 2>&1; then
  groupadd --system kubernetes-mcp-agent
fi
if ! getent passwd kubernetes-mcp-agent >/dev/null 2>&1; then
  useradd --system --gid kubernetes-mcp-agent --home-dir /nonexistent \
    --no-create-home --shell /usr/sbin/nologin kubernetes-mcp-agent
fi
