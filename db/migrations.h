// Numbered schema migrations, applied by `enlace-server --migrate` as the
// migration user (never by a serving replica, whose database user may not
// change the schema: see db/grants.h).
//
// Each file db/migrations/NNNN_name.sql is one migration: statements separated
// by a line that ends with ';'. They are compiled into the binary. Applying
// creates the database if it is missing, takes a named lock so that two
// migration runs do not race, and applies, in order, each migration not yet
// recorded in `schema_migrations`. A migration is never edited once shipped:
// change the schema with a new file. SQL must be accepted by both MySQL 8 and
// MariaDB 10.11. A serving replica only reads the version it finds
// (ReadSchemaVersion) and refuses to start when it is behind.
#ifndef ENLACE_DB_MIGRATIONS_H_
#define ENLACE_DB_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "db/dsn.h"

namespace enlace::db {

struct Migration {
  std::string file_name;  // "0001_initial.sql": the number is the version
  std::string sql;
};

// The migrations compiled into this binary, in version order.
const std::vector<Migration>& EmbeddedMigrations();

// Creates `dsn.database` if missing and applies pending migrations.
// Returns the number applied through `applied` (may be null).
absl::Status ApplyMigrations(const Dsn& dsn, const std::vector<Migration>& migrations,
                             int* applied);

// The schema version a database is at, next to the one a binary carries.
struct SchemaVersion {
  int database = 0;  // highest version in schema_migrations; 0: no schema yet
  int binary = 0;  // highest version of the migrations given
  std::string binary_file;  // its file name, e.g. "0004_feed_consent.sql"
  bool behind() const { return database < binary; }
};

// Reads, as the user of `dsn` (which needs only SELECT on schema_migrations),
// the version `dsn.database` is at. A database or schema_migrations table
// that does not exist is version 0.
// Errors: Unavailable when the database server cannot be reached (or refuses
// the credentials); PermissionDenied when the user may not read
// schema_migrations (its grants are missing); InvalidArgument when the DSN
// names no database.
absl::StatusOr<SchemaVersion> ReadSchemaVersion(const Dsn& dsn,
                                                const std::vector<Migration>& migrations);

// Splits a migration into statements (exposed for tests).
std::vector<std::string> SplitStatements(const std::string& sql);

}  // namespace enlace::db

#endif  // ENLACE_DB_MIGRATIONS_H_
