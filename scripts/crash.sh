#!/usr/bin/env bash
# crash.sh: the crash long run (not part of scripts/test.sh): the two crash
# tests, crash_consistency_test and crash_audit_test, with CYCLES kill cycles
# each instead of CI's 20, against a private MariaDB; then their figures.
set -euo pipefail

ENLACE_SCRIPT_NAME=crash.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<'EOF'
Usage: scripts/crash.sh [--help] [CYCLES] [--seed N] [--build-dir DIR] [--only consistency|audit]

Kills the real enlace-server CYCLES times (default 500) in each of two tests,
with a private MariaDB started in a temporary directory and stopped after:

  crash_consistency_test  mfa streams arrivals; the server dies by SIGKILL at a
                          random moment or at a forced crash point (the
                          test-only ENLACE_TESTING_CRASH_POINT, server/
                          crash_points.h: mid_batch, after_commit_before_answer,
                          mid_answers, at a random Nth pass), in turn. After each
                          restart every record sent but not acknowledged is
                          resent, until all are. Then: every acknowledged record
                          stored exactly once under the id it was acknowledged
                          with, nothing never sent stored, every arrival with its
                          consent row and audit event, the audit chain intact.
  crash_audit_test        arrivals, referrals and a watch under random SIGKILLs:
                          every committed change and delivered event audited,
                          the chain intact.

Builds enlace-server and the two tests first (in build/, or --build-dir).
Prints the kill cycles (per crash point), records sent / acknowledged /
resent / answers lost and recovered / checked, duplicates, strays and the
chain's verdict; exit status 0 only if both tests passed. The full logs
stay in a temporary directory (printed). About 0.45 s per consistency
cycle and 0.6 s per audit cycle: 500 cycles take about 9 minutes.

Options:
  --seed N         the consistency test's random seed (it prints the one it
                   used, so a failure can be repeated)
  --build-dir DIR  build and run from DIR instead of build/
  --only NAME      run only crash_consistency_test (consistency) or only
                   crash_audit_test (audit)

Examples:
  scripts/crash.sh            # the 500-cycle long run
  scripts/crash.sh 100 --only consistency
EOF
}

cycles=500
seed=""
only=""
while (($# > 0)); do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
    --build-dir) ENLACE_BUILD_DIR="$(realpath -m "${2:?--build-dir needs a directory}")"; shift 2 ;;
    --only) only="${2:?--only needs consistency or audit}"; shift 2 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) cycles="$1"; shift ;;
  esac
done
[[ "${cycles}" =~ ^[0-9]+$ ]] && ((cycles >= 1)) || die "CYCLES must be a whole number, at least 1: ${cycles}"
[[ -z "${seed}" || "${seed}" =~ ^[0-9]+$ ]] || die "--seed must be a whole number: ${seed}"
case "${only}" in
  "") tests=(crash_consistency_test crash_audit_test) ;;
  consistency) tests=(crash_consistency_test) ;;
  audit) tests=(crash_audit_test) ;;
  *) die "--only must be consistency or audit, not ${only}" ;;
esac

ensure_packages all
ensure_built enlace-server "${tests[@]}"

work="$(mktemp -d "${TMPDIR:-/tmp}/enlace-crash.XXXXXX")"
db_dir="${work}/db"
cleanup() { mariadb_stop "${db_dir}" || warn "could not stop the MariaDB in ${db_dir}"; }
trap cleanup EXIT
mariadb_test_server "${db_dir}" || die "the test MariaDB did not start"
log "crash long run: ${cycles} kill cycles per test; logs in ${work}"

status=0
for test in "${tests[@]}"; do
  log "${test}: ${cycles} cycles"
  started=${SECONDS}
  test_status=0
  ENLACE_CRASH_CYCLES="${cycles}" ${seed:+ENLACE_CRASH_SEED="${seed}"} \
    "${ENLACE_BUILD_DIR}/tests/${test}" >"${work}/${test}.log" 2>&1 </dev/null || test_status=$?
  elapsed=$((SECONDS - started))
  echo
  echo "${test}: $([[ ${test_status} == 0 ]] && echo PASSED || echo "FAILED (exit ${test_status})") in ${elapsed} s"
  # The figures the tests print, one per line.
  grep -E '^crash (consistency|test): ' "${work}/${test}.log" | tr ' ' '\n' | grep '=' | sed 's/^/  /' || true
  grep -E '^crash test: |^crash consistency: seed' "${work}/${test}.log" | sed 's/^/  /' || true
  if [[ ${test_status} != 0 ]]; then
    grep -E 'Failure|error|Expected|Which is|stored|acknowledged' "${work}/${test}.log" | head -40 | sed 's/^/  | /' || true
    status=1
  fi
done
echo
echo "crash.sh: $([[ ${status} == 0 ]] && echo PASSED || echo FAILED); full logs in ${work}"
exit "${status}"
