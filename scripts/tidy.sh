#!/usr/bin/env bash
# tidy.sh: the static checks of .clang-tidy (clang-tidy) over the production
# C++ sources, or the FILEs named; exit 1 on any finding. scripts/test.sh
# runs it as a step of its own, after the build.
set -euo pipefail

ENLACE_SCRIPT_NAME=tidy.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: scripts/tidy.sh [--help] [--no-cache] [--no-build] [FILE...]

Runs clang-tidy (Debian 12's, version 14) with the checks of .clang-tidy
(bugprone-*, performance-*, readability-function-size; every one an error)
over every .cc file that git tracks under auth/, db/, server/ and clients/,
or only the .cc FILEs named (tests/ too), with the compile commands of
build/compile_commands.json, ENLACE_BUILD_JOBS files at a time (default 2).
Findings in our own headers are reported from the files that include them,
each once. Prints every finding, then a count per check.

The files listed in .clang-tidy-pending (one path per line, # comments) are
skipped, each with a warning, and so are findings located in them: files
with findings that their owners are still fixing. Remove a file's line once
it is clean.

Before checking, builds what the checks read (the generated protobuf
headers) in build/; configures build/ if needed. A file that passed is
remembered (build/tidy-cache/) under a hash of its contents, its compile
command, .clang-tidy, clang-tidy's version and every header it includes, as
Ninja recorded them at its last compile; it is checked again when any of
them changed, or when it was edited since it was compiled.

  --no-cache   check every file, and remember nothing
  --no-build   do not build first: build/ is configured and built (what
               scripts/test.sh and the ctest tidy_check_test do)

Installs clang-tidy (apt) when it is missing. Exit status: 0 when no file
has a finding, 1 otherwise, 2 on a usage error.
Environment: ENLACE_BUILD_JOBS (parallel clang-tidy runs), ENLACE_TIDY_VERBOSE=1
(one line per file checked, with its time).
EOF_USAGE
}

cache=()
build=1
files=()
while (($# > 0)); do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    --no-cache) cache=(--no-cache) ;;
    --no-build) build=0 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) files+=("$1") ;;
  esac
  shift
done

ensure_packages tidy
cd "${ENLACE_ROOT}"
if ((${#files[@]} == 0)); then
  mapfile -t files < <(git ls-files -- 'auth/*.cc' 'db/*.cc' 'server/*.cc' 'clients/*.cc')
  ((${#files[@]} > 0)) || die "git lists no .cc file under auth/ db/ server/ clients/ in ${ENLACE_ROOT}"
fi
for f in "${files[@]}"; do
  [[ "${f}" == *.cc ]] || die "${f}: only .cc files (a header is checked through the .cc files that include it)"
done

# The generated headers every source includes; compile_commands.json comes
# with the configuration.
if ((build)); then
  ensure_built enlace_proto
fi
[[ -f "${ENLACE_BUILD_DIR}/compile_commands.json" ]] ||
  die "no ${ENLACE_BUILD_DIR}/compile_commands.json (CMakeLists.txt sets CMAKE_EXPORT_COMPILE_COMMANDS)"

exec "${ENLACE_PYTHON}" "${ENLACE_ROOT}/scripts/lib/tidy.py" --root "${ENLACE_ROOT}" \
  --build-dir "${ENLACE_BUILD_DIR}" --jobs "${ENLACE_BUILD_JOBS}" \
  --pending "${ENLACE_ROOT}/.clang-tidy-pending" "${cache[@]}" "${files[@]}"
