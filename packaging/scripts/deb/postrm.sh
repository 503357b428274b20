#!/bin/sh
# deb postrm: "remove", "purge", "upgrade", "disappear", "failed-upgrade",
# "abort-install", "abort-upgrade".
#
#   - remove: systemd forgets the deleted unit, and deb-systemd-helper masks
#     it so the enable links left behind start nothing; the enable state is
#     kept for a reinstall, the state and logs too;
#   - purge: deb-systemd-helper drops the links and its records, and the
#     state (queue journal, incident history, workspaces) and logs go, as
#     Debian policy asks of purge. The system user is kept (Debian's
#     convention: its uid may own files elsewhere).
set -e
unit=kubernetes-mcp-runner.service
state_dir=/var/lib/kubernetes-mcp-runner
logs_dir=/var/log/kubernetes-mcp-runner

case "$1" in
  remove)
    if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
      systemctl --system daemon-reload >/dev/null || true
    fi
    if command -v deb-systemd-helper >/dev/null 2>&1; then
      deb-systemd-helper mask "$unit" >/dev/null || true
    fi
    ;;
  purge)
    if command -v deb-systemd-helper >/dev/null 2>&1; then
      deb-systemd-helper purge "$unit" >/dev/null || true
      deb-systemd-helper unmask "$unit" >/dev/null || true
    fi
    rm -rf "${DPKG_ROOT:-}$state_dir" "${DPKG_ROOT:-}$logs_dir"
    ;;
esac
exit 0
