#!/bin/sh
# rpm %post: 1 on install, 2 on upgrade.
#
# As Fedora's %tmpfiles_create and %systemd_post macros:
#   - the state directory is created from tmpfiles.d, so it exists with its
#     owner and mode for check-config and tools run outside the unit too;
#   - on a fresh install the unit follows the distribution's presets
#     (systemctl preset), which leave a third-party service disabled on
#     Fedora, RHEL and openSUSE: enabling it is the operator's call once
#     clusters and the agent are configured;
#   - systemd re-reads its units (the unit may have changed). An upgrade
#     restarts a running service in %postun (postun.sh with 1), after the
#     old package's files are gone, as %systemd_postun_with_restart does.
set -e
unit=kubernetes-mcp-runner.service

systemd_running() {
  command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

if command -v systemd-tmpfiles >/dev/null 2>&1; then
  systemd-tmpfiles --create /usr/lib/tmpfiles.d/kubernetes-mcp-runner.conf >/dev/null 2>&1 || true
fi
if [ "$1" = 1 ] && command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload preset "$unit" >/dev/null 2>&1 || true
fi
if systemd_running; then
  systemctl daemon-reload || true
fi
exit 0
