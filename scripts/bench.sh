#!/usr/bin/env bash
# bench.sh: the benchmark harness: each scenario runs Enlace as in
# production (mTLS, the shipped policy, every call audited, durable
# MariaDB) on this machine and measures it, mostly against a baseline
# measured in the same run. Its own MariaDB (a throw-away one in a temporary
# directory, or the bench database kept in var/bench/ for the scenarios
# over filled arrivals), its own PKI and servers on free ports, all stopped
# on exit. The load comes from build/clients/enlace-loadgen; the figures go
# to bench-results.json and bench-results.md. `bench.sh --help` for the
# scenarios.
#
set -euo pipefail

ENLACE_SCRIPT_NAME=bench.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<'EOF'
Usage: scripts/bench.sh [--help] SCENARIO [options]

Scenarios over filled arrivals (the bench database in var/bench/, kept between runs):
  fill N    loads the bench database up to N synthetic arrivals (2000, 1e6,
            2.5e5...): consents naming iom (80%), unhcr (45%) and undp (25%),
            cases for 30% (iom, unhcr) with services, referrals and
            initiatives (clients/bench/synthetic.h), by LOAD DATA in chunks of
            250,000, bypassing the server (so the audit log does not name
            them); then enlace-server --recount_reports rebuilds the report
            counts. Incremental: fill 1e5 then fill 1e6 adds 900,000. Here
            (LOAD DATA only): 37,000 arrivals/s to 10^5, 30,000-33,000 from
            10^5 to 10^6, 23,000-32,000 from 10^6 to 10^7 (the machine is
            shared); the recount adds 1 s at 10^5, 6 s at 10^6 and 100 s at
            10^7: 10^6 in 30 s, 10^7 in 6 to 8 minutes.
            Keys (when it added rows): fill_arrivals fill_added fill_seconds
            fill_load_seconds fill_recount_seconds fill_rate_arrivals_per_s.
  get [--arrivals N] [--runs R] [--duration S] [--as AGENCY] [--in-flight N]
      [--channels C]
            GetArrival of random ids AGENCY may see (default iom, which sees
            ~72% of the arrivals), N in flight (default 64, over 4
            connections; callback API, closed loop) for S seconds (default 10,
            after 2 s of warm-up), against enlace-server, then against
            enlace-echo: a bare mTLS server (same callback API, TLS set-up and
            channel limits; no identity, policy, database or audit) sending
            back a real GetArrival answer captured first, so the same bytes
            cross the wire; and the database floor: enlace-bareread doing the
            server's own store read of the same ids (16 in flight, the
            server's --db_pool_size), no gRPC, policy or audit: the most any
            server answering with that read could do here. R runs of each
            (default 3), alternately; fills the bench database up to N
            arrivals first (default 100,000).
            Keys: get_calls_per_s get_p50_ms get_p99_ms get_echo_calls_per_s
            get_echo_p50_ms get_echo_p99_ms get_ratio (enlace calls/s over
            echo calls/s) get_db_calls_per_s get_db_p50_ms get_db_p99_ms
            get_ratio_ceiling (floor over echo: get_ratio cannot exceed it)
            get_db_ratio (enlace over floor) get_errors. About 1.5 minutes
            (3 x (2 s + S) per run).
  list [same options] [--deep-pages D]
            the same with ListArrivals page_size 50 (no filter): the first
            page, and page D (default 100: the page tokens are followed that
            deep first, then that page is asked for again and again).
            Keys: list_first_* and list_deep_* as get_* above, list_ratio
            (first page), list_deep_ratio, list_errors. About 2 minutes.
  report [--arrivals N] [--runs R] [--calls K] [--year Y] [--as AGENCY]
            GetProgrammeReport for the calendar year Y (default 2020: a tenth
            of the filled arrivals) as the ministry (mfa) and as AGENCY
            (default iom): K sequential calls a run (default 20, after one
            unmeasured), R runs each (default 3); prints the returnees mfa's
            report counts next to the filled arrivals of that year (equal).
            Keys: report_mfa_p50_ms report_mfa_p99_ms report_agency_p50_ms
            report_agency_p99_ms report_errors. Seconds at 10^5 arrivals
            (0.1 s a report); as long as 2 x R x (K + 1) reports take.

  scale [--max N] [--runs R] [--duration S] [--calls K] [--parts LIST]
        [--as AGENCY] [--year Y] [--deep-pages D]
            get, list (first page and page D) and report (as mfa) at 10^5,
            10^6 and 10^7 filled arrivals (stopping at --max, default 1e7), in
            a database of its own (var/bench/scale/, started over when it
            holds more than 10^5) grown by fill between the sizes, with a
            fresh server at each size; get and list as in those scenarios
            (64 in flight, S seconds, default 5), report K sequential calls
            (default 20); each figure the median of R runs (default 3).
            --parts: a subset of get,list_first,list_deep,report.
            Keys: scale_<part>_p99_ratio (p99 at the largest size over p99 at
            10^5, target at most 1.5) for part in get, list_first, list_deep,
            report; scale_<part>_<1eK>_p50_ms, _p99_ms (and _calls_per_s);
            scale_report_<1eK>_cells (the report grid's cells in the year,
            what a report's cost follows) and scale_report_cells_ratio.
            About 11 minutes to 10^7 from nothing here (625-662 s: the fills
            with their recounts 7 minutes, the measurements about a minute a
            size; with reports computed from the records, before their
            pre-aggregation, a report took 1 s at 10^6 and grows with the
            data).

Scenarios with a throw-away database:
  ingest [--streams S] [--records N] [--unary-records N] [--runs R]
            the streaming ingest rate (default 4 streams, 50,000 records)
            against one-record-per-call ingest (default 2,000 records), and
            against enlace-bareload, the bare loader: the same rows (records
            of enlace-loadgen dump) straight into MariaDB, no gRPC, in
            transactions of the server's --ingest_batch (500) over its
            --ingest_writers (2) connections, with the server's driver, pool,
            statements, content hash and ids, durable alike; and against
            the store floor: enlace-bareload --through_store writing the
            same records with the server's own store call (duplicate check,
            rows, seqs read back, report counts, audit events), no gRPC.
            Streaming, bare and store runs alternate, R of each (default 3);
            then a full resend; checks that the table holds exactly one row
            per record.
            Keys: ingest_stream_records_per_s ingest_bare_records_per_s
            ingest_ratio (streaming over bare, medians)
            ingest_store_records_per_s ingest_ratio_ceiling (store over
            bare: the most ingest_ratio can be with the work the rules
            require) ingest_store_ratio (streaming over store: what gRPC
            and the server cost) ingest_unary_records_per_s
            ingest_resend_records_per_s. About 1.5 minutes.
  watch [--watchers N] [--changes N] [--channels C] [--runs R]
            N concurrent WatchReferrals streams (default 1,000, as undp, over
            10 connections) while iom makes referral changes one at a time
            (default 200) 100 ms apart (10 changes/s): commit-to-delivery
            latency p50/p99; baseline in the same run: 1 watcher; R runs of
            each, alternately (default 3), the median runs (by p99) shown.
            Then once: N watchers with changes 20 ms apart (stress), and with
            each change made only once the one before reached every watcher
            (its own latency, without queueing); the server's resident
            memory before any watcher and with the streams open.
            The same two runs against enlace-echo, which sends each change
            to every open stream at once (no feed, consent check, token or
            audit): the fan-out's own cost on this machine.
            Keys: watch_one_p99_ms watch_p99_ms (N watchers, 10 changes/s)
            watch_p99_ratio (target at most 10) watch_stress_p99_ms
            watch_awaited_p99_ms watch_rss_idle_mb watch_rss_open_mb
            watch_echo_one_p99_ms watch_echo_p99_ms watch_echo_p99_ratio
            watch_p99_ratio_floor (the 1-watcher p99 plus what the echo's
            fan-out adds, over the 1-watcher p99: the least watch_p99_ratio
            can be here).
            About 4 minutes (100 s with --runs 1).
  mixed [--duration S] [--runs R] [--watchers N] [--ingest-rate N]
        [--read-rate N] [--transition-rate N]
            S seconds (default 60) of everything at once at fixed rates, R
            times on one server (default 3): mfa streams arrivals (100/s), iom
            reads (100/s, open loop: 4 GetArrival : 1 ListArrivals first
            page), iom and undp move referrals one at a time (5/s: create,
            accept, decline, complete, withdraw), N watchers (default 100, as
            undp) must each see every move. Counts errors: failed calls,
            rejected records, deliveries missed or extra, streams ended early;
            reads the server's RSS and open file descriptors at the start and
            end of each run (fds_start, fds_end in each run's RESULT). Exit
            status 1 unless errors is 0. scripts/soak.sh runs it for hours.
            Keys: mixed_errors mixed_rss_start_mb (first run) mixed_rss_end_mb
            (last run) mixed_fds_start mixed_fds_end mixed_read_p99_ms
            mixed_transition_p99_ms.
            About R x (S + 15) seconds: 4 minutes by default.
  fairness [--duration S] [--in-flight N] [--channels C] [--arrivals N] [--runs R]
            one agency flooding, another's latency: mfa records N arrivals
            (default 2,000) whose consent names iom and undp; undp makes
            sequential calls (4 GetArrival : 1 ListArrivals page_size 50) for
            S seconds (default 20) alone, then again while iom keeps N calls
            in flight (default 256, over 10 connections; ListArrivals
            page_size 500 and GetArrival, closed loop). Prints undp's
            p50/p99/p99.9 in both phases, the ratio of its p99s (target: at
            most 2), iom's answers by status (OK, RESOURCE_EXHAUSTED by the
            limit named) and the CPU used by the server, MariaDB and the load
            generator. R runs (default 3): the ratio is their median, the
            run of the median ratio is described in detail (its JSON object
            and Markdown section, as before, inside the results files).
            Exit status 1 if any of undp's calls failed.
            Keys: fairness_p99_ratio (target at most 2) fairness_quiet_p99_ms
            fairness_flood_p99_ms fairness_victim_errors fairness_meets_target.
            About R x (2 S + 10) seconds: 2.5 minutes by default.
  smoke     the harness itself, tiny, for scripts/test.sh (ctest
            bench_smoke_test, label bench): a throw-away database with 2,000
            filled arrivals, get, list (page 5) and report with one run of 2
            s each (3 reports), then checks that every key of theirs is in
            the results file (in the temporary directory) and that errors
            are 0. No timed assertion. About 30 seconds.

