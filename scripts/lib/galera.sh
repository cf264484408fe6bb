# galera.sh: a MariaDB Galera cluster of N nodes on loopback, in a directory
# of our own, for the high-availability test (scripts/ha-test.sh).
#
#   source scripts/lib/galera.sh
#   galera_cluster_start DIR 3      # every node up and synced; writes DIR/env
#   galera_node_kill DIR 1          # SIGKILL node 1 (no shutdown, as a crash)
#   galera_node_start DIR 1         # start it again: it rejoins (IST or rsync SST)
#   galera_cluster_stop DIR
#
# DIR/env holds what a test needs (sourceable):
#   GALERA_NODES=3
#   GALERA_PORT_<i>=...     the SQL port of node i (127.0.0.1)
#   GALERA_ADMIN_DSN=mysql://ha_admin:PW@127.0.0.1:P1       an administrator over TCP
#   GALERA_HOSTS=127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3     for a multi-host DSN
#
# Facts this relies on (measured on Debian 12, galera-4 26.4, MariaDB 10.11):
#   - the rsync state transfer needs the data directories owned by, and the
#     servers run as, the `mysql` user (as root it fails with "cannot stat
#     destination");
#   - the first node bootstraps with --wsrep-new-cluster; the others, and any
#     node started again later, join through the gcomm:// address list;
#   - a node killed with SIGKILL rejoins by IST once its position is
#     recovered (--wsrep-recover, then --wsrep-start-position); without that
#     it takes a full rsync SST, during which its donor blocks writes;
#   - a node killed with SIGKILL is dropped from the primary component after
#     evs.suspect_timeout (set to 3 s here; the default is 5 s), during which
#     writes on the survivors wait.
# Never touches the system MariaDB service or /etc/mysql: --no-defaults and
# explicit paths everywhere.

# shellcheck shell=bash source=scripts/lib/mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/mariadb.sh"

readonly GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so

_galera_node_dir() { printf '%s/node%s\n' "$1" "$2"; }

# _galera_port DIR NAME: a port chosen when the cluster was made (DIR/ports).
_galera_port() {
  awk -F= -v k="$2" '$1 == k { print $2 }' "$1/ports"
}

# galera_node_start DIR I: starts node I (made by galera_cluster_start) and
# waits (90 s at most) until it is synced with the cluster. With BOOTSTRAP=1
# in the environment it starts a new cluster instead of joining one.
galera_node_start() {
  local dir="$1" i="$2" node gcomm="" j state=""
  node="$(_galera_node_dir "${dir}" "${i}")"
  local nodes
  nodes="$(_galera_port "${dir}" nodes)"
  for ((j = 1; j <= nodes; j++)); do
    gcomm+="${gcomm:+,}127.0.0.1:$(_galera_port "${dir}" "gcomm_${j}")"
  done
  rm -f "${node}/mysql.pid" "${node}/mysql.sock" "${node}/mysql.sock.lock"
  local -a bootstrap=()
  [[ "${BOOTSTRAP:-0}" == 1 ]] && bootstrap=(--wsrep-new-cluster)
  # A node that crashed (grastate.dat seqno -1) first recovers its position
  # from InnoDB, so that it rejoins by incremental transfer (IST, from the
  # donors' gcache) instead of a full rsync copy, which blocks the donor's
  # writes while it runs (what the systemd unit's galera_recovery does).
  if grep -qE '^seqno:[[:space:]]+-1' "${node}/grastate.dat" 2>/dev/null; then
    mariadbd --no-defaults --user=mysql --datadir="${node}" --skip-networking \
      --socket="${node}/recover.sock" --pid-file="${node}/recover.pid" \
      --log-error="${node}/recover.log" --innodb-buffer-pool-size=128M \
      --innodb-log-file-size=64M --wsrep-on=ON --wsrep-provider="${GALERA_PROVIDER}" \
      --binlog-format=ROW --wsrep-recover </dev/null >/dev/null 2>&1 || true
    local position
    position="$(grep -oE 'Recovered position: [0-9a-f-]+:-?[0-9]+' "${node}/recover.log" |
      tail -n 1 | awk '{ print $3 }')"
    if [[ -n "${position}" && "${position}" != *:-1 ]]; then
      bootstrap+=(--wsrep-start-position="${position}")
    fi
  fi
  local provider_options
  provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(_galera_port "${dir}" "gcomm_${i}")"
  provider_options+=";ist.recv_addr=127.0.0.1:$(_galera_port "${dir}" "ist_${i}")"
  provider_options+=";evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S"
  provider_options+=";evs.install_timeout=PT6S;gcache.size=64M"
  mariadbd --no-defaults --user=mysql --datadir="${node}" \
    --socket="${node}/mysql.sock" --pid-file="${node}/mysql.pid" \
    --port="$(_galera_port "${dir}" "sql_${i}")" --bind-address=127.0.0.1 \
    --log-error="${node}/error.log" --skip-name-resolve \
    --innodb-buffer-pool-size=128M --innodb-log-file-size=64M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=300 \
    --binlog-format=ROW --default-storage-engine=InnoDB --innodb-autoinc-lock-mode=2 \
    --wsrep-on=ON --wsrep-provider="${GALERA_PROVIDER}" --wsrep-cluster-name=enlace_ha \
    --wsrep-cluster-address="gcomm://${gcomm}" --wsrep-node-name="node${i}" \
    --wsrep-node-address="127.0.0.1:$(_galera_port "${dir}" "gcomm_${i}")" \
    --wsrep-provider-options="${provider_options}" \
    --wsrep-sst-method=rsync \
    --wsrep-sst-receive-address="127.0.0.1:$(_galera_port "${dir}" "sst_${i}")" \
    "${bootstrap[@]}" </dev/null >>"${node}/stdout.log" 2>&1 &
  local deadline=$((SECONDS + 90))
  while ((SECONDS < deadline)); do
    state="$(mariadb_sql "${node}" -N -B \
      -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
          WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT'" 2>/dev/null || true)"
    [[ "${state}" == Synced ]] && return 0
    sleep 0.5
  done
  tail -n 40 "${node}/error.log" >&2 || true
  die "galera: node ${i} not synced after 90 s (state '${state}'; log ${node}/error.log)"
}

