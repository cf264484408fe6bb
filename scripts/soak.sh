#!/usr/bin/env bash
# soak.sh: the soak test, a long run (not part of scripts/test.sh): MINUTES
# of mixed load on one server, as bench.sh's mixed scenario makes it, one
# minute per run; then the verdict: errors must be 0, and the server's RSS
# and open file descriptors may not grow by 10% or more between the end of
# the warm-up (5 minutes unless told: the pool, its statement caches and the
# feed's window fill) and the end of the last minute.
set -euo pipefail

ENLACE_SCRIPT_NAME=soak.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/soak.sh [--help] MINUTES [--warmup MINUTES] [--watchers N]
                       [--ingest-rate N] [--read-rate N] [--transition-rate N]

MINUTES (more than the warm-up) of mixed load against one enlace-server
over mTLS with the shipped policy and audit on, through `scripts/bench.sh mixed --runs
MINUTES --duration 60` (see its --help): mfa streams arrivals (100/s), iom
reads (100/s), iom and undp move referrals (5/s), 100 watchers (undp) must
each see every move. Each minute is a run of its own on the same server, so
the whole takes about MINUTES x 75 seconds.

The server keeps a referral feed window of 40 s of moves (--feed_window,
200 events at 5 moves/s; ENLACE_FEED_WINDOW overrides), not the default 20000:
the default window takes an hour or more to fill at these rates, a bounded
cache growing all along; the smaller one is full within the warm-up.

Prints, minute by minute, the errors (failed calls, rejected records,
missed or extra deliveries, streams ended early), the server's RSS and its
open file descriptors; then the growth of RSS and descriptors from the end
of the warm-up to the end of the last minute. Exit status 0 only if errors
are 0 (in every minute, the warm-up's too) and both grew by less than 10%.

--warmup MINUTES (default 5) are the minutes before the baseline. What
fills in them is bounded and was measured (heaptrack attached to the soak's
server, docs/testing.md): each of the pool's 16 connections keeps a
prepared statement per multi-row shape it has been handed (at most five
shapes per statement, ForEachStatementChunk), about 10 KB each, and the
rarer shapes reach every connection only after minutes; at these rates RSS
rises about 3 MB in minutes 1 to 5 and under 0.1 MB a minute after.

The figures also go to bench-results.json/.md in a temporary directory
(kept and printed), not the repository's: a soak is not a benchmark.

Examples:
  scripts/soak.sh 30          # half an hour
  scripts/soak.sh 20 --warmup 10
  scripts/soak.sh 240         # the four-hour soak before a release
EOF
}

case "${1:-}" in
  --help | -h) usage; exit 0 ;;
  "") usage >&2; die "MINUTES is required" ;;
esac
minutes="$1"
shift
[[ "${minutes}" =~ ^[0-9]+$ ]] || die "MINUTES must be a whole number: ${minutes}"

# The referral feed keeps its last --feed_window events in memory (about 1.4
# KB each, measured with heaptrack): at the default 20000 and 5 moves/s that
# window fills for 67 minutes (+0.4 MB a minute, then flat at about 28 MB), a
# bounded cache that a soak of less than hours would report as growth. The
# soak's server keeps as many events as 40 s of moves make (at least 1),
# so the window is full within the warm-up and what grows after it is
# not the window. ENLACE_FEED_WINDOW set by the caller wins.
transition_rate=5
warmup=5
load_args=()  # what goes on to bench.sh: all but --warmup
while (($# > 0)); do
  case "$1" in
    --warmup)
      (($# >= 2)) || die "--warmup needs a value"
      warmup="$2"
      shift 2
      continue
      ;;
    --transition-rate) (($# >= 2)) && transition_rate="$2" ;;
  esac
  load_args+=("$1")
  shift
done
if ! [[ "${warmup}" =~ ^[0-9]+$ ]] || ((warmup < 1)); then
  die "--warmup must be a whole number of minutes, at least 1: ${warmup}"
fi
((minutes > warmup)) || die "MINUTES (${minutes}) must be more than the warm-up (${warmup} minutes): nothing would be measured"
[[ "${transition_rate}" =~ ^[0-9]+$ ]] || die "--transition-rate must be a whole number: ${transition_rate}"
feed_window=$((transition_rate * 40))
((feed_window >= 1)) || feed_window=1
export ENLACE_FEED_WINDOW="${ENLACE_FEED_WINDOW:-${feed_window}}"

results_dir="$(mktemp -d "${TMPDIR:-/tmp}/enlace-soak.XXXXXX")"
log "soak: ${minutes} minutes of mixed load (the first ${warmup} the warm-up), the server's feed window ${ENLACE_FEED_WINDOW} events; results in ${results_dir}"
status=0
ENLACE_BENCH_RESULTS_DIR="${results_dir}" \
  "${ENLACE_ROOT}/scripts/bench.sh" mixed --runs "${minutes}" --duration 60 ${load_args[@]+"${load_args[@]}"} || status=$?

json="${results_dir}/bench-results.json"
[[ -f "${json}" ]] || die "the mixed load ended (exit ${status}) before writing ${json}"
"${ENLACE_PYTHON}" - "${json}" "${status}" "${warmup}" <<'PY'
import json
import sys

path, load_status, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = [r["result"] for r in json.load(open(path))["scenarios"]["mixed"]["runs"]]
print(f"\nsoak: {len(runs)} minutes of mixed load on one server, the first {warmup} the warm-up")
if len(runs) <= warmup:
    print(f"soak: FAILED, only {len(runs)} minutes ran: none after the warm-up")
    sys.exit(1)
print(f"{'minute':>6} {'errors':>6} {'RSS MB start':>12} {'RSS MB end':>10} {'fds start':>9} {'fds end':>7}")
for i, r in enumerate(runs, 1):
    print(f"{i:>6} {int(r['errors']):>6} {r['rss_start_mb']:>12} {r['rss_end_mb']:>10} "
          f"{int(r['fds_start']):>9} {int(r['fds_end']):>7}")
errors = sum(int(r["errors"]) for r in runs)
warm, last = runs[warmup - 1], runs[-1]


def growth(key):
    before, after = float(warm[key]), float(last[key])
    return (after - before) / before * 100 if before else float("inf")


rss, fds = growth("rss_end_mb"), growth("fds_end")
print(f"\nerrors                {errors} (must be 0)")
print(f"RSS after warm-up     {warm['rss_end_mb']} MB at minute {warmup} -> {last['rss_end_mb']} MB at the end: "
      f"{rss:+.1f}% (must stay under +10%)")
print(f"open fds after warm-up {int(warm['fds_end'])} at minute {warmup} -> {int(last['fds_end'])} at the end: "
      f"{fds:+.1f}% (must stay under +10%)")
ok = errors == 0 and rss < 10 and fds < 10 and load_status == 0
print("soak: " + ("PASSED" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
