#!/usr/bin/env bash
# backup.sh: a consistent logical backup of the Enlace database (mariadb-dump
# in one transaction, gzip, a SHA-256 file beside it) and its restore into an
# empty database. docs/operations.md ("Backups") says what else to keep (the
# PKI, the audit log key, the token keys), when, and how to check a restore.
set -euo pipefail

ENLACE_SCRIPT_NAME=backup.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Exit statuses (also in usage()).
readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_NOT_EMPTY=3 EXIT_BAD_FILE=4
# The first line of every dump this script writes: restore refuses other files.
readonly HEADER_TAG="-- Enlace backup"
# The named lock `enlace-server --migrate` takes (db/migrations.cc): held while
# dumping or restoring, so that no migration changes the schema meanwhile.
readonly MIGRATION_LOCK=enlace_migrations

usage() {
  cat <<'EOF'
Usage: scripts/backup.sh dump [--output FILE] [--lock-timeout SECONDS]
       scripts/backup.sh restore [--force] FILE
       scripts/backup.sh --help

dump     A consistent logical backup of the Enlace database, taken while the
         servers run: mariadb-dump --single-transaction (one InnoDB snapshot:
         the records, the audit log, its Merkle tree and checkpoints as they
         were at one instant) --routines --triggers --events --hex-blob,
         compressed with gzip into FILE (default
         var/backups/enlace-<database>-<UTC time>.sql.gz, mode 0600), and
         FILE.sha256 beside it (`sha256sum -c` checks it). FILE is written as
         FILE.partial and renamed only once the dump is complete. The
         migration lock is held meanwhile: a concurrent `enlace-server
         --migrate` waits (the dump waits up to --lock-timeout seconds,
         default 60, for one that is running). Prints FILE on stdout.
         Not in the dump: database accounts and their grants (see restore),
         and the keys outside the database (docs/operations.md).
restore  Loads FILE (a dump of this script; its .sha256 must match) into the
         database of the DSN, which must be empty or not exist yet (it is then
         created, utf8mb4). A database that holds any table is refused
         (exit 3) unless --force, which first drops every table in it. Holds
         the migration lock meanwhile. Then run `enlace-server --migrate`
         (it grants the server's database user on this database, and brings
         an older dump up to the binary's schema) before starting servers.

Connection: as the migration user (docs/audit.md, "Two database users"):
  ENLACE_MIGRATE_DSN       mysql://user[:password]@host[:port]/database, or
                           mysql://user@localhost/database?socket=PATH; of a
                           host list (h1,h2,...: a cluster) the first that
                           answers is used
  ENLACE_MIGRATE_PASSWORD  the password, when the DSN has none (preferred)
Without ENLACE_MIGRATE_DSN: the development database of scripts/up.sh
(enlace_migrate@127.0.0.1:<var/mysql/port>/enlace, password var/db/migrate.password).
The password reaches the clients through a temporary option file (mode 0600),
never a command line.

Exit status: 0 done; 1 failed (connection, mariadb-dump or mariadb error, lock
not taken); 2 usage error; 3 restore refused: the database is not empty;
4 restore refused: FILE is not a complete backup of this script (no or wrong
.sha256, or not an Enlace dump).

Examples:
  scripts/backup.sh dump --output /srv/backups/enlace-$(date -u +%F).sql.gz
  ENLACE_MIGRATE_DSN=mysql://enlace_migrate@db:3306/enlace_restored \
      scripts/backup.sh restore /srv/backups/enlace-2026-12-01.sql.gz
EOF
}

usage_error() {
  echo "${ENLACE_SCRIPT_NAME}: error: $1 (--help shows the usage)" >&2
  exit "${EXIT_USAGE}"
}

fail() {
  local code="$1"
  shift
  echo "${ENLACE_SCRIPT_NAME}: error: $*" >&2
  exit "${code}"
}

# ------------------------------------------------------------------ connection

# Fills DB_USER DB_PASSWORD DB_HOSTS (array of host:port) DB_SOCKET DB_NAME
# from ENLACE_MIGRATE_DSN, or from the development set-up of scripts/up.sh.
DB_USER="" DB_PASSWORD="" DB_SOCKET="" DB_NAME=""
DB_HOSTS=()
parse_connection() {
  local dsn="${ENLACE_MIGRATE_DSN:-}"
  if [[ -z "${dsn}" ]]; then
    local port_file="${ENLACE_ROOT}/var/mysql/port" pw_file="${ENLACE_ROOT}/var/db/migrate.password"
    [[ -s "${port_file}" && -s "${pw_file}" ]] ||
      fail "${EXIT_FAILED}" "ENLACE_MIGRATE_DSN is not set, and there is no scripts/up.sh database" \
        "(var/mysql/port, var/db/migrate.password) to fall back on"
    local port
    read -r port <"${port_file}"
    dsn="mysql://enlace_migrate@127.0.0.1:${port}/enlace"
    read -r DB_PASSWORD <"${pw_file}"
  fi
  # The syntax of db/dsn.h: mysql://user[:password]@hosts/database[?socket=PATH].
  local rest="${dsn#mysql://}"
  [[ "${rest}" != "${dsn}" ]] || fail "${EXIT_FAILED}" "ENLACE_MIGRATE_DSN must start with mysql://"
  if [[ "${rest}" == *\?* ]]; then
    local query="${rest#*\?}"
    rest="${rest%%\?*}"
    [[ "${query}" == socket=?* ]] ||
      fail "${EXIT_FAILED}" "ENLACE_MIGRATE_DSN: the only option is ?socket=PATH"
    DB_SOCKET="${query#socket=}"
  fi
  [[ "${rest}" == *@* ]] || fail "${EXIT_FAILED}" "ENLACE_MIGRATE_DSN: missing user@"
  local credentials="${rest%@*}" location="${rest##*@}"
  if [[ "${credentials}" == *:* ]]; then
    DB_PASSWORD="${credentials#*:}"
    credentials="${credentials%%:*}"
  fi
  DB_USER="${credentials}"
  [[ -n "${DB_USER}" ]] || fail "${EXIT_FAILED}" "ENLACE_MIGRATE_DSN: empty user"
  if [[ -z "${DB_PASSWORD}" ]]; then
    DB_PASSWORD="${ENLACE_MIGRATE_PASSWORD:-}"
  fi
  local hosts="${location%%/*}"
  DB_NAME=""
  [[ "${location}" == */* ]] && DB_NAME="${location#*/}"
  [[ "${DB_NAME}" =~ ^[A-Za-z0-9_]+$ ]] ||
    fail "${EXIT_FAILED}" "ENLACE_MIGRATE_DSN must name the database ([A-Za-z0-9_]+), e.g. mysql://enlace_migrate@db:3306/enlace"
  local host
  IFS=, read -r -a DB_HOSTS <<<"${hosts}"
  for host in "${DB_HOSTS[@]}"; do
    [[ -n "${host%%:*}" ]] || fail "${EXIT_FAILED}" "ENLACE_MIGRATE_DSN: empty host"
  done
}

# An option file for the mariadb clients (the password never on a command
# line), in a private directory removed on exit. Tries each host of the DSN in
# turn and keeps the first that answers.
WORK_DIR=""
CLIENT_CNF=""
cleanup() {
  if [[ -n "${WORK_DIR}" ]]; then
    rm -rf "${WORK_DIR}"
  fi
}
trap cleanup EXIT

option_value() {
  local v="${1//\\/\\\\}"
  printf '"%s"' "${v//\"/\\\"}"
}

connect() {
  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/enlace-backup.XXXXXX")"
  chmod 700 "${WORK_DIR}"
  CLIENT_CNF="${WORK_DIR}/client.cnf"
  local candidates=() host port error=""
  if [[ -n "${DB_SOCKET}" ]]; then
    candidates=("socket")
  else
    candidates=("${DB_HOSTS[@]}")
  fi
  for host in "${candidates[@]}"; do
    (
      umask 077
      printf '[client]\nuser=%s\n' "$(option_value "${DB_USER}")"
      if [[ -n "${DB_PASSWORD}" ]]; then
        printf 'password=%s\n' "$(option_value "${DB_PASSWORD}")"
      fi
      if [[ -n "${DB_SOCKET}" ]]; then
        printf 'socket=%s\nprotocol=SOCKET\n' "$(option_value "${DB_SOCKET}")"
      else
        port=3306
        [[ "${host}" == *:* ]] && port="${host##*:}"
        printf 'host=%s\nport=%s\nprotocol=TCP\n' "$(option_value "${host%%:*}")" "${port}"
      fi
      # [mysql]: the options only the mariadb client knows (not mariadb-dump).
      printf 'default-character-set=utf8mb4\n[mysql]\nconnect-timeout=10\n'
    ) >"${CLIENT_CNF}"
    if error="$(sql_batch <<<"SELECT 1" 2>&1 >/dev/null)"; then
      DB_WHERE="${DB_SOCKET:-${host}}"
      return 0
    fi
  done
  fail "${EXIT_FAILED}" "cannot connect as ${DB_USER} (${DB_SOCKET:-${DB_HOSTS[*]}}): ${error}"
}
DB_WHERE=""

# sql_batch [mariadb args...]: the SQL on stdin, as the DSN's user, output
# tab-separated without column names.
sql_batch() {
  mariadb --defaults-file="${CLIENT_CNF}" --batch --skip-column-names "$@"
}

# The migration lock, in a session of its own that stays open (a coprocess)
# until release_migration_lock, or this script's exit, ends it. On a Galera
# node whose MariaDB refuses GET_LOCK (error 1235), a warning instead.
LOCK_PID="" LOCK_IN=""
take_migration_lock() {
  local timeout="$1" got=""
  coproc LOCKER { sql_batch --unbuffered 2>&1; }
  # shellcheck disable=SC2153 # LOCKER_PID: set by coproc
  LOCK_PID="${LOCKER_PID}" LOCK_IN="${LOCKER[1]}"
  echo "SELECT GET_LOCK('${MIGRATION_LOCK}', ${timeout});" >&"${LOCKER[1]}"
  if ! read -r -t "$((timeout + 15))" got <&"${LOCKER[0]}"; then
    got="(no answer)"
  fi
  case "${got}" in
    1) return 0 ;;
    *1235*)
      warn "this server refuses GET_LOCK (a Galera node): no --migrate may run during the ${COMMAND}"
      return 0
      ;;
    0) fail "${EXIT_FAILED}" "the migration lock is held (enlace-server --migrate running?): not taken within ${timeout} s" ;;
    *) fail "${EXIT_FAILED}" "could not take the migration lock: ${got}" ;;
  esac
}

