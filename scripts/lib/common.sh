# common.sh: helpers shared by scripts/up.sh, down.sh, test.sh and bench.sh.
#
# Source it, do not run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#   ensure_packages all && ensure_built
#
# Provides:
#   ENLACE_ROOT, ENLACE_BUILD_DIR, ENLACE_PYTHON   paths every script uses
#   log / warn / die                 messages prefixed with the calling script's name
#   ensure_packages SET...           apt-get install only what is missing
#                                    (SET: build, run, all, test, tsan, asan,
#                                    npm, format, tidy)
#   ensure_built [TARGET...]         configure (once) and build the shared build/ dir
#                                    (all targets, or only those named)
#   ensure_tsan_built                configure (once) and build the ThreadSanitizer
#                                    tests in build-tsan/ (tests/tsan/)
#   ensure_asan_built [ci|all]       configure (once) and build with ASan+UBSan in
#                                    build-asan/ CI's part or everything (tests/asan/)
#   ensure_npm_tools                 install the npm tools pinned in
#                                    scripts/npm/package-lock.json into build/npm
#   free_port                        a free TCP port on 127.0.0.1, chosen by the kernel
#   pid_alive PID [NAME]             is PID a live (non-zombie) process, named NAME?
#   read_pid_file FILE               the pid in FILE, or nothing
#   stop_pid PID NAME GRACE          TERM, wait up to GRACE s, then KILL
#   health_serving ADDR              one gRPC health check on a plaintext port
#   wait_serving ADDR PID LOG [SECS] wait until the server at ADDR is SERVING
#   wait_ready_file FILE PID LOG [SECS] wait until a server wrote its --ready_file
#
# Works without a TTY and without stdin (CI runs `bash .ci/run < /dev/null`).

# Variables defined here are used by the scripts that source this file.
# shellcheck shell=bash disable=SC2034
if [[ -n "${ENLACE_COMMON_SH_LOADED:-}" ]]; then
  return 0
fi
ENLACE_COMMON_SH_LOADED=1

ENLACE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
ENLACE_BUILD_DIR="${ENLACE_ROOT}/build"
ENLACE_BUILD_JOBS="${ENLACE_BUILD_JOBS:-2}"
# The python3 first on PATH may be another interpreter without grpcio; Debian's is.
ENLACE_PYTHON=/usr/bin/python3
ENLACE_SERVER_BIN="${ENLACE_BUILD_DIR}/server/enlace-server"
ENLACE_CTL_BIN="${ENLACE_BUILD_DIR}/clients/enlacectl"
ENLACE_LOADGEN_BIN="${ENLACE_BUILD_DIR}/clients/enlace-loadgen"
ENLACE_DEFAULT_POLICY="${ENLACE_ROOT}/server/default_policy.conf"
ENLACE_SCRIPT_NAME="${ENLACE_SCRIPT_NAME:-$(basename "$0")}"
# The ThreadSanitizer build: its own tree and compiler. g++ (the default) takes
# its TSan runtime from libtsan2; clang++-N (e.g. ENLACE_TSAN_CXX=clang++-14)
# from libclang-rt-N-dev, with llvm-N for llvm-symbolizer.
ENLACE_TSAN_BUILD_DIR="${ENLACE_ROOT}/build-tsan"
ENLACE_TSAN_CXX="${ENLACE_TSAN_CXX:-g++}"
# The AddressSanitizer + UndefinedBehaviorSanitizer build (g++, libasan8 and
# libubsan1): every target and every test, in a tree of its own.
ENLACE_ASAN_BUILD_DIR="${ENLACE_ROOT}/build-asan"
ENLACE_ASAN_PACKAGES=(libasan8 libubsan1)
# The tools from the npm registry (scripts/npm/package.json, versions pinned
# by its package-lock.json), installed by `npm ci` into a tree of their own.
ENLACE_NPM_DIR="${ENLACE_BUILD_DIR}/npm"
ENLACE_BUF_BIN="${ENLACE_NPM_DIR}/node_modules/.bin/buf"
# The Kubernetes schemas that tests/k8s/validate_manifests.mjs validates the
# rendered manifests against (kubernetes-models and its cert-manager models).
ENLACE_NPM_K8S_MODELS="${ENLACE_NPM_DIR}/node_modules/kubernetes-models/package.json"

