#!/bin/sh
# rpm %postun: 0 on erase, 1 on upgrade.
#
# As %systemd_postun_with_restart: systemd re-reads its units (the unit file
# may be gone), and on an upgrade a running service is restarted onto the
# new files (try-restart: a stopped one stays stopped). An erase keeps the
# state and logs, so a reinstall picks up where it left off; rpm has no
# purge. The system user is kept.
set -e
unit=kubernetes-mcp-runner.service

systemd_running() {
  command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

if systemd_running; then
  systemctl daemon-reload || true
  case "$1" in
    1)
      systemctl try-restart "$unit" || true
      ;;
  esac
fi
exit 0