# galera_node_pid DIR I: the pid of node I's mariadbd (empty if not running).
galera_node_pid() {
  local pid
  pid="$(read_pid_file "$(_galera_node_dir "$1" "$2")/mysql.pid")"
  if [[ -n "${pid}" ]] && pid_alive "${pid}" mariadbd; then printf '%s\n' "${pid}"; fi
}

# galera_node_kill DIR I: SIGKILL node I and wait until it is gone.
galera_node_kill() {
  local pid
  pid="$(galera_node_pid "$1" "$2")"
  [[ -n "${pid}" ]] || die "galera: node $2 is not running"
  kill -KILL "${pid}"
  while kill -0 "${pid}" 2>/dev/null; do sleep 0.1; done
}

# galera_cluster_start DIR N: makes and starts an N-node cluster in DIR
# (which must not exist yet), with an administrator over TCP, and writes
# DIR/env.
galera_cluster_start() {
  local dir="$1" nodes="${2:-3}" i
  [[ ! -e "${dir}" ]] || die "galera: ${dir} exists already"
  [[ -f "${GALERA_PROVIDER}" ]] || die "galera: ${GALERA_PROVIDER} missing (apt-get install galera-4)"
  id mysql >/dev/null 2>&1 || die "galera: no 'mysql' user (it comes with mariadb-server)"
  mkdir -p "${dir}"
  chmod 755 "${dir}"
  {
    echo "nodes=${nodes}"
    for ((i = 1; i <= nodes; i++)); do
      echo "sql_${i}=$(free_port)"
      echo "gcomm_${i}=$(free_port)"
      echo "ist_${i}=$(free_port)"
      echo "sst_${i}=$(free_port)"
    done
  } >"${dir}/ports"
  for ((i = 1; i <= nodes; i++)); do
    local node
    node="$(_galera_node_dir "${dir}" "${i}")"
    mkdir -p "${node}"
    if ! mariadb-install-db --no-defaults --datadir="${node}" --user=mysql \
      --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
      --skip-test-db --skip-name-resolve >"${node}/install.log" 2>&1 </dev/null; then
      tail -n 30 "${node}/install.log" >&2 || true
      die "galera: mariadb-install-db failed for node ${i}"
    fi
    chown -R mysql:mysql "${node}"
    chmod 750 "${node}"
  done
  log "starting a ${nodes}-node Galera cluster in ${dir}"
  BOOTSTRAP=1 galera_node_start "${dir}" 1
  for ((i = 2; i <= nodes; i++)); do galera_node_start "${dir}" "${i}"; done
  local password
  password="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  mariadb_sql "$(_galera_node_dir "${dir}" 1)" <<SQL || die "galera: cannot create the administrator"
CREATE USER 'ha_admin'@'127.0.0.1' IDENTIFIED BY '${password}';
GRANT ALL PRIVILEGES ON *.* TO 'ha_admin'@'127.0.0.1' WITH GRANT OPTION;
SQL
  local hosts=""
  {
    echo "GALERA_NODES=${nodes}"
    for ((i = 1; i <= nodes; i++)); do
      echo "GALERA_PORT_${i}=$(_galera_port "${dir}" "sql_${i}")"
      hosts+="${hosts:+,}127.0.0.1:$(_galera_port "${dir}" "sql_${i}")"
    done
    echo "GALERA_ADMIN_DSN=mysql://ha_admin:${password}@127.0.0.1:$(_galera_port "${dir}" sql_1)"
    echo "GALERA_HOSTS=${hosts}"
  } >"${dir}/env"
  chmod 600 "${dir}/env"
  log "Galera cluster up: ${hosts}"
}

# galera_cluster_stop DIR: stops every node that runs (SIGTERM, then SIGKILL
# after 30 s).
galera_cluster_stop() {
  local dir="$1" nodes i pid
  [[ -f "${dir}/ports" ]] || return 0
  nodes="$(_galera_port "${dir}" nodes)"
  for ((i = nodes; i >= 1; i--)); do
    pid="$(galera_node_pid "${dir}" "${i}")"
    [[ -n "${pid}" ]] || continue
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "${pid}" 2>/dev/null || true
  done
}
