#!/usr/bin/env bash
# tidy_check_test.sh BUILD_DIR: the static checks work, on two small files
# rather than on the whole tree (scripts/test.sh runs scripts/tidy.sh over
# the production sources, a step of its own). .clang-tidy enables what it
# says, .clang-tidy-pending names only files that exist, and scripts/tidy.sh
# fails (exit 1) on a file with a value parameter only read and a function
# over the size limit, naming both checks, and passes the same file fixed.
# Run by ctest (tidy_check_test, label unit).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
build="${1:?usage: tidy_check_test.sh BUILD_DIR}"
tidy=("${root}/scripts/tidy.sh" --no-cache --no-build)
export ENLACE_NO_INSTALL=1  # test.sh installed clang-tidy; a test installs nothing

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# 1. The configuration parses and enables what it says.
checks="$(cd "${root}" && clang-tidy --list-checks server/main.cc -- 2>/dev/null)"
for want in bugprone-use-after-move performance-unnecessary-value-param readability-function-size; do
  grep -q "^ *${want}\$" <<<"${checks}" || fail ".clang-tidy does not enable ${want}; enabled:
${checks}"
done
! grep -q "easily-swappable-parameters\|clang-analyzer" <<<"${checks}" ||
  fail ".clang-tidy enables a check it says it leaves out:
${checks}"

# 2. Every pending file exists (tidy.sh refuses the list otherwise).
while read -r line; do
  line="${line%%#*}"
  line="${line//[[:space:]]/}"
  [[ -z "${line}" ]] && continue
  [[ -f "${root}/${line}" ]] || fail ".clang-tidy-pending names ${line}, which does not exist"
done <"${root}/.clang-tidy-pending"

# 3. A finding fails the run, and each is named. The files live under the
# build tree, inside the repository, so that clang-tidy finds .clang-tidy;
# they are in no compile command: clang-tidy takes a neighbour's.
scratch="$(mktemp -d "${build}/tidy-check.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT
{
  echo '// A file with two findings of .clang-tidy (tests/unit/tidy_check_test.sh).'
  echo '#include <string>'
  echo 'size_t Length(std::string text) { return text.size(); }'
  echo 'int Long(int x) {'
  for ((i = 0; i < 125; i++)); do echo '  x += 1;'; done
  echo '  return x;'
  echo '}'
} >"${scratch}/broken.cc"
sed 's/^size_t Length(std::string text)/size_t Length(const std::string\& text)/; /^  x += 1;$/d' \
  "${scratch}/broken.cc" >"${scratch}/fixed.cc"

set +e
out="$("${tidy[@]}" "${scratch}/broken.cc" 2>&1)"
rc=$?
set -e
((rc == 1)) || fail "a file with findings: exit ${rc}, expected 1; output:
${out}"
for want in performance-unnecessary-value-param readability-function-size; do
  grep -q "broken.cc:[0-9]*:[0-9]*: error: .*\[${want}," <<<"${out}" ||
    fail "the ${want} finding of broken.cc is not reported; output:
${out}"
done
out="$("${tidy[@]}" "${scratch}/fixed.cc" 2>&1)" || fail "the fixed file was reported; output:
${out}"
echo "PASS: .clang-tidy enables its checks; a file with findings fails scripts/tidy.sh (exit 1), each named; the file fixed passes"
