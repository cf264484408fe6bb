// Database connection strings. Enlace takes one DSN for MySQL or MariaDB:
//
//   mysql://user[:password]@host[:port]/database
//   mysql://user[:password]@host1[:port],host2[:port],.../database
//   mysql://user@localhost/database?socket=/path/to/mysql.sock
//
// Several hosts name the nodes of one cluster (MariaDB Galera, MySQL Group
// Replication in multi-primary mode) that all accept writes: the pool writes
// through one of them at a time, the first that answers in this order, and
// moves to the next when it fails (db/mysql_pool.h, "Failover").
//
// The password may also come from an environment variable, ENLACE_DB_PASSWORD
// for the server's own DSN and ENLACE_MIGRATE_PASSWORD for the migration
// user's (preferred: a DSN given on a command line shows up in process
// lists). The database part may be empty when only a server connection is
// wanted (tests create databases). The password cannot contain '?'.
#ifndef ENLACE_DB_DSN_H_
#define ENLACE_DB_DSN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enlace::db {

struct DsnHost {
  std::string host;
  int port = 3306;
};

struct Dsn {
  std::string user;
  std::string password;
  // Every node, in the order given: one for a single server.
  std::vector<DsnHost> hosts = {DsnHost{"127.0.0.1", 3306}};
  std::string socket;  // when set, host and port are not used
  std::string database;  // may be empty

  // The DSN with the password masked, for logs.
  std::string ToSafeString() const;
  // The DSN as ParseDsn reads it, password included (tests build DSNs for
  // other users from one they were given).
  std::string ToStringWithPassword() const;

 private:
  std::string Format(bool mask_password) const;
};

// The environment variables that hold the password of a DSN that names none.
inline constexpr char kDbPasswordVariable[] = "ENLACE_DB_PASSWORD";
inline constexpr char kMigratePasswordVariable[] = "ENLACE_MIGRATE_PASSWORD";

// Parses a DSN as above; InvalidArgument names what is wrong. When the DSN
// has no password, it is taken from the environment variable
// `password_variable` (if set).
absl::StatusOr<Dsn> ParseDsn(absl::string_view text,
                             const char* password_variable = kDbPasswordVariable);

}  // namespace enlace::db

#endif  // ENLACE_DB_DSN_H_
