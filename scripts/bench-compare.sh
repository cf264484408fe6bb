#!/usr/bin/env bash
# bench-compare.sh: this tree's `bench.sh ingest` streaming rate against an
# earlier commit's, measured in the same session and interleaved, so that a
# change is judged by a ratio rather than by figures from another day on a
# shared, noisy machine.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
ENLACE_SCRIPT_NAME=bench-compare.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<EOF
Usage: scripts/bench-compare.sh [--runs N] [--help] BASE_REV [-- bench.sh ingest options]

Builds BASE_REV (any git revision, e.g. a commit before a change) in a git
worktree under build-baseline/ (only enlace-server, enlacectl and
enlace-loadgen), builds this tree, then runs each tree's own
\`scripts/bench.sh ingest\` N times (default 4) in the order
A B B A A B B A ..., so that neither side is always the one that runs right
after the other (the second of two back-to-back runs is measurably slower
here). Prints every streaming rate, then the mean and median of each side
and their ratios (this tree / BASE_REV). Options after -- go to both
bench.sh runs (e.g. -- --records 100000).

Exit status 0 when every run succeeded (the ratio is reported, not judged).
build-baseline/ is kept for the next comparison; rm -rf it to start over.
EOF
}

runs=4
base_rev=""
bench_args=()
while (($# > 0)); do
  case "$1" in
    --help | -h)
      usage
      exit 0
      ;;
    --runs)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"
      runs="$2"
      shift 2
      ;;
    --)
      shift
      bench_args=("$@")
      break
      ;;
    -*)
      usage >&2
      die "unknown option: $1"
      ;;
    *)
      [[ -z "${base_rev}" ]] || die "one BASE_REV only (got ${base_rev} and $1)"
      base_rev="$1"
      shift
      ;;
  esac
done
[[ -n "${base_rev}" ]] || {
  usage >&2
  die "no BASE_REV given"
}

cd "${ENLACE_ROOT}"
commit="$(git rev-parse --verify --quiet "${base_rev}^{commit}")" ||
  die "not a commit in this repository: ${base_rev}"
BASE_DIR="${ENLACE_ROOT}/build-baseline"
BASE_SRC="${BASE_DIR}/src"
BASE_BUILD="${BASE_SRC}/build"

# Progress and build output on stderr; stdout holds the summary only.
ensure_packages all >&2
ensure_built >&2

if [[ -d "${BASE_SRC}" ]]; then
  git -C "${BASE_SRC}" checkout --quiet --detach "${commit}" ||
    die "cannot check out ${commit} in ${BASE_SRC} (rm -rf ${BASE_DIR} to start over)"
else
  mkdir -p "${BASE_DIR}"
  git worktree add --quiet --detach "${BASE_SRC}" "${commit}" ||
    die "git worktree add ${BASE_SRC} failed (git worktree prune, or rm -rf ${BASE_DIR})"
fi
log "building ${base_rev} (${commit:0:12}) in ${BASE_BUILD}: the server, enlacectl, the load generator"
if [[ ! -f "${BASE_BUILD}/build.ninja" ]]; then
  cmake -S "${BASE_SRC}" -B "${BASE_BUILD}" -G Ninja -DCMAKE_BUILD_TYPE=Release </dev/null >/dev/null ||
    die "configuring ${BASE_BUILD} failed"
fi
cmake --build "${BASE_BUILD}" -j "${ENLACE_BUILD_JOBS}" --target enlace-server enlacectl enlace-loadgen \
  </dev/null >&2 || die "building ${base_rev} failed"

# The baseline's bench.sh builds its whole tree first (tests included); what
# it runs is built above, so its `cmake --build` is skipped through a
# wrapper first on its PATH. Everything else it runs is its own.
SHIM_DIR="$(mktemp -d "${TMPDIR:-/tmp}/enlace-bench-compare.XXXXXX")"
trap 'rm -rf "${SHIM_DIR}"' EXIT
cat >"${SHIM_DIR}/cmake" <<'EOF'
#!/usr/bin/env bash
for arg in "$@"; do [[ "${arg}" == --build ]] && exit 0; done
exec /usr/bin/cmake "$@"
EOF
chmod +x "${SHIM_DIR}/cmake"

# run_side SIDE: one `bench.sh ingest` of that side; prints its streaming rate.
run_side() {
  local side="$1" out rate
  if [[ "${side}" == base ]]; then
    out="$(cd "${BASE_SRC}" && PATH="${SHIM_DIR}:${PATH}" ENLACE_NO_INSTALL=1 \
      ./scripts/bench.sh ingest "${bench_args[@]}" 2>&1)" || {
      printf '%s\n' "${out}" | tail -n 20 >&2
      die "bench.sh ingest of ${base_rev} failed"
    }
  else
    out="$(./scripts/bench.sh ingest "${bench_args[@]}" 2>&1)" || {
      printf '%s\n' "${out}" | tail -n 20 >&2
      die "bench.sh ingest of this tree failed"
    }
  fi
  rate="$(printf '%s\n' "${out}" | sed -n 's/^ *streaming, .* \([0-9][0-9]*\) records\/s.*/\1/p' | tail -n 1)"
  [[ -n "${rate}" ]] || die "no streaming rate in the output of the ${side} run"
  printf '%s\n' "${rate}"
}

declare -a base_rates=() this_rates=()
for ((i = 0; i < 2 * runs; ++i)); do
  # A B B A A B B A ...
  if (((i + 1) / 2 % 2 == 0)); then side=base; else side=this; fi
  rate="$(run_side "${side}")"
  if [[ "${side}" == base ]]; then base_rates+=("${rate}"); else this_rates+=("${rate}"); fi
  log "run $((i + 1))/$((2 * runs)): ${side} ${rate} records/s"
done

# stats RATES...: "mean median"
stats() {
  printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1; s+=$1} END {
    m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.0f %.0f\n", s/NR, m }'
}
read -r base_mean base_median < <(stats "${base_rates[@]}")
read -r this_mean this_median < <(stats "${this_rates[@]}")
cat <<EOF

bench.sh ingest, streaming rate (records/s), ${runs} runs each, interleaved:
  ${base_rev} (${commit:0:12}): ${base_rates[*]}
  this tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!build-baseline' || echo ', with changes')): ${this_rates[*]}
  mean    ${base_mean} -> ${this_mean}   ratio $(awk -v a="${this_mean}" -v b="${base_mean}" 'BEGIN {printf "%.3f", a / b}')
  median  ${base_median} -> ${this_median}   ratio $(awk -v a="${this_median}" -v b="${base_median}" 'BEGIN {printf "%.3f", a / b}')
EOF