Results: every scenario merges its keys into bench-results.json (in the
repository root, or ENLACE_BENCH_RESULTS_DIR): the keys at the top level,
next to "machine" (nproc, CPU model, RAM) and "versions" (git revision, gRPC,
MariaDB, compiler) of the latest run, and under "scenarios" its entry
(settings: the server flags that bear on the figures, N, ...; the RESULT line
of every run; when it finished, on which machine and versions). Scenarios
run at other times keep their entries. bench-results.md is regenerated from
it each time: a table of every key, then a section per scenario. Headline
figures are medians of at least 3 runs (--runs; fill and smoke excepted).

Installs missing Debian packages, builds what it runs (build/), starts a
private MariaDB (durable: innodb-flush-log-at-trx-commit=1), a dev PKI and the
server on free ports, runs build/clients/enlace-loadgen against it, then
stops everything and removes the temporary directory (the bench database in
var/bench/ stays; remove that directory to start over).

Environment:
  ENLACE_<FLAG>         an enlace-server flag, e.g. ENLACE_MAX_CALLS_PER_IDENTITY=16 or
                        ENLACE_WORKER_THREADS=4 (read by the server; fairness records
                        them in bench-results.json)
  ENLACE_NO_INSTALL=1   fail instead of installing missing packages
  ENLACE_BUILD_JOBS     build parallelism (default 2)
  ENLACE_KEEP_TMP=1     keep the temporary directory (server log, error log)
  ENLACE_BENCH_DIR      where the bench database is kept (default var/bench)
  ENLACE_MARIADB_OPTIONS  more mariadbd options; the bench database defaults to
                        --innodb-buffer-pool-size=4G --innodb-log-file-size=1G
  ENLACE_BENCH_FILL_CHUNK  arrivals per LOAD DATA transaction (default 250000)
  ENLACE_BENCH_RESULTS_DIR  where bench-results.json and .md go (default: the
                        repository root; smoke always uses its temporary directory)
  ENLACE_BENCH_BUILD_DIR  run the binaries of this build tree, installing and
                        building nothing (what ctest's bench_smoke_test does)
  ENLACE_BENCH_SKIP_RECOUNT=1  do not run enlace-server --recount_reports after a
                        fill: only for a server whose reports read the records
                        themselves (without it, a server lacking that mode fails
                        the fill with a message saying so)
EOF
}

scenario=""
case "${1:-}" in
  --help | -h | help)
    usage
    exit 0
    ;;
  "")
    usage >&2
    die "no scenario given"
    ;;
  ingest | watch | fairness | mixed | fill | get | list | report | scale | smoke)
    scenario="$1"
    shift
    ;;
  *)
    usage >&2
    die "unknown scenario: $1"
    ;;
esac

# ENLACE_BENCH_BUILD_DIR: run the binaries of that build tree as they are,
# installing and building nothing (ctest's bench_smoke_test does).
if [[ -n "${ENLACE_BENCH_BUILD_DIR:-}" ]]; then
  ENLACE_BUILD_DIR="${ENLACE_BENCH_BUILD_DIR}"
  ENLACE_SERVER_BIN="${ENLACE_BUILD_DIR}/server/enlace-server"
  ENLACE_CTL_BIN="${ENLACE_BUILD_DIR}/clients/enlacectl"
  ENLACE_LOADGEN_BIN="${ENLACE_BUILD_DIR}/clients/enlace-loadgen"
fi
# tee_stderr: copies its input to standard output and to standard error,
# line by line; unlike `tee /dev/stderr`, it never reopens standard error,
# which truncates it when it is a file (bench.sh ... 2>log).
tee_stderr() {
  local line
  while IFS= read -r line || [[ -n "${line}" ]]; do
    printf '%s\n' "${line}"
    printf '%s\n' "${line}" >&2
  done
}

# The programs of the harness besides the server and enlacectl.
BENCH_FILL_BIN="${ENLACE_BUILD_DIR}/clients/bench/enlace-benchfill"
BENCH_ECHO_BIN="${ENLACE_BUILD_DIR}/clients/bench/enlace-echo"
BENCH_BARELOAD_BIN="${ENLACE_BUILD_DIR}/clients/bench/enlace-bareload"
BENCH_BAREREAD_BIN="${ENLACE_BUILD_DIR}/clients/bench/enlace-bareread"

cd "${ENLACE_ROOT}"
if [[ -z "${ENLACE_BENCH_BUILD_DIR:-}" ]]; then
  ensure_packages all
  ensure_built enlace-server enlacectl enlace-loadgen enlace-benchfill enlace-echo enlace-bareload \
    enlace-bareread
fi
require_file "${ENLACE_SERVER_BIN}" "server binary not built: ${ENLACE_SERVER_BIN}"
require_file "${ENLACE_CTL_BIN}" "CLI binary not built: ${ENLACE_CTL_BIN}"
require_file "${ENLACE_LOADGEN_BIN}" "load generator not built: ${ENLACE_LOADGEN_BIN}"
require_file "${BENCH_FILL_BIN}" "filler not built: ${BENCH_FILL_BIN}"
require_file "${BENCH_ECHO_BIN}" "echo server not built: ${BENCH_ECHO_BIN}"
require_file "${BENCH_BARELOAD_BIN}" "bare loader not built: ${BENCH_BARELOAD_BIN}"
require_file "${BENCH_BAREREAD_BIN}" "bare reader not built: ${BENCH_BAREREAD_BIN}"
require_file "${ENLACE_DEFAULT_POLICY}" "policy file not found: ${ENLACE_DEFAULT_POLICY}"

# Where the data lives: the scenarios over filled arrivals keep one bench
# database between runs (fill grows it; get, list, report and scale read it),
# the others use a throw-away one.
BENCH_DB=enlace_bench
BENCH_DIR="${ENLACE_BENCH_DIR:-${ENLACE_ROOT}/var/bench}"
case "${scenario}" in
  fill | get | list | report) persistent=1 DB_HOME="${BENCH_DIR}" ;;
  # scale grows a database of its own from its first size.
  scale) persistent=1 DB_HOME="${BENCH_DIR}/scale" ;;
  *) persistent=0 DB_HOME="" ;;
esac
# The bench database grows to 10^7 arrivals (about 8 GB): a buffer pool that
# holds its hot indexes, and a redo log that does not throttle the bulk
# loads. Durability is unchanged (innodb-flush-log-at-trx-commit=1).
if ((persistent)) && [[ -z "${ENLACE_MARIADB_OPTIONS+set}" ]]; then
  export ENLACE_MARIADB_OPTIONS="--innodb-buffer-pool-size=4G --innodb-log-file-size=1G"
fi

TMP_DIR=""
SERVER_PID=""
DB_DIR=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "${SERVER_PID}" ]]; then
    stop_pid "${SERVER_PID}" "the server" 10 || true
  fi
  if [[ -n "${ECHO_PID:-}" ]]; then
    stop_pid "${ECHO_PID}" "the echo server" 10 || true
  fi
  if [[ -n "${DB_DIR}" ]]; then
    mariadb_stop "${DB_DIR}" || warn "could not stop the bench MariaDB"
  fi
  if [[ -n "${TMP_DIR}" ]]; then
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
PKI_DIR="${TMP_DIR}/pki"
SERVER_LOG="${TMP_DIR}/enlace-server.log"
if ((persistent)); then
  mkdir -p "${BENCH_DIR}"
  chmod 700 "${BENCH_DIR}"
  exec 9>"${BENCH_DIR}/lock"
  flock -n 9 || die "another scripts/bench.sh is using ${BENCH_DIR}"
else
  DB_HOME="${TMP_DIR}"
fi
DB_DIR="${DB_HOME}/mysql"
SECRETS_DIR="${DB_HOME}/db"
RECOUNT_PENDING="${DB_HOME}/recount-pending"

# shellcheck source=scripts/lib/bench_fill.sh
source "${ENLACE_ROOT}/scripts/lib/bench_fill.sh"
# shellcheck source=scripts/lib/bench_reads.sh
source "${ENLACE_ROOT}/scripts/lib/bench_reads.sh"

# setup_database: starts MariaDB on DB_DIR (creating it the first time), its
# users and the schema (enlace-server --migrate, as the migration user);
# rebuilds the report counts when filled rows need it.
setup_database() {
  mkdir -p "${DB_HOME}"
  chmod 700 "${DB_HOME}"
  if ((persistent)); then
    log "bench database: ${DB_DIR} (kept between runs; remove ${DB_HOME} to start over)"
  fi
  mariadb_init "${DB_DIR}"
  mariadb_start_on_free_port "${DB_DIR}" || die "the bench MariaDB did not start"
  # As in production: migrated by the migration user, served as the server's
  # own user (grants of db/grants.h), passwords in files of mode 0600.
  mariadb_enlace_users "${DB_DIR}" "${BENCH_DB}" "${SECRETS_DIR}"
  MIGRATE_DSN="mysql://enlace_migrate@127.0.0.1:${DB_PORT}/${BENCH_DB}"
  SERVER_DSN="mysql://enlace_server@127.0.0.1:${DB_PORT}/${BENCH_DB}"
  ENLACE_MIGRATE_PASSWORD="$(mariadb_password "${SECRETS_DIR}/migrate.password")" \
    "${ENLACE_SERVER_BIN}" --migrate --migrate_dsn="${MIGRATE_DSN}" \
    --db_dsn="${SERVER_DSN}" </dev/null >"${TMP_DIR}/enlace-migrate.log" 2>&1 ||
    die "enlace-server --migrate failed: $(tail -n 5 "${TMP_DIR}/enlace-migrate.log")"
  # Filled rows whose report counts were never rebuilt (an earlier fill
  # stopped before its recount) are recounted first. (A migration that adds
  # derived state counts it itself, during --migrate.)
  if [[ -e "${RECOUNT_PENDING}" ]]; then
    log "an earlier fill did not finish its recount_reports"
    recount_reports
  fi
}
setup_database

