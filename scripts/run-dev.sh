#!/usr/bin/env bash
# Run the gateway on its embedded defaults: SQLite, local-memory cache and the
# development authorization server (scripts/dev_authorization_server.py, user
# abc123 / xyz456). Prints a ready client key and secret, then serves on
# http://127.0.0.1:8000 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt

GATEWAY_PORT="${GATEWAY_PORT:-8000}"
export DEV_AUTH_PORT="${DEV_AUTH_PORT:-9011}"
# A terminal reads plain lines better than the JSON a log collector wants.
export DJANGO_LOG_FORMAT="${DJANGO_LOG_FORMAT:-plain}"
export OAUTHGW_UPSTREAM_TOKEN_URL="${OAUTHGW_UPSTREAM_TOKEN_URL:-http://127.0.0.1:$DEV_AUTH_PORT/token}"
mkdir -p var

.venv/bin/python manage.py migrate --noinput >/dev/null
.venv/bin/python manage.py collectstatic --noinput >/dev/null

.venv/bin/python scripts/dev_authorization_server.py --port "$DEV_AUTH_PORT" &
dev_auth_pid=$!
trap 'kill "$dev_auth_pid" 2>/dev/null || true' EXIT INT TERM

credentials="$(.venv/bin/python manage.py demo_client --json)"
client_id="$(printf '%s' "$credentials" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')"
client_secret="$(printf '%s' "$credentials" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')"
cat <<TXT

oauthgw is starting on http://127.0.0.1:$GATEWAY_PORT
  client key:    $client_id
  client secret: $client_secret
  (a new secret is generated on every start; the gateway stores only its hash)

Try it:
  curl -u '$client_id:$client_secret' -d 'grant_type=password&username=abc123&password=xyz456' http://127.0.0.1:$GATEWAY_PORT/oauth2/token

Admin: create a staff account with '.venv/bin/python manage.py createsuperuser', then open
http://127.0.0.1:$GATEWAY_PORT/admin/

TXT
.venv/bin/python manage.py runserver "127.0.0.1:$GATEWAY_PORT" --noreload
