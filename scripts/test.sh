#!/usr/bin/env bash
# test.sh: build Enlace and run the whole test suite (ctest) against a
# throw-away private MariaDB. This is what CI runs (.ci/run).
set -euo pipefail

ENLACE_SCRIPT_NAME=test.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<EOF
Usage: scripts/test.sh [--help] [--no-tsan] [ctest args...]

Installs missing Debian packages, builds (build/), starts a private MariaDB
in a temporary directory (mode 0700) on a free port, and runs
  ctest --test-dir build --output-on-failure -j2 [ctest args...]
with ENLACE_TEST_DB_DSN=mysql://root@127.0.0.1:PORT/ and ENLACE_DB_PASSWORD
(root's generated password, kept in that directory with mode 0600) exported.
Each test creates and drops its own databases, migrates them as root, and
runs the server as a database user of its own with only the grants of
db/grants.h, as production does. Root has no password-less access: over the
socket (in that directory) or over TCP with the password
(scripts/lib/mariadb.sh, mariadb_test_server).

Then the ThreadSanitizer suite: builds the tests listed in
tests/tsan/CMakeLists.txt with -fsanitize=thread in build-tsan/ (configured
once, incremental afterwards) and runs them against the same MariaDB:
  ctest --test-dir build-tsan -L tsan --output-on-failure -j2 [ctest args...]
A ThreadSanitizer report fails the test it comes from. --no-tsan (or
ENLACE_NO_TSAN=1) skips this part; CI (CI=true) refuses to skip it.

Every test carries one layer label: unit (no database, no server: seconds),
db (the stores against MariaDB), e2e (a server over mTLS), bench (the
harness's smoke run), install (the installed package), fuzz (each libFuzzer
harness of tests/fuzz/ replaying its checked-in seed corpus; the fuzzing
itself is scripts/fuzz.sh) or long (the long runs); tests written in
Python also carry python. The TSan copies are labelled tsan-<layer>, so
-L LAYER selects that layer in both runs.

The database and its directory are removed on exit. The exit status is 0 only
if both ctest runs passed.

Examples:
  scripts/test.sh                        # everything, then the TSan suite
  scripts/test.sh -L unit                # the unit layer, then its TSan copies
  scripts/test.sh --no-tsan -L e2e       # the end-to-end layer alone
  scripts/test.sh --no-tsan -R Policy    # tests whose name matches Policy
  scripts/test.sh -R Workflow -V         # matching tests, verbose, in both runs

Environment:
  ENLACE_NO_INSTALL=1   fail instead of installing missing packages
  ENLACE_BUILD_JOBS     build parallelism (default 2)
  ENLACE_KEEP_DB=1      keep the temporary MariaDB directory (for debugging)
  ENLACE_NO_TSAN=1      skip the ThreadSanitizer suite (same as --no-tsan)
  ENLACE_TSAN_CXX       compiler of build-tsan/: g++ (default) or clang++-N
                        (to switch, rm -rf build-tsan first)
  ENLACE_TSAN_OPTIONS   extra TSAN_OPTIONS for the suite (e.g. halt_on_error=0
                        to see every report of a test, not just the first)
EOF
}

run_tsan=1
if [[ "${ENLACE_NO_TSAN:-0}" == 1 ]]; then
  run_tsan=0
fi
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
    --)
      shift
      break
      ;;
    *) break ;;
  esac
done
if [[ "${CI:-}" == true ]] && ((!run_tsan)); then
  die "CI runs the ThreadSanitizer suite too: unset ENLACE_NO_TSAN, drop --no-tsan"
fi

cd "${ENLACE_ROOT}"
if ((run_tsan)); then
  ensure_packages all test tsan
else
  ensure_packages all test
fi
ensure_built

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

status=0
ctest --test-dir "${ENLACE_BUILD_DIR}" --output-on-failure -j2 "$@" </dev/null || status=$?
if ((status != 0)); then
  log "ctest failed (exit ${status})"
fi

if ((run_tsan)); then
  tsan_started=${SECONDS}
  ensure_tsan_built
  tsan_status=0
  ctest --test-dir "${ENLACE_TSAN_BUILD_DIR}" -L tsan --output-on-failure -j2 "$@" </dev/null ||
    tsan_status=$?
  log "ThreadSanitizer suite: build and run took $((SECONDS - tsan_started)) s"
  if ((tsan_status != 0)); then
    log "ctest of the ThreadSanitizer suite failed (exit ${tsan_status})"
    if ((status == 0)); then
      status=${tsan_status}
    fi
  fi
fi
exit "${status}"
