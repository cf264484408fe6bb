# mariadb.sh: a private MariaDB server in a directory of our own, for up.sh
# (var/mysql, kept between runs) and test.sh/bench.sh (a mktemp -d dir).
#
# Never touches the system MariaDB service, /etc/mysql or /run/mysqld: every
# server and client call passes --no-defaults and explicit paths.
#
#   source scripts/lib/common.sh; source scripts/lib/mariadb.sh
#   mariadb_init "$dir"            # once: creates the system tables
#   mariadb_start "$dir" 3307      # background; returns once it answers
#   mariadb_sql "$dir" <<<'select 1'                  # as root, over the socket
#   mariadb_enlace_users "$dir" enlace "$secrets"     # the migration and server users
#   mariadb_stop "$dir"
#
#   mariadb_test_server "$dir"     # all of it for tests: see below
#
# Files in DIR (mode 0700): mysql.sock, mysql.pid, error.log, port (the TCP
# port it was started on), install.log, plus the data files.
#
# Who can log in (least privilege, docs/audit.md "Least privilege"):
#   - root: only through the unix socket, which lives in DIR (mode 0700, so
#     only this OS user reaches it), authenticated by unix_socket as the OS
#     user running these scripts (mariadb-install-db
#     --auth-root-authentication-method=socket). No root over TCP, unless
#     ENLACE_MARIADB_TCP_ROOT_PASSWORD is set when the server starts: then
#     root@127.0.0.1 with that password (what test servers use, see
#     mariadb_test_server). A data directory made by an older version of this
#     file (root without a password, also over TCP) is converted on start.
#   - enlace_migrate and enlace_server (mariadb_enlace_users): the migration
#     user (every privilege on the Enlace database, WITH GRANT OPTION) and the
#     server's own user (no privilege until `enlace-server --migrate` grants
#     it those of db/grants.h), with generated passwords in files of mode 0600.
# TCP listens on 127.0.0.1 only (bind-address). A development/test server.

