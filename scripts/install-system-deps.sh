#!/usr/bin/env bash
# Debian packages the tests need on a fresh machine. Idempotent; needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
# Glewlwyd, the real external authorization server (its script installs it).
scripts/glewlwyd/install.sh
