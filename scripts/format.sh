#!/usr/bin/env bash
# format.sh: apply the repository's C++ style (.clang-format) to every .cc
# and .h that git tracks or that are new and not ignored, or with --check
# only report the files that differ.
# scripts/test.sh checks it through ctest (format_check_test).
set -euo pipefail

ENLACE_SCRIPT_NAME=format.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: scripts/format.sh [--help] [--check] [FILE...]

Formats the C++ sources with clang-format (Debian 12's, version 14) and the
style in .clang-format: Google's, lines of up to 100 columns. By default
every *.cc and *.h that git tracks, and new ones it does not ignore (so a
file not yet added is checked too); or only the FILEs named.

  --check   change nothing; list each file that is not formatted (with
            clang-format's first differences) and exit 1 if there is any

Installs clang-format (apt) when it is missing. Exit status: 0 when
formatted (or all files were formatted), 1 otherwise.
EOF_USAGE
}

check=0
files=()
while (($# > 0)); do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    --check) check=1 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) files+=("$1") ;;
  esac
  shift
done

ensure_packages format
cd "${ENLACE_ROOT}"
if ((${#files[@]} == 0)); then
  # Tracked files and new ones not yet added (never the ignored build trees).
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cc' '*.h')
  ((${#files[@]} > 0)) || die "git lists no .cc or .h file under ${ENLACE_ROOT}"
fi

if ((check == 0)); then
  clang-format -i --style=file "${files[@]}"
  log "formatted ${#files[@]} files"
  exit 0
fi

unformatted=0
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror --style=file "${f}" >/dev/null 2>&1; then
    printf '%s: not formatted; the first differences:\n' "${f}"
    clang-format --dry-run --style=file "${f}" 2>&1 | sed -n '1,6s/^/  /p'
    unformatted=$((unformatted + 1))
  fi
done
if ((unformatted > 0)); then
  log "${unformatted} of ${#files[@]} files are not formatted: run scripts/format.sh"
  exit 1
fi
log "all ${#files[@]} files are formatted"
