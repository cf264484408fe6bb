#!/usr/bin/env bash
# Installs a built Enlace tree into a temporary prefix and builds a tiny
# agency program against it twice, as an agency developer would: with CMake
# (find_package(Enlace) -> Enlace::client) and with pkg-config (enlace.pc).
# Both must compile, link and print OK. Nothing of the source tree is on the
# consumers' include path: the installed headers must stand on their own.
#
# Usage: install_consumer_test.sh BUILD_DIR SOURCE_DIR
#   BUILD_DIR   a configured and built Enlace build tree (ctest passes
#               ${CMAKE_BINARY_DIR})
#   SOURCE_DIR  the Enlace source tree (for tests/install/consumer)
# Exits non-zero on the first failure; removes its temporary files.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
consumer_src=$src/tests/install/consumer

tmp=$(mktemp -d "${TMPDIR:-/tmp}/enlace-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# What the build tree was configured with.
cache_value() {
  sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -n 1
}
[[ -f $build/CMakeCache.txt ]] || fail "$build is not a configured build tree"
cxx=$(cache_value CMAKE_CXX_COMPILER)
[[ -n $cxx ]] || cxx=c++
libdir=$(cache_value CMAKE_INSTALL_LIBDIR)
[[ -n $libdir ]] || libdir=lib
generator=()
if command -v ninja > /dev/null; then generator=(-G Ninja); fi

# 1. Install, then move the tree: nothing installed may depend on where it
#    was installed (EnlaceConfig.cmake and enlace.pc are relocatable).
echo "== cmake --install $build"
if ! cmake --install "$build" --prefix "$tmp/staged" > "$tmp/install.log" 2>&1; then
  cat "$tmp/install.log" >&2
  fail "cmake --install"
fi
mv "$tmp/staged" "$tmp/prefix"
prefix=$tmp/prefix

for file in \
    include/enlace/client/enlace_client.h \
    include/enlace/client/connection.h \
    "$libdir/libenlace_client.a" \
    "$libdir/libenlace_proto.a" \
    "$libdir/cmake/Enlace/EnlaceConfig.cmake" \
    "$libdir/cmake/Enlace/EnlaceConfigVersion.cmake" \
    "$libdir/cmake/Enlace/EnlaceTargets.cmake" \
    "$libdir/pkgconfig/enlace.pc"; do
  [[ -f $prefix/$file ]] || fail "not installed: $file"
done
for proto in admin arrivals cases referrals reports returnee_data; do
  for file in "include/enlace/v1/$proto.pb.h" \
              "include/enlace/v1/$proto.grpc.pb.h" \
              "share/enlace/protos/enlace/v1/$proto.proto"; do
    [[ -f $prefix/$file ]] || fail "not installed: $file"
  done
done
# enlacectl's manual pages and Spanish catalog; the installed enlacectl finds
# the catalog from its own place (../share/locale), with no build tree.
for file in share/man/man1/enlacectl.1 share/man/man1/enlacectl-cases.1 \
    share/locale/es/LC_MESSAGES/enlacectl.mo bin/enlacectl; do
  [[ -f $prefix/$file ]] || fail "not installed: $file"
done
if ! env -u LANGUAGE -u LC_ALL -u LC_MESSAGES LANG=es_SV.UTF-8 "$prefix/bin/enlacectl" --help |
    grep -q '^Uso: enlacectl <comando>'; then
  fail "the installed enlacectl does not speak Spanish under LANG=es_SV.UTF-8"
fi
# The public headers name only installed headers and third-party ones.
if grep -rnE '#include "(clients|auth|db|server|tests|protos)/' "$prefix/include/enlace"; then
  fail "an installed header includes a file of the source tree"
fi
# No path of the build or source tree leaks into the package files.
if grep -rnF -e "$build" -e "$src" "$prefix/$libdir/cmake/Enlace" "$prefix/$libdir/pkgconfig"; then
  fail "the CMake package or enlace.pc names the build or source tree"
fi

# 2. The CMake consumer: find_package(Enlace CONFIG REQUIRED), Enlace::client.
echo "== CMake consumer"
if ! cmake -S "$consumer_src" -B "$tmp/cmake-consumer" "${generator[@]}" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
      > "$tmp/cmake-consumer.log" 2>&1; then
  cat "$tmp/cmake-consumer.log" >&2
  fail "configuring the CMake consumer"
fi
enlace_dir=$(sed -n 's/^Enlace_DIR:PATH=//p' "$tmp/cmake-consumer/CMakeCache.txt")
[[ $enlace_dir == "$prefix/"* ]] ||
  fail "find_package(Enlace) found $enlace_dir, not the package in $prefix"
if ! cmake --build "$tmp/cmake-consumer" > "$tmp/cmake-build.log" 2>&1; then
  cat "$tmp/cmake-build.log" >&2
  fail "building the CMake consumer"
fi
output=$("$tmp/cmake-consumer/consumer") || fail "the CMake consumer failed: $output"
[[ $output == OK ]] || fail "the CMake consumer printed: $output"
echo "CMake consumer: $output"

# 3. The pkg-config consumer: one command line, nothing but enlace.pc.
echo "== pkg-config consumer"
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
pkg-config --exists --print-errors enlace || fail "pkg-config cannot use enlace.pc"
read -r -a flags <<< "$(pkg-config --cflags --libs enlace)"
# CXXFLAGS and LDFLAGS as a consumer's build would pass them (the CMake
# consumer takes them from the environment too): the ASan tree's test sets
# them to its sanitizer flags, which its instrumented libraries need.
read -r -a user_flags <<< "${CXXFLAGS:-} ${LDFLAGS:-}"
if ! "$cxx" -std=c++17 -O1 "${user_flags[@]}" -o "$tmp/pc-consumer" "$consumer_src/main.cc" \
      "${flags[@]}" > "$tmp/pc-build.log" 2>&1; then
  cat "$tmp/pc-build.log" >&2
  fail "building the pkg-config consumer"
fi
output=$("$tmp/pc-consumer") || fail "the pkg-config consumer failed: $output"
[[ $output == OK ]] || fail "the pkg-config consumer printed: $output"
echo "pkg-config consumer: $output"

echo "PASS"
