#!/usr/bin/env bash
# expect_tsan_report.sh [--each-gtest] --report TEXT [--frame TEXT] -- PROGRAM [ARGS...]
#
# The negative self-tests of the TSan suite: passes only when PROGRAM, run
# through tsan_run.sh with the suite's TSAN_OPTIONS (suppressions included),
# exits with TSan's exit code 66 and its output holds a report "WARNING:
# ThreadSanitizer: TEXT" (and, with --frame, TEXT in the report's stacks).
# So it fails if TSan is off, if the report is suppressed, or if the program
# fails for another reason.
#
# --each-gtest: PROGRAM is a googletest binary; every test it lists must, run
# alone, produce such a report.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
each=0 report="" frame=""
while (($# > 0)); do
  case "$1" in
    --each-gtest) each=1 ;;
    --report) report="$2"; shift ;;
    --frame) frame="$2"; shift ;;
    --) shift; break ;;
    *) echo "expect_tsan_report.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "${report}" || $# -eq 0 ]]; then
  echo "usage: expect_tsan_report.sh [--each-gtest] --report TEXT [--frame TEXT] -- PROGRAM [ARGS...]" >&2
  exit 2
fi

# The first report is the one that counts, whatever ENLACE_TSAN_OPTIONS says.
export ENLACE_TSAN_OPTIONS="${ENLACE_TSAN_OPTIONS:-} halt_on_error=1"

failures=0
# expect_one LABEL ARGS...: runs PROGRAM with ARGS and checks the report.
expect_one() {
  local label="$1" out rc
  shift
  out="$("${here}/tsan_run.sh" "$@" 2>&1)"
  rc=$?
  if ((rc != 66)); then
    echo "FAIL ${label}: exit ${rc}, expected 66 (a ThreadSanitizer report)" >&2
  elif [[ "${out}" != *"WARNING: ThreadSanitizer: ${report}"* ]]; then
    echo "FAIL ${label}: no 'WARNING: ThreadSanitizer: ${report}' in the output" >&2
    rc=1
  elif [[ -n "${frame}" && "${out}" != *"${frame}"* ]]; then
    echo "FAIL ${label}: the report does not name ${frame}" >&2
    rc=1
  else
    echo "ok   ${label}: $(grep -m1 -o "WARNING: ThreadSanitizer: [^(]*" <<<"${out}")"
    return 0
  fi
  printf '%s\n' "${out}" | tail -n 60 >&2
  failures=$((failures + 1))
}

if ((each)); then
  # --gtest_list_tests prints "Suite." lines and indented "  Test" lines.
  mapfile -t tests < <("${here}/tsan_run.sh" "$@" --gtest_list_tests |
    awk '/^[^ ]/ {suite=$1} /^  [^ ]/ {print suite $1}')
  if ((${#tests[@]} == 0)); then
    echo "expect_tsan_report.sh: $1 lists no tests" >&2
    exit 1
  fi
  for t in "${tests[@]}"; do
    expect_one "${t}" "$@" --gtest_filter="${t}"
  done
else
  expect_one "$(basename "$1") ${*:2}" "$@"
fi
exit $((failures > 0))
