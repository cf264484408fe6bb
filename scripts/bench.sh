#!/usr/bin/env bash
# bench.sh: run a load benchmark against a throw-away Enlace: its own
# MariaDB (temporary directory, free port), its own PKI and a server on free
# ports, all stopped and removed on exit. The load comes from
# build/clients/enlace-loadgen.
#
set -euo pipefail

ENLACE_SCRIPT_NAME=bench.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<EOF
Usage: scripts/bench.sh [--help] SCENARIO [options]

Scenarios:
  ingest [--streams S] [--records N] [--unary-records N]
            the streaming ingest rate (default 4 streams, 50,000 records)
            against one-record-per-call ingest (default 2,000 records)
            measured in the same run, then a full resend; checks that the
            table holds exactly one row per record

Installs missing Debian packages, builds (build/), starts a private MariaDB
(durable: innodb-flush-log-at-trx-commit=1), a dev PKI and the server on free
ports in a temporary directory, runs build/clients/enlace-loadgen against it,
then stops everything and removes the directory.

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
mariadb_start_on_free_port "${DB_DIR}" || die "the bench MariaDB did not start"

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

# The ingest scenario: the non-batched path (one RecordArrival per call,
# 16 in flight) as the baseline measured in this same run, then the
# streaming path, then the same records again (all ALREADY_RECORDED). The
# machine is shared and noisy: the ratio is the figure to compare.
loadgen() {
  "${ENLACE_LOADGEN_BIN}" "$1" \
    --addr "${TLS_ADDR}" \
    --ca "${PKI_DIR}/ca.crt" \
    --cert "${PKI_DIR}/mfa.crt" \
    --key "${PKI_DIR}/mfa.key" \
    "${@:2}" </dev/null
}

# rate_of "RESULT ... rate=N ..." -> N
rate_of() { sed -n 's/^RESULT .* rate=\([0-9]*\).*/\1/p' <<<"$1"; }

run_loadgen_ingest() {
  local streams=4 records=50000 unary_records=2000
  while (($# > 0)); do
    case "$1" in
      --streams) streams="$2"; shift 2 ;;
      --records) records="$2"; shift 2 ;;
      --unary-records) unary_records="$2"; shift 2 ;;
      *) die "ingest takes --streams S, --records N, --unary-records N; not: $1" ;;
    esac
  done
  local prefix="bench-$$" unary stream resend
  log "baseline: ${unary_records} RecordArrival calls, 16 in flight"
  unary="$(loadgen unary --records "${unary_records}" --concurrency 16 | tee /dev/stderr | grep '^RESULT')" ||
    die "the baseline run failed"
  log "streaming: ${records} records over ${streams} RecordArrivals streams"
  stream="$(loadgen ingest --streams "${streams}" --records "${records}" --prefix "${prefix}" |
    tee /dev/stderr | grep '^RESULT')" || die "the streaming run failed"
  log "resend: the same ${records} records"
  resend="$(loadgen ingest --streams "${streams}" --records "${records}" --prefix "${prefix}" --resend |
    tee /dev/stderr | grep '^RESULT')" || die "the resend run failed"
  local rows expected=$((records + unary_records))
  rows="$(mariadb --no-defaults -h127.0.0.1 -P"${DB_PORT}" -uroot -N -e \
    'SELECT COUNT(*) FROM enlace_bench.arrivals')"
  ((rows == expected)) || die "the arrivals table holds ${rows} rows, expected ${expected}"
  local unary_rate stream_rate resend_rate ratio
  unary_rate="$(rate_of "${unary}")"
  stream_rate="$(rate_of "${stream}")"
  resend_rate="$(rate_of "${resend}")"
  ratio="$(awk -v a="${stream_rate}" -v b="${unary_rate}" 'BEGIN { printf "%.1f", a / b }')"
  cat <<EOF

ingest over mTLS, durable commits (innodb_flush_log_at_trx_commit=1), audit on:
  one record per call (baseline)   ${unary_rate} records/s
  streaming, ${streams} streams          ${stream_rate} records/s   (${ratio}x the baseline)
  resend (all ALREADY_RECORDED)    ${resend_rate} records/s
  rows stored                      ${rows} (one per record: nothing duplicated)
EOF
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
