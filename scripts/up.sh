#!/usr/bin/env bash
# up.sh: build Enlace and run it on this machine for development: a private
# MariaDB in var/mysql (root over its socket only; the migration and server
# users with generated passwords in var/db), a dev PKI in var/pki, the schema
# migrated by `enlace-server --migrate`, the CA role (the only process with
# the CA key) and the serving server with the shipped policy. Data is kept
# between runs; scripts/down.sh stops everything.
set -euo pipefail

ENLACE_SCRIPT_NAME=up.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<EOF
Usage: scripts/up.sh [--detach] [--help]

Installs missing Debian packages, builds (build/), starts a private MariaDB
(data in var/mysql, port \$ENLACE_DB_PORT, default 3307), creates the dev PKI
in var/pki (existing files are kept) and runs Enlace as in production, least
privilege first:
  - MariaDB's root logs in only over its socket (var/mysql, mode 0700); the
    migration user enlace_migrate and the server's user enlace_server get
    generated passwords, kept in var/db/*.password (mode 0600);
  - enlace-server --migrate applies the migrations as enlace_migrate and
    grants enlace_server what db/grants.h says (INSERT and SELECT only on the
    audit log);
  - the CA role (enlace-server --role=ca, on \$ENLACE_CA_TLS_ADDR), the only
    process given the CA key: it issues certificates and publishes CRLs
    (background; log var/log/enlace-ca.log, pid var/run/enlace-ca.pid);
  - the serving server, as enlace_server, without the CA key.

  (default)   run the serving server in the foreground; Ctrl-C stops it.
              MariaDB and the CA role keep running: scripts/down.sh stops them.
  --detach    run the server in the background (log: var/log/enlace-server.log,
              pid: var/run/enlace-server.pid) and return once it is SERVING.
  --help      show this help.

Environment:
  ENLACE_DB_PORT        MariaDB TCP port (default 3307)
  ENLACE_TLS_ADDR       mTLS gRPC address (default 127.0.0.1:7443)
  ENLACE_HEALTH_ADDR    plaintext health address (default 127.0.0.1:7444)
  ENLACE_METRICS_ADDR   Prometheus metrics address (default 127.0.0.1:7445)
  ENLACE_CA_TLS_ADDR    the CA role's mTLS address (default 127.0.0.1:7446)
  ENLACE_POLICY         policy file (default server/default_policy.conf)
  ENLACE_NO_INSTALL=1   fail instead of installing missing packages
  ENLACE_BUILD_JOBS     build parallelism (default 2)

Running it again keeps the data (and migrates, if the build has new
migrations); if the server is already running it says so and exits 0.
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
SECRETS_DIR="${VAR_DIR}/db"  # the database users' generated passwords (0700/0600)
SERVER_LOG="${LOG_DIR}/enlace-server.log"
SERVER_PID_FILE="${RUN_DIR}/enlace-server.pid"
READY_FILE="${RUN_DIR}/enlace-server.ready"
CA_LOG="${LOG_DIR}/enlace-ca.log"
CA_PID_FILE="${RUN_DIR}/enlace-ca.pid"
CA_READY_FILE="${RUN_DIR}/enlace-ca.ready"
MIGRATE_LOG="${LOG_DIR}/enlace-migrate.log"
DB_PORT="${ENLACE_DB_PORT:-3307}"
TLS_ADDR="${ENLACE_TLS_ADDR:-127.0.0.1:7443}"
HEALTH_ADDR="${ENLACE_HEALTH_ADDR:-127.0.0.1:7444}"
METRICS_ADDR="${ENLACE_METRICS_ADDR:-127.0.0.1:7445}"
CA_TLS_ADDR="${ENLACE_CA_TLS_ADDR:-127.0.0.1:7446}"
# How clients reach the CA role: the dev server certificate names localhost.
CA_CLIENT_ADDR="localhost:${CA_TLS_ADDR##*:}"
POLICY="${ENLACE_POLICY:-${ENLACE_DEFAULT_POLICY}}"

# The "how to call it" summary goes to stdout; progress messages to stderr.
print_how_to_call() {
  cat <<EOF

${ENLACE_SCRIPT_NAME}: Enlace is up.
  gRPC (mTLS)   ${TLS_ADDR}
  health        ${HEALTH_ADDR}   (plaintext, grpc.health.v1.Health)
  metrics       http://${METRICS_ADDR}/metrics
  CA role       ${CA_TLS_ADDR}   (certificate issuance: enlacectl certs issue --ca-addr ${CA_CLIENT_ADDR},
                or export ENLACE_CA_ADDR=${CA_CLIENT_ADDR}; log ${CA_LOG})
  database      mysql://enlace_server@127.0.0.1:${DB_PORT}/enlace   (the server's user; passwords
                in ${SECRETS_DIR}; root: mariadb --no-defaults --socket=${DB_DIR}/mysql.sock enlace)
  CA            ${PKI_DIR}/ca.crt
  client certs  ${PKI_DIR}/{mfa,iom,unhcr,undp,admin}.crt with the matching .key
  audit log key ${VAR_DIR}/audit_log.pub   (witnesses: enlacectl audit witness --help)
  server log    $([[ ${detach} == 1 ]] && echo "${SERVER_LOG}" || echo "this terminal")
  stop          scripts/down.sh   (server, CA role and MariaDB)

  e.g. ${ENLACE_CTL_BIN#"${ENLACE_ROOT}/"} --help
EOF
}

# A server already running (detached, or in the foreground of another
# terminal: the foreground mode writes its pid file too)?
server_pid="$(read_pid_file "${SERVER_PID_FILE}")"
if [[ -n "${server_pid}" ]] && pid_alive "${server_pid}" enlace-server; then
  log "the server is already running (pid ${server_pid}); scripts/down.sh stops it"
  ca_pid="$(read_pid_file "${CA_PID_FILE}")"
  if [[ -z "${ca_pid}" ]] || ! pid_alive "${ca_pid}" enlace-server; then
    warn "the CA role is not running: certificates cannot be issued (scripts/down.sh, then scripts/up.sh, starts both)"
  fi
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
# The migration user and the server's own user (passwords made once, kept).
mariadb_enlace_users "${DB_DIR}" enlace "${SECRETS_DIR}"
MIGRATE_DSN="mysql://enlace_migrate@127.0.0.1:${DB_PORT}/enlace"
SERVER_DSN="mysql://enlace_server@127.0.0.1:${DB_PORT}/enlace"

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

# The Ed25519 key that signs the audit log's checkpoints (docs/audit.md): made
# once and kept, so that witnesses can verify every checkpoint; its public
# half, var/audit_log.pub, is what agencies give `enlacectl audit witness`.
AUDIT_LOG_KEY="${VAR_DIR}/audit_log.key"
if [[ ! -f "${AUDIT_LOG_KEY}" ]]; then
  log "creating the audit log key ${AUDIT_LOG_KEY}"
  (umask 077 && openssl genpkey -algorithm ed25519 -out "${AUDIT_LOG_KEY}") ||
    die "openssl genpkey failed"
fi
chmod 0600 "${AUDIT_LOG_KEY}"
openssl pkey -in "${AUDIT_LOG_KEY}" -pubout -out "${VAR_DIR}/audit_log.pub" ||
  die "cannot write ${VAR_DIR}/audit_log.pub"

# Schema and grants, as the migration user; the servers never migrate. Its
# password goes to this command only, through the environment.
log "migrating the schema and granting enlace_server (log: ${MIGRATE_LOG})"
if ! ENLACE_MIGRATE_PASSWORD="$(mariadb_password "${SECRETS_DIR}/migrate.password")" \
  "${ENLACE_SERVER_BIN}" --migrate --migrate_dsn="${MIGRATE_DSN}" --db_dsn="${SERVER_DSN}" \
  </dev/null >"${MIGRATE_LOG}" 2>&1; then
  tail -n 20 "${MIGRATE_LOG}" >&2 || true
  die "enlace-server --migrate failed (log: ${MIGRATE_LOG})"
fi
# The servers' database password: in their environment, never on a command line.
SERVER_DB_PASSWORD="$(mariadb_password "${SECRETS_DIR}/server.password")"

# What both roles share: the server's database user, the TLS files, the
# policy, the CRL directory (the CA role publishes there, the serving
# server's TLS layer reads it).
common_args=(
  --db_dsn="${SERVER_DSN}"
  --ca_cert="${PKI_DIR}/ca.crt"
  --crl_dir="${PKI_DIR}/crl"
  --server_cert="${PKI_DIR}/server.crt"
  --server_key="${PKI_DIR}/server.key"
  --policy="${POLICY}"
  --token_keys="${TOKEN_KEYS}"
)

# The CA role: the only process given the CA key; always in the background.
ca_pid="$(read_pid_file "${CA_PID_FILE}")"
if [[ -n "${ca_pid}" ]] && pid_alive "${ca_pid}" enlace-server; then
  log "the CA role is already running (pid ${ca_pid})"
else
  log "starting the CA role on ${CA_TLS_ADDR} (log: ${CA_LOG})"
  rm -f "${CA_READY_FILE}"
  echo "=== $(date -u '+%Y-%m-%dT%H:%M:%SZ') up.sh" >>"${CA_LOG}"
  ENLACE_DB_PASSWORD="${SERVER_DB_PASSWORD}" nohup setsid "${ENLACE_SERVER_BIN}" --role=ca \
    --ca_key="${PKI_DIR}/ca.key" --tls_addr="${CA_TLS_ADDR}" --health_addr= --metrics_addr= \
    --ready_file="${CA_READY_FILE}" "${common_args[@]}" </dev/null >>"${CA_LOG}" 2>&1 &
  ca_pid=$!
  echo "${ca_pid}" >"${CA_PID_FILE}"
  if ! wait_ready_file "${CA_READY_FILE}" "${ca_pid}" "${CA_LOG}" 60; then
    stop_pid "${ca_pid}" "the CA role" 10
    rm -f "${CA_PID_FILE}"
    die "the CA role did not become SERVING (is ${CA_TLS_ADDR} in use? set ENLACE_CA_TLS_ADDR; MariaDB is still running: scripts/down.sh stops it)"
  fi
fi

server_args=(
  --tls_addr="${TLS_ADDR}"
  --health_addr="${HEALTH_ADDR}"
  --metrics_addr="${METRICS_ADDR}"
  --ca_role_addr="${CA_CLIENT_ADDR}"
  --audit_log_key="${AUDIT_LOG_KEY}"
  "${common_args[@]}"
  --ready_file="${READY_FILE}"
)
rm -f "${READY_FILE}"

if ((detach == 0)); then
  print_how_to_call
  log "running the server in the foreground; Ctrl-C stops it."
  log "MariaDB and the CA role keep running after that; scripts/down.sh stops them."
  # exec keeps this pid: down.sh and a second up.sh find the server by it.
  echo "$$" >"${SERVER_PID_FILE}"
  export ENLACE_DB_PASSWORD="${SERVER_DB_PASSWORD}"
  exec "${ENLACE_SERVER_BIN}" "${server_args[@]}"
fi

log "starting the server in the background (log: ${SERVER_LOG})"
{
  echo "=== $(date -u '+%Y-%m-%dT%H:%M:%SZ') up.sh --detach"
} >>"${SERVER_LOG}"
# setsid: own session, immune to this terminal's Ctrl-C and hang-up. Neither
# nohup nor setsid forks here, so $! is the server's pid.
ENLACE_DB_PASSWORD="${SERVER_DB_PASSWORD}" nohup setsid "${ENLACE_SERVER_BIN}" "${server_args[@]}" \
  </dev/null >>"${SERVER_LOG}" 2>&1 &
server_pid=$!
echo "${server_pid}" >"${SERVER_PID_FILE}"

if ! wait_serving "${HEALTH_ADDR}" "${server_pid}" "${SERVER_LOG}" 60; then
  stop_pid "${server_pid}" enlace-server 10
  rm -f "${SERVER_PID_FILE}"
  die "the server did not become SERVING (MariaDB and the CA role are still running; scripts/down.sh stops them)"
fi
print_how_to_call
