#!/usr/bin/env bash
# bench.sh: run a load benchmark against a throw-away Enlace: its own
# MariaDB (temporary directory, free port), its own PKI and a server on free
# ports, all stopped and removed on exit. The load comes from
# build/clients/enlace-loadgen.
#
# SKELETON: the scenario is run_loadgen_ingest below, marked TODO(lead);
# everything around it (build, database, PKI, server, cleanup) is done.
set -euo pipefail

ENLACE_SCRIPT_NAME=bench.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<EOF
Usage: scripts/bench.sh [--help] SCENARIO [loadgen args...]

Scenarios:
  ingest    submit arrival records as fast as the server takes them

Installs missing Debian packages, builds (build/), starts a private MariaDB
(durable: innodb-flush-log-at-trx-commit=1), a dev PKI and the server on free
ports in a temporary directory, runs build/clients/enlace-loadgen against it,
then stops everything and removes the directory. Extra arguments go to the
load generator.

Environment:
  ENLACE_NO_INSTALL=1   fail instead of installing missing packages
  ENLACE_BUILD_JOBS     build parallelism (default 2)
  ENLACE_KEEP_TMP=1     keep the temporary directory (server log, error log)
EOF
}

scenario=""
case "${1:-}" in
  --help | -h)
    usage
    exit 0
    ;;
  "")
    usage >&2
    die "no scenario given"
    ;;
  ingest)
    scenario="$1"
    shift
    ;;
  *)
    usage >&2
    die "unknown scenario: $1"
    ;;
esac

cd "${ENLACE_ROOT}"
ensure_packages all
ensure_built
require_file "${ENLACE_SERVER_BIN}" "server binary not built: ${ENLACE_SERVER_BIN}"
require_file "${ENLACE_CTL_BIN}" "CLI binary not built: ${ENLACE_CTL_BIN}"
require_file "${ENLACE_LOADGEN_BIN}" "load generator not built: ${ENLACE_LOADGEN_BIN}"
require_file "${ENLACE_DEFAULT_POLICY}" "policy file not found: ${ENLACE_DEFAULT_POLICY}"

TMP_DIR=""
SERVER_PID=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "${SERVER_PID}" ]]; then
    stop_pid "${SERVER_PID}" "the server" 10 || true
  fi
  if [[ -n "${TMP_DIR}" ]]; then
    mariadb_stop "${TMP_DIR}/mysql" || warn "could not stop the bench MariaDB"
    if [[ "${ENLACE_KEEP_TMP:-0}" == 1 ]]; then
      log "keeping ${TMP_DIR} (ENLACE_KEEP_TMP=1)"
    else
      rm -rf "${TMP_DIR}"
    fi
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/enlace-bench.XXXXXX")"
DB_DIR="${TMP_DIR}/mysql"
PKI_DIR="${TMP_DIR}/pki"
SERVER_LOG="${TMP_DIR}/enlace-server.log"

mariadb_init "${DB_DIR}"
started=0
for _ in 1 2 3; do
  DB_PORT="$(free_port)"
  if mariadb_start "${DB_DIR}" "${DB_PORT}"; then
    started=1
    break
  fi
done
((started)) || die "the bench MariaDB did not start"

"${ENLACE_CTL_BIN}" pki init --dir "${PKI_DIR}" </dev/null >/dev/null || die "enlacectl pki init failed"

# Three distinct free ports; a race with another process shows up as a
# server that does not become SERVING.
TLS_ADDR="127.0.0.1:$(free_port)"
HEALTH_ADDR="127.0.0.1:$(free_port)"
METRICS_ADDR="127.0.0.1:$(free_port)"
while [[ "${HEALTH_ADDR}" == "${TLS_ADDR}" ]]; do HEALTH_ADDR="127.0.0.1:$(free_port)"; done
while [[ "${METRICS_ADDR}" == "${TLS_ADDR}" || "${METRICS_ADDR}" == "${HEALTH_ADDR}" ]]; do
  METRICS_ADDR="127.0.0.1:$(free_port)"
done

log "starting the server on ${TLS_ADDR} (log: ${SERVER_LOG})"
setsid "${ENLACE_SERVER_BIN}" \
  --tls_addr="${TLS_ADDR}" \
  --health_addr="${HEALTH_ADDR}" \
  --metrics_addr="${METRICS_ADDR}" \
  --db_dsn="mysql://root@127.0.0.1:${DB_PORT}/enlace_bench" \
  --ca_cert="${PKI_DIR}/ca.crt" \
  --server_cert="${PKI_DIR}/server.crt" \
  --server_key="${PKI_DIR}/server.key" \
  --policy="${ENLACE_DEFAULT_POLICY}" \
  --ready_file="${TMP_DIR}/enlace-server.ready" \
  </dev/null >>"${SERVER_LOG}" 2>&1 &
SERVER_PID=$!
wait_serving "${HEALTH_ADDR}" "${SERVER_PID}" "${SERVER_LOG}" 60 ||
  die "the server did not become SERVING"

# ---------------------------------------------------------------------------
# TODO(lead): the scenario itself. This runs the loadgen with the flags its
# --help documents (ingest, mfa's certificate) and whatever the caller adds,
# e.g. `scripts/bench.sh ingest --streams 4 --records 20000`. Decide the
# default streams/records, and whether to keep the RESULT line somewhere.
# Available here: TLS_ADDR, HEALTH_ADDR, METRICS_ADDR, PKI_DIR (ca.crt and
# mfa/iom/unhcr/undp/admin .crt/.key), DB_PORT, SERVER_LOG, TMP_DIR.
# ---------------------------------------------------------------------------
run_loadgen_ingest() {
  "${ENLACE_LOADGEN_BIN}" ingest \
    --addr "${TLS_ADDR}" \
    --ca "${PKI_DIR}/ca.crt" \
    --cert "${PKI_DIR}/mfa.crt" \
    --key "${PKI_DIR}/mfa.key" \
    "$@" </dev/null
}

log "running scenario ${scenario}"
status=0
case "${scenario}" in
  ingest) run_loadgen_ingest "$@" || status=$? ;;
esac
if ((status != 0)); then
  log "load generator failed (exit ${status}); server log: ${SERVER_LOG}"
  [[ "${ENLACE_KEEP_TMP:-0}" == 1 ]] || tail -n 40 "${SERVER_LOG}" >&2 || true
fi
exit "${status}"
