#!/usr/bin/env bash
# image.sh: build the Enlace server's container image (Containerfile) with
# podman, FROM a Debian 12 base assembled here from Debian packages with
# mmdebstrap (no container registry needed); --test then checks the image's
# filesystem and runs the server from it (tests/image/rootfs_test.sh).
# docs/image.md says what is in the image and why.
set -euo pipefail

ENLACE_SCRIPT_NAME=image.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

VERSION="$(sed -n 's/^project(enlace VERSION \([0-9.]*\).*/\1/p' "${ENLACE_ROOT}/CMakeLists.txt")"
IMAGE="${ENLACE_IMAGE:-localhost/enlace/enlace-server:${VERSION:-dev}}"
BASE_IMAGE="${ENLACE_BASE_IMAGE:-localhost/enlace-base-bookworm:latest}"
MIRROR="${ENLACE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${ENLACE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# buildah's chroot isolation runs RUN steps without an OCI runtime (crun/runc),
# so builds work where containers cannot be started (docs/image.md).
ISOLATION="${ENLACE_IMAGE_ISOLATION:-chroot}"

usage() {
  cat <<EOF
Usage: scripts/image.sh [--test] [--worktree] [--rebuild-base] [--no-cache] [--help]

Builds the image ${IMAGE} from Containerfile, as root, with podman:
  1. the base ${BASE_IMAGE}: Debian 12 (bookworm: Essential + apt) made by
     mmdebstrap from ${MIRROR} (and bookworm-updates, -security), without
     man pages, locales or docs (copyright files kept), imported with
     'podman import'; made once, then reused (--rebuild-base remakes it);
  2. the image, of the committed tree (git archive HEAD; the image's
     revision label names the commit) with this Containerfile:
     'podman build --isolation=${ISOLATION}': a build stage compiles
     enlace-server (CMake, Ninja, \$ENLACE_BUILD_JOBS jobs, default 2; about
     10 minutes on 2 cores when cold), the runtime stage holds only the
     runtime libraries, the binary, the shipped policy and the user enlace
     (uid/gid 10001). Prints the image's size and the build time.

  --test          then check the image (tests/image/rootfs_test.sh): exported
                  to a directory, no compiler or -dev package in it, every
                  library of the binary resolves inside it, the user enlace;
                  the server run from it (chroot as 10001:10001, read-only
                  root, in its own mount and pid namespaces): --help, and a
                  real start against a throwaway MariaDB, health SERVING on
                  the plaintext and the mTLS port, SIGTERM, exit status 0.
                  Needs build/clients/enlacectl (built if missing) for the
                  dev PKI and the mTLS health check.
  --worktree      build the working tree as it is, uncommitted changes
                  included (the revision label then says so).
  --rebuild-base  remake the base image even if it exists.
  --no-cache      build every step again (podman build --no-cache).
  --help          show this help.

Environment:
  ENLACE_IMAGE                  image name (default localhost/enlace/enlace-server:<version>)
  ENLACE_BASE_IMAGE             base image name (default localhost/enlace-base-bookworm:latest)
  ENLACE_DEBIAN_MIRROR          Debian mirror (default http://deb.debian.org/debian)
  ENLACE_DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security)
  ENLACE_BUILD_JOBS             compile jobs in the build stage (default 2)
  ENLACE_IMAGE_ISOLATION        podman build --isolation (default chroot)
  ENLACE_NO_INSTALL=1           fail instead of installing podman/mmdebstrap

Exit status: 0 built (and, with --test, every check passed); 1 otherwise.
EOF
}

test_after=0
worktree=0
rebuild_base=0
no_cache=()
while (($# > 0)); do
  case "$1" in
    --test) test_after=1 ;;
    --worktree) worktree=1 ;;
    --rebuild-base) rebuild_base=1 ;;
    --no-cache) no_cache=(--no-cache) ;;
    --help | -h)
      usage
      exit 0
      ;;
    *)
      usage >&2
      die "unknown argument: $1"
      ;;
  esac
  shift
done

[[ "$(id -u)" -eq 0 ]] || die "run as root: mmdebstrap --mode=root, rootful podman and chroot need it"
[[ -n "${VERSION}" ]] || die "cannot read the project version from ${ENLACE_ROOT}/CMakeLists.txt"
[[ "${ENLACE_BUILD_JOBS}" =~ ^[1-9][0-9]*$ ]] || die "ENLACE_BUILD_JOBS must be a positive number"

