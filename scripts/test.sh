#!/usr/bin/env bash
# test.sh: build Enlace and run the whole test suite (ctest) against a
# throw-away private MariaDB. This is what CI runs (.ci/run).
set -euo pipefail

ENLACE_SCRIPT_NAME=test.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<EOF
Usage: scripts/test.sh [--help] [--no-tsan] [--no-asan] [--no-tidy] [ctest args...]
       scripts/test.sh --sanitize=address|thread [ctest args...]

Installs missing Debian packages, builds (build/), runs the static checks
(scripts/tidy.sh: clang-tidy with .clang-tidy over the production sources,
any finding fails the run; files that passed and did not change are not
checked again), starts a private MariaDB
in a temporary directory (mode 0700) on a free port, and runs
  ctest --test-dir build --output-on-failure -j2 [ctest args...]
(with -LE '^long$' added unless the arguments choose tests by label or
name: the long runs, such as ha_test, start clusters of their own and take
minutes; scripts/ha-test.sh runs it alone)
with ENLACE_TEST_DB_DSN=mysql://root@127.0.0.1:PORT/ and ENLACE_DB_PASSWORD
(root's generated password, kept in that directory with mode 0600) exported.
Each test creates and drops its own databases, migrates them as root, and
runs the server as a database user of its own with only the grants of
db/grants.h, as production does. Root has no password-less access: over the
socket (in that directory) or over TCP with the password
(scripts/lib/mariadb.sh, mariadb_test_server).

Then the CI part of the ThreadSanitizer suite: builds the tests listed in
ENLACE_TSAN_CI_TESTS (tests/tsan/CMakeLists.txt) with -fsanitize=thread in
build-tsan/ (configured once, incremental afterwards) and runs them against
the same MariaDB:
  ctest --test-dir build-tsan -L '^tsan-' --output-on-failure -j2 [ctest args...]
A ThreadSanitizer report fails the test it comes from. --no-tsan (or
ENLACE_NO_TSAN=1) skips this part; CI (CI=true) refuses to skip it.

Every test carries one layer label: unit (no database, no server: seconds),
db (the stores against MariaDB), e2e (a server over mTLS), bench (the
harness's smoke run), install (the installed package), fuzz (each libFuzzer
harness of tests/fuzz/ replaying its checked-in seed corpus; the fuzzing
itself is scripts/fuzz.sh) or long (the long runs); tests written in
Python also carry python. In build-tsan/ the googletest tests are named
tsan.<Suite>.<Test> and labelled tsan-<layer> (CI's part) or long-tsan-<layer>
(the rest), so -L LAYER selects that layer in every run.

Then the CI part of the AddressSanitizer + UndefinedBehaviorSanitizer suite:
the unit and db layers' tests are built with -fsanitize=address,undefined
in build-asan/ (configured once, incremental afterwards; the target
enlace_asan_ci_tests) and run there (with ENLACE_CI_ASAN_LABELS set, every
test is built, and the layers it matches run):
  ctest --test-dir build-asan -L '${ci_asan_labels}' --output-on-failure -j2 [ctest args...]
--no-asan (or ENLACE_NO_ASAN=1) skips this part; CI refuses to skip it.

--sanitize=address: only the whole ASan+UBSan suite (a long run, see
docs/testing.md): every test of every layer in build-asan/, the Python tests
and the benchmark's smoke run against the ASan server binary. Any report
fails: memory errors and undefined behaviour stop the process at once
(exit 86), leaks are reported at exit (LeakSanitizer). A googletest test fails
if it or any process it starts reports (tests/asan/asan_run.sh); the other
tests' processes write their reports to build-asan/asan-reports/<test>.*,
and any file there fails the run, naming the test.

--sanitize=thread: only the whole ThreadSanitizer suite (a long run, see
docs/testing.md): everything built in build-tsan/, every test of every layer
run there, the Python tests and the benchmark's smoke run against the TSan
server binary. A googletest test fails if it or any process it starts
reports (tests/tsan/tsan_run.sh); the other tests' processes write their
reports to build-tsan/tsan-reports/<test>.*, and any file there fails the
run, naming the test.

--no-tidy (or ENLACE_NO_TIDY=1) skips the static checks; CI refuses to skip
them. --sanitize skips them (the sanitizer runs check no source).

The database and its directory are removed on exit. The exit status is 0 only
if every ctest run passed (and, for ASan, no report was written).

Examples:
  scripts/test.sh                        # everything, the TSan suite, ASan's CI part
  scripts/test.sh -L unit                # the unit layer, its TSan and ASan copies
  scripts/test.sh --no-tsan --no-asan --no-tidy -L e2e  # the end-to-end layer alone
  scripts/test.sh --no-tsan --no-asan -R Policy  # tests whose name matches Policy
  scripts/test.sh -R Workflow -V         # matching tests, verbose, in every run
  scripts/test.sh --sanitize=address     # the whole suite under ASan+UBSan
  scripts/test.sh --sanitize=address -R Policy   # part of it
  scripts/test.sh --sanitize=thread      # the whole suite under TSan
  scripts/test.sh --sanitize=thread -L e2e       # its e2e layer

Environment:
  ENLACE_NO_INSTALL=1   fail instead of installing missing packages
  ENLACE_BUILD_JOBS     build parallelism (default 2)
  ENLACE_KEEP_DB=1      keep the temporary MariaDB directory (for debugging)
  ENLACE_NO_TIDY=1      skip the static checks (same as --no-tidy)
  ENLACE_NO_TSAN=1      skip the ThreadSanitizer suite (same as --no-tsan)
  ENLACE_TSAN_CXX       compiler of build-tsan/: g++ (default) or clang++-N
                        (to switch, rm -rf build-tsan first)
  ENLACE_TSAN_OPTIONS   extra TSAN_OPTIONS for the suite (e.g. halt_on_error=0
                        to see every report of a test, not just the first)
  ENLACE_NO_ASAN=1      skip the CI part of the ASan suite (same as --no-asan)
  ENLACE_CI_ASAN_LABELS the ctest label regex of that part (default
                        ${ci_asan_labels}; when set, everything is built)
  ENLACE_ASAN_OPTIONS   extra ASAN_OPTIONS for the googletest tests
EOF
}

# What CI runs under ASan: the layers that fit its time (docs/testing.md).
ci_asan_labels="${ENLACE_CI_ASAN_LABELS:-^(unit|db)$}"
run_normal=1
run_tidy=1
run_tsan=ci  # ci: CI's part; all: the whole suite; 0: none
run_asan=ci  # ci: the layers above; all: the whole suite; 0: none
if [[ "${ENLACE_NO_TIDY:-0}" == 1 ]]; then
  run_tidy=0
fi
if [[ "${ENLACE_NO_TSAN:-0}" == 1 ]]; then
  run_tsan=0
fi
if [[ "${ENLACE_NO_ASAN:-0}" == 1 ]]; then
  run_asan=0
fi
sanitize=""
while (($# > 0)); do
  case "$1" in
    --help | -h)
      usage
      exit 0
      ;;
    --no-tsan)
      run_tsan=0
      shift
      ;;
    --no-asan)
      run_asan=0
      shift
      ;;
    --no-tidy)
      run_tidy=0
      shift
      ;;
    --sanitize=*)
      sanitize="${1#--sanitize=}"
      shift
      ;;
    --sanitize)
      (($# >= 2)) || die "--sanitize needs a value: address or thread"
      sanitize="$2"
      shift 2
      ;;
    --)
      shift
      break
      ;;
    *) break ;;
  esac