release_migration_lock() {
  if [[ -n "${LOCK_PID}" ]]; then
    # Closing its stdin ends the client, its session and so the lock.
    exec {LOCK_IN}>&-
    wait "${LOCK_PID}" 2>/dev/null || true
    LOCK_PID=""
  fi
}

# ------------------------------------------------------------------------ dump

COMMAND=""
# Seconds since $1 (an earlier ${EPOCHREALTIME}), to a tenth.
elapsed_since() { awk -v a="$1" -v b="${EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'; }

run_dump() {
  local output="" lock_timeout=60
  while (($# > 0)); do
    case "$1" in
      --output | -o)
        (($# >= 2)) || usage_error "--output needs a FILE"
        output="$2"
        shift
        ;;
      --output=*) output="${1#--output=}" ;;
      --lock-timeout)
        (($# >= 2)) || usage_error "--lock-timeout needs SECONDS"
        lock_timeout="$2"
        shift
        ;;
      --lock-timeout=*) lock_timeout="${1#--lock-timeout=}" ;;
      --help | -h)
        usage
        exit 0
        ;;
      *) usage_error "dump: unknown argument: $1" ;;
    esac
    shift
  done
  [[ "${lock_timeout}" =~ ^[0-9]+$ ]] || usage_error "--lock-timeout must be a number of seconds"
  parse_connection
  if [[ -z "${output}" ]]; then
    mkdir -p "${ENLACE_ROOT}/var/backups"
    chmod 700 "${ENLACE_ROOT}/var/backups"
    output="${ENLACE_ROOT}/var/backups/enlace-${DB_NAME}-$(date -u +%Y%m%dT%H%M%SZ).sql.gz"
  fi
  [[ "${output}" == *.gz ]] || usage_error "--output must end in .gz (the dump is gzip-compressed)"
  [[ ! -e "${output}" ]] || fail "${EXIT_FAILED}" "${output} exists: not overwritten"
  local dir
  dir="$(dirname "${output}")"
  [[ -d "${dir}" ]] || fail "${EXIT_FAILED}" "no directory ${dir}"

  connect
  local version tables
  version="$(sql_batch "${DB_NAME}" <<<"SELECT COALESCE(MAX(version), 0) FROM schema_migrations" 2>&1)" ||
    fail "${EXIT_FAILED}" "cannot read ${DB_NAME}.schema_migrations (not an Enlace database?): ${version}"
  take_migration_lock "${lock_timeout}"
  tables="$(sql_batch <<<"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB_NAME}'")"

  local started partial="${output}.partial"
  started="${EPOCHREALTIME}"
  log "dumping ${DB_NAME} (${tables} tables, schema version ${version}) from ${DB_WHERE} to ${output}"
  # Without --databases: no CREATE DATABASE or USE in the dump, so it loads
  # into a database of any name. --single-transaction: one consistent InnoDB
  # snapshot, no table locks (every Enlace table is InnoDB), the servers keep
  # writing. --no-tablespaces: nothing that needs the PROCESS privilege.
  if ! (
    umask 077
    set -o pipefail
    {
      printf '%s of database %s, schema version %s, taken %s from %s\n' "${HEADER_TAG}" \
        "${DB_NAME}" "${version}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${DB_WHERE}"
      printf -- '-- Restore with scripts/backup.sh restore, then run enlace-server --migrate (docs/operations.md)\n'
      mariadb-dump --defaults-file="${CLIENT_CNF}" --single-transaction --routines --triggers \
        --events --hex-blob --no-tablespaces --default-character-set=utf8mb4 \
        --max-allowed-packet=256M "${DB_NAME}"
    } | gzip -6 >"${partial}"
  ); then
    rm -f "${partial}"
    fail "${EXIT_FAILED}" "mariadb-dump failed: no backup written"
  fi
  release_migration_lock
  mv -f "${partial}" "${output}"
  (cd "${dir}" && sha256sum "$(basename "${output}")" >"$(basename "${output}").sha256")
  chmod 600 "${output}" "${output}.sha256"
  log "done in $(elapsed_since "${started}") s: $(stat -c %s "${output}") bytes, checksum in ${output}.sha256"
  printf '%s\n' "${output}"
}

