#!/usr/bin/env bash
# format_check_test.sh BUILD_DIR: every tracked .cc and .h follows
# .clang-format (scripts/format.sh --check), and the check does fail: a
# copy of a source file with its formatting broken is reported, the same
# copy formatted is not. Run by ctest (format_check_test, label unit).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
build="${1:?usage: format_check_test.sh BUILD_DIR}"
format=("${root}/scripts/format.sh" --check)
export ENLACE_NO_INSTALL=1  # test.sh installed clang-format; a test installs nothing

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# 1. The repository is formatted.
"${format[@]}" || fail "the sources are not formatted (above): run scripts/format.sh"

# 2. The check catches a file that is not. The copy lives under the build
# tree, inside the repository, so that clang-format finds .clang-format.
scratch="$(mktemp -d "${build}/format-check.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT
cp "${root}/server/feed_messages.cc" "${scratch}/formatted.cc"
sed 's/^namespace enlace::server {$/namespace   enlace::server{/; s/^  Key key{event.seq, fingerprint};$/  Key key{ event.seq,fingerprint };/' \
  "${root}/server/feed_messages.cc" >"${scratch}/broken.cc"
cmp -s "${scratch}/formatted.cc" "${scratch}/broken.cc" && fail "the sed broke nothing: server/feed_messages.cc changed"

"${format[@]}" "${scratch}/formatted.cc" >/dev/null 2>&1 || fail "an untouched copy of a formatted file was reported"
set +e
out="$("${format[@]}" "${scratch}/broken.cc" 2>&1)"
rc=$?
set -e
((rc == 1)) || fail "a misformatted file: exit ${rc}, expected 1; output:
${out}"
grep -q "broken.cc: not formatted" <<<"${out}" || fail "the misformatted file is not named; output:
${out}"
echo "PASS: the sources are formatted; a misformatted copy is reported (exit 1), a formatted one is not"