"${ENLACE_CTL_BIN}" pki init --dir "${PKI_DIR}" </dev/null >/dev/null || die "enlacectl pki init failed"

# start_server: starts enlace-server on free ports (TLS_ADDR, HEALTH_ADDR,
# METRICS_ADDR; SERVER_PID) and waits until it is SERVING. ENLACE_<FLAG>
# variables reach it as flags.
start_server() {
  if [[ -n "${SERVER_PID}" ]] && pid_alive "${SERVER_PID}"; then
    return 0
  fi
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
  ENLACE_DB_PASSWORD="$(mariadb_password "${SECRETS_DIR}/server.password")" setsid "${ENLACE_SERVER_BIN}" \
    --tls_addr="${TLS_ADDR}" \
    --health_addr="${HEALTH_ADDR}" \
    --metrics_addr="${METRICS_ADDR}" \
    --db_dsn="${SERVER_DSN}" \
    --ca_cert="${PKI_DIR}/ca.crt" \
    --server_cert="${PKI_DIR}/server.crt" \
    --server_key="${PKI_DIR}/server.key" \
    --policy="${ENLACE_DEFAULT_POLICY}" \
    --ready_file="${TMP_DIR}/enlace-server.ready" \
    </dev/null >>"${SERVER_LOG}" 2>&1 &
  SERVER_PID=$!
  wait_serving "${HEALTH_ADDR}" "${SERVER_PID}" "${SERVER_LOG}" 60 ||
    die "the server did not become SERVING"
}

# stop_server: stops the server start_server started.
stop_server() {
  if [[ -n "${SERVER_PID}" ]]; then
    stop_pid "${SERVER_PID}" "the server" 10
    SERVER_PID=""
  fi
}

# The ingest scenario: the non-batched path (one RecordArrival per call,
# 16 in flight) as a baseline measured in this same run, then the streaming
# path alternating with the bare loader (the same rows straight into
# MariaDB: the floor), then the same records again (all ALREADY_RECORDED).
# The machine is shared and noisy: the ratios are the figures to compare.
loadgen() {
  "${ENLACE_LOADGEN_BIN}" "$1" \
    --addr "${TLS_ADDR}" \
    --ca "${PKI_DIR}/ca.crt" \
    --cert "${PKI_DIR}/mfa.crt" \
    --key "${PKI_DIR}/mfa.key" \
    "${@:2}" </dev/null
}

run_loadgen_ingest() {
  local streams=4 records=50000 unary_records=2000 runs=3
  while (($# > 0)); do
    case "$1" in
      --streams) streams="$2"; shift 2 ;;
      --records) records="$2"; shift 2 ;;
      --unary-records) unary_records="$2"; shift 2 ;;
      --runs) runs="$2"; shift 2 ;;
      *) die "ingest takes --streams S, --records N, --unary-records N, --runs R; not: $1" ;;
    esac
  done
  [[ "${runs}" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
  # The bare loader writes as the server does: its batch size and writers.
  local batch writers
  batch="${ENLACE_INGEST_BATCH:-$(server_flag_default ingest_batch)}"
  writers="${ENLACE_INGEST_WRITERS:-$(server_flag_default ingest_writers)}"
  [[ "${batch}" =~ ^[0-9]+$ && "${writers}" =~ ^[0-9]+$ ]] ||
    die "cannot tell the server's --ingest_batch and --ingest_writers"
  local prefix="bench-$$" unary stream resend loaded r
  local -a stream_rates=() bare_rates=() store_rates=()
  log "baseline: ${unary_records} RecordArrival calls, 16 in flight"
  unary="$(loadgen unary --records "${unary_records}" --concurrency 16 | tee_stderr | grep '^RESULT')" ||
    die "the baseline run failed"
  READ_RUNS+=("unary=${unary}")
  # The streaming runs and the bare loader's, alternately (the order turning
  # each run), each with records of its own under a prefix of its own: the
  # same content, so the same rows.
  for ((r = 1; r <= runs; r++)); do
    local -a order=(stream bare store)
    ((r % 2 == 0)) && order=(store bare stream)
    local what
    for what in "${order[@]}"; do
      if [[ "${what}" == stream ]]; then
        log "streaming (run ${r}): ${records} records over ${streams} RecordArrivals streams"
        stream="$(loadgen ingest --streams "${streams}" --records "${records}" --prefix "${prefix}-s${r}" |
          tee_stderr | grep '^RESULT')" || die "the streaming run failed"
        READ_RUNS+=("stream ${r}=${stream}")
        stream_rates+=("$(field_of rate "${stream}")")
      else
        # bare: the rows alone; store: the server's store call (duplicate
        # check, report counts, audit), both without gRPC.
        local -a mode=()
        local tag="b${r}"
        if [[ "${what}" == store ]]; then
          mode=(--through_store --streams="${streams}")
          tag="t${r}"
          log "store floor (run ${r}): the same ${records} records through the server's store call"
        else
          log "bare loader (run ${r}): the same ${records} records, ${batch} a transaction, ${writers} writers"
        fi
        "${ENLACE_LOADGEN_BIN}" dump --records "${records}" --prefix "${prefix}-${tag}" \
          --out "${TMP_DIR}/bare.bin" </dev/null >/dev/null || die "enlace-loadgen dump failed"
        loaded="$(ENLACE_DB_PASSWORD="$(mariadb_password "${SECRETS_DIR}/server.password")" \
          "${BENCH_BARELOAD_BIN}" --dsn="${SERVER_DSN}" --records_file="${TMP_DIR}/bare.bin" \
          --batch="${batch}" --writers="${writers}" "${mode[@]}" </dev/null | tee_stderr | grep '^RESULT')" ||
          die "the ${what} loader failed"
        READ_RUNS+=("${what} ${r}=${loaded}")
        if [[ "${what}" == store ]]; then
          store_rates+=("$(field_of rate "${loaded}")")
        else
          bare_rates+=("$(field_of rate "${loaded}")")
        fi
      fi
    done
  done
  log "resend: the records of the first streaming run"
  resend="$(loadgen ingest --streams "${streams}" --records "${records}" --prefix "${prefix}-s1" --resend |
    tee_stderr | grep '^RESULT')" || die "the resend run failed"
  READ_RUNS+=("resend=${resend}")
  local rows expected=$((3 * runs * records + unary_records))
  rows="$(bench_sql -N <<<'SELECT COUNT(*) FROM arrivals')"
  ((rows == expected)) || die "the arrivals table holds ${rows} rows, expected ${expected}"
  local unary_rate stream_rate resend_rate bare_rate store_rate ratio ingest_ratio ceiling store_ratio
  unary_rate="$(field_of rate "${unary}")"
  stream_rate="$(median "${stream_rates[@]}")"
  bare_rate="$(median "${bare_rates[@]}")"
  store_rate="$(median "${store_rates[@]}")"
  ceiling="$(ratio "${store_rate}" "${bare_rate}")"
  store_ratio="$(ratio "${stream_rate}" "${store_rate}")"
  resend_rate="$(field_of rate "${resend}")"
  ratio="$(awk -v a="${stream_rate}" -v b="${unary_rate}" 'BEGIN { printf "%.1f", a / b }')"
  ingest_ratio="$(ratio "${stream_rate}" "${bare_rate}")"
  printf '\ningest over mTLS, durable commits (innodb_flush_log_at_trx_commit=1), audit on:\n'
  printf '  %-33s %s\n' \
    "one record per call (baseline)" "${unary_rate} records/s" \
    "streaming, ${streams} streams" "${stream_rate} records/s   (${ratio}x the baseline; median of ${runs}: ${stream_rates[*]})" \
    "bare loader, no gRPC" "${bare_rate} records/s   (median of ${runs}: ${bare_rates[*]}; ${batch} records a" \
    "" "transaction, ${writers} writers, the server's driver and statements, no audit)" \
    "store call, no gRPC" "${store_rate} records/s   (median of ${runs}: ${store_rates[*]}; the server's" \
    "" "RecordBatch: duplicate check, rows, report counts, audit events)" \
    "ingest_ratio" "${ingest_ratio}   (streaming over bare; target at least 0.8)" \
    "ingest_ratio_ceiling" "${ceiling}   (store call over bare: ingest_ratio cannot exceed it)" \
    "ingest_store_ratio" "${store_ratio}   (streaming over the store call: what gRPC and the server add)" \
    "resend (all ALREADY_RECORDED)" "${resend_rate} records/s" \
    "rows stored" "${rows} (one per record: nothing duplicated)"
  record_results ingest "ingest: streaming over mTLS against a bare loader, durable, audit on" \
    --setting "records=${records}" --setting "streams=${streams}" --setting "runs=${runs}" \
    --setting "unary_records=${unary_records}" --setting "bare_batch=${batch}" \
    --setting "bare_writers=${writers}" \
    --key "ingest_stream_records_per_s=${stream_rate}" --key "ingest_bare_records_per_s=${bare_rate}" \
    --key "ingest_ratio=${ingest_ratio}" --key "ingest_unary_records_per_s=${unary_rate}" \
    --key "ingest_store_records_per_s=${store_rate}" --key "ingest_ratio_ceiling=${ceiling}" \
    --key "ingest_store_ratio=${store_ratio}" \
    --key "ingest_resend_records_per_s=${resend_rate}"
}

