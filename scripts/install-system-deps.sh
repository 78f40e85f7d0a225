#!/usr/bin/env bash
# Debian packages the tests need on a fresh machine. Idempotent; needs root.
# The services these packages bring are neither started nor enabled at boot.
set -euo pipefail
cd "$(dirname "$0")/.."
# Glewlwyd, the real external authorization server of the integration tests.
UPSTREAM_INSTALL_ONLY=1 bash scripts/glewlwyd/start.sh
# Debian's Chromium, driven by Playwright in the admin's browser tests.
bash scripts/install-browser.sh >/dev/null
# Debian's nginx in front of the gateway (tests/deploy/test_nginx.py), and pg_dump and
# pg_restore for the backups of PostgreSQL (backup_database, restore_database).
bash scripts/install-debian-packages.sh nginx postgresql-client
# Debian enables the service of a package it installs: on a test machine none may start at boot.
bash scripts/disable-boot-services.sh glewlwyd.service nginx.service
