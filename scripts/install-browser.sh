#!/usr/bin/env bash
# Debian's Chromium for the admin's browser tests (Playwright drives it at
# /usr/bin/chromium; `playwright install` would download its own build, which
# this kind of machine cannot). Idempotent; needs root.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-browser.sh: run as root to install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; retry once after refreshing.
if ! apt-get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
/usr/bin/chromium --version
