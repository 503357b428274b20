#!/bin/sh
# Create the service user the unit runs as.
set -e
if ! getent group kubernetes-mcp-runner >/dev/null 2>&1; then
  groupadd --system kubernetes-mcp-runner
fi
if ! getent passwd kubernetes-mcp-runner >/dev/null 2>&1; then
  useradd --system --gid kubernetes-mcp-runner --home-dir /var/lib/kubernetes-mcp-runner \
    --no-create-home --shell /usr/sbin/nologin kubernetes-mcp-runner
fi
