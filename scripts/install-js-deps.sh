#!/usr/bin/env bash
# The JavaScript libraries of the end-to-end tests (the OAuth clients of
# tests/e2e/test_strict_clients.py, jose for tests/e2e/test_external_verifiers.py),
# at the exact versions of tests/js/package-lock.json, into tests/js/node_modules (ignored by
# git). Idempotent: reinstalls only when the lock file changed. Installs Debian's
# node and npm first if they are missing (needs root then).
set -euo pipefail
cd "$(dirname "$0")/../tests/js"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-js-deps.sh: node and npm are missing; run as root to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends nodejs npm >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends nodejs npm >/dev/null; }
fi
stamp=node_modules/.installed-package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
fi
