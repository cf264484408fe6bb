#!/usr/bin/env bash
# tsan_run.sh PROGRAM [ARGS...]: runs one ThreadSanitizer-built test program
# (ctest runs every TSan test through it: CROSSCOMPILING_EMULATOR of the test
# targets, see tests/tsan/CMakeLists.txt).
#
# TSan writes its reports to files in a private directory (log_path), so that
# reports of the processes the test starts (the second enlace-server of
# workflow_e2e_test, which inherits TSAN_OPTIONS) are not lost in a log the
# test deletes. Afterwards every report is printed on stderr, and the exit
# status is the program's, or 66 (TSan's exitcode in TSAN_OPTIONS) if the
# program passed but some process reported.
#
# TSAN_OPTIONS comes from the ctest ENVIRONMENT property; ENLACE_TSAN_OPTIONS
# is appended for local experiments (e.g. ENLACE_TSAN_OPTIONS=halt_on_error=0).
set -uo pipefail

if (($# == 0)); then
  echo "usage: tsan_run.sh PROGRAM [ARGS...]" >&2
  exit 2
fi

report_dir="$(mktemp -d "${TMPDIR:-/tmp}/enlace-tsan.XXXXXX")" || exit 1
trap 'rm -rf "${report_dir}"' EXIT
export TSAN_OPTIONS="${TSAN_OPTIONS:-} ${ENLACE_TSAN_OPTIONS:-} log_path=${report_dir}/report"

# LLVM 14's TSan cannot map its shadow memory when the kernel randomizes
# mmap with more than 28 bits ("FATAL: ThreadSanitizer: unexpected memory
# mapping"); run without address randomization there.
run=("$@")
rnd_bits="$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)"
if ((rnd_bits > 28)); then
  run=(setarch "$(uname -m)" -R "$@")
fi

"${run[@]}"
rc=$?

shopt -s nullglob
reports=("${report_dir}"/report.*)
if ((${#reports[@]} > 0)); then
  for report in "${reports[@]}"; do
    echo "==== ThreadSanitizer output of pid ${report##*.} ====" >&2
    cat "${report}" >&2
  done
  echo "tsan_run.sh: ThreadSanitizer reported in ${#reports[@]} process(es) of $(basename "$1") (exit ${rc})" >&2
  if ((rc == 0)); then
    rc=66
  fi
fi
exit "${rc}"