# The watch scenario: the loadgen plays mfa (arrivals), iom (cases and
# referral changes) and undp (the watchers) with the PKI's certificates, and
# reads the server's VmRSS through its pid. Baseline in the same run: the
# server's memory before any watcher, and the latency with one watcher. The
# changes come 20 ms apart; a last run waits for each change to reach every
# watcher before the next, to tell a change's own latency from queueing
# behind the fan-out of the one before.
# WATCH_ADDR and WATCH_PID, when set, name another server (the echo).
loadgen_watch() {
  "${ENLACE_LOADGEN_BIN}" watch \
    --addr "${WATCH_ADDR:-${TLS_ADDR}}" \
    --ca "${PKI_DIR}/ca.crt" \
    --pki-dir "${PKI_DIR}" \
    --server-pid "${WATCH_PID:-${SERVER_PID}}" \
    "$@" </dev/null
}

# server_memory_mb FIELD: the server's VmRSS (resident now) or VmHWM (peak
# resident) in MB.
server_memory_mb() {
  awk -v f="$1:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/${SERVER_PID}/status"
}

# median_run KEY "RESULT ..."...: the line whose KEY is the median (the lower
# middle one for an even count).
median_run() {
  local key="$1" line
  shift
  for line in "$@"; do printf '%s %s\n' "$(field_of "${key}" "${line}")" "${line}"; done |
    sort -g -k1,1 | awk '{ lines[NR] = $0 } END { m = lines[int((NR + 1) / 2)]; sub(/^[^ ]* /, "", m); print m }'
}

# below VALUE LIMIT: "meets" or "MISSES"
below() { awk -v v="$1" -v l="$2" 'BEGIN { print (v != "" && v + 0 < l + 0) ? "meets" : "MISSES" }'; }

# latency_line "RESULT ...": p50, p99, max, a change's last watcher, pace
latency_line() {
  printf 'p50 %6s ms  p99 %6s ms  max %6s ms  last watcher p50 %6s ms  %s changes/s' \
    "$(field_of p50_ms "$1")" "$(field_of p99_ms "$1")" "$(field_of max_ms "$1")" \
    "$(field_of last_watcher_p50_ms "$1")" "$(field_of changes_per_s "$1")"
}

run_loadgen_watch() {
  local watchers=1000 changes=200 channels=10 runs=3
  while (($# > 0)); do
    case "$1" in
      --watchers) watchers="$2"; shift 2 ;;
      --changes) changes="$2"; shift 2 ;;
      --channels) channels="$2"; shift 2 ;;
      --runs) runs="$2"; shift 2 ;;
      *) die "watch takes --watchers N, --changes N, --channels C, --runs R; not: $1" ;;
    esac
  done
  [[ "${runs}" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
  [[ "$(cat "/proc/${SERVER_PID}/comm" 2>/dev/null)" == enlace-server ]] ||
    die "pid ${SERVER_PID} is not the server: cannot read its memory"
  local rss_start one many steady awaited rss_end hwm_end r line echo_one echo_steady
  local -a ones=() steadies=() echo_ones=() echo_steadies=()
  rss_start="$(server_memory_mb VmRSS)"
  log "server RSS before any watcher: ${rss_start} MB"
  launch_echo
  # The baseline and the target's case, R times each, alternately: the
  # figures are those of the median runs (by p99).
  for ((r = 1; r <= runs; r++)); do
    log "baseline (run ${r} of ${runs}): 1 watcher, ${changes} changes 20 ms apart"
    line="$(loadgen_watch --watchers 1 --channels 1 --changes "${changes}" |
      tee_stderr | grep '^RESULT')" || die "the 1-watcher run failed"
    ones+=("${line}")
    READ_RUNS+=("1 watcher ${r}=${line}")
    log "${watchers} watchers (run ${r} of ${runs}), ${changes} changes 100 ms apart (10 changes/s)"
    line="$(loadgen_watch --watchers "${watchers}" --channels "${channels}" --changes "${changes}" \
      --pause-ms 100 | tee_stderr | grep '^RESULT')" ||
      die "the ${watchers}-watcher run at 100 ms failed"
    steadies+=("${line}")
    READ_RUNS+=("${watchers} watchers 10/s ${r}=${line}")
    # The floor of the same runs: enlace-echo sends each change to every
    # open stream at once (no feed, consent check, token or audit).
    log "echo (run ${r} of ${runs}): 1 watcher, then ${watchers} watchers"
    line="$(WATCH_ADDR="${ECHO_ADDR}" WATCH_PID="${ECHO_PID}" \
      loadgen_watch --watchers 1 --channels 1 --changes "${changes}" |
      tee_stderr | grep '^RESULT')" || die "the 1-watcher echo run failed"
    echo_ones+=("${line}")
    READ_RUNS+=("echo 1 watcher ${r}=${line}")
    line="$(WATCH_ADDR="${ECHO_ADDR}" WATCH_PID="${ECHO_PID}" \
      loadgen_watch --watchers "${watchers}" --channels "${channels}" --changes "${changes}" \
      --pause-ms 100 | tee_stderr | grep '^RESULT')" || die "the ${watchers}-watcher echo run failed"
    echo_steadies+=("${line}")
    READ_RUNS+=("echo ${watchers} watchers 10/s ${r}=${line}")
  done
  stop_echo
  one="$(median_run p99_ms "${ones[@]}")"
  steady="$(median_run p99_ms "${steadies[@]}")"
  echo_one="$(median_run p99_ms "${echo_ones[@]}")"
  echo_steady="$(median_run p99_ms "${echo_steadies[@]}")"
  log "${watchers} watchers over ${channels} connections, ${changes} changes 20 ms apart"
  many="$(loadgen_watch --watchers "${watchers}" --channels "${channels}" --changes "${changes}" |
    tee_stderr | grep '^RESULT')" || die "the ${watchers}-watcher run failed"
  READ_RUNS+=("${watchers} watchers 50/s=${many}")
  log "${watchers} watchers, ${changes} changes, each once the last reached every watcher"
  awaited="$(loadgen_watch --watchers "${watchers}" --channels "${channels}" --changes "${changes}" \
    --await-delivery | tee_stderr | grep '^RESULT')" ||
    die "the ${watchers}-watcher run with --await-delivery failed"
  READ_RUNS+=("${watchers} watchers awaited=${awaited}")
  rss_end="$(server_memory_mb VmRSS)"
  hwm_end="$(server_memory_mb VmHWM)"
  local rss_many p99_steady p99_one watch_ratio
  rss_many="$(field_of server_rss_mb "${many}")"
  p99_steady="$(field_of p99_ms "${steady}")"
  p99_one="$(field_of p99_ms "${one}")"
  watch_ratio="$(ratio "${p99_steady}" "${p99_one}")"
  local p99_echo_one p99_echo_steady echo_ratio ratio_floor
  p99_echo_one="$(field_of p99_ms "${echo_one}")"
  p99_echo_steady="$(field_of p99_ms "${echo_steady}")"
  echo_ratio="$(ratio "${p99_echo_steady}" "${p99_echo_one}")"
  # The least watch_p99_ratio can be here: the 1-watcher p99 plus what the
  # fan-out alone adds on this machine (echo's N-watcher p99 over its 1).
  ratio_floor="$(awk -v o="${p99_one}" -v en="${p99_echo_steady}" -v e1="${p99_echo_one}" \
    'BEGIN { if (o + 0 == 0) print "null"; else printf "%.3f\n", (o + en - e1) / o }')"
  cat <<EOF

WatchReferrals over mTLS: ${changes} referral changes by iom, one at a time (CreateReferral and
WithdrawReferral alternately); latency from the event's committed_at to the watcher's read:
  (the first two rows: the median of ${runs} runs each, by p99)
  1 watcher, 20 ms apart (baseline)     $(latency_line "${one}")
  ${watchers} watchers, 100 ms apart           $(latency_line "${steady}")
  ${watchers} watchers, 20 ms apart (stress)   $(latency_line "${many}")
  ${watchers} watchers, each change delivered
    everywhere before the next          $(latency_line "${awaited}")
  echo, 1 watcher, 20 ms apart          $(latency_line "${echo_one}")
  echo, ${watchers} watchers, 100 ms apart     $(latency_line "${echo_steady}")
    (enlace-echo: each change sent to every open stream at once, no feed, consent, token or
     audit: the fan-out alone is ${echo_ratio}x its 1-watcher p99, so watch_p99_ratio cannot
     be under ${ratio_floor} here (watch_p99_ratio_floor: the 1-watcher p99 plus what the
     fan-out alone adds, over the 1-watcher p99))
  p99 with ${watchers} watchers, 10 changes/s: $(below "${p99_steady}" 100) the 100 ms target;
    ${watch_ratio}x the 1-watcher p99 (watch_p99_ratio): $(below "${watch_ratio}" 10.000001) the 10x target
    (at 50 changes/s 1000 watchers ask for 50,000 deliveries/s, more than 2 cores shared
     with this load generator serve: that row measures queueing)
  server RSS  before any watcher        ${rss_start} MB
              just before the ${watchers}      $(field_of server_rss_idle_mb "${many}") MB (after the 1-watcher run)
              with the ${watchers} open        ${rss_many} MB: $(below "${rss_many}" 300) the 300 MB target
              after all runs            ${rss_end} MB (peak ${hwm_end} MB)
  watchers over ${channels} connections; every watcher saw every change exactly once, in commit order
  ($(field_of deliveries "${many}") + $(field_of deliveries "${steady}") + $(field_of deliveries "${awaited}") deliveries; missing 0, duplicates 0)