done
case "${sanitize}" in
  "") ;;
  address) run_normal=0 run_tidy=0 run_tsan=0 run_asan=all ;;
  thread) run_normal=0 run_tidy=0 run_tsan=all run_asan=0 ;;
  *) die "--sanitize=${sanitize}: address or thread" ;;
esac
if [[ "${CI:-}" == true ]]; then
  [[ -z "${sanitize}" ]] || die "CI runs scripts/test.sh without --sanitize"
  [[ "${run_tsan}" != 0 ]] || die "CI runs the ThreadSanitizer suite too: unset ENLACE_NO_TSAN, drop --no-tsan"
  [[ "${run_asan}" != 0 ]] || die "CI runs the ASan suite's CI part too: unset ENLACE_NO_ASAN, drop --no-asan"
  ((run_tidy)) || die "CI runs the static checks too: unset ENLACE_NO_TIDY, drop --no-tidy"
fi

cd "${ENLACE_ROOT}"
package_sets=(all test)
if [[ "${run_tsan}" != 0 ]]; then
  package_sets+=(tsan)
fi
if [[ "${run_asan}" != 0 ]]; then
  package_sets+=(asan)
fi
if ((run_tidy)); then
  package_sets+=(tidy)
fi
ensure_packages "${package_sets[@]}"
# buf, for proto_contract_test and the reflection interop test (buf curl), in
# every tree.
ensure_npm_tools
if ((run_normal)); then
  ensure_built