ENLACE_BUILD_PACKAGES=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libmysqlcppconn-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev
)
ENLACE_RUN_PACKAGES=(
  mariadb-server mariadb-client python3-grpcio python3-protobuf openssl
)
# What only the tests need: the independent verifier of the audit log's
# proofs and signatures (tests/interop/audit_proofs_test.py) and the TLS
# matrix's certificates (tests/e2e/tls_matrix_test.py), the check of the
# alert rules (tests/k8s_alerts_test.py), the TLS scan of the server
# (tests/e2e/testssl_test.py), the C++ style check
# (tests/unit/format_check_test.sh), the static checks' self-test
# (tests/unit/tidy_check_test.sh) and the rendering of the Kubernetes
# manifests (kubectl kustomize, offline: tests/k8s/k8s_manifests_test.py;
# the package kubectl as this machine image has it, with kustomize v5:
# Debian's own kubernetes-client 1.20 is too old for the `labels` field).
ENLACE_TEST_PACKAGES=(python3-cryptography python3-yaml testssl.sh clang-format clang-tidy kubectl)
if [[ "${ENLACE_TSAN_CXX}" =~ ^clang\+\+(-[0-9]+)?$ ]]; then
  ENLACE_TSAN_PACKAGES=("clang${BASH_REMATCH[1]}" "libclang-rt${BASH_REMATCH[1]}-dev" "llvm${BASH_REMATCH[1]}")
else
  ENLACE_TSAN_PACKAGES=(libtsan2)
fi

log() { printf '%s: %s\n' "${ENLACE_SCRIPT_NAME}" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "${ENLACE_SCRIPT_NAME}" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "${ENLACE_SCRIPT_NAME}" "$*" >&2
  exit 1
}

# Runs a command as root: directly, or through passwordless sudo (never prompts).
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "need root (or passwordless sudo) to run: $*"
  fi
}

package_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# ensure_packages SET... (SET: build, run, all = build + run, test, tsan,
# asan, npm, format, tidy, ha)
# Installs the missing packages of the chosen sets, in one apt-get run; does
# nothing (not even `apt-get update`) when all are present. ENLACE_NO_INSTALL=1
# turns installing into an error that lists what is missing.
ensure_packages() {
  local which pkg
  local -a wanted=() missing=()
  (($# > 0)) || set -- all
  for which in "$@"; do
    case "${which}" in
      build) wanted+=("${ENLACE_BUILD_PACKAGES[@]}") ;;
      run) wanted+=("${ENLACE_RUN_PACKAGES[@]}") ;;
      all) wanted+=("${ENLACE_BUILD_PACKAGES[@]}" "${ENLACE_RUN_PACKAGES[@]}") ;;
      test) wanted+=("${ENLACE_TEST_PACKAGES[@]}") ;;
      tsan) wanted+=("${ENLACE_TSAN_PACKAGES[@]}") ;;
      asan) wanted+=("${ENLACE_ASAN_PACKAGES[@]}") ;;
      npm) wanted+=(npm) ;;
      format) wanted+=(clang-format git) ;;
      # scripts/ha-test.sh: Galera, and what its rsync state transfer runs
      # (rsync, and ss to find a free port).
      ha) wanted+=(galera-4 rsync iproute2) ;;
      tidy) wanted+=(clang-tidy git ninja-build) ;;
      *) die "ensure_packages: unknown set '${which}' (build|run|all|test|tsan|asan|npm|format|tidy|ha)" ;;
    esac
  done
  command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: these scripts expect Debian 12"
  for pkg in "${wanted[@]}"; do
    package_installed "${pkg}" || missing+=("${pkg}")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ "${ENLACE_NO_INSTALL:-0}" == 1 ]]; then
    die "missing packages (ENLACE_NO_INSTALL=1, not installing): ${missing[*]}"
  fi
  log "installing missing packages: ${missing[*]}"

  # mariadb-server's postinst would start the system MariaDB service. That one
  # is not ours (we run a private server), so forbid service starts while
  # installing, unless the machine already has its own policy.
  local policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  if [[ ! -e "${policy}" ]]; then
    as_root sh -c "printf '#!/bin/sh\n# temporary, from enlace scripts/lib/common.sh\nexit 101\n' > ${policy} && chmod 755 ${policy}"
    added_policy=1
  fi
  local -a apt_opts=(-y -q --no-install-recommends
    -o DPkg::Lock::Timeout=300
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" "${missing[@]}"
  } </dev/null || rc=$?
  if ((added_policy)); then
    as_root rm -f "${policy}"
  fi
  ((rc == 0)) || die "apt-get failed (exit ${rc}) installing: ${missing[*]}"
  for pkg in "${missing[@]}"; do
    package_installed "${pkg}" || die "package ${pkg} is still not installed after apt-get"
  done
}