EOF
  record_results watch "watch: ${watchers} WatchReferrals streams against one" \
    --setting "watchers=${watchers}" --setting "changes=${changes}" --setting "channels=${channels}" \
    --setting "runs=${runs}" \
    --key "watch_one_p99_ms=${p99_one}" --key "watch_p99_ms=${p99_steady}" \
    --key "watch_p99_ratio=${watch_ratio}" --key "watch_stress_p99_ms=$(field_of p99_ms "${many}")" \
    --key "watch_awaited_p99_ms=$(field_of p99_ms "${awaited}")" \
    --key "watch_rss_idle_mb=${rss_start}" --key "watch_rss_open_mb=${rss_many}" \
    --key "watch_echo_one_p99_ms=${p99_echo_one}" --key "watch_echo_p99_ms=${p99_echo_steady}" \
    --key "watch_echo_p99_ratio=${echo_ratio}" --key "watch_p99_ratio_floor=${ratio_floor}"
}

# The fairness scenario: the loadgen plays mfa (set-up), undp (the victim)
# and iom (the flooder) with the PKI's certificates, and reads the CPU time of
# the server and of MariaDB through their pids. Its detailed object and
# Markdown section (of the run whose ratio is the median) go into the
# results files with its keys.

# result_json "RESULT k=v ..." -> a JSON object of the fields (numbers as
# numbers, the rest as strings), for a place one level deep.
result_json() {
  awk '{
    printf "{"
    sep = ""
    for (i = 2; i <= NF; i++) {
      eq = index($i, "=")
      k = substr($i, 1, eq - 1)
      v = substr($i, eq + 1)
      if (v !~ /^-?[0-9]+(\.[0-9]+)?$/) v = "\"" v "\""
      printf "%s\n    \"%s\": %s", sep, k, v
      sep = ","
    }
    printf "\n  }"
  }' <<<"$1"
}

# server_flag_default NAME: the server's built-in default for --NAME.
server_flag_default() {
  { "${ENLACE_SERVER_BIN}" --helpfull 2>/dev/null || true; } | awk -v flag="--$1" '
    $1 == flag { found = 1 }
    found && match($0, /default: [^;]*;/) { print substr($0, RSTART + 9, RLENGTH - 10); exit }'
}

# server_settings_json: the server settings that bear on fairness: each set
# through its ENLACE_<FLAG> variable for this run, or the built-in default.
server_settings_json() {
  local sep="" name variable value from
  printf '{'
  for name in max_calls_per_identity max_streams_per_identity worker_threads db_pool_size; do
    variable="ENLACE_${name^^}"
    if [[ -n "${!variable:-}" ]]; then
      value="${!variable}" from="${variable}"
    else
      value="$(server_flag_default "${name}")" from="default"
    fi
    [[ "${value}" =~ ^[0-9]+$ ]] || value="\"${value}\""
    printf '%s\n    "%s": {"value": %s, "from": "%s"}' "${sep}" "${name}" "${value:-null}" "${from}"
    sep=","
  done
  printf '\n  }'
}

run_loadgen_fairness() {
  local duration=20 in_flight=256 channels=10 arrivals=2000 runs=3
  while (($# > 0)); do
    case "$1" in
      --duration) duration="$2"; shift 2 ;;
      --in-flight) in_flight="$2"; shift 2 ;;
      --channels) channels="$2"; shift 2 ;;
      --arrivals) arrivals="$2"; shift 2 ;;
      --runs) runs="$2"; shift 2 ;;
      *) die "fairness takes --duration S, --in-flight N, --channels C, --arrivals N, --runs R; not: $1" ;;
    esac
  done
  [[ "${runs}" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
  local db_pid result status=0 r line victim_errors=0
  local -a results=() quiet_p99=() flood_p99=() ratios=()
  db_pid="$(read_pid_file "${DB_DIR}/mysql.pid")"
  for ((r = 1; r <= runs; r++)); do
    log "run ${r} of ${runs}: undp alone for ${duration} s, then while iom keeps ${in_flight} calls in flight"
    line="$("${ENLACE_LOADGEN_BIN}" fairness \
      --addr "${TLS_ADDR}" \
      --ca "${PKI_DIR}/ca.crt" \
      --pki-dir "${PKI_DIR}" \
      --server-pid "${SERVER_PID}" \
      --db-pid "${db_pid:-0}" \
      --duration "${duration}" \
      --in-flight "${in_flight}" \
      --channels "${channels}" \
      --arrivals "${arrivals}" </dev/null | tee_stderr | grep '^RESULT')" || status=$?
    [[ -n "${line}" ]] || die "the fairness run ${r} failed before its result"
    results+=("${line}")
    READ_RUNS+=("fairness ${r}=${line}")
    ratios+=("$(field_of p99_ratio "${line}")")
    quiet_p99+=("$(field_of quiet_p99_ms "${line}")")
    flood_p99+=("$(field_of flood_p99_ms "${line}")")
    victim_errors=$((victim_errors + $(field_of victim_errors "${line}")))
  done
  # The run of the median ratio is the one described in detail.
  result="$(median_run p99_ratio "${results[@]}")"
  local ratio verdict finished cpu_model
  f() { field_of "$1" "${result}"; }
  ratio="$(median "${ratios[@]}")"
  verdict="$(awk -v r="${ratio}" 'BEGIN { print (r != "" && r + 0 <= 2) ? "meets" : "MISSES" }')"
  finished="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  cat >"${TMP_DIR}/fairness.json" <<JSON
{
  "scenario": "fairness",
  "finished_at": "${finished}",
  "machine": {"cpus": $(nproc), "cpu_model": "${cpu_model//\"/}"},
  "victim": "undp, sequential calls: 4 GetArrival (random known ids) : 1 ListArrivals (first page, page_size 50)",
  "flooder": "iom, ${in_flight} calls in flight over ${channels} connections, closed loop: ListArrivals page_size 500 and GetArrival alternately",
  "target": "undp's p99 under flood at most 2x its p99 alone",
  "p99_ratio": ${ratio:-null},
  "runs": ${runs},
  "p99_ratios": [$(IFS=,; echo "${ratios[*]}")],
  "meets_target": $([[ "${verdict}" == meets ]] && echo true || echo false),
  "victim_errors": ${victim_errors},
  "server_settings": $(server_settings_json),
  "result": $(result_json "${result}")
}
JSON
  cat >"${TMP_DIR}/fairness.md" <<MARKDOWN
undp makes sequential calls (4 GetArrival : 1 ListArrivals page_size 50) over $(f arrivals) arrivals,
$(f duration_s) s alone, then $(f duration_s) s while iom keeps $(f in_flight) calls in flight over $(f channels) connections
(ListArrivals page_size 500 / GetArrival, closed loop). Server max_calls_per_identity:
$(f flood_call_limit). $(nproc) CPUs shared by the server, MariaDB and the load generator; CPU in
cores used ("other": busy cores that none of the three used, i.e. a noisy machine).

| phase | undp calls | p50 ms | p99 ms | p99.9 ms | max ms | server CPU | MariaDB CPU | loadgen CPU | other CPU | machine busy |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| quiet (undp alone) | $(f quiet_calls) | $(f quiet_p50_ms) | $(f quiet_p99_ms) | $(f quiet_p999_ms) | $(f quiet_max_ms) | $(f server_cpu_quiet) | $(f db_cpu_quiet) | $(f loadgen_cpu_quiet) | $(f other_cpu_quiet) | $(f busy_pct_quiet) % |
| flood (iom, $(f in_flight) in flight) | $(f flood_calls) | $(f flood_p50_ms) | $(f flood_p99_ms) | $(f flood_p999_ms) | $(f flood_max_ms) | $(f server_cpu_flood) | $(f db_cpu_flood) | $(f loadgen_cpu_flood) | $(f other_cpu_flood) | $(f busy_pct_flood) % |

**undp's p99 under flood / alone: ${ratio}x** (the median of ${runs} runs: ${ratios[*]}; target at
most 2x: ${verdict}); undp's failed calls: ${victim_errors}. The table shows the run of the median ratio.

iom's answers during the flood phase: $(f flood_answers) ($(f flood_answers_per_s)/s): OK $(f flood_ok) ($(f flood_ok_per_s)/s),
RESOURCE_EXHAUSTED $(f flood_resource_exhausted) (max_calls_per_identity: $(f flood_exhausted_max_calls_per_identity)), other $(f flood_other).
A refusal waits only for its audit event to commit: its p50, $(f flood_exhausted_p50_ms) ms, is the
wait in the audit writer's queue under the flood.
MARKDOWN
  record_results fairness "Fairness: one agency floods, another's latency" \
    --setting "duration_s=${duration}" --setting "in_flight=${in_flight}" \
    --setting "channels=${channels}" --setting "arrivals=${arrivals}" --setting "runs=${runs}" \
    --key "fairness_p99_ratio=${ratio}" --key "fairness_quiet_p99_ms=$(median "${quiet_p99[@]}")" \
    --key "fairness_flood_p99_ms=$(median "${flood_p99[@]}")" \
    --key "fairness_victim_errors=${victim_errors}" \
    --key "fairness_meets_target=$([[ "${verdict}" == meets ]] && echo true || echo false)" \
    --detail-file "${TMP_DIR}/fairness.json" --markdown-file "${TMP_DIR}/fairness.md"
  cat <<SUMMARY

fairness over mTLS, audit on (refused calls too): undp's p99 under iom's flood is ${ratio}x
its p99 alone (median of ${runs} runs: ${ratios[*]}): ${verdict} the 2x target
  figures: ${RESULTS_JSON}, ${RESULTS_MD}
SUMMARY
  return "${status}"
}

