#!/usr/bin/env bash
# rootfs_test.sh: the filesystem test of the server image that
# scripts/image.sh --test runs. Exports the image to a directory and checks
# it: no compiler or -dev package, the binary's libraries all resolve inside
# it, the non-root user enlace (10001); then runs enlace-server from it under
# chroot as 10001:10001 with a read-only root, in mount and pid namespaces of
# its own (unshare): --help, --migrate and a real start against a throwaway
# MariaDB, health SERVING (plaintext and mTLS), SIGTERM, exit status 0.
#
#   tests/image/rootfs_test.sh IMAGE
#
# Needs root, podman, unshare/chroot (util-linux, coreutils), MariaDB and
# Debian's python3-grpcio (scripts/lib/common.sh's run set), and
# build/clients/enlacectl (built if missing) for the dev PKI and the mTLS
# health check. Cleans up (container, MariaDB, directory) on any exit.
set -euo pipefail

ENLACE_SCRIPT_NAME="${ENLACE_SCRIPT_NAME:-image test}"
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/mariadb.sh"

IMAGE="${1:-}"
[[ -n "${IMAGE}" && "${IMAGE}" != -* ]] || {
  echo "usage: tests/image/rootfs_test.sh IMAGE   (scripts/image.sh --test runs it)" >&2
  exit 2
}
[[ "$(id -u)" -eq 0 ]] || die "the image test needs root (chroot, unshare, mounts)"
podman image exists "${IMAGE}" || die "no image ${IMAGE} (scripts/image.sh builds it)"

SERVER_IN_IMAGE=/usr/bin/enlace-server
APP_UID=10001
failures=0
checks=0
pass() {
  checks=$((checks + 1))
  log "ok: $*"
}
fail() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  printf '%s: FAILED: %s\n' "${ENLACE_SCRIPT_NAME}" "$*" >&2
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/enlace-image-test.XXXXXX")"
ROOTFS="${WORK}/rootfs"
DB_DIR="${WORK}/db"
container=""
runner_pid=""

