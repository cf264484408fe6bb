#!/usr/bin/env bash
# asan_run.sh OPTIONS_FILE PROGRAM [ARGS...]: runs one test program of the ASan+UBSan tree
# (build-asan/; ctest runs every googletest test through it: the
# CROSSCOMPILING_EMULATOR of the test targets, see tests/asan/CMakeLists.txt).
#
# Sanitizer reports go to files in a private directory (log_path), so that the
# reports of the processes the test starts (the enlace-server binary that
# workflow_e2e_test and crash_audit_test run, `enlacectl audit witness`),
# whose own exit status the test may not look at, are not lost in a log the
# test deletes. Afterwards every report is printed on stderr, and the exit
# status is the program's, or 86 (the suite's exitcode) if the program passed
# but some process reported.
#
# ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS come from OPTIONS_FILE
# (build-asan/tests/asan/sanitizer_options.sh, written by CMake);
# ENLACE_ASAN_OPTIONS is appended to ASAN_OPTIONS for local experiments.
set -uo pipefail

if (($# < 2)); then
  echo "usage: asan_run.sh OPTIONS_FILE PROGRAM [ARGS...]" >&2
  exit 2
fi
# shellcheck source=/dev/null
source "$1" || exit 2
shift

report_dir="$(mktemp -d "${TMPDIR:-/tmp}/enlace-asan.XXXXXX")" || exit 1
trap 'rm -rf "${report_dir}"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:${ENLACE_ASAN_OPTIONS:-}:log_path=${report_dir}/report"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=${report_dir}/report"

"$@"
rc=$?

shopt -s nullglob
reports=("${report_dir}"/report.*)
if ((${#reports[@]} > 0)); then
  for report in "${reports[@]}"; do
    echo "==== sanitizer output of ${report#"${report_dir}"/report.} ====" >&2
    cat "${report}" >&2
  done
  echo "asan_run.sh: sanitizer reports from ${#reports[@]} process(es) of $(basename "$1") (exit ${rc})" >&2
  if ((rc == 0)); then
    rc=86
  fi
fi
exit "${rc}"
