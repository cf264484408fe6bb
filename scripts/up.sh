#!/usr/bin/env bash
# up.sh: build Enlace and run it on this machine for development: a private
# MariaDB in var/mysql, a dev PKI in var/pki, and the server with the shipped
# policy. Data is kept between runs; scripts/down.sh stops everything.
set -euo pipefail

ENLACE_SCRIPT_NAME=up.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<EOF
Usage: scripts/up.sh [--detach] [--help]

Installs missing Debian packages, builds (build/), starts a private MariaDB
(data in var/mysql, port \$ENLACE_DB_PORT, default 3307), creates the dev PKI
in var/pki (existing files are kept) and runs the Enlace server.

  (default)   run the server in the foreground; Ctrl-C stops the server.
              MariaDB keeps running: scripts/down.sh stops it.
  --detach    run the server in the background (log: var/log/enlace-server.log,
              pid: var/run/enlace-server.pid) and return once it is SERVING.
  --help      show this help.

Environment:
  ENLACE_DB_PORT        MariaDB TCP port (default 3307)
  ENLACE_TLS_ADDR       mTLS gRPC address (default 127.0.0.1:7443)
  ENLACE_HEALTH_ADDR    plaintext health address (default 127.0.0.1:7444)
  ENLACE_METRICS_ADDR   Prometheus metrics address (default 127.0.0.1:7445)
  ENLACE_POLICY         policy file (default server/default_policy.conf)
  ENLACE_NO_INSTALL=1   fail instead of installing missing packages
  ENLACE_BUILD_JOBS     build parallelism (default 2)

Running it again keeps the data; if the server is already running it says
so and exits 0.
EOF
}

detach=0
while (($# > 0)); do
  case "$1" in
    --detach | -d) detach=1 ;;
    --help | -h)
      usage
      exit 0
      ;;
    *)
      usage >&2
      die "unknown argument: $1"
      ;;
  esac
  shift
done

cd "${ENLACE_ROOT}"
VAR_DIR="${ENLACE_ROOT}/var"
DB_DIR="${VAR_DIR}/mysql"
PKI_DIR="${VAR_DIR}/pki"
LOG_DIR="${VAR_DIR}/log"
RUN_DIR="${VAR_DIR}/run"
SERVER_LOG="${LOG_DIR}/enlace-server.log"
SERVER_PID_FILE="${RUN_DIR}/enlace-server.pid"
READY_FILE="${RUN_DIR}/enlace-server.ready"
DB_PORT="${ENLACE_DB_PORT:-3307}"
TLS_ADDR="${ENLACE_TLS_ADDR:-127.0.0.1:7443}"
HEALTH_ADDR="${ENLACE_HEALTH_ADDR:-127.0.0.1:7444}"
METRICS_ADDR="${ENLACE_METRICS_ADDR:-127.0.0.1:7445}"
POLICY="${ENLACE_POLICY:-${ENLACE_DEFAULT_POLICY}}"