fi

# The static checks, on the tree just built (its compile commands and Ninja's
# record of each file's headers); a finding fails the run at the end, after
# the tests. Not a ctest test: the unit layer runs twice (test_layers_test),
# and a cold run of the checks takes minutes.
tidy_status=0
if ((run_tidy)); then
  tidy_started=${SECONDS}
  log "static checks: scripts/tidy.sh (clang-tidy, .clang-tidy) over the production sources"
  "${ENLACE_ROOT}/scripts/tidy.sh" --no-build </dev/null || tidy_status=$?
  if ((tidy_status == 0)); then
    log "static checks passed ($((SECONDS - tidy_started)) s)"
  else
    log "static checks FAILED (exit ${tidy_status}, $((SECONDS - tidy_started)) s): the findings are above; the tests run all the same"
  fi
fi

DB_DIR=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "${DB_DIR}" ]]; then
    mariadb_stop "${DB_DIR}" || warn "could not stop the test MariaDB in ${DB_DIR}"
    if [[ "${ENLACE_KEEP_DB:-0}" == 1 ]]; then
      log "keeping ${DB_DIR} (ENLACE_KEEP_DB=1)"
    else
      rm -rf "${DB_DIR}"
    fi
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/enlace-test.XXXXXX")"
# Exports ENLACE_TEST_DB_DSN (root, no password in it), ENLACE_DB_PASSWORD
# (root's password: DSNs without one take it) and
# ENLACE_MARIADB_TCP_ROOT_PASSWORD (the same, for the MariaDB servers that
# some tests start through scripts/lib/mariadb.sh).
mariadb_test_server "${DB_DIR}" || die "the test MariaDB did not start"
log "ENLACE_TEST_DB_DSN=${ENLACE_TEST_DB_DSN} (password in ENLACE_DB_PASSWORD and ${DB_DIR}/root.password)"

# The long runs (label long: scripts/ha-test.sh's Galera cluster, minutes)
# run only when asked for by label or name (-L long, -R ha_test).
long_runs=(-LE '^long$')
for arg in "$@"; do
  case "${arg}" in
    -L | -L* | --label-regex* | -R | -R* | --tests-regex* | -LE | -LE* | --label-exclude*) long_runs=() ;;
  esac
done

# What failed, part by part, repeated as the run's last lines: a log read
# from its end (CI keeps only the tail) names the failing tests without
# scrolling back through thousands of lines.
failure_summary=()
# note_failed_tests PART BUILD_DIR: adds the tests ctest recorded as failed
# in its last run in BUILD_DIR to the summary under PART's name.
note_failed_tests() {
  local part="$1" failed_log="$2/Testing/Temporary/LastTestsFailed.log" line
  if [[ ! -s "${failed_log}" ]]; then
    failure_summary+=("${part}: ctest failed before recording any test as failed")
    return
  fi
  while IFS= read -r line; do
    failure_summary+=("${part}: ${line#*:}")
  done <"${failed_log}"
}

status=0
if ((run_normal)); then
  rm -f "${ENLACE_BUILD_DIR}/Testing/Temporary/LastTestsFailed.log"
  ctest --test-dir "${ENLACE_BUILD_DIR}" --output-on-failure -j2 "${long_runs[@]}" "$@" </dev/null || status=$?
  if ((status != 0)); then
    log "ctest failed (exit ${status})"
    note_failed_tests "plain tree" "${ENLACE_BUILD_DIR}"
  fi
fi

