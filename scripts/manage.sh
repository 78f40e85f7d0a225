#!/usr/bin/env bash
# manage.py with the project's virtualenv, from a fresh clone or a server:
#   scripts/manage.sh COMMAND [ARGS...], e.g. scripts/manage.sh createsuperuser
# It installs the Python packages on first use (scripts/bootstrap.sh) and creates
# var/ (readable by the service's user only). It never migrates on its own: run
# `scripts/manage.sh migrate` when you mean to (`make run` does at its start).
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
scripts/bootstrap.sh requirements.txt >&2
export DJANGO_LOG_FORMAT="${DJANGO_LOG_FORMAT:-plain}"
mkdir -p var
command="${1:-help}"
if [ -z "${DATABASE_URL:-}" ] && [ ! -e var/db.sqlite3 ] && [ "$command" != migrate ] && [ "$command" != help ]; then
  echo "scripts/manage.sh: there is no database yet (var/db.sqlite3): run 'scripts/manage.sh migrate' first," >&2
  echo "  or 'make run', which creates it." >&2
  exit 1
fi
exec .venv/bin/python manage.py "$@"