# The "how to call it" summary goes to stdout; progress messages to stderr.
print_how_to_call() {
  cat <<EOF

${ENLACE_SCRIPT_NAME}: Enlace is up.
  gRPC (mTLS)   ${TLS_ADDR}
  health        ${HEALTH_ADDR}   (plaintext, grpc.health.v1.Health)
  metrics       http://${METRICS_ADDR}/metrics
  database      mysql://root@127.0.0.1:${DB_PORT}/enlace   (mariadb -h127.0.0.1 -P${DB_PORT} -uroot enlace)
  CA            ${PKI_DIR}/ca.crt
  client certs  ${PKI_DIR}/{mfa,iom,unhcr,undp,admin}.crt with the matching .key
  server log    $([[ ${detach} == 1 ]] && echo "${SERVER_LOG}" || echo "this terminal")
  stop          scripts/down.sh   (server and MariaDB)

  e.g. ${ENLACE_CTL_BIN#"${ENLACE_ROOT}/"} --help
EOF
}

# A server already running (detached, or in the foreground of another
# terminal: the foreground mode writes its pid file too)?
server_pid="$(read_pid_file "${SERVER_PID_FILE}")"
if [[ -n "${server_pid}" ]] && pid_alive "${server_pid}" enlace-server; then
  log "the server is already running (pid ${server_pid}); scripts/down.sh stops it"
  running_db_port="$(mariadb_port "${DB_DIR}")"
  DB_PORT="${running_db_port:-${DB_PORT}}"
  print_how_to_call
  exit 0
fi

ensure_packages all
ensure_built
require_file "${ENLACE_SERVER_BIN}" "server binary not built: ${ENLACE_SERVER_BIN}"
require_file "${ENLACE_CTL_BIN}" "CLI binary not built: ${ENLACE_CTL_BIN}"
require_file "${POLICY}" "policy file not found: ${POLICY}"

mkdir -p "${VAR_DIR}" "${LOG_DIR}" "${RUN_DIR}"
mariadb_init "${DB_DIR}"
mariadb_start "${DB_DIR}" "${DB_PORT}" ||
  die "MariaDB did not start (is port ${DB_PORT} in use? set ENLACE_DB_PORT)"
# If it was already running, it may be on another port than asked for.
running_db_port="$(mariadb_port "${DB_DIR}")"
DB_PORT="${running_db_port:-${DB_PORT}}"

log "creating the dev PKI in ${PKI_DIR} (existing files are kept)"
"${ENLACE_CTL_BIN}" pki init --dir "${PKI_DIR}" </dev/null || die "enlacectl pki init failed"

# The key that signs page and resume tokens (server/token_keys.h): made once,
# kept like the PKI, so watchers' resume tokens survive a restart.
TOKEN_KEYS="${VAR_DIR}/token_keys"
if [[ ! -f "${TOKEN_KEYS}" ]]; then
  log "creating the token signing key ${TOKEN_KEYS}"
  (
    umask 077
    printf '# Enlace token keys: the first signs, every one verifies (server/token_keys.h)\nk1 %s\n' \
      "$(head -c 32 /dev/urandom | base64)" >"${TOKEN_KEYS}"
  )
fi

server_args=(
  --tls_addr="${TLS_ADDR}"
  --health_addr="${HEALTH_ADDR}"
  --metrics_addr="${METRICS_ADDR}"
  --db_dsn="mysql://root@127.0.0.1:${DB_PORT}/enlace"
  --ca_cert="${PKI_DIR}/ca.crt"
  --ca_key="${PKI_DIR}/ca.key"
  --crl_dir="${PKI_DIR}/crl"
  --server_cert="${PKI_DIR}/server.crt"
  --server_key="${PKI_DIR}/server.key"
  --policy="${POLICY}"
  --token_keys="${TOKEN_KEYS}"
  --ready_file="${READY_FILE}"
)
rm -f "${READY_FILE}"

if ((detach == 0)); then
  print_how_to_call
  log "running the server in the foreground; Ctrl-C stops it."
  log "MariaDB keeps running after that; scripts/down.sh stops it."
  # exec keeps this pid: down.sh and a second up.sh find the server by it.
  echo "$$" >"${SERVER_PID_FILE}"
  exec "${ENLACE_SERVER_BIN}" "${server_args[@]}"
fi

log "starting the server in the background (log: ${SERVER_LOG})"
{
  echo "=== $(date -u '+%Y-%m-%dT%H:%M:%SZ') up.sh --detach"
} >>"${SERVER_LOG}"
# setsid: own session, immune to this terminal's Ctrl-C and hang-up. Neither
# nohup nor setsid forks here, so $! is the server's pid.
nohup setsid "${ENLACE_SERVER_BIN}" "${server_args[@]}" </dev/null >>"${SERVER_LOG}" 2>&1 &
server_pid=$!
echo "${server_pid}" >"${SERVER_PID_FILE}"

if ! wait_serving "${HEALTH_ADDR}" "${server_pid}" "${SERVER_LOG}" 60; then
  stop_pid "${server_pid}" enlace-server 10
  rm -f "${SERVER_PID_FILE}"
  die "the server did not become SERVING (MariaDB is still running; scripts/down.sh stops it)"
fi
print_how_to_call
