#!/bin/sh
# Runs as the deb postrm ("remove", "purge", "upgrade", "disappear",
# "failed-upgrade", "abort-install", "abort-upgrade") and as the rpm %postun
# (0 on erase, 1 on upgrade).
#
#   - systemd re-reads its units every time (the unit file may be gone);
#   - rpm upgrade: a running service is restarted onto the new files
#     (%systemd_postun_with_restart); the deb does it in postinst;
#   - deb purge: the state (queue journal, incident history, workspaces) and
#     logs go too, as Debian policy asks of purge. A plain remove, and every
#     rpm erase, keeps them, so a reinstall picks up where it left off. The
#     system user is kept (Debian's convention: its uid may own files elsewhere).
set -e
unit=kubernetes-mcp-runner.service
state_dir=/var/lib/kubernetes-mcp-runner
logs_dir=/var/log/kubernetes-mcp-runner

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
case "$1" in
  purge)
    rm -rf "$state_dir" "$logs_dir"
    ;;
esac
exit 0
