# mariadb.sh: a private MariaDB server in a directory of our own, for up.sh
# (var/mysql, kept between runs) and test.sh/bench.sh (a mktemp -d dir).
#
# Never touches the system MariaDB service, /etc/mysql or /run/mysqld: every
# server and client call passes --no-defaults and explicit paths.
#
#   source scripts/lib/common.sh; source scripts/lib/mariadb.sh
#   mariadb_init "$dir"            # once: creates the system tables
#   mariadb_start "$dir" 3307      # background; returns once it answers
#   mariadb -uroot -h127.0.0.1 -P3307 -e 'select 1'   # root, no password
#   mariadb_stop "$dir"
#
# Files in DIR: mysql.sock, mysql.pid, error.log, port (the TCP port it was
# started on), install.log, plus the data files.
#
# root has an empty password and can log in over the socket and over TCP from
# 127.0.0.1 only (bind-address=127.0.0.1). This is a development/test server.

# shellcheck shell=bash source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The socket path must fit in sockaddr_un (108 bytes with the NUL).
_mariadb_check_dir() {
  local dir="$1"
  [[ -n "${dir}" ]] || die "mariadb: no directory given"
  [[ "${dir}" == /* ]] || die "mariadb: directory must be absolute: ${dir}"
  ((${#dir} + 11 <= 107)) || die "mariadb: path too long for a unix socket: ${dir}/mysql.sock"
}

_mariadb_client_opts() {
  printf '%s\n' --no-defaults --user=root --socket="$1/mysql.sock" --connect-timeout=2
}

# mariadb_running DIR: true when DIR's pid file names a live mariadbd.
mariadb_running() {
  local pid
  pid="$(read_pid_file "$1/mysql.pid")"
  [[ -n "${pid}" ]] && pid_alive "${pid}" mariadbd
}

# mariadb_port DIR: the TCP port DIR's server was started on (empty if unknown).
mariadb_port() {
  local port=""
  if [[ -f "$1/port" ]]; then
    read -r port <"$1/port" || true
  fi
  printf '%s\n' "${port}"
}

# mariadb_init DIR: creates the system tables, only if DIR holds no data yet.
mariadb_init() {
  local dir="$1"
  _mariadb_check_dir "${dir}"
  if [[ -d "${dir}/mysql" ]]; then
    return 0
  fi
  mkdir -p "${dir}"
  if [[ -n "$(ls -A "${dir}")" ]]; then
    die "mariadb: ${dir} is not empty but holds no MariaDB data; move it away first"
  fi
  log "initialising MariaDB data directory ${dir}"
  # --skip-name-resolve: grant rows by IP (root@127.0.0.1, root@::1) and no
  # row for this machine's host name, which the server would ignore anyway.
  if ! mariadb-install-db --no-defaults --datadir="${dir}" --user=root \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    >"${dir}/install.log" 2>&1 </dev/null; then
    tail -n 30 "${dir}/install.log" >&2 || true
    die "mariadb: mariadb-install-db failed (log: ${dir}/install.log); remove ${dir} before retrying"
  fi
}

# mariadb_start DIR PORT: starts mariadbd in the background and waits (60 s
# at most) until it answers a ping. Does nothing if DIR's server is running.
# Returns 1 (after printing the error log) if the server did not come up, so
# that callers on a free_port can retry on another port:
#   mariadb_start "$dir" "$port" || die "..."
mariadb_start() {
  local dir="$1" port="$2" pid i running_port
  _mariadb_check_dir "${dir}"
  [[ "${port}" =~ ^[0-9]+$ ]] || die "mariadb: bad port '${port}'"
  [[ -d "${dir}/mysql" ]] || die "mariadb: ${dir} is not initialised (mariadb_init first)"
  if mariadb_running "${dir}"; then
    running_port="$(mariadb_port "${dir}")"
    if [[ -n "${running_port}" && "${running_port}" != "${port}" ]]; then
      warn "MariaDB in ${dir} is already running on port ${running_port}, not ${port}"
    else
      log "MariaDB in ${dir} is already running (pid $(read_pid_file "${dir}/mysql.pid"))"
    fi
    return 0
  fi
  rm -f "${dir}/mysql.pid" "${dir}/mysql.sock" "${dir}/mysql.sock.lock"
  # On failure, show only what this start wrote to the error log.
  local log_lines=0
  if [[ -f "${dir}/error.log" ]]; then
    log_lines="$(wc -l <"${dir}/error.log")"
  fi
  printf '%s\n' "${port}" >"${dir}/port"
  log "starting MariaDB on 127.0.0.1:${port} (data: ${dir})"
  # setsid: own session, so a Ctrl-C meant for up.sh's foreground server or
  # for ctest does not reach it. The subshell makes init its parent (up.sh
  # execs the server, which would otherwise inherit it as a child).
  # innodb-flush-log-at-trx-commit=1 keeps durability on (an fsync per commit),
  # as in production: benchmarks must measure the real cost.
  pid="$(
    setsid mariadbd --no-defaults \
      --datadir="${dir}" \
      --socket="${dir}/mysql.sock" \
      --pid-file="${dir}/mysql.pid" \
      --log-error="${dir}/error.log" \
      --port="${port}" \
      --bind-address=127.0.0.1 \
      --user=root \
      --skip-name-resolve \
      --innodb-flush-log-at-trx-commit=1 \
      --innodb-buffer-pool-size=256M \
      --max-connections=200 \
      --character-set-server=utf8mb4 \
      --collation-server=utf8mb4_unicode_ci \
      </dev/null >>"${dir}/mariadbd.out" 2>&1 &
    echo $!
  )"
  local -a client
  mapfile -t client < <(_mariadb_client_opts "${dir}")
  for ((i = 0; i < 600; i++)); do
    if mariadb-admin "${client[@]}" ping >/dev/null 2>&1; then
      break
    fi
    if ! pid_alive "${pid}"; then
      i=600 # exited: port taken, bad data dir, ...
      break
    fi
    sleep 0.1
  done
  if ((i >= 600)); then
    warn "MariaDB did not come up on port ${port}; last lines of ${dir}/error.log:"
    tail -n "+$((log_lines + 1))" "${dir}/error.log" 2>/dev/null | tail -n 30 >&2 || true
    tail -n 10 "${dir}/mariadbd.out" >&2 2>/dev/null || true
    if pid_alive "${pid}"; then
      kill -KILL "${pid}" 2>/dev/null || true
      wait_pid_exit "${pid}" 10 || true
    fi
    rm -f "${dir}/mysql.pid"
    return 1
  fi
  _mariadb_ensure_tcp_root "${dir}" "${port}"
}

# Root over TCP from 127.0.0.1 with no password is what the DSNs use
# (mysql://root@127.0.0.1:PORT/). mariadb-install-db creates root@127.0.0.1;
# if that row is missing (an older data dir), add it over the socket.
_mariadb_ensure_tcp_root() {
  local dir="$1" port="$2" err
  local -a client
  if err="$(mariadb --no-defaults --user=root --host=127.0.0.1 --port="${port}" \
    --connect-timeout=5 -e 'select 1' 2>&1 >/dev/null)"; then
    return 0
  fi
  # 1045 Access denied (no matching password) or 1130 host not allowed (no row).
  if [[ "${err}" != *"Access denied"* && "${err}" != *"is not allowed to connect"* ]]; then
    die "mariadb: cannot connect over TCP to 127.0.0.1:${port}: ${err}"
  fi
  log "granting root@127.0.0.1 (empty password) in ${dir}"
  mapfile -t client < <(_mariadb_client_opts "${dir}")
  mariadb "${client[@]}" -e "
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    FLUSH PRIVILEGES;" || die "mariadb: could not grant root@127.0.0.1"
}

# mariadb_stop DIR: clean shutdown (mariadb-admin), else SIGTERM, else
# SIGKILL; returns once the process is gone. Does nothing if not running.
mariadb_stop() {
  local dir="$1" pid
  pid="$(read_pid_file "${dir}/mysql.pid")"
  if [[ -z "${pid}" ]] || ! pid_alive "${pid}" mariadbd; then
    rm -f "${dir}/mysql.pid"
    return 0
  fi
  log "stopping MariaDB (pid ${pid}, data: ${dir})"
  local -a client
  mapfile -t client < <(_mariadb_client_opts "${dir}")
  if ! timeout 30 mariadb-admin "${client[@]}" shutdown >/dev/null 2>&1; then
    warn "mariadb-admin shutdown failed; sending SIGTERM to ${pid}"
    kill -TERM "${pid}" 2>/dev/null || true
  fi
  # A clean InnoDB shutdown can take a while with a big buffer pool.
  if ! wait_pid_exit "${pid}" 60; then
    warn "MariaDB (pid ${pid}) still running after 60 s; sending SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
    wait_pid_exit "${pid}" 10 || die "mariadb: pid ${pid} survived SIGKILL"
  fi
  rm -f "${dir}/mysql.pid"
}

# mariadb_start_on_free_port DIR: starts DIR's server on a port the kernel
# reports free and sets DB_PORT. free_port can race with another process, so
# a few ports are tried before giving up (returns 1).
mariadb_start_on_free_port() {
  local dir="$1" attempt
  for attempt in 1 2 3; do
    DB_PORT="$(free_port)"
    if mariadb_start "${dir}" "${DB_PORT}"; then
      return 0
    fi
    warn "MariaDB did not start on port ${DB_PORT} (attempt ${attempt})"
  done
  return 1
}