# The tools: podman and mmdebstrap (Debian packages), installed if missing
# the way scripts/lib/common.sh installs the others.
tools=()
command -v podman >/dev/null 2>&1 || tools+=(podman)
command -v mmdebstrap >/dev/null 2>&1 || tools+=(mmdebstrap)
if ((${#tools[@]} > 0)); then
  [[ "${ENLACE_NO_INSTALL:-0}" != 1 ]] ||
    die "missing packages (ENLACE_NO_INSTALL=1, not installing): ${tools[*]}"
  log "installing ${tools[*]}"
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${tools[@]}"
  } </dev/null || die "apt-get could not install ${tools[*]}"
fi

# The base: Debian's Essential packages and apt (mmdebstrap's "apt" variant),
# from the mirror, /usr merged by mmdebstrap's hook (without the usrmerge
# package, which would bring perl). dpkg leaves out man pages, translations
# and docs (but the copyright files) in this image and in every package the
# Containerfile installs over it.
build_base() {
  local work tarball started
  work="$(mktemp -d "${TMPDIR:-/tmp}/enlace-base.XXXXXX")"
  tarball="${work}/base.tar"
  started=${SECONDS}
  log "assembling the base ${BASE_IMAGE} with mmdebstrap (bookworm, Essential + apt, from ${MIRROR})"
  if ! mmdebstrap --mode=root --variant=apt --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    bookworm "${tarball}" \
    "deb ${MIRROR} bookworm main" \
    "deb ${MIRROR} bookworm-updates main" \
    "deb ${SECURITY_MIRROR} bookworm-security main" \
    </dev/null >"${work}/mmdebstrap.log" 2>&1; then
    tail -n 30 "${work}/mmdebstrap.log" >&2 || true
    rm -rf "${work}"
    die "mmdebstrap failed (is ${MIRROR} reachable? set ENLACE_DEBIAN_MIRROR)"
  fi
  if ! podman import \
    --change 'CMD ["/bin/bash"]' \
    --change 'LABEL org.opencontainers.image.description="Debian 12 Essential + apt from mmdebstrap (enlace scripts/image.sh)"' \
    "${tarball}" "${BASE_IMAGE}" >/dev/null; then
    rm -rf "${work}"
    die "podman import of the base failed"
  fi
  rm -rf "${work}"
  log "base ${BASE_IMAGE} made in $((SECONDS - started)) s"
}

if ((rebuild_base)) || ! podman image exists "${BASE_IMAGE}"; then
  build_base
else
  log "reusing the base ${BASE_IMAGE} (--rebuild-base remakes it)"
fi

# The build context: the committed tree (git archive HEAD), so that the
# image is the commit its label names; or, with --worktree, the tree as it is.
context_dir=""
trap '[[ -z "${context_dir}" ]] || rm -rf "${context_dir}"' EXIT
if ((worktree)); then
  context="${ENLACE_ROOT}"
  revision="$(git -C "${ENLACE_ROOT}" rev-parse HEAD 2>/dev/null || echo unknown)+worktree"
else
  revision="$(git -C "${ENLACE_ROOT}" rev-parse HEAD 2>/dev/null)" ||
    die "not a git checkout: use --worktree to build the files as they are"
  context_dir="$(mktemp -d "${TMPDIR:-/tmp}/enlace-image-context.XXXXXX")"
  git -C "${ENLACE_ROOT}" archive --format=tar HEAD | tar -C "${context_dir}" -xf - ||
    die "git archive HEAD failed"
  cp "${ENLACE_ROOT}/.containerignore" "${context_dir}/.containerignore"
  context="${context_dir}"
fi

log "building ${IMAGE} from ${revision} (podman build --isolation=${ISOLATION}, ${ENLACE_BUILD_JOBS} compile jobs)"
started=${SECONDS}
podman build --isolation="${ISOLATION}" "${no_cache[@]}" \
  --build-arg BASE_IMAGE="${BASE_IMAGE}" --build-arg JOBS="${ENLACE_BUILD_JOBS}" \
  --label org.opencontainers.image.title=enlace-server \
  --label org.opencontainers.image.version="${VERSION}" \
  --label org.opencontainers.image.revision="${revision}" \
  -f "${ENLACE_ROOT}/Containerfile" -t "${IMAGE}" "${context}" </dev/null ||
  die "podman build failed (the messages above say which step)"
build_seconds=$((SECONDS - started))
size_bytes="$(podman image inspect --format '{{.Size}}' "${IMAGE}")"
log "built ${IMAGE}: $((size_bytes / 1000000)) MB (${size_bytes} bytes, uncompressed) in ${build_seconds} s"

if ((test_after)); then
  "${ENLACE_ROOT}/tests/image/rootfs_test.sh" "${IMAGE}" ||
    die "the image test failed (the messages above say which check)"
fi
log "done: ${IMAGE}, $((size_bytes / 1000000)) MB, build ${build_seconds} s"
