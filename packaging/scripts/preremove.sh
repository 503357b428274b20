#!/bin/sh
# Runs as the deb prerm ("remove", "upgrade", "deconfigure", "failed-upgrade")
# and as the rpm %preun (0 on erase, 1 on upgrade).
#
# Only a removal stops and disables the service; the runner drains its agents
# on the way out. An upgrade leaves it running: the new package restarts it
# once its files are in place, so an upgrade costs one restart and never
# leaves the service stopped or disabled.
set -e
unit=kubernetes-mcp-runner.service

systemd_running() {
  command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

case "$1" in
  remove | 0)
    if systemd_running; then
      systemctl stop "$unit" || true
    fi
    # disable works without a running systemd too (it only removes links).
    if command -v systemctl >/dev/null 2>&1; then
      systemctl disable "$unit" >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0
