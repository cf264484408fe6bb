// Least privilege in the database: the privileges of the user a serving
// replica connects as, computed from the schema as it is after migrations, in
// one place. `enlace-server --migrate` applies them right after the
// migrations, as the migration user; the serving user can then neither change
// the schema nor rewrite the audit log, whatever a bug or an attacker in the
// server does with its credentials.
//
// The rule, for every table of the schema (information_schema.TABLES, read
// after migrating, so a table added by a new migration is covered as soon as
// it exists and never gets more than its name allows):
//
//   audit_chain_head       SELECT, UPDATE   the append path moves the head
//                                           row; it is bookkeeping, not evidence
//   audit_* (every other)  SELECT, INSERT   the audit log: appended and read,
//                                           never updated nor deleted
//   schema_migrations      SELECT           a replica checks the version; only
//                                           --migrate records migrations
//   report_grid_state      SELECT           only --migrate (re)counts the grid
//   report_* (every other) SELECT, INSERT,  the report's grid cells: counts
//                          UPDATE           move with the records; only the
//                                           migration user rebuilds them
//   any other table        SELECT, INSERT, UPDATE, DELETE
//   a view                 nothing          (a view acts with its definer's
//                                           rights: add a rule when one is needed)
//
// and nothing at database or global level: no CREATE, ALTER, DROP, INDEX,
// TRIGGER, LOCK TABLES, CREATE ROUTINE... on anything. The server's locking
// reads need no more: MariaDB asks SELECT only, MySQL 8 (8.0.22+) SELECT plus
// UPDATE or DELETE, which every table it reads FOR UPDATE / LOCK IN SHARE MODE
// has (audit_chain_head through UPDATE; no audit_* table is ever locked).
// GET_LOCK needs no privilege.
//
// Example (what `enlace-server --migrate` does):
//
//   ApplyMigrations(migrate_dsn, EmbeddedMigrations(), nullptr);
//   absl::StatusOr<std::vector<TableGrant>> granted =
//       ApplyServerGrants(migrate_dsn, DbAccount{"enlace_server", "%"});
#ifndef ENLACE_DB_GRANTS_H_
#define ENLACE_DB_GRANTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/dsn.h"

namespace enlace::db {

// The table privileges of the serving user on `table` (see the rule above),
// in the order SELECT, INSERT, UPDATE, DELETE; empty for a view.
std::vector<std::string> ServerTablePrivileges(absl::string_view table, bool is_view = false);

// A MySQL account: 'user'@'host'.
struct DbAccount {
  std::string user;
  std::string host = "%";
  // "'user'@'host'", for GRANT and REVOKE (Validate() first).
  std::string Quoted() const;
  // InvalidArgument unless user is [A-Za-z0-9_.-]{1,80} and host
  // [A-Za-z0-9_.%:-]{1,255}.
  absl::Status Validate() const;
};

// What ApplyServerGrants granted on one table.
struct TableGrant {
  std::string table;
  std::vector<std::string> privileges;  // empty: none (a view)
};

// Gives `account` exactly ServerTablePrivileges() on every table of
// `admin_dsn.database`: grants them, then revokes every other table privilege
// it holds there, then any database-level privilege on the schema (so a
// running replica never loses, even for a moment, a privilege it keeps).
// Idempotent; run it after every migration.
//
// `admin_dsn` is the migration user, which needs every privilege on the
// schema WITH GRANT OPTION (it grants and revokes them); `account` must
// already exist (this never creates an account, which would have no
// password). Privileges the account holds at global level (ON *.*) are not
// looked at: give the serving account none.
// Errors: InvalidArgument for a bad account or a DSN naming no database;
// FailedPrecondition when the account does not exist; PermissionDenied when
// the migration user may not grant; Unavailable when the database cannot be
// reached.
absl::StatusOr<std::vector<TableGrant>> ApplyServerGrants(const Dsn& admin_dsn,
                                                          const DbAccount& account);

}  // namespace enlace::db

#endif  // ENLACE_DB_GRANTS_H_