# --------------------------------------------------------------------- restore

run_restore() {
  local force=0 file=""
  while (($# > 0)); do
    case "$1" in
      --force) force=1 ;;
      --help | -h)
        usage
        exit 0
        ;;
      -*) usage_error "restore: unknown argument: $1" ;;
      *)
        [[ -z "${file}" ]] || usage_error "restore: one FILE only"
        file="$1"
        ;;
    esac
    shift
  done
  [[ -n "${file}" ]] || usage_error "restore: which FILE?"
  [[ -f "${file}" ]] || fail "${EXIT_BAD_FILE}" "${file}: no such file"
  [[ -f "${file}.sha256" ]] ||
    fail "${EXIT_BAD_FILE}" "${file}.sha256: no such file (the dump's checksum; not restoring an unchecked file)"
  # The file's own digest against the one recorded beside it (whatever file
  # name that line gives: a dump renamed or copied keeps its checksum file).
  local want="" got=""
  read -r want _ <"${file}.sha256" || true
  got="$(sha256sum <"${file}")"
  got="${got%% *}"
  [[ "${want}" =~ ^[0-9a-f]{64}$ ]] ||
    fail "${EXIT_BAD_FILE}" "${file}.sha256 holds no SHA-256 digest: not restored"
  [[ "${got}" == "${want}" ]] ||
    fail "${EXIT_BAD_FILE}" "${file} does not match ${file}.sha256 (SHA-256 ${got}, expected ${want}): not restored"
  local header
  header="$(gzip -dc "${file}" 2>/dev/null | head -n 1 || true)"
  [[ "${header}" == "${HEADER_TAG} "* ]] ||
    fail "${EXIT_BAD_FILE}" "${file} is not a dump made by scripts/backup.sh dump: not restored"

  parse_connection
  connect
  local exists
  exists="$(sql_batch <<<"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB_NAME}'")"
  if [[ "${exists}" == 0 ]]; then
    log "creating database ${DB_NAME}"
    sql_batch <<<"CREATE DATABASE \`${DB_NAME}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" ||
      fail "${EXIT_FAILED}" "cannot create database ${DB_NAME} (does ${DB_USER} have privileges on it?)"
  fi
  take_migration_lock 60
  local tables
  tables="$(sql_batch <<<"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB_NAME}'")"
  if ((tables > 0)); then
    if ((force == 0)); then
      fail "${EXIT_NOT_EMPTY}" "database ${DB_NAME} is not empty (${tables} tables): restore only into an empty database, or pass --force to drop its tables first"
    fi
    warn "--force: dropping the ${tables} tables of ${DB_NAME}"
    local drops
    drops="$(sql_batch <<<"SELECT CONCAT('DROP ', IF(TABLE_TYPE = 'VIEW', 'VIEW', 'TABLE'), ' \`', TABLE_NAME, '\`;')
      FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB_NAME}'")"
    sql_batch "${DB_NAME}" <<<"SET FOREIGN_KEY_CHECKS = 0; ${drops}" ||
      fail "${EXIT_FAILED}" "could not drop the tables of ${DB_NAME}"
  fi

  local started
  started="${EPOCHREALTIME}"
  log "restoring ${file} into ${DB_NAME} on ${DB_WHERE}: ${header#"${HEADER_TAG} "}"
  if ! gzip -dc "${file}" | sql_batch --binary-mode "${DB_NAME}"; then
    fail "${EXIT_FAILED}" "loading ${file} into ${DB_NAME} failed: the database is partly restored (restore --force again once the cause is fixed)"
  fi
  release_migration_lock
  local version
  version="$(sql_batch "${DB_NAME}" <<<"SELECT COALESCE(MAX(version), 0) FROM schema_migrations")"
  tables="$(sql_batch <<<"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB_NAME}'")"
  log "restored ${tables} tables into ${DB_NAME} (schema version ${version}) in $(elapsed_since "${started}") s"
  log "next: enlace-server --migrate (grants the server's user on ${DB_NAME}), then start the servers"
}

# ------------------------------------------------------------------------ main

(($# > 0)) || usage_error "dump or restore?"
COMMAND="$1"
shift
case "${COMMAND}" in
  dump) run_dump "$@" ;;
  restore) run_restore "$@" ;;
  --help | -h | help) usage ;;
  *) usage_error "unknown command: ${COMMAND}" ;;
esac
