// A throwaway database on the MariaDB that scripts/test.sh starts: created
// with a unique name, migrated (as the administrator), and dropped when the
// object dies, with the server user made for it. The server comes from
// ENLACE_TEST_DB_DSN (e.g. mysql://root@127.0.0.1:3399/, the password in
// ENLACE_DB_PASSWORD); without it the test aborts with a message: tests that
// need a database never skip.
//
//   auto database = TestDatabase::Create();
//   db::MysqlArrivalStore store(&database->pool());
//   EXPECT_EQ(database->QueryInt("SELECT COUNT(*) FROM arrivals"), 0);
//   config.db_dsn = database->server_dsn_string();  // least privilege, as in production
#ifndef ENLACE_TESTS_TESTING_TEST_DATABASE_H_
#define ENLACE_TESTS_TESTING_TEST_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "db/dsn.h"
#include "db/grants.h"
#include "db/mysql_pool.h"

namespace enlace::testing {

class TestDatabase {
 public:
  // Aborts (with a message on stderr) when the database cannot be made.
  static std::unique_ptr<TestDatabase> Create();
  ~TestDatabase();

  // The DSN naming this database as the administrator (ENLACE_TEST_DB_DSN's
  // user, e.g. root: what migrates), as the server's --db_dsn takes it. Its
  // password, if any, stays in ENLACE_DB_PASSWORD: safe on a command line.
  const std::string& dsn_string() const { return dsn_string_; }
  const db::Dsn& dsn() const { return dsn_; }

  // The DSN of this database's own server user, made on first use: a new
  // account with a random password (in the DSN: pass it in-process or in
  // ENLACE_DB_DSN, never on a command line) and exactly the grants
  // db::ApplyServerGrants() gives, as `enlace-server --migrate` does.
  // Dropped with the database.
  const std::string& server_dsn_string();
  const db::DbAccount& server_account();
  // Re-applies the grants (after the test changed the schema).
  void RegrantServerUser();
  // A pool on this database, for stores under test and for the helpers below.
  db::MysqlPool& pool() { return *pool_; }

  // Test-only raw SQL (fixed statements written in tests, never user input).
  // Abort on error, so a broken fixture cannot pass silently.
  int64_t QueryInt(const std::string& sql);
  // Every row, each column as text (NULL as "").
  std::vector<std::vector<std::string>> QueryRows(const std::string& sql);
  // "table.column" of each text or binary column of this database holding
  // `value` somewhere in it, or exactly, compared as bytes (so one query
  // fits ascii, utf8mb4 and binary columns, a protobuf blob included): how
  // an erasure test proves nothing identifying is left anywhere. `value` is
  // a test constant without quotes.
  std::vector<std::string> ColumnsHolding(const std::string& value);
  std::vector<std::string> ColumnsHoldingExactly(const std::string& value);
  void Execute(const std::string& sql);

 private:
  TestDatabase(std::string dsn_string, db::Dsn dsn);
  std::string dsn_string_;
  db::Dsn dsn_;
  std::unique_ptr<db::MysqlPool> pool_;
  std::string server_dsn_string_;  // empty until server_dsn_string()
  db::DbAccount server_account_;
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_TEST_DATABASE_H_
