#!/bin/sh
# deb postinst: "configure" [most-recently-configured-version], or
# "abort-upgrade", "abort-remove", "abort-deconfigure" when dpkg rolls back.
#
# As dh_installsystemd's snippets for a unit neither enabled nor started on
# install (the operator's call once clusters and the agent are configured):
#   - the state directory is created from tmpfiles.d, so it exists with its
#     owner and mode for check-config and tools run outside the unit too;
#   - deb-systemd-helper re-enables a unit that was enabled before a
#     remove (it remembers the enable state; postrm masked the unit) and
#     records its links so purge can clean them up;
#   - systemd re-reads its units, and on an upgrade a running service is
#     restarted onto the new binary (try-restart: a stopped one stays stopped).
set -e
unit=kubernetes-mcp-runner.service

case "$1" in
  configure | abort-upgrade | abort-deconfigure | abort-remove)
    if command -v systemd-tmpfiles >/dev/null 2>&1; then
      systemd-tmpfiles ${DPKG_ROOT:+--root="$DPKG_ROOT"} --create kubernetes-mcp-runner.conf >/dev/null || true
    fi
    if command -v deb-systemd-helper >/dev/null 2>&1; then
      if deb-systemd-helper debian-installed "$unit"; then
        deb-systemd-helper unmask "$unit" >/dev/null || true
        if deb-systemd-helper --quiet was-enabled "$unit"; then
          deb-systemd-helper enable "$unit" >/dev/null || true
        fi
      fi
      deb-systemd-helper update-state "$unit" >/dev/null || true
    fi
    if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
      systemctl --system daemon-reload >/dev/null || true
      # $2 is the version being upgraded from; empty on a fresh install.
      if [ -n "$2" ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
        deb-systemd-invoke try-restart "$unit" >/dev/null || true
      fi
    fi
    ;;
esac
exit 0
