#!/usr/bin/env bash
# Run the whole test suite: installs what it needs (Python packages into .venv,
# Debian packages for the real upstream and browser, the pinned JavaScript OAuth
# clients into tests/js/node_modules), lints, then runs pytest.
# DATABASE_URL / REDIS_URL choose the engines (default: SQLite, local memory).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt
scripts/install-system-deps.sh
scripts/install-js-deps.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
