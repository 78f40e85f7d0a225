#!/usr/bin/env bash
# manage.py as it runs for `make run`, from a fresh clone: installs the Python
# packages once (scripts/bootstrap.sh), creates var/ and applies the migrations
# to its SQLite database (or DATABASE_URL's), then runs the command.
# Usage: scripts/manage.sh COMMAND [ARGS...], e.g. scripts/manage.sh createsuperuser
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt >&2
export DJANGO_LOG_FORMAT="${DJANGO_LOG_FORMAT:-plain}"
mkdir -p var
.venv/bin/python manage.py migrate --noinput >/dev/null
exec .venv/bin/python manage.py "$@"
