#!/usr/bin/env bash
# fuzz.sh: the long fuzzing run (not part of scripts/test.sh): each libFuzzer
# harness of tests/fuzz/ for N seconds, one after the other, in the clang
# fuzzing tree build-fuzz/ (-DENLACE_FUZZ=ON), with the figures of each run
# and a failure on any crash.
set -euo pipefail

ENLACE_SCRIPT_NAME=fuzz.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ALL_HARNESSES=(request_validation page_token resume_token policy csr caller_identity)
FUZZ_DIR="${ENLACE_ROOT}/tests/fuzz"
FUZZ_BUILD_DIR="${ENLACE_FUZZ_BUILD_DIR:-${ENLACE_ROOT}/build-fuzz}"
FUZZ_CXX="${ENLACE_FUZZ_CXX:-clang++}"

usage() {
  cat <<EOF
Usage: scripts/fuzz.sh [--help] [--seconds N] [HARNESS...]

Configures (once) and builds ${FUZZ_BUILD_DIR#"${ENLACE_ROOT}/"}/ with ${FUZZ_CXX} and -DENLACE_FUZZ=ON
(the harnesses as libFuzzer fuzzers, with AddressSanitizer and
UndefinedBehaviorSanitizer), then runs each HARNESS (default: all of them)
for N seconds (default 600), one at a time, in one process (-jobs/-workers
not used: the machine's cores are shared). Each starts from a scratch copy of
its checked-in seed corpus tests/fuzz/corpus/HARNESS/ (and its dictionary
tests/fuzz/HARNESS.dict, if any), so the repository is never written.

Harnesses: ${ALL_HARNESSES[*]}

Prints, per harness: executions, executions per second, coverage (cov:
edges and ft: features, from libFuzzer's last status line), the corpus size
at the end, and crashes. Exit status 0 only if no harness crashed (a crash,
leak, timeout, out-of-memory or broken invariant); otherwise the reproducer's
path is printed and the scratch directory kept. To make a crash a regression
seed: fix it, then copy the reproducer into tests/fuzz/corpus/HARNESS/
(ctest's label fuzz replays every seed).

Environment: ENLACE_FUZZ_BUILD_DIR (default build-fuzz), ENLACE_FUZZ_CXX
(default clang++), ENLACE_BUILD_JOBS (default 2).

Examples:
  scripts/fuzz.sh                       # every harness, 10 minutes each
  scripts/fuzz.sh --seconds 30 policy   # a quick look at one
EOF
}

seconds=600
harnesses=()
while (($# > 0)); do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    --seconds)
      (($# >= 2)) || die "--seconds needs a value"
      seconds="$2"
      shift 2
      ;;
    --seconds=*) seconds="${1#--seconds=}"; shift ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
[[ "${seconds}" =~ ^[0-9]+$ ]] && ((seconds >= 1)) || die "--seconds must be a whole number, at least 1: ${seconds}"
((${#harnesses[@]} > 0)) || harnesses=("${ALL_HARNESSES[@]}")
for harness in "${harnesses[@]}"; do
  [[ " ${ALL_HARNESSES[*]} " == *" ${harness} "* ]] ||
    die "unknown harness ${harness} (known: ${ALL_HARNESSES[*]})"
done

command -v "${FUZZ_CXX}" >/dev/null 2>&1 || die "${FUZZ_CXX} not found: the fuzzers need clang (ENLACE_FUZZ_CXX)"
if [[ ! -f "${FUZZ_BUILD_DIR}/build.ninja" ]]; then
  cfg=(-S "${ENLACE_ROOT}" -B "${FUZZ_BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=Release
    -DENLACE_FUZZ=ON -DCMAKE_CXX_COMPILER="${FUZZ_CXX}")
  if command -v ccache >/dev/null 2>&1; then
    cfg+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  log "configuring ${FUZZ_BUILD_DIR} (libFuzzer, ${FUZZ_CXX})"
  cmake "${cfg[@]}" </dev/null || die "cmake configure of the fuzzing tree failed (to start over: rm -rf ${FUZZ_BUILD_DIR})"
fi
targets=()
for harness in "${harnesses[@]}"; do targets+=("fuzz_${harness}"); done
log "building ${targets[*]} (${ENLACE_BUILD_JOBS} jobs)"
cmake --build "${FUZZ_BUILD_DIR}" -j "${ENLACE_BUILD_JOBS}" --target "${targets[@]}" </dev/null ||
  die "the fuzzing build failed"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/enlace-fuzz.XXXXXX")"
log "${#harnesses[@]} harness(es), ${seconds} s each; scratch corpora and logs in ${scratch}"
# Any report is fatal and names its frames; leaks are looked for at exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

summary=()
failed=()
for harness in "${harnesses[@]}"; do
  work="${scratch}/${harness}"
  mkdir -p "${work}/corpus" "${work}/artifacts"
  cp "${FUZZ_DIR}/corpus/${harness}/"* "${work}/corpus/"
  args=(-max_total_time="${seconds}" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048
    -artifact_prefix="${work}/artifacts/")
  if [[ -f "${FUZZ_DIR}/${harness}.dict" ]]; then args+=(-dict="${FUZZ_DIR}/${harness}.dict"); fi
  log "${harness}: fuzzing for ${seconds} s (log ${work}/fuzz.log)"
  status=0
  "${FUZZ_BUILD_DIR}/tests/fuzz/fuzz_${harness}" "${args[@]}" "${work}/corpus" \
    >"${work}/fuzz.log" 2>&1 </dev/null || status=$?
  # The figures: libFuzzer's final stats and its last status line.
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "${work}/fuzz.log" | tail -n1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "${work}/fuzz.log" | tail -n1)"
  last="$(grep -E '^#[0-9]+.* cov: [0-9]+ ft: [0-9]+' "${work}/fuzz.log" | tail -n1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"${last}")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"${last}")"
  corpus_files="$(find "${work}/corpus" -type f | wc -l)"
  corpus_bytes="$(find "${work}/corpus" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')"
  crashes="$(find "${work}/artifacts" -type f | wc -l)"
  if ((status != 0)) && ((crashes == 0)); then crashes=1; fi  # died without an artifact
  line="$(printf '%-20s executions %-10s exec/s %-6s cov %-6s ft %-7s corpus %s files (%s bytes) crashes %s' \
    "${harness}" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corpus_files}" "${corpus_bytes}" "${crashes}")"
  summary+=("${line}")
  log "${line}"
  if ((crashes > 0)); then
    failed+=("${harness}")
    for artifact in "${work}/artifacts/"*; do
      if [[ -f "${artifact}" ]]; then
        log "${harness}: reproducer ${artifact} (replay: ${FUZZ_BUILD_DIR}/tests/fuzz/fuzz_${harness} ${artifact})"
      fi
    done
    log "${harness}: exit status ${status}; the report is in ${work}/fuzz.log"
  fi
done

printf '%s\n' "fuzz.sh: ${seconds} s per harness" "${summary[@]}"
if ((${#failed[@]} > 0)); then
  die "crashes in: ${failed[*]} (scratch directory kept: ${scratch})"
fi
log "no crash; the grown corpora stay in ${scratch} (not copied into the repository)"