# shellcheck shell=bash source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The socket path must fit in sockaddr_un (108 bytes with the NUL).
_mariadb_check_dir() {
  local dir="$1"
  [[ -n "${dir}" ]] || die "mariadb: no directory given"
  [[ "${dir}" == /* ]] || die "mariadb: directory must be absolute: ${dir}"
  ((${#dir} + 11 <= 107)) || die "mariadb: path too long for a unix socket: ${dir}/mysql.sock"
}

# The MariaDB administrator: root, reached over the socket as the OS user
# running this (mariadb-install-db --auth-root-socket-user), normally root.
_mariadb_admin_user() { id -un; }

_mariadb_client_opts() {
  printf '%s\n' --no-defaults --user="$(_mariadb_admin_user)" --socket="$1/mysql.sock" \
    --connect-timeout=2
}

# mariadb_sql DIR [mariadb args...]: runs the SQL on stdin as the
# administrator over DIR's socket (never a password on a command line).
mariadb_sql() {
  local dir="$1"
  shift
  local -a client
  mapfile -t client < <(_mariadb_client_opts "${dir}")
  mariadb "${client[@]}" "$@"
}

# mariadb_password FILE: prints the password kept in FILE, first making one
# (32 hex digits; FILE mode 0600) if FILE does not exist.
mariadb_password() {
  local file="$1" pw=""
  if [[ ! -s "${file}" ]]; then
    (
      umask 077
      od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"${file}.tmp" && mv -f "${file}.tmp" "${file}"
    ) || die "mariadb: cannot write ${file}"
  fi
  chmod 600 "${file}"
  read -r pw <"${file}" || true
  [[ "${pw}" =~ ^[0-9a-f]{32}$ ]] || die "mariadb: ${file} does not hold a generated password"
  printf '%s\n' "${pw}"
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
  chmod 700 "${dir}"  # the socket is in it: only this OS user may reach it
  local entry
  for entry in "${dir}"/* "${dir}"/.[!.]*; do
    # Nothing but mariadb_test_server's password file may be there yet.
    if [[ -e "${entry}" && "${entry}" != "${dir}/root.password" ]]; then
      die "mariadb: ${dir} is not empty but holds no MariaDB data; move it away first"
    fi
  done
  log "initialising MariaDB data directory ${dir}"
  # --auth-root-authentication-method=socket: root logs in over the socket as
  # the OS user running this, with no password, and not over TCP at all.
  # --skip-name-resolve: no account row for this machine's host name.
  if ! mariadb-install-db --no-defaults --datadir="${dir}" --user=root \
    --auth-root-authentication-method=socket --auth-root-socket-user="$(_mariadb_admin_user)" \
    --skip-test-db --skip-name-resolve \
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
# ENLACE_MARIADB_OPTIONS (space-separated mariadbd options) come after the
# built-in ones and so override them, e.g. --innodb-buffer-pool-size=4G.
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
  chmod 700 "${dir}"  # also a data directory made before this was the rule
  rm -f "${dir}/mysql.pid" "${dir}/mysql.sock" "${dir}/mysql.sock.lock"
  # On failure, show only what this start wrote to the error log.
  local log_lines=0
  if [[ -f "${dir}/error.log" ]]; then
    log_lines="$(wc -l <"${dir}/error.log")"
  fi
  printf '%s\n' "${port}" >"${dir}/port"
  # ENLACE_MARIADB_OPTIONS: more mariadbd options, after (so overriding) the
  # ones below, e.g. a larger buffer pool for scripts/bench.sh's big fills.
  local -a extra_options=()
  read -r -a extra_options <<<"${ENLACE_MARIADB_OPTIONS:-}"
  log "starting MariaDB on 127.0.0.1:${port} (data: ${dir}${extra_options[*]:+; ${extra_options[*]}})"
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
      "${extra_options[@]}" \
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
  _mariadb_secure_root "${dir}"
}

# Root over the socket only (see the top of this file): converts an older
# data directory (root@localhost with no password, root over TCP without a
# password) and makes root@127.0.0.1 only with ENLACE_MARIADB_TCP_ROOT_PASSWORD.
# Runs at every start; the SQL (and any password) goes through stdin.
_mariadb_secure_root() {
  local dir="$1" tcp_password="${ENLACE_MARIADB_TCP_ROOT_PASSWORD:-}"
  [[ -z "${tcp_password}" || "${tcp_password}" =~ ^[A-Za-z0-9_.-]+$ ]] ||
    die "mariadb: ENLACE_MARIADB_TCP_ROOT_PASSWORD must be [A-Za-z0-9_.-]+"
  # Anonymous accounts, and root at any host but localhost (and 127.0.0.1,
  # handled below): an older data directory has root@::1, root@<hostname>...
  local sql
  sql="$(mariadb_sql "${dir}" -N <<<"SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';')
    FROM mysql.user WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost', '127.0.0.1'))")" ||
    die "mariadb: cannot list the accounts of ${dir} (is this the OS user that made it?)"
  if [[ "$(_mariadb_admin_user)" == root ]]; then
    # Also a root made with an empty password by an older version of this file.
    sql+="ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket;"
  fi
  if [[ -n "${tcp_password}" ]]; then
    sql+="CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '${tcp_password}';"
    sql+="ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '${tcp_password}';"
    sql+="GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
  else
    sql+="DROP USER IF EXISTS 'root'@'127.0.0.1';"
  fi
  mariadb_sql "${dir}" <<<"${sql}" ||
    die "mariadb: could not restrict root to the socket in ${dir} (is this the OS user that made it?)"
}

# mariadb_enlace_users DIR DATABASE SECRETS_DIR: creates (or updates) the
# two accounts Enlace uses on DATABASE, with passwords generated once into
# SECRETS_DIR/migrate.password and SECRETS_DIR/server.password (mode 0600;
# SECRETS_DIR is made with mode 0700):
#   enlace_migrate@%  ALL PRIVILEGES ON DATABASE.* WITH GRANT OPTION: what
#                     `enlace-server --migrate` connects as
#   enlace_server@%   nothing: --migrate grants it what db/grants.h says
# (TCP only reaches 127.0.0.1: bind-address.)
mariadb_enlace_users() {
  local dir="$1" database="$2" secrets="$3" migrate_pw server_pw
  [[ "${database}" =~ ^[A-Za-z0-9_]+$ ]] || die "mariadb: bad database name '${database}'"
  mkdir -p "${secrets}"
  chmod 700 "${secrets}"
  migrate_pw="$(mariadb_password "${secrets}/migrate.password")"
  server_pw="$(mariadb_password "${secrets}/server.password")"
  mariadb_sql "${dir}" <<SQL || die "mariadb: could not create the Enlace database users"
CREATE USER IF NOT EXISTS 'enlace_migrate'@'%' IDENTIFIED BY '${migrate_pw}';
ALTER USER 'enlace_migrate'@'%' IDENTIFIED BY '${migrate_pw}';
GRANT ALL PRIVILEGES ON \`${database}\`.* TO 'enlace_migrate'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'enlace_server'@'%' IDENTIFIED BY '${server_pw}';
ALTER USER 'enlace_server'@'%' IDENTIFIED BY '${server_pw}';
SQL
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

# mariadb_test_server DIR: a throwaway server for the test suite (what
# scripts/test.sh runs): DIR is initialised, root gets a generated TCP
# password (in DIR/root.password, mode 0600) and the server starts on a free
# port (DB_PORT). Then exports, for the tests and the MariaDB servers some of
# them start through this file:
#   ENLACE_TEST_DB_DSN=mysql://root@127.0.0.1:PORT/  (no password in it)
#   ENLACE_DB_PASSWORD                  root's password, which the DSNs
#                                       without one take (db/dsn.h)
#   ENLACE_MARIADB_TCP_ROOT_PASSWORD    the same, for those nested servers
# By hand:  source scripts/lib/mariadb.sh; mariadb_test_server /tmp/x; ...;
#           mariadb_stop /tmp/x
mariadb_test_server() {
  local dir="$1" password
  _mariadb_check_dir "${dir}"
  mkdir -p "${dir}"
  chmod 700 "${dir}"
  password="$(mariadb_password "${dir}/root.password")"
  mariadb_init "${dir}"
  export ENLACE_MARIADB_TCP_ROOT_PASSWORD="${password}"
  mariadb_start_on_free_port "${dir}" || return 1
  export ENLACE_TEST_DB_DSN="mysql://root@127.0.0.1:${DB_PORT}/"
  export ENLACE_DB_PASSWORD="${password}"
}

# mariadb_start_on_free_port DIR: starts DIR's server on a port the kernel
# reports free and sets DB_PORT (a server already running keeps its port).
# free_port can race with another process, so
# a few ports are tried before giving up (returns 1).
mariadb_start_on_free_port() {
  local dir="$1" attempt
  for attempt in 1 2 3; do
    DB_PORT="$(free_port)"
    if mariadb_start "${dir}" "${DB_PORT}"; then
      # A server that was already running keeps the port it listens on.
      DB_PORT="$(mariadb_port "${dir}")"
      return 0
    fi
    warn "MariaDB did not start on port ${DB_PORT} (attempt ${attempt})"
  done
  return 1
}
