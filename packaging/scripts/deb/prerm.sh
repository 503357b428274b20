#!/bin/sh
# deb prerm: "remove", "upgrade" new-version, "deconfigure", "failed-upgrade".
#
# Only a removal stops the service; the runner drains its agents on the
# way out. It is not disabled: as with dh_installsystemd, the enable state
# survives a remove (postrm masks the unit, a reinstall unmasks and
# re-enables it) and only purge forgets it. An upgrade leaves the service
# running; postinst restarts it once the new files are in place.
set -e
unit=kubernetes-mcp-runner.service

case "$1" in
  remove)
    if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
      deb-systemd-invoke stop "$unit" >/dev/null || true
    fi
    ;;
esac
exit 0
