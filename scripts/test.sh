#!/usr/bin/env bash
# test.sh: build Enlace and run the whole test suite (ctest) against a
# throw-away private MariaDB. This is what CI runs (.ci/run).
set -euo pipefail

ENLACE_SCRIPT_NAME=test.sh
# shellcheck source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/mariadb.sh"

usage() {
  cat <<EOF
Usage: scripts/test.sh [--help] [ctest args...]

Installs missing Debian packages, builds (build/), starts a private MariaDB
in a temporary directory on a free port, and runs
  ctest --test-dir build --output-on-failure -j2 [ctest args...]
with ENLACE_TEST_DB_DSN=mysql://root@127.0.0.1:PORT/ exported (each test
creates and drops its own databases). The database and its directory are
removed on exit. The exit status is ctest's.

Examples:
  scripts/test.sh                   # everything
  scripts/test.sh -R Policy         # tests whose name matches Policy
  scripts/test.sh -L e2e -V         # a label, verbose

Environment:
  ENLACE_NO_INSTALL=1   fail instead of installing missing packages
  ENLACE_BUILD_JOBS     build parallelism (default 2)
  ENLACE_KEEP_DB=1      keep the temporary MariaDB directory (for debugging)
EOF
}

case "${1:-}" in
  --help | -h)
    usage
    exit 0
    ;;
  --) shift ;;
esac

cd "${ENLACE_ROOT}"
ensure_packages all
ensure_built

DB_DIR=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "${DB_DIR}" ]]; then
    mariadb_stop "${DB_DIR}" || warn "could not stop the test MariaDB in ${DB_DIR}"
    if [[ "${ENLACE_KEEP_DB:-0}" == 1 ]]; then
      log "keeping ${DB_DIR} (ENLACE_KEEP_DB=1)"
    else
      rm -rf "${DB_DIR}"
    fi
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/enlace-test.XXXXXX")"
mariadb_init "${DB_DIR}"
mariadb_start_on_free_port "${DB_DIR}" || die "the test MariaDB did not start"

export ENLACE_TEST_DB_DSN="mysql://root@127.0.0.1:${DB_PORT}/"
log "ENLACE_TEST_DB_DSN=${ENLACE_TEST_DB_DSN}"

status=0
ctest --test-dir "${ENLACE_BUILD_DIR}" --output-on-failure -j2 "$@" </dev/null || status=$?
if ((status != 0)); then
  log "ctest failed (exit ${status})"
fi
exit "${status}"
