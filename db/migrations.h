// Numbered schema migrations, applied at start-up.
//
// Each file db/migrations/NNNN_name.sql is one migration: statements separated
// by a line that ends with ';'. They are compiled into the binary. Applying
// creates the database if it is missing, takes a named lock so that replicas
// starting together do not race, and applies, in order, each migration not yet
// recorded in `schema_migrations`. A migration is never edited once shipped:
// change the schema with a new file. SQL must be accepted by both MySQL 8 and
// MariaDB 10.11.
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

// Splits a migration into statements (exposed for tests).
std::vector<std::string> SplitStatements(const std::string& sql);

}  // namespace enlace::db

#endif  // ENLACE_DB_MIGRATIONS_H_
