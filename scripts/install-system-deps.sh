#!/usr/bin/env bash
# Debian packages the tests need on a fresh machine. Idempotent; needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
# Glewlwyd, the real external authorization server of the integration tests.
UPSTREAM_INSTALL_ONLY=1 bash scripts/glewlwyd/start.sh
# Debian's Chromium, driven by Playwright in the admin's browser tests.
bash scripts/install-browser.sh >/dev/null