# The smoke scenario: the harness itself, tiny, for scripts/test.sh (ctest
# bench_smoke_test): a throw-away database filled with 2,000 arrivals, get,
# list and report for a moment each (one run), their keys checked in a
# results file of the temporary directory (the repository's is not touched).
run_smoke() {
  (($# == 0)) || die "smoke takes no options"
  RESULTS_DIR="${TMP_DIR}/results"
  RESULTS_JSON="${RESULTS_DIR}/bench-results.json"
  RESULTS_MD="${RESULTS_DIR}/bench-results.md"
  local -a quick=(--arrivals 2000 --runs 1 --duration 2 --warmup 1)
  run_reads get "${quick[@]}"
  run_reads list "${quick[@]}" --deep-pages 5
  run_report --arrivals 2000 --runs 1 --calls 3
  "${ENLACE_PYTHON}" "${ENLACE_ROOT}/scripts/lib/bench_results.py" check --json "${RESULTS_JSON}" \
    get_calls_per_s get_p50_ms get_p99_ms get_echo_calls_per_s get_ratio get_errors \
    get_db_calls_per_s get_ratio_ceiling get_db_ratio \
    list_first_calls_per_s list_first_p99_ms list_deep_calls_per_s list_deep_p99_ms list_ratio \
    list_deep_ratio list_errors report_mfa_p50_ms report_mfa_p99_ms report_agency_p50_ms \
    report_agency_p99_ms report_errors machine versions ||
    die "smoke: keys missing from ${RESULTS_JSON}"
  "${ENLACE_PYTHON}" - "${RESULTS_JSON}" <<'EOF' || die "smoke: errors in ${RESULTS_JSON}"
import json, sys
data = json.load(open(sys.argv[1]))
bad = {k: data[k] for k in ("get_errors", "list_errors", "report_errors") if data[k] != 0}
bad.update({k: data[k] for k in ("get_calls_per_s", "get_echo_calls_per_s", "get_db_calls_per_s", "list_first_calls_per_s",
                                 "list_deep_calls_per_s") if not data[k] > 0})
if bad:
    sys.exit(f"bench.sh smoke: {bad}")
EOF
  printf '\nsmoke: fill, get, list and report ran; every key is in the results file, errors 0\n'
}

# server_open_fds: how many file descriptors the server has open now.
server_open_fds() {
  local fds=("/proc/${SERVER_PID}/fd/"*)
  printf '%s\n' "${#fds[@]}"
}

# The mixed scenario: R minutes of ingest, reads, referral moves and
# watchers at fixed rates on one server; every error counts.
run_mixed() {
  local duration=60 runs=3 watchers=100 ingest_rate=100 read_rate=100 transition_rate=5
  while (($# > 0)); do
    case "$1" in
      --duration) duration="$2"; shift 2 ;;
      --runs) runs="$2"; shift 2 ;;
      --watchers) watchers="$2"; shift 2 ;;
      --ingest-rate) ingest_rate="$2"; shift 2 ;;
      --read-rate) read_rate="$2"; shift 2 ;;
      --transition-rate) transition_rate="$2"; shift 2 ;;
      *) die "mixed takes --duration S, --runs R, --watchers N, --ingest-rate N, --read-rate N, --transition-rate N; not: $1" ;;
    esac
  done
  [[ "${runs}" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
  [[ "$(cat "/proc/${SERVER_PID}/comm" 2>/dev/null)" == enlace-server ]] ||
    die "pid ${SERVER_PID} is not the server: cannot read its memory"
  local r result errors=0 status=0 rss_first="" rss_last="" fds_start fds_first=""
  local -a read_p99=() move_p99=() rss=()
  for ((r = 1; r <= runs; r++)); do
    log "mixed (run ${r} of ${runs}): ${duration} s of ingest ${ingest_rate}/s, reads ${read_rate}/s, referral moves ${transition_rate}/s, ${watchers} watchers"
    fds_start="$(server_open_fds)"
    result="$("${ENLACE_LOADGEN_BIN}" mixed --addr "${TLS_ADDR}" --ca "${PKI_DIR}/ca.crt" \
      --pki-dir "${PKI_DIR}" --server-pid "${SERVER_PID}" --duration "${duration}" \
      --watchers "${watchers}" --ingest-rate "${ingest_rate}" --read-rate "${read_rate}" \
      --transition-rate "${transition_rate}" --prefix "mixed-$$-${r}" </dev/null |
      tee_stderr | grep '^RESULT')" || status=1
    [[ -n "${result}" ]] || die "the mixed run ${r} failed before its result"
    # The server's open descriptors before the run and after it (its
    # watchers and channels closed): a leak shows as growth from run to run.
    result="${result} fds_start=${fds_start} fds_end=$(server_open_fds)"
    [[ -n "${fds_first}" ]] || fds_first="${fds_start}"
    READ_RUNS+=("mixed ${r}=${result}")
    errors=$((errors + $(field_of errors "${result}")))
    read_p99+=("$(field_of read_p99_ms "${result}")")
    move_p99+=("$(field_of transition_p99_ms "${result}")")
    [[ -n "${rss_first}" ]] || rss_first="$(field_of rss_start_mb "${result}")"
    rss_last="$(field_of rss_end_mb "${result}")"
    rss+=("$(field_of rss_start_mb "${result}") -> $(field_of rss_end_mb "${result}")")
  done
  printf '\nmixed over mTLS, audit on: %s run(s) of %s s on one server: ingest %s records/s (mfa), reads %s/s\n' \
    "${runs}" "${duration}" "${ingest_rate}" "${read_rate}"
  printf '(iom: 4 GetArrival : 1 ListArrivals), referral moves %s/s (iom and undp), %s watchers (undp)\n' \
    "${transition_rate}" "${watchers}"
  printf '  errors                   %s (failed calls, rejected records, missed or extra deliveries, ended streams; must be 0)\n' "${errors}"
  printf '  reads p99                %s ms (median of the runs)\n' "$(median "${read_p99[@]}")"
  printf '  referral moves p99       %s ms\n' "$(median "${move_p99[@]}")"
  printf '  server RSS (MB)          %s\n' "$(printf '%s; ' "${rss[@]}" | sed 's/; $//')"
  record_results mixed "mixed: ingest, reads, referral moves and watchers at fixed rates" \
    --setting "duration_s=${duration}" --setting "runs=${runs}" --setting "watchers=${watchers}" \
    --setting "ingest_rate=${ingest_rate}" --setting "read_rate=${read_rate}" \
    --setting "transition_rate=${transition_rate}" \
    --key "mixed_errors=${errors}" --key "mixed_rss_start_mb=${rss_first}" \
    --key "mixed_rss_end_mb=${rss_last}" --key "mixed_fds_start=${fds_first}" \
    --key "mixed_fds_end=$(server_open_fds)" --key "mixed_read_p99_ms=$(median "${read_p99[@]}")" \
    --key "mixed_transition_p99_ms=$(median "${move_p99[@]}")"
  if ((errors > 0 || status != 0)); then
    warn "mixed: ${errors} errors"
    return 1
  fi
}

