# bench_reads.sh: the read scenarios of scripts/bench.sh over filled
# arrivals: get and list (closed loop at 64 calls in flight, against the
# bare mTLS echo server in the same run), report (sequential programme
# reports), and the measurements scale repeats at each size.
#
# Sourced by scripts/bench.sh, which sets PKI_DIR, TMP_DIR, TLS_ADDR (once
# start_server ran), ENLACE_LOADGEN_BIN, BENCH_ECHO_BIN and provides
# fill_count, start_server, log, die. Functions:
#   start_echo                    capture real answers, start enlace-echo (ECHO_ADDR)
#   launch_echo [--responses=DIR] start enlace-echo (ECHO_ADDR, ECHO_PID)
#   stop_echo
#   loadgen_read CMD ADDR ARGS... one enlace-loadgen get|list|capture|report run
#   measure_loop PART TARGET RUNS ARGS...
#                                 PART get|list_first|list_deep on enlace|echo, RUNS
#                                 times; appends to READ_RUNS and sets
#                                 M_CALLS_PER_S, M_P50_MS, M_P99_MS (medians)
#   measure_report AS RUNS ARGS...  report as AS, RUNS runs; sets M_P50_MS, M_P99_MS
#   measure_db_floor AS FILLED DURATION WARMUP
#                                 one enlace-bareread run (the database floor of
#                                 get); sets M_CALLS_PER_S, M_P50_MS, M_P99_MS
#   median VALUE... / ratio A B
# MEASURE_TAG, when set, starts the labels of the runs recorded (scale: the size).

# shellcheck shell=bash disable=SC2034  # the M_* and ECHO_* results are read by bench.sh

ECHO_PID=""
ECHO_ADDR=""
# RESULT lines of the runs, as LABEL=RESULT ..., for bench_results.py --run.
READ_RUNS=()

# median VALUE...: the median (the mean of the two middle values for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B with 3 decimals ("null" when B is 0 or missing).
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "") print "null"; else printf "%.3f\n", a / b }'
}

# field_of KEY "RESULT ... KEY=V ..." -> V
field_of() { sed -n "s/^RESULT .* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

loadgen_read() {
  "${ENLACE_LOADGEN_BIN}" "$1" --addr "$2" --ca "${PKI_DIR}/ca.crt" --pki-dir "${PKI_DIR}" "${@:3}" </dev/null
}

# start_echo AS FILLED DEEP_PAGES: captures the real answers the echo server
# will send back (as AS), then starts it on a free port (ECHO_ADDR).
start_echo() {
  local as="$1" filled="$2" deep_pages="$3" capture
  stop_echo
  mkdir -p "${TMP_DIR}/echo"
  capture="$(loadgen_read capture "${TLS_ADDR}" --as "${as}" --filled "${filled}" \
    --deep-pages "${deep_pages}" --out-dir "${TMP_DIR}/echo" | tee_stderr | grep '^RESULT')" ||
    die "capturing real answers for the echo server failed"
  ECHO_CAPTURE="${capture}"
  launch_echo --responses="${TMP_DIR}/echo"
}

# launch_echo [--responses=DIR]: starts enlace-echo on a free port (ECHO_ADDR,
# ECHO_PID); without canned answers it serves the watch scenario only.
launch_echo() {
  stop_echo
  rm -f "${TMP_DIR}/echo.ready"
  "${BENCH_ECHO_BIN}" --addr=127.0.0.1:0 --ca_cert="${PKI_DIR}/ca.crt" \
    --server_cert="${PKI_DIR}/server.crt" --server_key="${PKI_DIR}/server.key" \
    "$@" --ready_file="${TMP_DIR}/echo.ready" \
    </dev/null >>"${TMP_DIR}/echo.log" 2>&1 &
  ECHO_PID=$!
  wait_ready_file "${TMP_DIR}/echo.ready" "${ECHO_PID}" "${TMP_DIR}/echo.log" 30 ||
    die "the echo server did not start"
  ECHO_ADDR="127.0.0.1:$(<"${TMP_DIR}/echo.ready")"
  log "echo server (pid ${ECHO_PID}) on ${ECHO_ADDR}"
}

stop_echo() {
  if [[ -n "${ECHO_PID}" ]]; then
    stop_pid "${ECHO_PID}" "the echo server" 10 || true
    ECHO_PID=""
  fi
}

# measure_loop PART TARGET RUNS ARGS...: PART is get, list_first or list_deep;
# TARGET enlace or echo; ARGS go to enlace-loadgen.
measure_loop() {
  local part="$1" target="$2" runs="$3" r result addr="${TLS_ADDR}"
  shift 3
  local -a args=("$@") cps=() p50=() p99=()
  case "${part}" in
    get) args=(get "${addr}" "${args[@]}") ;;
    list_first) args=(list "${addr}" --page first "${args[@]}") ;;
    list_deep) args=(list "${addr}" --page deep "${args[@]}") ;;
    *) die "measure_loop: unknown part ${part}" ;;
  esac
  if [[ "${target}" == echo ]]; then
    args[1]="${ECHO_ADDR}"
    args+=(--echo)
  fi
  for ((r = 1; r <= runs; r++)); do
    result="$(loadgen_read "${args[@]}" | tee_stderr | grep '^RESULT')" ||
      die "${part} on ${target} (run ${r}) failed"
    READ_RUNS+=("${MEASURE_TAG:-}${part} ${target} ${r}=${result}")
    cps+=("$(field_of calls_per_s "${result}")")
    p50+=("$(field_of p50_ms "${result}")")
    p99+=("$(field_of p99_ms "${result}")")
  done
  M_CALLS_PER_S="$(median "${cps[@]}")"
  M_P50_MS="$(median "${p50[@]}")"
  M_P99_MS="$(median "${p99[@]}")"
}

# The server's --db_pool_size default: it never has more reads in flight.
DB_FLOOR_IN_FLIGHT=16

measure_db_floor() {
  local as="$1" filled="$2" duration="$3" warmup="$4" result
  result="$(ENLACE_DB_PASSWORD="$(mariadb_password "${SECRETS_DIR}/server.password")" \
    "${BENCH_BAREREAD_BIN}" --dsn="${SERVER_DSN}" --as="${as}" --filled="${filled}" \
    --in_flight="${DB_FLOOR_IN_FLIGHT}" --duration="${duration}" --warmup="${warmup}" </dev/null |
    tee_stderr | grep '^RESULT')" || die "the database floor of get (enlace-bareread) failed"
  READ_RUNS+=("${MEASURE_TAG:-}get floor=${result}")
  M_CALLS_PER_S="$(field_of calls_per_s "${result}")"
  M_P50_MS="$(field_of p50_ms "${result}")"
  M_P99_MS="$(field_of p99_ms "${result}")"
}

# measure_report AS RUNS ARGS...: RUNS runs of sequential reports as AS.
measure_report() {
  local as="$1" runs="$2" r result
  shift 2
  local -a p50=() p99=()
  for ((r = 1; r <= runs; r++)); do
    result="$(loadgen_read report "${TLS_ADDR}" --as "${as}" "$@" | tee_stderr | grep '^RESULT')" ||
      die "report as ${as} (run ${r}) failed"
    READ_RUNS+=("${MEASURE_TAG:-}report ${as} ${r}=${result}")
    p50+=("$(field_of p50_ms "${result}")")
    p99+=("$(field_of p99_ms "${result}")")
    M_REPORT_RESULT="${result}"
  done
  M_P50_MS="$(median "${p50[@]}")"
  M_P99_MS="$(median "${p99[@]}")"
}
