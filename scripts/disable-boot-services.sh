#!/usr/bin/env bash
# Leave the given systemd units disabled: Debian enables the service of a package it installs
# (glewlwyd, nginx), and a test machine must serve nothing at boot; the tests start their own
# instances. Idempotent; fails if a unit is still enabled afterwards. A package upgrade keeps a
# unit disabled this way. Works whether or not systemd is running (it edits the unit links).
# Usage: scripts/disable-boot-services.sh UNIT...
set -euo pipefail

for unit in "$@"; do
  state="$(systemctl is-enabled "$unit" 2>/dev/null || true)"
  case "$state" in
    enabled | enabled-runtime | alias | linked | linked-runtime)
      if ((EUID != 0)); then
        echo "disable-boot-services.sh: $unit is $state; run as root to disable it" >&2
        exit 1
      fi
      systemctl disable --quiet "$unit"
      state="$(systemctl is-enabled "$unit" 2>/dev/null || true)"
      if [ "$state" = enabled ]; then
        echo "disable-boot-services.sh: $unit is still enabled" >&2
        exit 1
      fi
      ;;
  esac
done
