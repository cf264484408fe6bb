// A throwaway database on the MariaDB that scripts/test.sh starts: created
// with a unique name, migrated, and dropped when the object dies. The server
// comes from ENLACE_TEST_DB_DSN (e.g. mysql://root@127.0.0.1:3399/); without
// it the test aborts with a message: tests that need a database never skip.
//
//   auto database = TestDatabase::Create();
//   db::MysqlArrivalStore store(&database->pool());
//   EXPECT_EQ(database->QueryInt("SELECT COUNT(*) FROM arrivals"), 0);
#ifndef ENLACE_TESTS_TESTING_TEST_DATABASE_H_
#define ENLACE_TESTS_TESTING_TEST_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "db/dsn.h"
#include "db/mysql_pool.h"

namespace enlace::testing {

class TestDatabase {
 public:
  // Aborts (with a message on stderr) when the database cannot be made.
  static std::unique_ptr<TestDatabase> Create();
  ~TestDatabase();

  // The DSN naming this database, as the server's --db_dsn takes it.
  const std::string& dsn_string() const { return dsn_string_; }
  const db::Dsn& dsn() const { return dsn_; }
  // A pool on this database, for stores under test and for the helpers below.
  db::MysqlPool& pool() { return *pool_; }

  // Test-only raw SQL (fixed statements written in tests, never user input).
  // Abort on error, so a broken fixture cannot pass silently.
  int64_t QueryInt(const std::string& sql);
  void Execute(const std::string& sql);

 private:
  TestDatabase(std::string dsn_string, db::Dsn dsn);
  std::string dsn_string_;
  db::Dsn dsn_;
  std::unique_ptr<db::MysqlPool> pool_;
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_TEST_DATABASE_H_
