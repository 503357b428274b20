#!/bin/sh
# Runs as the deb postinst ("configure" [old-version], "abort-*") and as the
# rpm %post (1 on install, 2 on upgrade).
#
# Debian's dh_installsystemd and Fedora's systemd macros behave alike, and so
# does this script:
#   - systemd re-reads its units every time (the unit may have changed);
#   - on a fresh install the service is neither enabled nor started: that is
#     the operator's call once clusters and the agent are configured;
#   - on a deb upgrade a running service is restarted onto the new binary
#     (try-restart: a stopped service stays stopped). The rpm restarts in
#     %postun of the upgrade instead (postremove.sh with 1), after the old
#     package's files are gone, as %systemd_postun_with_restart does.
set -e
unit=kubernetes-mcp-runner.service

systemd_running() {
  command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

if systemd_running; then
  systemctl daemon-reload || true
  case "$1" in
    configure)
      # $2 is the version being upgraded from; empty on a fresh install.
      if [ -n "$2" ]; then
        systemctl try-restart "$unit" || true
      fi
      ;;
  esac
fi
exit 0