# ensure_built [TARGET...]: configures build/ only when build/build.ninja is
# missing, then builds all targets, or only the TARGETs named (and what they
# need). ccache is used when installed.
# shellcheck disable=SC2120  # the targets are optional: most callers build everything
ensure_built() {
  local -a targets=()
  if (($# > 0)); then
    targets=(--target "$@")
  fi
  if [[ ! -f "${ENLACE_BUILD_DIR}/build.ninja" ]]; then
    local -a cfg=(-S "${ENLACE_ROOT}" -B "${ENLACE_BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=Release)
    if command -v ccache >/dev/null 2>&1; then
      cfg+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    fi
    log "configuring ${ENLACE_BUILD_DIR}"
    cmake "${cfg[@]}" </dev/null || die "cmake configure failed (to start over: rm -rf ${ENLACE_BUILD_DIR})"
  fi
  log "building ${*:-everything} (${ENLACE_BUILD_JOBS} jobs)"
  cmake --build "${ENLACE_BUILD_DIR}" -j "${ENLACE_BUILD_JOBS}" "${targets[@]}" </dev/null ||
    die "build failed"
}

# ensure_tsan_built [ci|all]: the ThreadSanitizer tree (build-tsan/, compiler
# ENLACE_TSAN_CXX) is configured only when build-tsan/build.ninja is missing;
# then, for ci (the default), only the target enlace_tsan_tests is built: the
# CI part listed in tests/tsan/CMakeLists.txt, what it needs, and the suite's
# self-tests; for all, everything (the whole suite).
ensure_tsan_built() {
  local dir="${ENLACE_TSAN_BUILD_DIR}" part="${1:-ci}"
  local -a target=(--target enlace_tsan_tests)
  if [[ "${part}" == all ]]; then
    target=()
  fi
  if [[ ! -f "${dir}/build.ninja" ]]; then
    local -a cfg=(-S "${ENLACE_ROOT}" -B "${dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release
      -DENLACE_SANITIZE=thread -DCMAKE_CXX_COMPILER="${ENLACE_TSAN_CXX}")
    if command -v ccache >/dev/null 2>&1; then
      cfg+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    fi
    log "configuring ${dir} (ThreadSanitizer, ${ENLACE_TSAN_CXX})"
    cmake "${cfg[@]}" </dev/null || die "cmake configure of the TSan tree failed (to start over: rm -rf ${dir})"
  fi
  log "building the ThreadSanitizer tests ($([[ ${part} == all ]] && echo "everything" || echo "CI part"), ${ENLACE_BUILD_JOBS} jobs)"
  cmake --build "${dir}" "${target[@]}" -j "${ENLACE_BUILD_JOBS}" </dev/null ||
    die "the ThreadSanitizer build failed"
}

# ensure_asan_built [ci|all]: the ASan+UBSan tree (build-asan/,
# -DENLACE_SANITIZE=address) is configured only when build-asan/build.ninja
# is missing; then, for ci (the default), only the target
# enlace_asan_ci_tests is built (the unit and db layers' tests and the
# suite's self-tests: tests/asan/CMakeLists.txt); for all, everything.
ensure_asan_built() {
  local dir="${ENLACE_ASAN_BUILD_DIR}" part="${1:-ci}"
  local -a target=(--target enlace_asan_ci_tests)
  if [[ "${part}" == all ]]; then
    target=()
  fi
  if [[ ! -f "${dir}/build.ninja" ]]; then
    local -a cfg=(-S "${ENLACE_ROOT}" -B "${dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release
      -DENLACE_SANITIZE=address)
    if command -v ccache >/dev/null 2>&1; then
      cfg+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    fi
    log "configuring ${dir} (AddressSanitizer + UndefinedBehaviorSanitizer)"
    cmake "${cfg[@]}" </dev/null || die "cmake configure of the ASan tree failed (to start over: rm -rf ${dir})"
  fi
  log "building the ASan+UBSan tree ($([[ ${part} == all ]] && echo "everything" || echo "CI part"), ${ENLACE_BUILD_JOBS} jobs)"
  cmake --build "${dir}" "${target[@]}" -j "${ENLACE_BUILD_JOBS}" </dev/null || die "the ASan+UBSan build failed"
}

# ensure_npm_tools: the tools of scripts/npm/package-lock.json in
# build/npm/node_modules (buf: ENLACE_BUF_BIN; the Kubernetes models:
# ENLACE_NPM_K8S_MODELS), installed with `npm ci` when
# missing or when the lock file changed since. A machine without npm gets
# Debian's (package npm, with its nodejs); one that has Node.js and npm
# already keeps them. ENLACE_NO_INSTALL=1 makes a missing install an error.
ensure_npm_tools() {
  local lock="${ENLACE_ROOT}/scripts/npm/package-lock.json" dir="${ENLACE_NPM_DIR}"
  if [[ -x "${ENLACE_BUF_BIN}" && -f "${ENLACE_NPM_K8S_MODELS}" ]] &&
    cmp -s "${lock}" "${dir}/package-lock.json"; then
    return 0
  fi
  if [[ "${ENLACE_NO_INSTALL:-0}" == 1 ]]; then
    die "the npm tools of ${lock} are not installed in ${dir} (ENLACE_NO_INSTALL=1, not installing)"
  fi
  if ! command -v npm >/dev/null 2>&1; then
    ensure_packages npm
  fi
  log "installing the npm tools of ${lock} into ${dir}"
  { rm -rf "${dir}" && mkdir -p "${dir}"; } || die "cannot create ${dir}"
  cp "${ENLACE_ROOT}/scripts/npm/package.json" "${lock}" "${dir}/" || die "cannot copy ${lock}"
  (cd "${dir}" && npm ci --no-audit --no-fund --loglevel=error </dev/null) ||
    die "npm ci failed in ${dir} (the npm registry must be reachable)"
  [[ -x "${ENLACE_BUF_BIN}" ]] || die "npm ci ran but ${ENLACE_BUF_BIN} is missing"
  [[ -f "${ENLACE_NPM_K8S_MODELS}" ]] || die "npm ci ran but ${ENLACE_NPM_K8S_MODELS} is missing"
}

# Prints a TCP port that was free on 127.0.0.1 a moment ago. Another process
# may take it before we bind it; callers that can retry should.
free_port() {
  "${ENLACE_PYTHON}" - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# pid_alive PID [NAME]
# True when PID is a running process (zombies count as dead) and, when NAME
# is given, its command name is NAME (guards against a recycled pid).
pid_alive() {
  local pid="$1" name="${2:-}" stat comm
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/${pid}/stat" 2>/dev/null)" || return 1
  # Field 3 (after the parenthesised command) is the state; Z and X are dead.
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z && "${stat:0:1}" != X ]] || return 1
  if [[ -n "${name}" ]]; then
    comm="$(cat "/proc/${pid}/comm" 2>/dev/null)" || return 1
    # comm is truncated to 15 characters.
    [[ "${comm}" == "${name:0:15}" ]] || return 1
  fi
  return 0
}

read_pid_file() {
  local file="$1" pid=""
  if [[ -f "${file}" ]]; then
    read -r pid <"${file}" || true
  fi
  if [[ "${pid}" =~ ^[0-9]+$ ]]; then
    printf '%s\n' "${pid}"
  fi
}

# wait_pid_exit PID SECONDS: true once PID is gone, false on timeout.
wait_pid_exit() {
  local pid="$1" secs="$2" i
  for ((i = 0; i < secs * 10; i++)); do
    pid_alive "${pid}" || return 0
    sleep 0.1
  done
  ! pid_alive "${pid}"
}

# stop_pid PID NAME GRACE_SECONDS: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local pid="$1" name="$2" grace="$3"
  pid_alive "${pid}" || return 0
  log "stopping ${name} (pid ${pid})"
  kill -TERM "${pid}" 2>/dev/null || true
  if wait_pid_exit "${pid}" "${grace}"; then
    return 0
  fi
  warn "${name} (pid ${pid}) did not exit within ${grace} s; sending SIGKILL"
  kill -KILL "${pid}" 2>/dev/null || true
  wait_pid_exit "${pid}" 10 || die "${name} (pid ${pid}) survived SIGKILL"
}

# health_serving HOST:PORT
# One grpc.health.v1.Health/Check on the plaintext health port, as a raw
# generic call (no generated stubs): the reply b'\x08\x01' is status SERVING.
health_serving() {
  "${ENLACE_PYTHON}" - "$1" <<'EOF' 2>/dev/null
import sys
import grpc
with grpc.insecure_channel(sys.argv[1]) as channel:
    check = channel.unary_unary('/grpc.health.v1.Health/Check',
                                request_serializer=None,
                                response_deserializer=None)
    try:
        reply = check(b'', timeout=1)
    except grpc.RpcError:
        sys.exit(1)
sys.exit(0 if reply == b'\x08\x01' else 1)
EOF
}

# _wait_until PID LOG SECS WHAT CHECK...: runs CHECK (a command) until it
# succeeds; fails early if PID exits, or after SECS, printing the tail of LOG.
_wait_until() {
  local pid="$1" logfile="$2" secs="$3" what="$4" deadline
  shift 4
  deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if ! pid_alive "${pid}"; then
      warn "the server (pid ${pid}) exited before it was SERVING; last lines of ${logfile}:"
      tail -n 40 "${logfile}" >&2 2>/dev/null || true
      return 1
    fi
    "$@" && return 0
    sleep 0.3
  done
  warn "the server (pid ${pid}) was not SERVING${what} after ${secs} s; last lines of ${logfile}:"
  tail -n 40 "${logfile}" >&2 2>/dev/null || true
  return 1
}

# wait_serving HEALTH_ADDR PID LOG [SECONDS]
# Waits until the server answers SERVING. Fails early if PID exits; on
# failure prints the tail of LOG.
wait_serving() {
  _wait_until "$2" "$3" "${4:-60}" " on $1" health_serving "$1"
}

# wait_ready_file FILE PID LOG [SECONDS]
# Waits until the server PID has written FILE (its --ready_file, written once
# it is SERVING): for a server without a plaintext health port (the CA role).
# Fails early if PID exits; on failure prints the tail of LOG.
wait_ready_file() {
  _wait_until "$2" "$3" "${4:-60}" "" test -s "$1"
}

require_file() {
  [[ -e "$1" ]] || die "$2"
}
