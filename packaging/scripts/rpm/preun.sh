#!/bin/sh
# rpm %preun: 0 on erase, 1 on upgrade.
#
# As %systemd_preun: only an erase stops and disables the service (rpm
# keeps no enable state across an erase); the runner drains its agents on
# the way out. An upgrade leaves it running: %postun of the upgrade
# restarts it once the new files are in place.
set -e
unit=kubernetes-mcp-runner.service

systemd_running() {
  command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

case "$1" in
  0)
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
