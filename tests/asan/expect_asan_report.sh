#!/usr/bin/env bash
# expect_asan_report.sh --report TEXT [--frame TEXT] -- OPTIONS_FILE PROGRAM [ARGS...]
#
# The negative self-tests of the ASan+UBSan suite: passes only when PROGRAM,
# run through asan_run.sh with the suite's options (suppressions included),
# fails with a report holding TEXT (and, with --frame, TEXT in its stacks).
# So it fails if the sanitizers are off, if the report is suppressed, or if a
# report does not fail the test.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
report="" frame=""
while (($# > 0)); do
  case "$1" in
    --report) report="$2"; shift ;;
    --frame) frame="$2"; shift ;;
    --) shift; break ;;
    *) echo "expect_asan_report.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "${report}" || $# -eq 0 ]]; then
  echo "usage: expect_asan_report.sh --report TEXT [--frame TEXT] -- OPTIONS_FILE PROGRAM [ARGS...]" >&2
  exit 2
fi

out="$("${here}/asan_run.sh" "$@" 2>&1)"
rc=$?
if ((rc == 0)); then
  echo "FAIL: exit 0, expected a failure from a sanitizer report" >&2
elif [[ "${out}" != *"${report}"* ]]; then
  echo "FAIL: exit ${rc}, but no '${report}' in the output" >&2
  rc=0
elif [[ -n "${frame}" && "${out}" != *"${frame}"* ]]; then
  echo "FAIL: the report does not name ${frame}" >&2
  rc=0
else
  echo "ok: exit ${rc}, $(grep -m1 -o -F "${report}" <<<"${out}")"
  exit 0
fi
printf '%s\n' "${out}" | tail -n 60 >&2
exit 1
