#!/usr/bin/env bash
# down.sh: stop what scripts/up.sh started: the Enlace server and the CA role
# (if running) and the private MariaDB in var/mysql. Data stays in var/. Safe
# to run again.
set -euo pipefail

ENLACE_SCRIPT_NAME=down.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<EOF
Usage: scripts/down.sh [--help]

Stops the Enlace server and the CA role started by scripts/up.sh (SIGTERM,
SIGKILL after 10 s) and the private MariaDB in var/mysql. The data in var/ is
kept (rm -rf var/ to start from scratch). Does nothing for what is not running.
EOF
}

while (($# > 0)); do
  case "$1" in
    --help | -h)
      usage
      exit 0
      ;;
    *)
      usage >&2
      die "unknown argument: $1"
      ;;
  esac
done

cd "${ENLACE_ROOT}"
SERVER_PID_FILE="${ENLACE_ROOT}/var/run/enlace-server.pid"
READY_FILE="${ENLACE_ROOT}/var/run/enlace-server.ready"
CA_PID_FILE="${ENLACE_ROOT}/var/run/enlace-ca.pid"
CA_READY_FILE="${ENLACE_ROOT}/var/run/enlace-ca.ready"
DB_DIR="${ENLACE_ROOT}/var/mysql"

# stop_server NAME PID_FILE READY_FILE: stops the enlace-server of PID_FILE,
# if it runs, and removes both files.
stop_server() {
  local name="$1" pid_file="$2" ready_file="$3" pid
  pid="$(read_pid_file "${pid_file}")"
  if [[ -n "${pid}" ]] && pid_alive "${pid}" enlace-server; then
    stop_pid "${pid}" "${name}" 10
  else
    log "${name} is not running"
  fi
  rm -f "${pid_file}" "${ready_file}"
}

stop_server "the server" "${SERVER_PID_FILE}" "${READY_FILE}"
stop_server "the CA role" "${CA_PID_FILE}" "${CA_READY_FILE}"

if mariadb_running "${DB_DIR}"; then
  mariadb_stop "${DB_DIR}"
else
  log "MariaDB (var/mysql) is not running"
  rm -f "${DB_DIR}/mysql.pid"
fi
log "down"
