#!/usr/bin/env bash
# Run a disposable Glewlwyd (Debian package, SQLite) on 127.0.0.1 as the real
# external authorization server that oauthgw's integration tests forward
# resource-owner credentials to (RFC 6749 section 4.3, password grant).
#
# Usage: scripts/glewlwyd/start.sh [STATE_DIR]
#
# Environment, all optional:
#   UPSTREAM_PORT            loopback TCP port                       (4593)
#   UPSTREAM_CLIENT_ID       confidential client id                  (gateway-client)
#   UPSTREAM_CLIENT_SECRET   its secret                              (gateway-secret)
#   UPSTREAM_USER            resource owner                          (abc123)
#   UPSTREAM_PASSWORD        their password                          (xyz456)
#   UPSTREAM_EXTRA_USERS     more owners, one "user:password" per line, split on
#                            the first ":" (so a username cannot hold ":")
#   UPSTREAM_SCOPE           space-separated scopes for users and client (upstream)
#   UPSTREAM_REFRESH_ONE_USE never: refresh tokens are not rotated; always: each
#                            is good once, a refresh answers a new one and a
#                            reused one ends the chain (OpenID Connect plugin only) (never)
#   UPSTREAM_STATE_DIR       config, DB, logs, PID   (/tmp/glewlwyd-upstream-$PORT)
#   UPSTREAM_LOG_LEVEL       NONE ERROR WARNING INFO DEBUG (WARNING; INFO logs tokens)
#   UPSTREAM_START_TIMEOUT   seconds to wait for the server           (30)
#   UPSTREAM_INSTALL_ONLY=1  install the Debian packages and exit
#
# On success stdout has exactly these lines (diagnostics go to stderr):
#   TOKEN_ENDPOINT=http://127.0.0.1:PORT/api/oidc/token
#   LEGACY_TOKEN_ENDPOINT=http://127.0.0.1:PORT/api/glwd/token
#   PID=...
#   STATE_DIR=...
#
# Running it again while its server is up keeps that server and only brings the
# users, client, scopes and plugins up to date. Stop with stop.sh.
#
# Glewlwyd answers errors without an RFC 6749 body: a bad user or password is
# 403, a bad client secret 400, and a request with no client authentication at
# all is accepted. Only a 200 means "credentials valid".
set -euo pipefail

log() { echo "glewlwyd/start.sh: $*" >&2; }
fail() { log "error: $*"; exit 1; }

