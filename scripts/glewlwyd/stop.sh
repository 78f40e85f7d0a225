#!/usr/bin/env bash
# Stop the Glewlwyd that start.sh launched for this state dir, and only that
# one: the PID comes from start.sh's PID file and is checked before any signal.
#
# Usage: scripts/glewlwyd/stop.sh [STATE_DIR]   (same defaults as start.sh)
# UPSTREAM_KEEP_STATE=1 keeps the config, database and logs for a post-mortem.
set -euo pipefail

port="${UPSTREAM_PORT:-4593}"
# Same normalisation as start.sh, so "08" finds the state dir of port 8.
[[ "$port" =~ ^[0-9]{1,5}$ ]] && port=$((10#$port))
state_dir="${1:-${UPSTREAM_STATE_DIR:-/tmp/glewlwyd-upstream-$port}}"

readonly glewlwyd=/usr/bin/glewlwyd
conf="$state_dir/glewlwyd.conf"
pid_file="$state_dir/glewlwyd.pid"
# Exactly the files start.sh creates: a state dir that also holds other files
# is never emptied wholesale.
state_files=(glewlwyd.conf glewlwyd.db glewlwyd.log glewlwyd.out jwt-key glewlwyd.pid glewlwyd.lock)

log() { echo "glewlwyd/stop.sh: $*" >&2; }

# Same checks as start.sh: some thread not a zombie, the glewlwyd binary, and
# this state dir's config on its command line (PIDs get reused).
alive() {
  grep -hs '^State:' /proc/"$1"/task/*/status | grep -qv 'Z (zombie)'
}

is_ours() {
  local pid="$1" exe
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  [ "$exe" = "$glewlwyd" ] || [ "$exe" = "$glewlwyd (deleted)" ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--config-file=$conf"
}

# SIGTERM, then SIGKILL if it has not let go after 10 s (usually 1-3 s).
terminate() {
  local pid="$1" tenths
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((tenths = 0; tenths < 100; tenths++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "glewlwyd $pid ignored SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((tenths = 0; tenths < 30; tenths++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "glewlwyd $pid is still alive"
  return 1
}

remove_state() {
  [ "${UPSTREAM_KEEP_STATE:-0}" = 1 ] && return 0
  local name
  for name in "${state_files[@]}"; do
    rm -f -- "${state_dir:?}/$name"
  done
  # Only an emptied directory goes; anything else in it is not ours.
  rmdir -- "$state_dir" 2>/dev/null || true
}

main() {
  if [ ! -d "$state_dir" ]; then
    log "nothing to stop: no $state_dir"
    return 0
  fi
  # Wait for a start.sh that is still seeding this state dir.
  exec 9>>"$state_dir/glewlwyd.lock"
  flock 9

  local pid
  pid="$(cat "$pid_file" 2>/dev/null || true)"
  if [ -z "$pid" ]; then
    log "nothing running for $state_dir"
  elif is_ours "$pid"; then
    terminate "$pid" || exit 1
    log "stopped glewlwyd $pid"
  else
    log "PID $pid is no longer this state dir's glewlwyd; not signalling it"
  fi
  rm -f -- "$pid_file"
  remove_state
}

main
