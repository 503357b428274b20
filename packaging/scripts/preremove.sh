#!/bin/sh
# Stop the runner before its files go; it drains its agents on the way out.
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop kubernetes-mcp-runner.service || true
  systemctl disable kubernetes-mcp-runner.service || true
fi