# The scale scenario: the same reads at 10^5, 10^6 and 10^7 filled arrivals
# (up to --max), in a database of its own grown by fill between the sizes,
# with a fresh server at each size.
run_scale() {
  local max=10000000 runs=3 duration=5 as=iom calls=20 year=2020 deep_pages=100
  local parts="get,list_first,list_deep,report"
  while (($# > 0)); do
    case "$1" in
      --max) max="$(parse_count "$2")" || die "--max: not a count: $2"; shift 2 ;;
      --runs) runs="$2"; shift 2 ;;
      --duration) duration="$2"; shift 2 ;;
      --as) as="$2"; shift 2 ;;
      --calls) calls="$2"; shift 2 ;;
      --year) year="$2"; shift 2 ;;
      --deep-pages) deep_pages="$2"; shift 2 ;;
      --parts) parts="$2"; shift 2 ;;
      *) die "scale takes --max N, --runs R, --duration S, --as AGENCY, --calls K, --year Y, --deep-pages D, --parts LIST; not: $1" ;;
    esac
  done
  [[ "${runs}" =~ ^[1-9][0-9]*$ && "${duration}" =~ ^[1-9][0-9]*$ ]] ||
    die "--runs and --duration must be positive integers"
  [[ "${year}" =~ ^[12][0-9]{3}$ ]] || die "--year must be a year (e.g. 2020)"
  local -a sizes=() wanted=()
  local size part
  for size in 100000 1000000 10000000; do
    ((size <= max)) && sizes+=("${size}")
  done
  ((${#sizes[@]} > 0)) || die "--max must be at least 1e5"
  IFS=, read -r -a wanted <<<"${parts}"
  for part in "${wanted[@]}"; do
    [[ "${part}" =~ ^(get|list_first|list_deep|report)$ ]] ||
      die "--parts: ${part} is none of get, list_first, list_deep, report"
  done
  if (($(fill_count) > sizes[0])); then
    log "the scale database holds $(fill_count) filled arrivals, more than ${sizes[0]}: starting it over"
    mariadb_stop "${DB_DIR}"
    rm -rf "${DB_HOME}"
    setup_database
  fi
  local -A p50=() p99=() cps=() cells=()
  local label started=${SECONDS}
  local -a keys=() fills=()
  for size in "${sizes[@]}"; do
    stop_server
    fill_to "${size}"
    FILLED="$(fill_count)"
    ((FILLED == size)) || die "scale: the database holds ${FILLED} filled arrivals, expected ${size}"
    [[ -n "${FILL_RATE}" ]] && fills+=("${size}: ${FILL_ADDED} added in ${FILL_SECONDS} s (${FILL_RATE}/s)")
    label="$(awk -v n="${size}" 'BEGIN { printf "1e%d", log(n) / log(10) + 0.5 }')"
    start_server
    log "scale: measuring at ${size} filled arrivals (${label})"
    MEASURE_TAG="${label} "
    for part in "${wanted[@]}"; do
      if [[ "${part}" == report ]]; then
        measure_report mfa "${runs}" --calls "${calls}" --year "${year}" --filled "${FILLED}"
        # What a report's cost follows: the grid cells of its period (at
        # most months x departments x key values, whatever the records).
        cells[${label}]="$(report_cells_of_year "${year}")"
        keys+=(--key "scale_report_${label}_cells=${cells[${label}]}")
      else
        measure_loop "${part}" enlace "${runs}" --as "${as}" --filled "${FILLED}" \
          --duration "${duration}" --deep-pages "${deep_pages}"
        cps[${part}_${label}]="${M_CALLS_PER_S}"
        keys+=(--key "scale_${part}_${label}_calls_per_s=${M_CALLS_PER_S}")
      fi
      p50[${part}_${label}]="${M_P50_MS}"
      p99[${part}_${label}]="${M_P99_MS}"
      keys+=(--key "scale_${part}_${label}_p50_ms=${M_P50_MS}" --key "scale_${part}_${label}_p99_ms=${M_P99_MS}")
    done
  done
  stop_server
  local first last ratio_value
  first="$(awk -v n="${sizes[0]}" 'BEGIN { printf "1e%d", log(n) / log(10) + 0.5 }')"
  last="${label}"
  printf '\nscale over mTLS, as %s (report: mfa, %s); p50 / p99 in ms, medians of %s runs\n' "${as}" "${year}" "${runs}"
  printf '(get and list: 64 calls in flight for %s s; report: %s sequential calls):\n' "${duration}" "${calls}"
  printf '  %-12s' "arrivals"
  for part in "${wanted[@]}"; do printf ' %22s' "${part}"; done
  printf '\n'
  for size in "${sizes[@]}"; do
    label="$(awk -v n="${size}" 'BEGIN { printf "1e%d", log(n) / log(10) + 0.5 }')"
    printf '  %-12s' "${size}"
    for part in "${wanted[@]}"; do printf ' %22s' "${p50[${part}_${label}]} / ${p99[${part}_${label}]}"; done
    printf '\n'
  done
  printf '  %-12s' "p99 ${last}/${first}"
  for part in "${wanted[@]}"; do
    ratio_value="$(ratio "${p99[${part}_${last}]}" "${p99[${part}_${first}]}")"
    printf ' %22s' "${ratio_value}"
    keys+=(--key "scale_${part}_p99_ratio=${ratio_value}")
  done
  printf '\n  (target: every p99 ratio at most 1.5; report p99 at most 500 ms at 1e7)\n'
  if [[ -n "${cells[${last}]:-}" ]]; then
    printf '  report grid cells of %s read:' "${year}"
    for size in "${sizes[@]}"; do
      label="$(awk -v n="${size}" 'BEGIN { printf "1e%d", log(n) / log(10) + 0.5 }')"
      printf ' %s at %s;' "${cells[${label}]}" "${label}"
    done
    ratio_value="$(ratio "${cells[${last}]}" "${cells[${first}]}")"
    printf ' %s/%s %s (the report follows its cells, not its records)\n' "${last}" "${first}" "${ratio_value}"
    keys+=(--key "scale_report_cells_ratio=${ratio_value}")
  fi
  local fill_note="none (already filled)"
  ((${#fills[@]} == 0)) || fill_note="$(printf '%s; ' "${fills[@]}" | sed 's/; $//')"
  printf '  fills: %s\n  took %s s in all\n' "${fill_note}" "$((SECONDS - started))"
  record_results scale "scale: get, list and report from 10^5 to ${max} filled arrivals" \
    --setting "sizes=$(IFS=,; echo "${sizes[*]}")" --setting "as=${as}" --setting "runs=${runs}" \
    --setting "duration_s=${duration}" --setting "report_calls=${calls}" --setting "year=${year}" \
    --setting "deep_pages=${deep_pages}" --setting "in_flight=64" "${keys[@]}"
}

# report_cells_of_year YEAR: the programme report's grid cells (every
# indicator's table) in YEAR's months.
report_cells_of_year() {
  local table total=0 n
  for table in returnee case referral service initiative; do
    n="$(bench_sql -N <<<"SELECT COUNT(*) FROM report_${table}_cells WHERE grid_month BETWEEN '$1-01' AND '$1-12'")"
    total=$((total + n))
  done
  printf '%s\n' "${total}"
}

# parse_count TEXT: a count written 2000, 1e6 or 2.5e5 -> digits.
parse_count() {
  [[ "$1" =~ ^[0-9]+(\.[0-9]+)?([eE][0-9]+)?$ ]] || return 1
  awk -v n="$1" 'BEGIN { if (n != int(n) || n > 1e10) exit 1; printf "%d\n", n }'
}

# The results files: every scenario merges its keys into them
# (scripts/lib/bench_results.py), in the repository root unless
# ENLACE_BENCH_RESULTS_DIR names another directory.
RESULTS_DIR="${ENLACE_BENCH_RESULTS_DIR:-${ENLACE_ROOT}}"
RESULTS_JSON="${RESULTS_DIR}/bench-results.json"
RESULTS_MD="${RESULTS_DIR}/bench-results.md"

# server_settings_args: --setting server.NAME=VALUE for the server flags that
# bear on the figures: each set through its ENLACE_<FLAG> variable for this
# run, or the built-in default; and the database's durability and options.
server_settings_args() {
  local name variable value
  for name in max_calls_per_identity max_waiting_calls_per_identity max_streams_per_identity \
    worker_threads db_pool_size ingest_writers ingest_batch; do
    variable="ENLACE_${name^^}"
    if [[ -n "${!variable:-}" ]]; then
      value="${!variable}"
    else
      value="$(server_flag_default "${name}")"
    fi
    printf '%s\n' --setting "server.${name}=${value}"
  done
  printf '%s\n' --setting "mariadb.innodb_flush_log_at_trx_commit=1" \
    --setting "mariadb.options=${ENLACE_MARIADB_OPTIONS:-}"
}

# record_results SCENARIO TITLE ARGS...: merges the scenario's keys (ARGS:
# --key k=v, --setting k=v, ...) and READ_RUNS into the results files.
record_results() {
  local scenario="$1" title="$2" run
  shift 2
  local -a run_args=() settings=()
  for run in "${READ_RUNS[@]}"; do run_args+=(--run "${run}"); done
  mapfile -t settings < <(server_settings_args)
  mkdir -p "${RESULTS_DIR}"
  "${ENLACE_PYTHON}" "${ENLACE_ROOT}/scripts/lib/bench_results.py" record \
    --json "${RESULTS_JSON}" --md "${RESULTS_MD}" --root "${ENLACE_ROOT}" --build-dir "${ENLACE_BUILD_DIR}" \
    --scenario "${scenario}" --title "${title}" "${settings[@]}" "$@" "${run_args[@]}" ||
    die "could not write ${RESULTS_JSON}"
  log "figures merged into ${RESULTS_JSON} and ${RESULTS_MD}"
}

# ensure_filled N: fills the bench database up to N arrivals (nothing if it
# holds them); sets FILLED to what it holds.
ensure_filled() {
  fill_to "$1"
  FILLED="$(fill_count)"
}

# The get and list scenarios: closed loop at IN_FLIGHT calls against the
# server, then against enlace-echo, alternately, RUNS times each.
run_reads() {
  local which="$1"
  shift
  local arrivals=100000 runs=3 duration=10 as=iom in_flight=64 channels=4 deep_pages=100 warmup=2
  while (($# > 0)); do
    case "$1" in
      --warmup) warmup="$2"; shift 2 ;;
      --arrivals) arrivals="$(parse_count "$2")" || die "--arrivals: not a count: $2"; shift 2 ;;
      --runs) runs="$2"; shift 2 ;;
      --duration) duration="$2"; shift 2 ;;
      --as) as="$2"; shift 2 ;;
      --in-flight) in_flight="$2"; shift 2 ;;
      --channels) channels="$2"; shift 2 ;;
      --deep-pages) deep_pages="$2"; shift 2 ;;
      *) die "${which} takes --arrivals N, --runs R, --duration S, --warmup S, --as AGENCY, --in-flight N, --channels C, --deep-pages D; not: $1" ;;
    esac
  done
  [[ "${runs}" =~ ^[1-9][0-9]*$ && "${duration}" =~ ^[1-9][0-9]*$ ]] ||
    die "--runs and --duration must be positive integers"
  ensure_filled "${arrivals}"
  start_server
  start_echo "${as}" "${FILLED}" "${deep_pages}"
  local -a common=(--as "${as}" --filled "${FILLED}" --in-flight "${in_flight}"
    --channels "${channels}" --duration "${duration}" --warmup "${warmup}" --deep-pages "${deep_pages}")
  local -a parts=(get)
  [[ "${which}" == list ]] && parts=(list_first list_deep)
  local part r target
  local -A med=()
  for part in "${parts[@]}"; do
    local -A values=()
    # One run of each at a time, the order alternating, so that a drift of
    # the shared machine weighs on both alike.
    for ((r = 1; r <= runs; r++)); do
      local -a order=(enlace echo)
      ((r % 2 == 0)) && order=(echo enlace)
      # get also measures its database floor: the same reads without the server.
      [[ "${part}" == get ]] && order+=(floor)
      for target in "${order[@]}"; do
        if [[ "${target}" == floor ]]; then
          measure_db_floor "${as}" "${FILLED}" "${duration}" "${warmup}"
        else
          measure_loop "${part}" "${target}" 1 "${common[@]}"
        fi
        values[${target}_cps]+=" ${M_CALLS_PER_S}"
        values[${target}_p50]+=" ${M_P50_MS}"
        values[${target}_p99]+=" ${M_P99_MS}"
      done
    done
    local -a targets=(enlace echo)
    [[ "${part}" == get ]] && targets+=(floor)
    for target in "${targets[@]}"; do
      # shellcheck disable=SC2086  # the lists are space-separated numbers
      {
        med[${part}_${target}_cps]="$(median ${values[${target}_cps]})"
        med[${part}_${target}_p50]="$(median ${values[${target}_p50]})"
        med[${part}_${target}_p99]="$(median ${values[${target}_p99]})"
      }
    done
    unset values
  done
  stop_echo
  local -a keys=()
  local label
  printf '\n%s over mTLS at %s calls in flight (%s connections), as %s, %s filled arrivals;\nmedians of %s runs of %s s (after %s s of warm-up), each against enlace-server and the bare echo server:\n' \
    "${which}" "${in_flight}" "${channels}" "${as}" "${FILLED}" "${runs}" "${duration}" "${warmup}"
  printf '  %-34s %10s %10s %10s\n' "" "calls/s" "p50 ms" "p99 ms"
  for part in "${parts[@]}"; do
    case "${part}" in
      get) label="GetArrival (random visible ids)" ;;
      list_first) label="ListArrivals first page (50)" ;;
      list_deep) label="ListArrivals page $(field_of deep_page "${ECHO_CAPTURE}") (50)" ;;
    esac
    printf '  %-34s %10s %10s %10s\n' "${label}" "${med[${part}_enlace_cps]}" "${med[${part}_enlace_p50]}" "${med[${part}_enlace_p99]}"
    printf '  %-34s %10s %10s %10s\n' "  echo (bare mTLS, same bytes)" "${med[${part}_echo_cps]}" "${med[${part}_echo_p50]}" "${med[${part}_echo_p99]}"
    if [[ "${part}" == get ]]; then
      printf '  %-34s %10s %10s %10s\n' "  database floor (store read only)" "${med[get_floor_cps]}" "${med[get_floor_p50]}" "${med[get_floor_p99]}"
      keys+=(--key "get_db_calls_per_s=${med[get_floor_cps]}" --key "get_db_p50_ms=${med[get_floor_p50]}"
        --key "get_db_p99_ms=${med[get_floor_p99]}")
    fi
    keys+=(--key "${part}_calls_per_s=${med[${part}_enlace_cps]}" --key "${part}_p50_ms=${med[${part}_enlace_p50]}"
      --key "${part}_p99_ms=${med[${part}_enlace_p99]}" --key "${part}_echo_calls_per_s=${med[${part}_echo_cps]}"
      --key "${part}_echo_p50_ms=${med[${part}_echo_p50]}" --key "${part}_echo_p99_ms=${med[${part}_echo_p99]}")
  done
  local ratio_key ratio_value
  for part in "${parts[@]}"; do
    case "${part}" in
      get) ratio_key=get_ratio ;;
      list_first) ratio_key=list_ratio ;;
      list_deep) ratio_key=list_deep_ratio ;;
    esac
    ratio_value="$(ratio "${med[${part}_enlace_cps]}" "${med[${part}_echo_cps]}")"
    printf '  %-34s %10s   (enlace calls/s over echo calls/s)\n' "${ratio_key}" "${ratio_value}"
    keys+=(--key "${ratio_key}=${ratio_value}")
  done
  if [[ "${which}" == get ]]; then
    ratio_value="$(ratio "${med[get_floor_cps]}" "${med[get_echo_cps]}")"
    printf '  %-34s %10s   (database floor over echo: the most get_ratio can be here)\n' get_ratio_ceiling "${ratio_value}"
    keys+=(--key "get_ratio_ceiling=${ratio_value}")
    ratio_value="$(ratio "${med[get_enlace_cps]}" "${med[get_floor_cps]}")"
    printf '  %-34s %10s   (enlace calls/s over the database floor)\n' get_db_ratio "${ratio_value}"
    keys+=(--key "get_db_ratio=${ratio_value}")
  fi
  keys+=(--key "${which}_errors=0")
  record_results "${which}" "${which}: calls/s and latency at ${in_flight} in flight against a bare mTLS echo server" \
    --setting "arrivals=${FILLED}" --setting "as=${as}" --setting "in_flight=${in_flight}" \
    --setting "channels=${channels}" --setting "runs=${runs}" --setting "duration_s=${duration}" \
    --setting "deep_pages=${deep_pages}" --setting "get_bytes=$(field_of get_bytes "${ECHO_CAPTURE}")" \
    --setting "list_bytes=$(field_of list_bytes "${ECHO_CAPTURE}")" "${keys[@]}"
}