port="${UPSTREAM_PORT:-4593}"
if ! [[ "$port" =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
  fail "UPSTREAM_PORT must be a TCP port number"
fi
# "08" and "8" must name the same state dir, here and in stop.sh.
port=$((10#$port))
client_id="${UPSTREAM_CLIENT_ID:-gateway-client}"
client_secret="${UPSTREAM_CLIENT_SECRET:-gateway-secret}"
main_user="${UPSTREAM_USER:-abc123}"
main_password="${UPSTREAM_PASSWORD:-xyz456}"
extra_users="${UPSTREAM_EXTRA_USERS:-}"
scope="${UPSTREAM_SCOPE:-upstream}"
refresh_one_use="${UPSTREAM_REFRESH_ONE_USE:-never}"
log_level="${UPSTREAM_LOG_LEVEL:-WARNING}"
start_timeout="${UPSTREAM_START_TIMEOUT:-30}"
state_dir="${1:-${UPSTREAM_STATE_DIR:-/tmp/glewlwyd-upstream-$port}}"

readonly glewlwyd=/usr/bin/glewlwyd
readonly schema=/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3
base_url="http://127.0.0.1:$port"
conf="$state_dir/glewlwyd.conf"
db="$state_dir/glewlwyd.db"
pid_file="$state_dir/glewlwyd.pid"

[[ "$start_timeout" =~ ^[0-9]+$ ]] || fail "UPSTREAM_START_TIMEOUT must be whole seconds"
[ -n "${scope// /}" ] || fail "UPSTREAM_SCOPE must name at least one scope"
[[ "$refresh_one_use" =~ ^(never|always)$ ]] || fail "UPSTREAM_REFRESH_ONE_USE must be never or always"

# --- installation -------------------------------------------------------------

apt_install() {
  apt-get install -y -q --no-install-recommends "$@" >&2 && return 0
  # The package lists may be stale or absent on a fresh machine.
  apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "$@" >&2
}

ensure_packages() {
  local wanted=()
  # dbconfig-sqlite3 is named so that apt does not satisfy glewlwyd's
  # "dbconfig-mysql | dbconfig-pgsql | ..." dependency with MySQL tooling.
  [ -x "$glewlwyd" ] || wanted+=(glewlwyd dbconfig-sqlite3)
  local tool
  for tool in sqlite3 curl python3 flock; do
    command -v "$tool" >/dev/null || wanted+=("${tool/flock/util-linux}")
  done
  ((${#wanted[@]})) || return 0

  ((EUID == 0)) || fail "must be root to install: ${wanted[*]}"
  log "installing ${wanted[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # "No configuration": the postinst sets up no system database. (Choosing
  # dbconfig-no-thanks instead makes the 2.7.5 postinst fail.)
  echo 'glewlwyd glewlwyd/config_type select No configuration' | debconf-set-selections

  # The postinst would start a system glewlwyd on 4593; a policy-rc.d that
  # answers 101 ("action forbidden") stops that. Only ours is removed again.
  local own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=yes
  fi
  local status=0
  apt_install "${wanted[@]}" || status=$?
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  ((status == 0)) || fail "apt-get install ${wanted[*]} failed"
  [ -x "$glewlwyd" ] || fail "$glewlwyd is missing after installation"
  # The postinst also enabled the system glewlwyd at boot: the tests start their own.
  bash "$(dirname "${BASH_SOURCE[0]}")/../disable-boot-services.sh" glewlwyd.service
}

# --- process checks -----------------------------------------------------------

# While glewlwyd exits, its main thread is a zombie but worker threads still
# hold the port, so "alive" means: some thread is not a zombie.
alive() {
  grep -hs '^State:' /proc/"$1"/task/*/status | grep -qv 'Z (zombie)'
}

# The PID file is trusted only if the PID is still a glewlwyd started with this
# state dir's config; PIDs get reused. " (deleted)" covers a package upgrade
# while the server runs.
is_ours() {
  local pid="$1" exe
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  [ "$exe" = "$glewlwyd" ] || [ "$exe" = "$glewlwyd (deleted)" ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--config-file=$conf"
}

running_pid() {
  local pid
  pid="$(cat "$pid_file" 2>/dev/null)" || return 1
  is_ours "$pid" && echo "$pid"
}

port_in_use() { (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# --- a fresh server -----------------------------------------------------------

create_database() {
  [ -s "$schema" ] || fail "the glewlwyd package has no SQLite schema at $schema"
  rm -f "$db"
  # The schema also creates the administrator admin/password used below.
  sqlite3 "$db" <"$schema" >/dev/null
}

write_config() {
  # use_secure_connection is left out on purpose: even "=false" makes 2.7.5
  # look for certificates and exit. Without it glewlwyd speaks plain HTTP.
  cat >"$conf" <<EOF
port=$port
bind_address="127.0.0.1"
external_url="$base_url/"
api_prefix="api"
login_url="login.html"
allow_origin="*"
log_mode="file"
log_file="$state_dir/glewlwyd.log"
log_level="$log_level"
cookie_secure=0
session_key="GLEWLWYD2_SESSION_ID"
session_expiration=3600
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
admin_scope="g_admin"
profile_scope="g_profile"
hash_algorithm="SHA512"
user_module_path="/usr/lib/glewlwyd/user"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
database = {
  type = "sqlite3"
  path = "$db"
};
EOF
}

ensure_signing_key() {
  local key_file="$state_dir/jwt-key"
  [ -s "$key_file" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$key_file"
  chmod 0600 "$key_file"
}

launch() {
  # setsid: the server gets its own session and survives this script and the
  # terminal's signals. Its own output only matters when startup fails.
  # 9>&-: an inherited lock descriptor would hold the state dir's lock for as
  # long as the server runs, and the next start.sh or stop.sh would hang.
  setsid "$glewlwyd" --config-file="$conf" \
    >"$state_dir/glewlwyd.out" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" >"$pid_file"

  local deadline=$((SECONDS + start_timeout))
  until curl -fs -o /dev/null -m 2 "$base_url/config"; do
    if ! alive "$pid"; then
      rm -f "$pid_file"
      log "glewlwyd exited during startup:"
      tail -n 20 "$state_dir/glewlwyd.out" "$state_dir/glewlwyd.log" >&2 2>/dev/null || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      kill "$pid" 2>/dev/null || true
      rm -f "$pid_file"
      fail "no answer from $base_url within ${start_timeout}s"
    fi
    sleep 0.1
  done
  log "glewlwyd $pid listening on $base_url"
}

start_fresh() {
  port_in_use && fail "127.0.0.1:$port is already used by another process"
  rm -f "$pid_file"
  create_database
  write_config
  ensure_signing_key
  launch
}

# --- seeding through the admin REST API ---------------------------------------

seed() {
  UPSTREAM_BASE_URL="$base_url" UPSTREAM_JWT_KEY="$(cat "$state_dir/jwt-key")" \
    SEED_CLIENT_ID="$client_id" SEED_CLIENT_SECRET="$client_secret" \
    SEED_USER="$main_user" SEED_PASSWORD="$main_password" \
    SEED_EXTRA_USERS="$extra_users" SEED_SCOPE="$scope" SEED_REFRESH_ONE_USE="$refresh_one_use" \
    python3 - <<'PY' || fail "seeding failed (see $state_dir/glewlwyd.log)"
"""Create or update scopes, users, the client and both OAuth2 plugins."""

import http.cookiejar
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

env = os.environ
api = env["UPSTREAM_BASE_URL"] + "/api"
opener = urllib.request.build_opener(
    urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
)


def send(method, path, payload=None):
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(api + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def put_or_post(collection, name, payload):
    # Re-runs update in place, so start.sh can be called on a running server.
    item = f"{collection}/{urllib.parse.quote(name, safe='')}"
    exists = send("GET", item) == 200
    status = send("PUT", item, payload) if exists else send("POST", collection + "/", payload)
    if status != 200:
        # Names only: payloads hold passwords and secrets.
        sys.exit(f"{'PUT' if exists else 'POST'} {collection} {name!r}: HTTP {status}")
    # A running plugin keeps its old parameters until it is reset.
    if exists and collection == "/mod/plugin" and send("PUT", item + "/reset") != 200:
        sys.exit(f"reset of plugin {name!r} failed")


def resource_owners():
    owners = [(env["SEED_USER"], env["SEED_PASSWORD"])]
    for number, line in enumerate(env["SEED_EXTRA_USERS"].splitlines(), start=1):
        if not line.strip():
            continue
        username, colon, password = line.partition(":")
        if not (colon and username and password):
            sys.exit(f"UPSTREAM_EXTRA_USERS line {number}: expected user:password")
        owners.append((username, password))
    return owners


def plugin_parameters(scopes):
    shared = {
        "jwt-type": "sha",
        "jwt-key-size": "256",
        "key": env["UPSTREAM_JWT_KEY"],
        "access-token-duration": 3600,
        "refresh-token-duration": 14 * 24 * 3600,
        "refresh-token-rolling": True,
        "code-duration": 600,
        "auth-type-password-enabled": True,
        "auth-type-refresh-enabled": True,
        "auth-type-code-enabled": False,
        "auth-type-implicit-enabled": False,
        "auth-type-client-enabled": False,
        "scope": [],
    }
    oidc = {
        **shared,
        "iss": env["UPSTREAM_BASE_URL"],
        "refresh-token-one-use": env["SEED_REFRESH_ONE_USE"],
        # Without this the OpenID Connect plugin refuses the password grant.
        "allow-non-oidc": True,
        "allowed-scope": ["openid", *scopes],
        "auth-type-token-enabled": False,
        "auth-type-id-token-enabled": False,
        "auth-type-none-enabled": False,
        "auth-type-device-enabled": False,
        "additional-parameters": [],
        "claims": [],
    }
    return oidc, shared


def main():
    if send("POST", "/auth/", {"username": "admin", "password": "password"}) != 200:
        sys.exit("login as the schema's default admin/password failed")

    scopes = env["SEED_SCOPE"].split()
    for name in scopes:
        put_or_post("/scope", name, {
            "name": name, "display_name": name, "description": "oauthgw tests",
            "password_required": False, "password_max_age": 0, "scheme": {},
        })

    for username, password in resource_owners():
        put_or_post("/user", username, {
            "username": username, "name": username, "email": "",
            "password": password, "scope": scopes, "enabled": True,
        })

    client_id = env["SEED_CLIENT_ID"]
    put_or_post("/client", client_id, {
        "client_id": client_id, "name": client_id, "description": "oauthgw",
        "client_secret": env["SEED_CLIENT_SECRET"], "confidential": True,
        "enabled": True, "scope": scopes, "redirect_uri": [],
        "authorization_type": ["password", "refresh_token"],
        # A confidential client without this makes the oidc plugin answer 500.
        "token_endpoint_auth_method": ["client_secret_basic", "client_secret_post"],
    })

    oidc, legacy = plugin_parameters(scopes)
    put_or_post("/mod/plugin", "oidc", {
        "module": "oidc", "name": "oidc", "display_name": "OpenID Connect",
        "order_rank": 0, "parameters": oidc,
    })
    put_or_post("/mod/plugin", "glwd", {
        "module": "oauth2-glewlwyd", "name": "glwd", "display_name": "Legacy OAuth2",
        "order_rank": 1, "parameters": legacy,
    })


main()
PY
}

# --- self-check ---------------------------------------------------------------

# Ask for a token the way the gateway will: Basic client auth, form-encoded body.
token_status() {
  curl -s -o /dev/null -m 10 -w '%{http_code}' "$base_url/api/oidc/token" \
    -u "$client_id:$client_secret" \
    --data-urlencode grant_type=password \
    --data-urlencode "username=$1" \
    --data-urlencode "password=$2" \
    --data-urlencode "scope=$scope" || true
}

check_owners() {
  local line username password status
  while IFS= read -r line; do
    [ -n "${line//[[:space:]]/}" ] || continue
    username="${line%%:*}"
    password="${line#*:}"
    status="$(token_status "$username" "$password")"
    [ "$status" = 200 ] || fail "self-check: token request for user '$username' got HTTP $status"
  done <<<"$main_user:$main_password"$'\n'"$extra_users"
}

# --- main ---------------------------------------------------------------------

# A server this run started but could not seed or check is of no use to the
# caller, who would only get "failed" and a process to hunt down.
started_pid=""
stop_if_half_started() {
  local status=$?
  if ((status != 0)) && [ -n "$started_pid" ] && alive "$started_pid"; then
    log "stopping glewlwyd $started_pid, which this run started"
    kill -TERM "$started_pid" 2>/dev/null || true
    rm -f "$pid_file"
  fi
}
trap stop_if_half_started EXIT

main() {
  ensure_packages
  # Install only (CI's dependency step): nothing to start.
  [ "${UPSTREAM_INSTALL_ONLY:-0}" = 1 ] && return 0
  mkdir -p "$state_dir"
  chmod 0700 "$state_dir"
  # One start or stop at a time per state dir.
  exec 9>>"$state_dir/glewlwyd.lock"
  flock 9

  local pid
  if pid="$(running_pid)"; then
    log "keeping glewlwyd $pid already running for $state_dir"
  else
    start_fresh
    pid="$(cat "$pid_file")"
    started_pid="$pid"
  fi
  seed
  check_owners

  started_pid=""
  echo "TOKEN_ENDPOINT=$base_url/api/oidc/token"
  echo "LEGACY_TOKEN_ENDPOINT=$base_url/api/glwd/token"
  echo "PID=$pid"
  echo "STATE_DIR=$state_dir"
}

main
