#!/usr/bin/env bash
# Run the gateway on its embedded defaults: SQLite, no Redis, and the development
# authorization server (scripts/dev_authorization_server.py, user abc123 /
# xyz456), served by the production server (python -m gatewayproj.server) with
# several worker processes.
# Prints a client key and secret (the same on every start) and the line that
# sets them for the README's "Try it" commands, then serves on
# http://127.0.0.1:$GATEWAY_PORT until Ctrl-C or `kill <make pid>`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The database, the demo client's secret and the encryption of var/ are the service's alone.
umask 077
scripts/bootstrap.sh requirements.txt

export GATEWAY_PORT="${GATEWAY_PORT:-8000}"
export DEV_AUTH_PORT="${DEV_AUTH_PORT:-9011}"
# A second `make run` stops here, before it touches anything of the first's.
.venv/bin/python scripts/run_dev.py --check-ports
# A terminal reads plain lines better than the JSON a log collector wants.
export DJANGO_LOG_FORMAT="${DJANGO_LOG_FORMAT:-plain}"
export OAUTHGW_UPSTREAM_TOKEN_URL="${OAUTHGW_UPSTREAM_TOKEN_URL:-http://127.0.0.1:$DEV_AUTH_PORT/token}"
# The issuer of tokens and metadata is configured, never taken from a request's Host header.
export OAUTHGW_ISSUER="${OAUTHGW_ISSUER:-http://127.0.0.1:$GATEWAY_PORT}"
mkdir -p var
# Made by an earlier version with the default umask: readable by the service's user only.
chmod 700 var
chmod 600 var/db.sqlite3* 2>/dev/null || true

echo "make run: applying database migrations (var/db.sqlite3)"
.venv/bin/python manage.py migrate --noinput >/dev/null
.venv/bin/python manage.py collectstatic --noinput >/dev/null

# The code flow's demo client sends people back to a page of the development
# authorization server that shows the code (README, "Sign in with a browser").
callback="http://127.0.0.1:$DEV_AUTH_PORT/callback"
credentials="$(.venv/bin/python manage.py demo_client --json --credentials-file var/demo-client.json --web-redirect-uri "$callback")"
field() { printf '%s' "$credentials" | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
client_id="$(field client_id)"
client_secret="$(field client_secret)"
web_client_id="$(field web_client_id)"
cat <<TXT

oauthgw is starting on http://127.0.0.1:$GATEWAY_PORT (SQLite in var/, no Redis)
  client key:    $client_id
  client secret: $client_secret
  (the same on every start: kept in var/demo-client.json; delete that file for a new secret)

Try it (README.md, "Try it"): paste this line into another shell, then the README's commands:
  export GATEWAY=http://127.0.0.1:$GATEWAY_PORT KEY='$client_id' SECRET='$client_secret' DEV_AUTH=http://127.0.0.1:$DEV_AUTH_PORT WEB_CLIENT='$web_client_id'

Sign in with a browser (README.md, "Sign in with a browser"): the authorization code flow with PKCE
for the public client local-demo-web ($web_client_id), which is sent back to $callback.
  1. In that shell, make a PKCE verifier and its S256 challenge:
       VERIFIER=\$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
       CHALLENGE=\$(printf %s "\$VERIFIER" | python3 -c 'import base64,hashlib,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.stdin.buffer.read()).digest()).rstrip(b"=").decode())')
  2. Open in a browser (user abc123 / xyz456):
       echo "\$GATEWAY/oauth2/authorize?response_type=code&client_id=\$WEB_CLIENT&redirect_uri=\$DEV_AUTH/callback&scope=hello&state=demo&code_challenge=\$CHALLENGE&code_challenge_method=S256"
  3. Exchange the code the page shows, within a minute:
       curl -s "\$GATEWAY/oauth2/token" -d "grant_type=authorization_code&client_id=\$WEB_CLIENT&redirect_uri=\$DEV_AUTH/callback&code_verifier=\$VERIFIER&code=PASTE-THE-CODE"

Admin: 'make createsuperuser' for a staff account, then open http://127.0.0.1:$GATEWAY_PORT/admin/
Stop: Ctrl-C here, or 'kill <pid of make>' (SIGTERM, SIGINT or SIGHUP) from elsewhere; both servers stop.

TXT
exec .venv/bin/python scripts/run_dev.py