# The report scenario: GetProgrammeReport for one year, as mfa and as an agency.
run_report() {
  local arrivals=100000 runs=3 calls=20 year=2020 as=iom
  while (($# > 0)); do
    case "$1" in
      --arrivals) arrivals="$(parse_count "$2")" || die "--arrivals: not a count: $2"; shift 2 ;;
      --runs) runs="$2"; shift 2 ;;
      --calls) calls="$2"; shift 2 ;;
      --year) year="$2"; shift 2 ;;
      --as) as="$2"; shift 2 ;;
      *) die "report takes --arrivals N, --runs R, --calls N, --year Y, --as AGENCY; not: $1" ;;
    esac
  done
  ensure_filled "${arrivals}"
  start_server
  local mfa_p50 mfa_p99 mfa_result
  measure_report mfa "${runs}" --calls "${calls}" --year "${year}" --filled "${FILLED}"
  mfa_p50="${M_P50_MS}" mfa_p99="${M_P99_MS}" mfa_result="${M_REPORT_RESULT}"
  measure_report "${as}" "${runs}" --calls "${calls}" --year "${year}" --filled "${FILLED}"
  printf '\nGetProgrammeReport for %s over mTLS, %s filled arrivals; %s sequential calls a run,\nmedians of %s runs:\n' \
    "${year}" "${FILLED}" "${calls}" "${runs}"
  printf '  %-24s %10s %10s\n' "" "p50 ms" "p99 ms" "as mfa (the ministry)" "${mfa_p50}" "${mfa_p99}" \
    "as ${as}" "${M_P50_MS}" "${M_P99_MS}"
  printf '  returnees of %s counted for mfa: %s (filled arrivals of %s: %s)\n' "${year}" \
    "$(field_of returnees "${mfa_result}")" "${year}" "$(field_of filled_in_year "${mfa_result}")"
  # Only bench.sh fill writes arrivals to the bench database, all as mfa:
  # the ministry's report counts every one of that year, none suppressed.
  [[ "$(field_of returnees "${mfa_result}")" == "$(field_of filled_in_year "${mfa_result}")" ]] ||
    die "mfa's report counts $(field_of returnees "${mfa_result}") returnees in ${year}, but ${year} has $(field_of filled_in_year "${mfa_result}") filled arrivals"
  record_results report "report: GetProgrammeReport for one year, sequential" \
    --setting "arrivals=${FILLED}" --setting "year=${year}" --setting "calls_per_run=${calls}" \
    --setting "runs=${runs}" --setting "agency=${as}" \
    --key "report_mfa_p50_ms=${mfa_p50}" --key "report_mfa_p99_ms=${mfa_p99}" \
    --key "report_agency_p50_ms=${M_P50_MS}" --key "report_agency_p99_ms=${M_P99_MS}" \
    --key "report_errors=0"
}

# The fill scenario: loads the bench database up to N filled arrivals.
run_fill() {
  (($# == 1)) || die "fill takes one argument, the number of arrivals to hold (e.g. 1e6)"
  local target
  target="$(parse_count "$1")" || die "fill: not a count: $1 (e.g. 100000, 1e6)"
  fill_to "${target}"
  if ((FILL_ADDED > 0)); then
    record_results fill "fill: synthetic arrivals loaded in bulk" \
      --setting "chunk=${ENLACE_BENCH_FILL_CHUNK:-250000}" \
      --key "fill_arrivals=${target}" --key "fill_added=${FILL_ADDED}" \
      --key "fill_seconds=${FILL_SECONDS}" --key "fill_load_seconds=${FILL_LOAD_SECONDS}" \
      --key "fill_recount_seconds=${FILL_RECOUNT_SECONDS}" \
      --key "fill_rate_arrivals_per_s=${FILL_RATE}"
    cat <<EOF

fill: the bench database holds ${target} filled arrivals
  added       ${FILL_ROWS}
  took        ${FILL_SECONDS} s (LOAD DATA ${FILL_LOAD_SECONDS} s, recount_reports ${FILL_RECOUNT_SECONDS} s)
  rate        ${FILL_RATE} arrivals/s with their consent rows, cases, services, referrals and initiatives
  (bulk rows bypass the server: no audit event names them; see scripts/lib/bench_fill.sh)
EOF
  else
    printf '\nfill: the bench database already holds %s filled arrivals: nothing added\n' "$(fill_count)"
  fi
}

log "running scenario ${scenario}"
status=0
case "${scenario}" in
  fill) run_fill "$@" || status=$? ;;
  get | list) run_reads "${scenario}" "$@" || status=$? ;;
  report) run_report "$@" || status=$? ;;
  scale) run_scale "$@" || status=$? ;;
  smoke) run_smoke "$@" || status=$? ;;
  *)
    start_server
    case "${scenario}" in
      ingest) run_loadgen_ingest "$@" || status=$? ;;
      watch) run_loadgen_watch "$@" || status=$? ;;
      fairness) run_loadgen_fairness "$@" || status=$? ;;
      mixed) run_mixed "$@" || status=$? ;;
    esac
    ;;
esac
if ((status != 0)); then
  log "scenario ${scenario} failed (exit ${status}); server log: ${SERVER_LOG}"
  [[ "${ENLACE_KEEP_TMP:-0}" == 1 || ! -s "${SERVER_LOG}" ]] || tail -n 40 "${SERVER_LOG}" >&2 || true
fi
exit "${status}"
