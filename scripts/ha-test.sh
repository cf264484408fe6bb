#!/usr/bin/env bash
# ha-test.sh: the high-availability long run (not part of CI's scripts/test.sh
# run; ctest has it under the `long` label): a 3-node MariaDB Galera cluster
# and two server replicas on loopback lose a database node and a replica
# under load, and nothing acknowledged is lost (tests/ha/ha_test.py).
set -euo pipefail

ENLACE_SCRIPT_NAME=ha-test.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/galera.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/galera.sh"

usage() {
  cat <<'EOF'
Usage: scripts/ha-test.sh [--help] [--build-dir DIR] [--keep] [--report FILE]

Starts a 3-node MariaDB Galera cluster (galera-4, rsync state transfer, the
servers run as the `mysql` user) and two enlace-server replicas whose --db_dsn
names all three nodes, on loopback, in a temporary directory. Under load
through both replicas (arrivals from three writers, cases, referrals and
their acceptance, UNHCR's referral feed), it then:

  1. SIGKILLs the database node the replicas write through (node 1);
  2. SIGKILLs replica a;
  3. starts node 1 again (it rejoins the cluster);
  4. starts replica a again;

with about 8 s of load before each step. Checks: every acknowledged write
stored exactly once, the feed read across replicas (resumed by token) with no
event missed or twice, the audit chain verified, every writer acknowledged
again within 10 s of each failure. Prints the figures (writes acknowledged,
client retries, failovers per replica, seconds to resume per step); exit
status 0 only if every check passed. Takes about 3 minutes, most of it
starting the cluster.

Options:
  --build-dir DIR  build and run from DIR instead of build/
  --keep           keep the temporary directory (cluster data, server logs)
  --report FILE    also write the figures to FILE (JSON)
EOF
}

keep=0
report=""
while (($# > 0)); do
  case "$1" in
    --help | -h) usage; exit 0 ;;
    --build-dir) ENLACE_BUILD_DIR="$(realpath -m "${2:?--build-dir needs a directory}")"; shift 2 ;;
    --keep) keep=1; shift ;;
    --report) report="$(realpath -m "${2:?--report needs a file}")"; shift 2 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

ensure_packages all test ha
ensure_built enlace-server enlacectl

work="$(mktemp -d "${TMPDIR:-/tmp}/enlace-ha.XXXXXX")"
chmod 755 "${work}"  # the mysql user reaches its nodes' directories through it
cleanup() {
  galera_cluster_stop "${work}/galera" || warn "could not stop the Galera cluster in ${work}/galera"
  if ((keep)); then
    log "kept ${work}"
  else
    rm -rf "${work}"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=${SECONDS}
galera_cluster_start "${work}/galera" 3
log "cluster up in $((SECONDS - started)) s"

status=0
# The test's own administrator DSN comes from the cluster's env file; no
# ENLACE_TEST_DB_DSN is needed, but the harness checks one is set.
ENLACE_TEST_DB_DSN="mysql://unused@127.0.0.1:1/" \
  /usr/bin/python3 "${ENLACE_ROOT}/tests/ha/ha_test.py" \
  --server "${ENLACE_BUILD_DIR}/server/enlace-server" \
  --enlacectl "${ENLACE_BUILD_DIR}/clients/enlacectl" \
  --policy "${ENLACE_ROOT}/server/default_policy.conf" \
  --protos "${ENLACE_ROOT}/protos" \
  --galera_dir "${work}/galera" --root "${ENLACE_ROOT}" --workdir "${work}" \
  ${report:+--report "${report}"} </dev/null || status=$?
echo
echo "ha-test.sh: $([[ ${status} == 0 ]] && echo PASSED || echo FAILED) in $((SECONDS - started)) s"
exit "${status}"