# The reports of the sanitized tests' other processes (tests/asan/ and
# tests/tsan/ file them under DIR/<test>.<pid>): prints each under the name
# of its test; fails if there is any.
sanitizer_reports_clean() {
  local dir="$1" what="$2" report name
  local -a reports=()
  shopt -s nullglob
  reports=("${dir}"/*)
  shopt -u nullglob
  ((${#reports[@]} == 0)) && return 0
  for report in "${reports[@]}"; do
    name="$(basename "${report}")"
    printf '==== %s report of test %s (process %s) ====\n' "${what}" "${name%%.*}" "${name#*.}" >&2
    cat "${report}" >&2
  done
  log "${what} reported in ${#reports[@]} process(es) of the tests named above"
  return 1
}

if [[ "${run_tsan}" != 0 ]]; then
  tsan_started=${SECONDS}
  ensure_tsan_built "${run_tsan}"
  tsan_reports="${ENLACE_TSAN_BUILD_DIR}/tsan-reports"
  rm -rf "${tsan_reports}"
  mkdir -p "${tsan_reports}"
  tsan_args=(-L '^tsan-')
  if [[ "${run_tsan}" == all ]]; then
    tsan_args=()
    # The suite's options for any process no test property reaches.
    # shellcheck source=/dev/null
    source "${ENLACE_TSAN_BUILD_DIR}/tests/tsan/tsan_options.sh"
    TSAN_OPTIONS+=":log_path=${tsan_reports}/unnamed"
  fi
  tsan_status=0
  rm -f "${ENLACE_TSAN_BUILD_DIR}/Testing/Temporary/LastTestsFailed.log"
  ctest --test-dir "${ENLACE_TSAN_BUILD_DIR}" "${tsan_args[@]}" --output-on-failure -j2 "$@" </dev/null ||
    tsan_status=$?
  if ((tsan_status != 0)); then
    note_failed_tests ThreadSanitizer "${ENLACE_TSAN_BUILD_DIR}"
  fi
  if ! sanitizer_reports_clean "${tsan_reports}" ThreadSanitizer && ((tsan_status == 0)); then
    tsan_status=66
    failure_summary+=("ThreadSanitizer: reports from processes no test named (printed above)")
  fi
  log "ThreadSanitizer suite ($([[ ${run_tsan} == ci ]] && echo "CI part" || echo whole)): build and run took $((SECONDS - tsan_started)) s"
  if ((tsan_status != 0)); then
    log "the ThreadSanitizer suite failed (exit ${tsan_status})"
    if ((status == 0)); then
      status=${tsan_status}
    fi
  fi
fi

if [[ "${run_asan}" != 0 ]]; then
  asan_started=${SECONDS}
  # CI's part builds only its layers' tests; other labels need everything.
  if [[ "${run_asan}" == ci && -z "${ENLACE_CI_ASAN_LABELS:-}" ]]; then
    ensure_asan_built ci
  else
    ensure_asan_built all
  fi
  rm -rf "${ENLACE_ASAN_BUILD_DIR}/asan-reports"
  mkdir -p "${ENLACE_ASAN_BUILD_DIR}/asan-reports"
  # The suite's options for any process no test property reaches (the tests
  # of tests/'s subdirectories that are not googletest tests).
  # shellcheck source=/dev/null
  source "${ENLACE_ASAN_BUILD_DIR}/tests/asan/sanitizer_options.sh"
  ASAN_OPTIONS+=":log_path=${ENLACE_ASAN_BUILD_DIR}/asan-reports/unnamed"
  UBSAN_OPTIONS+=":log_path=${ENLACE_ASAN_BUILD_DIR}/asan-reports/unnamed"
  asan_args=()
  if [[ "${run_asan}" == ci ]]; then
    asan_args=(-L "${ci_asan_labels}")
  fi
  asan_status=0
  rm -f "${ENLACE_ASAN_BUILD_DIR}/Testing/Temporary/LastTestsFailed.log"
  ctest --test-dir "${ENLACE_ASAN_BUILD_DIR}" --output-on-failure -j2 "${asan_args[@]}" "$@" </dev/null ||
    asan_status=$?
  if ((asan_status != 0)); then
    note_failed_tests ASan+UBSan "${ENLACE_ASAN_BUILD_DIR}"
  fi
  if ! sanitizer_reports_clean "${ENLACE_ASAN_BUILD_DIR}/asan-reports" ASan/UBSan && ((asan_status == 0)); then
    asan_status=86
    failure_summary+=("ASan+UBSan: reports from processes no test named (printed above)")
  fi
  log "ASan+UBSan suite ($([[ ${run_asan} == ci ]] && echo "CI part: ${ci_asan_labels}" || echo whole)): build and run took $((SECONDS - asan_started)) s"
  if ((asan_status != 0)); then
    log "the ASan+UBSan suite failed (exit ${asan_status})"
    if ((status == 0)); then
      status=${asan_status}
    fi
  fi
fi
if ((tidy_status != 0)); then
  log "the static checks failed (exit ${tidy_status}): see the findings of scripts/tidy.sh above"
  failure_summary+=("static checks: scripts/tidy.sh exit ${tidy_status} (findings above)")
  if ((status == 0)); then
    status=${tidy_status}
  fi
fi
if ((${#failure_summary[@]} > 0)); then
  log "FAILED (exit ${status}), ${#failure_summary[@]} item(s); each test's output is above under its name:"
  printf '  %s\n' "${failure_summary[@]}" >&2
else
  log "every part passed"
fi
exit "${status}"