# Nothing is mounted outside the private mount namespace of `unshare`, so
# removing WORK cannot reach through a mount; checked all the same.
cleanup() {
  local rc=$?
  set +e
  if [[ -n "${runner_pid}" ]] && kill -0 "${runner_pid}" 2>/dev/null; then
    kill -KILL "${runner_pid}" 2>/dev/null
    wait "${runner_pid}" 2>/dev/null
  fi
  mariadb_stop "${DB_DIR}" >/dev/null 2>&1
  if [[ -n "${container}" ]]; then
    podman rm -f "${container}" >/dev/null 2>&1
  fi
  if grep -q " ${WORK}" /proc/self/mountinfo; then
    warn "something is still mounted under ${WORK}; not removing it"
  else
    rm -rf "${WORK}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------- export
log "exporting ${IMAGE} to ${ROOTFS}"
mkdir -p "${ROOTFS}"
# `podman create` only prepares the container's filesystem: no OCI runtime
# runs (crun cannot start containers in some sandboxes).
container="$(podman create "${IMAGE}")" || die "podman create ${IMAGE} failed"
podman export "${container}" | tar -C "${ROOTFS}" -xf - ||
  die "podman export ${container} failed"
podman rm -f "${container}" >/dev/null && container=""

# ------------------------------------------------------------ image config
user="$(podman image inspect --format '{{.Config.User}}' "${IMAGE}")"
entrypoint="$(podman image inspect --format '{{join .Config.Entrypoint " "}}' "${IMAGE}")"
if [[ "${user}" == "${APP_UID}:${APP_UID}" ]]; then
  pass "the image runs as ${user} (USER), not root"
else
  fail "the image's USER is '${user}', not ${APP_UID}:${APP_UID}"
fi
if [[ "${entrypoint}" == "${SERVER_IN_IMAGE}" ]]; then
  pass "ENTRYPOINT is ${entrypoint}"
else
  fail "ENTRYPOINT is '${entrypoint}', not ${SERVER_IN_IMAGE}"
fi

# ------------------------------------------------------------ the user
if grep -qx "enlace:x:${APP_UID}:${APP_UID}:[^:]*:/nonexistent:/usr/sbin/nologin" "${ROOTFS}/etc/passwd"; then
  pass "/etc/passwd has enlace (uid ${APP_UID}, gid ${APP_UID}, no home, no login shell)"
else
  fail "/etc/passwd has no enlace user with uid/gid ${APP_UID}"
fi
if grep -qx "enlace:x:${APP_UID}:" "${ROOTFS}/etc/group"; then
  pass "/etc/group has enlace (gid ${APP_UID})"
else
  fail "/etc/group has no enlace group with gid ${APP_UID}"
fi
owned="$(find "${ROOTFS}" -xdev \( -uid "${APP_UID}" -o -gid "${APP_UID}" \) -printf "/%P\n" | head -n 5)"
if [[ -z "${owned}" ]]; then
  pass "no file in the image belongs to uid/gid ${APP_UID} (it cannot change the image)"
else
  fail "files owned by ${APP_UID}: ${owned//$'\n'/ }"
fi

suid="$(find "${ROOTFS}" -xdev -type f -perm /6000 -printf "/%P\n" | head -n 5)"
if [[ -z "${suid}" ]]; then
  pass "no setuid or setgid file in the image"
else
  fail "setuid/setgid files: ${suid//$'\n'/ }"
fi

# ------------------------------------------------------------ packages
if [[ -x "${ROOTFS}${SERVER_IN_IMAGE}" ]]; then
  pass "${SERVER_IN_IMAGE} is in the image ($(du -k "${ROOTFS}${SERVER_IN_IMAGE}" | cut -f1) KiB)"
else
  fail "${SERVER_IN_IMAGE} is missing or not executable"
fi
mapfile -t packages < <(dpkg-query --admindir="${ROOTFS}/var/lib/dpkg" -W -f='${db:Status-Status} ${Package}\n' |
  awk '$1 == "installed" { print $2 }')
((${#packages[@]} > 0)) || die "cannot read the image's dpkg database"
# Compilers, build tools, headers: any -dev package, and these by name.
# (libprotoc32 stays: libgrpc29 needs the library, not the protoc compiler.)
build_only='^(gcc|gcc-[0-9]+|g\+\+|g\+\+-[0-9]+|cpp|cpp-[0-9]+|clang.*|llvm.*|binutils.*|cmake|cmake-data|ninja-build|make|pkg-config|pkgconf|protobuf-compiler.*|gettext|libc6-dev|linux-libc-dev)$'
bad="$(printf '%s\n' "${packages[@]}" | grep -E -e '-dev$' -e "${build_only}" || true)"
if [[ -z "${bad}" ]]; then
  pass "no compiler, build tool or -dev package among the ${#packages[@]} installed packages"
else
  fail "build-only packages in the image: ${bad//$'\n'/ }"
fi
bad_files=""
for f in /usr/bin/cc /usr/bin/c++ /usr/bin/gcc /usr/bin/g++ /usr/bin/ld /usr/bin/as /usr/bin/cmake \
  /usr/bin/ninja /usr/bin/protoc /usr/include/grpcpp /usr/include/google/protobuf /usr/include/absl \
  /usr/include/openssl /usr/include/stdio.h; do
  if [[ -e "${ROOTFS}${f}" || -L "${ROOTFS}${f}" ]]; then
    bad_files+=" ${f}"
  fi
done
if [[ -z "${bad_files}" ]]; then
  pass "no compiler, linker, protoc or headers on disk (cc, g++, ld, as, cmake, ninja, protoc, /usr/include/...)"
else
  fail "build files in the image:${bad_files}"
fi
absent=""
for pkg in libgrpc++1.51 libprotobuf32 libabsl20220623 libmysqlcppconn7v5 libmariadb3 \
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libssl3; do
  printf '%s\n' "${packages[@]}" | grep -qxF -- "${pkg}" || absent+=" ${pkg}"
done
if [[ -z "${absent}" ]]; then
  pass "the runtime library packages are installed (gRPC 1.51, protobuf 32, Abseil, Connector/C++, MariaDB C, prometheus-cpp, OpenSSL 3)"
else
  fail "runtime packages not installed:${absent}"
fi

# ------------------------------------------------------------ libraries
if ! ldd_out="$(chroot "${ROOTFS}" /usr/bin/ldd "${SERVER_IN_IMAGE}" 2>&1)"; then
  fail "chroot ldd ${SERVER_IN_IMAGE} failed: ${ldd_out}"
elif grep -q 'not found' <<<"${ldd_out}"; then
  fail "libraries not found inside the image: $(grep 'not found' <<<"${ldd_out}" | tr -s ' \t\n' ' ')"
else
  pass "all $(grep -c '=>' <<<"${ldd_out}") shared libraries of the binary resolve inside the image (chroot ldd)"
fi

# ------------------------------------------------------------ running it
# The host's build gives the dev PKI and the mTLS health check; the server
# and its migration run from the image.
if [[ ! -x "${ENLACE_CTL_BIN}" ]]; then
  ensure_packages all
  ensure_built enlacectl
fi
ensure_packages run

# run_in_image OUTPUT_FILE ENV... -- ARGS...: runs the image's server in the
# background ($runner_pid: unshare's pid) with only the ENV given (as a
# container would, no host environment), as ${APP_UID}:${APP_UID}, chrooted
# into ROOTFS, in new mount and pid namespaces, the root read-only (as k8s'
# readOnlyRootFilesystem) with what a container has mounted: /proc, a /dev
# with null, zero, random and urandom, a tmpfs /tmp, and read-only binds of
# ${WORK}/mounts/{tls,tokens,audit} at /etc/enlace/... (the k8s Secrets'
# paths) and a writable ${WORK}/mounts/run at /run/enlace for the ready file.
run_in_image() {
  local out="$1"
  shift
  local -a env_vars=()
  while (($# > 0)) && [[ "$1" != -- ]]; do
    env_vars+=("$1")
    shift
  done
  shift
  # The inner script is given its paths as arguments, never interpolated.
  # shellcheck disable=SC2016
  unshare --mount --propagation private --pid --fork --kill-child -- bash -c '
    set -e
    rootfs=$1 mounts=$2 uid=$3
    shift 3
    mount --bind "$rootfs" "$rootfs"
    mount -t proc -o nosuid,nodev,noexec proc "$rootfs/proc"
    mount -t tmpfs -o nosuid,noexec,mode=0755 dev "$rootfs/dev"
    for d in null zero random urandom; do
      touch "$rootfs/dev/$d"
      mount --bind "/dev/$d" "$rootfs/dev/$d"
    done
    mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$rootfs/tmp"
    for d in tls tokens audit; do
      mount --bind "$mounts/$d" "$rootfs/etc/enlace/$d"
      mount -o remount,bind,ro "$rootfs/etc/enlace/$d"
    done
    mount --bind "$mounts/run" "$rootfs/run/enlace"
    mount -o remount,bind,ro "$rootfs"
    exec chroot --userspec="$uid:$uid" "$rootfs" "$@"
  ' image-runner "${ROOTFS}" "${WORK}/mounts" "${APP_UID}" \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${env_vars[@]}" "$@" </dev/null >"${out}" 2>&1 &
  runner_pid=$!
}

# wait_runner SECONDS: waits for the runner to end and sets RUNNER_RC to its
# exit status (the server's), or "timeout". Not in $(...): only this shell
# can wait for its child.
wait_runner() {
  local secs="$1"
  RUNNER_RC=0
  if ! wait_pid_exit "${runner_pid}" "${secs}"; then
    RUNNER_RC=timeout
    return 0
  fi
  wait "${runner_pid}" || RUNNER_RC=$?
  runner_pid=""
}

# Mount points (the rootfs is a copy of ours: the image itself is not changed)
# and what is mounted there (filled in below, before the server starts).
mkdir -p "${WORK}/mounts/tls" "${WORK}/mounts/tokens" "${WORK}/mounts/audit" "${WORK}/mounts/run"
mkdir -p "${ROOTFS}/etc/enlace/tls" "${ROOTFS}/etc/enlace/tokens" "${ROOTFS}/etc/enlace/audit" \
  "${ROOTFS}/run/enlace" "${ROOTFS}/proc" "${ROOTFS}/dev" "${ROOTFS}/tmp"

# --help, as the user, through the same runner. Abseil's flags library ends
# a --help run with exit status 1 (the host's build does the same); the whole
# text, down to the last flag of server/main.cc, must be there.
run_in_image "${WORK}/help.out" -- "${SERVER_IN_IMAGE}" --help
wait_runner 30 && rc="${RUNNER_RC}"
if [[ "${rc}" == 0 || "${rc}" == 1 ]] && grep -q -- 'Flags from server/main.cc' "${WORK}/help.out" &&
  grep -q -- '--worker_threads' "${WORK}/help.out"; then
  pass "enlace-server --help runs from the image as ${APP_UID}:${APP_UID} (exit ${rc}, as Abseil ends --help; $(wc -l <"${WORK}/help.out") lines)"
else
  fail "enlace-server --help from the image: exit ${rc}; output: $(head -c 600 "${WORK}/help.out")"
fi

# A throwaway MariaDB, its two Enlace users (least privilege, as up.sh).
log "starting a throwaway MariaDB in ${DB_DIR}"
mariadb_test_server "${DB_DIR}" || die "the test MariaDB did not start"
mariadb_enlace_users "${DB_DIR}" enlace "${WORK}/secrets"
migrate_password="$(mariadb_password "${WORK}/secrets/migrate.password")"
server_password="$(mariadb_password "${WORK}/secrets/server.password")"
MIGRATE_DSN="mysql://enlace_migrate@127.0.0.1:${DB_PORT}/enlace"
SERVER_DSN="mysql://enlace_server@127.0.0.1:${DB_PORT}/enlace"

# The secrets a pod mounts: the dev PKI (enlacectl pki init, as up.sh), the
# token keys and the audit log key; readable by the group ${APP_UID} only
# (as k8s' fsGroup gives them).
PKI="${WORK}/pki"
"${ENLACE_CTL_BIN}" pki init --dir "${PKI}" </dev/null >"${WORK}/pki.log" 2>&1 ||
  die "enlacectl pki init failed: $(tail -n 5 "${WORK}/pki.log")"
install -m 0444 "${PKI}/ca.crt" "${WORK}/mounts/tls/ca.crt"
install -m 0444 "${PKI}/server.crt" "${WORK}/mounts/tls/tls.crt"
install -g "${APP_UID}" -m 0440 "${PKI}/server.key" "${WORK}/mounts/tls/tls.key"
printf 'k1 %s\n' "$(head -c 32 /dev/urandom | base64)" >"${WORK}/mounts/tokens/token_keys"
chgrp "${APP_UID}" "${WORK}/mounts/tokens/token_keys" && chmod 0440 "${WORK}/mounts/tokens/token_keys"
openssl genpkey -algorithm ed25519 -out "${WORK}/mounts/audit/audit_log.key" 2>/dev/null ||
  die "openssl genpkey failed"
chgrp "${APP_UID}" "${WORK}/mounts/audit/audit_log.key" && chmod 0440 "${WORK}/mounts/audit/audit_log.key"
chown "${APP_UID}:${APP_UID}" "${WORK}/mounts/run" && chmod 0700 "${WORK}/mounts/run"

# The migration from the image (what k8s' migrate Job runs), as the migration user.
run_in_image "${WORK}/migrate.out" ENLACE_MIGRATE_PASSWORD="${migrate_password}" -- \
  "${SERVER_IN_IMAGE}" --migrate --migrate_dsn="${MIGRATE_DSN}" --db_dsn="${SERVER_DSN}"
wait_runner 120 && rc="${RUNNER_RC}"
if [[ "${rc}" == 0 ]]; then
  pass "enlace-server --migrate from the image: schema migrated, enlace_server granted (exit 0)"
else
  tail -n 20 "${WORK}/migrate.out" >&2 || true
  fail "enlace-server --migrate from the image: exit ${rc}"
  die "cannot start the server on an unmigrated database ($failures failed)"
fi

# The real start: the k8s Deployment's flags and paths, ports chosen by the
# kernel (the ready file names them), the server's own database user.
READY="${WORK}/mounts/run/server.ready"
SERVER_OUT="${WORK}/server.out"
run_in_image "${SERVER_OUT}" ENLACE_DB_DSN="${SERVER_DSN}" ENLACE_DB_PASSWORD="${server_password}" -- \
  "${SERVER_IN_IMAGE}" --role=serving \
  --tls_addr=127.0.0.1:0 --health_addr=127.0.0.1:0 --metrics_addr=127.0.0.1:0 \
  --ca_cert=/etc/enlace/tls/ca.crt --server_cert=/etc/enlace/tls/tls.crt \
  --server_key=/etc/enlace/tls/tls.key --policy=/etc/enlace/policy/policy.conf \
  --token_keys=/etc/enlace/tokens/token_keys --audit_log_key=/etc/enlace/audit/audit_log.key \
  --ready_file=/run/enlace/server.ready
log "starting the server from the image (runner pid ${runner_pid}; log ${SERVER_OUT})"
if ! wait_ready_file "${READY}" "${runner_pid}" "${SERVER_OUT}" 90; then
  fail "the server from the image did not write its ready file (not SERVING)"
  die "${failures} of ${checks} checks failed"
fi
ready_value() { sed -n "s/^$1=//p" "${READY}"; }
tls_port="$(ready_value tls_port)"
health_port="$(ready_value health_port)"
metrics_port="$(ready_value metrics_port)"
log "the server is up: mTLS 127.0.0.1:${tls_port}, health :${health_port}, metrics :${metrics_port}"

# Its host pid: unshare's only child (pid 1 in the new pid namespace).
server_pid="$(ps -o pid= --ppid "${runner_pid}" | tr -d ' ' | head -n 1)"
if [[ -n "${server_pid}" ]] && pid_alive "${server_pid}" enlace-server; then
  uids="$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/${server_pid}/status")"
  gids="$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/${server_pid}/status")"
  if [[ "${uids}" == "${APP_UID} ${APP_UID} ${APP_UID} ${APP_UID}" && "${gids}" == "${APP_UID} ${APP_UID} ${APP_UID} ${APP_UID}" ]]; then
    pass "the server process (host pid ${server_pid}) runs as uid/gid ${APP_UID}, chrooted in the image"
  else
    fail "the server process runs as uid '${uids}', gid '${gids}'"
  fi
  if [[ "$(readlink "/proc/${server_pid}/root")" == "${ROOTFS}" ]]; then
    pass "its root directory is the exported image"
  else
    fail "its root directory is $(readlink "/proc/${server_pid}/root"), not ${ROOTFS}"
  fi
else
  fail "cannot find the server process under the runner (pid ${runner_pid})"
fi

if health_serving "127.0.0.1:${health_port}"; then
  pass "grpc.health.v1.Health/Check on the plaintext health port: SERVING"
else
  fail "the plaintext health port 127.0.0.1:${health_port} does not answer SERVING"
fi
if health_out="$("${ENLACE_CTL_BIN}" health --addr "localhost:${tls_port}" --ca "${PKI}/ca.crt" \
  --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" --timeout 10s </dev/null 2>&1)"; then
  pass "enlacectl health over mutual TLS as admin: $(tr -s ' \n' ' ' <<<"${health_out}" | sed 's/ $//')"
else
  fail "enlacectl health over mutual TLS on localhost:${tls_port}: ${health_out}"
fi
if "${ENLACE_PYTHON}" - "${metrics_port}" <<'EOF'; then
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
sys.exit(0 if "\n# TYPE " in "\n" + body else 1)
EOF
  pass "the metrics endpoint answers with Prometheus metrics"
else
  fail "the metrics endpoint 127.0.0.1:${metrics_port}/metrics does not answer"
fi

# SIGTERM, as the kubelet sends it; a clean stop exits 0.
if [[ -n "${server_pid}" ]]; then
  log "sending SIGTERM to the server (host pid ${server_pid})"
  kill -TERM "${server_pid}"
  wait_runner 60 && rc="${RUNNER_RC}"
  if [[ "${rc}" == 0 ]]; then
    pass "SIGTERM: the server stopped, exit status 0"
  else
    tail -n 20 "${SERVER_OUT}" >&2 || true
    fail "after SIGTERM the server's exit status is ${rc}"
  fi
fi

if ((failures > 0)); then
  die "${failures} of ${checks} checks failed"
fi
log "all ${checks} checks passed for ${IMAGE}"
