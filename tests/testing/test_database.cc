// TestDatabase: unique, migrated, dropped afterwards (see test_database.h).
#include "tests/testing/test_database.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/migrations.h"

namespace enlace::testing {
namespace {

[[noreturn]] void Die(absl::string_view message) {
  std::fprintf(stderr, "TestDatabase: %.*s\n", static_cast<int>(message.size()), message.data());
  std::abort();
}

}  // namespace

std::unique_ptr<TestDatabase> TestDatabase::Create() {
  const char* server = std::getenv("ENLACE_TEST_DB_DSN");
  if (server == nullptr || *server == '\0') {
    Die("ENLACE_TEST_DB_DSN is not set. Run the tests through ./scripts/test.sh, which starts "
        "its own MariaDB and sets it (e.g. mysql://root@127.0.0.1:3399/).");
  }
  unsigned char random[6];
  RAND_bytes(random, sizeof(random));
  std::string name = absl::StrCat(
      "enlace_test_",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(random), sizeof(random))));
  // The database goes after the '/' (before a ?socket= option, if any).
  std::string base(server), options;
  if (size_t q = base.find('?'); q != std::string::npos) {
    options = base.substr(q);
    base.resize(q);
  }
  if (!absl::EndsWith(base, "/")) base += "/";
  std::string dsn_string = base + name + options;
  absl::StatusOr<db::Dsn> dsn = db::ParseDsn(dsn_string);
  if (!dsn.ok()) Die(dsn.status().ToString());
  if (absl::Status s = db::ApplyMigrations(*dsn, db::EmbeddedMigrations(), nullptr); !s.ok()) {
    Die(absl::StrCat("cannot create and migrate ", name, ": ", s.ToString()));
  }
  return std::unique_ptr<TestDatabase>(new TestDatabase(std::move(dsn_string), *std::move(dsn)));
}

TestDatabase::TestDatabase(std::string dsn_string, db::Dsn dsn)
    : dsn_string_(std::move(dsn_string)),
      dsn_(std::move(dsn)),
      pool_(std::make_unique<db::MysqlPool>(dsn_, db::PoolOptions{.max_connections = 32})) {}

const std::string& TestDatabase::server_dsn_string() {
  if (!server_dsn_string_.empty()) return server_dsn_string_;
  // "srv_" + the database's random part: 16 characters (MySQL 8 allows 32).
  server_account_.user = absl::StrCat("srv_", dsn_.database.substr(dsn_.database.size() - 12));
  server_account_.host = "%";
  unsigned char random[16];
  RAND_bytes(random, sizeof(random));
  std::string password =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(random), sizeof(random)));
  Execute(
      absl::StrCat("CREATE USER ", server_account_.Quoted(), " IDENTIFIED BY '", password, "'"));
  RegrantServerUser();
  db::Dsn server = dsn_;
  server.user = server_account_.user;
  server.password = password;
  server_dsn_string_ = server.ToStringWithPassword();
  return server_dsn_string_;
}

const db::DbAccount& TestDatabase::server_account() {
  server_dsn_string();
  return server_account_;
}

void TestDatabase::RegrantServerUser() {
  if (server_account_.user.empty()) {
    server_dsn_string();  // makes the user, and grants
    return;
  }
  absl::StatusOr<std::vector<db::TableGrant>> granted =
      db::ApplyServerGrants(dsn_, server_account_);
  if (!granted.ok())
    Die(absl::StrCat("cannot grant the server user: ", granted.status().ToString()));
}

TestDatabase::~TestDatabase() {
  pool_.reset();
  db::Dsn server = dsn_;
  server.database.clear();
  db::MysqlPool admin(server, db::PoolOptions{.max_connections = 1});
  absl::Status status = admin.Run([&](db::MysqlConnection& c) {
    c.Execute(absl::StrCat("DROP DATABASE IF EXISTS `", dsn_.database, "`"));
    if (!server_dsn_string_.empty()) {
      c.Execute(absl::StrCat("DROP USER IF EXISTS ", server_account_.Quoted()));
    }
    return absl::OkStatus();
  });
  if (!status.ok())
    std::fprintf(stderr, "TestDatabase: drop failed: %s\n", status.ToString().c_str());
}

int64_t TestDatabase::QueryInt(const std::string& sql) {
  int64_t value = 0;
  absl::Status status = pool_->Run([&](db::MysqlConnection& c) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rows(c.Prepare(sql)->executeQuery());
    if (!rows->next()) return absl::NotFoundError("no row");
    value = rows->getInt64(1);
    return absl::OkStatus();
  });
  if (!status.ok()) Die(absl::StrCat(sql, ": ", status.ToString()));
  return value;
}

std::vector<std::vector<std::string>> TestDatabase::QueryRows(const std::string& sql) {
  std::vector<std::vector<std::string>> result;
  absl::Status status = pool_->Run([&](db::MysqlConnection& c) -> absl::Status {
    result.clear();
    std::unique_ptr<sql::ResultSet> rows(c.Prepare(sql)->executeQuery());
    const unsigned columns = rows->getMetaData()->getColumnCount();
    while (rows->next()) {
      std::vector<std::string>& row = result.emplace_back();
      for (unsigned i = 1; i <= columns; ++i) {
        row.push_back(rows->isNull(i) ? "" : std::string(rows->getString(i)));
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) Die(absl::StrCat(sql, ": ", status.ToString()));
  return result;
}

namespace {

// Every text or binary (table, column) of the current database.
std::vector<std::vector<std::string>> TextColumns(TestDatabase& database) {
  return database.QueryRows(
      "SELECT table_name, column_name FROM information_schema.columns "
      "WHERE table_schema = DATABASE() AND data_type IN ('char', 'varchar', 'tinytext', "
      "'text', 'mediumtext', 'longtext', 'binary', 'varbinary', 'tinyblob', 'blob', "
      "'mediumblob', 'longblob') ORDER BY table_name, column_name");
}

}  // namespace

std::vector<std::string> TestDatabase::ColumnsHolding(const std::string& value) {
  std::vector<std::string> found;
  for (const std::vector<std::string>& column : TextColumns(*this)) {
    if (QueryInt(absl::StrCat("SELECT COUNT(*) FROM `", column[0], "` WHERE LOCATE(CAST('", value,
                              "' AS BINARY), CAST(`", column[1], "` AS BINARY)) > 0")) > 0) {
      found.push_back(absl::StrCat(column[0], ".", column[1]));
    }
  }
  return found;
}

std::vector<std::string> TestDatabase::ColumnsHoldingExactly(const std::string& value) {
  std::vector<std::string> found;
  for (const std::vector<std::string>& column : TextColumns(*this)) {
    if (QueryInt(absl::StrCat("SELECT COUNT(*) FROM `", column[0], "` WHERE CAST(`", column[1],
                              "` AS BINARY) = CAST('", value, "' AS BINARY)")) > 0) {
      found.push_back(absl::StrCat(column[0], ".", column[1]));
    }
  }
  return found;
}

void TestDatabase::Execute(const std::string& sql) {
  absl::Status status = pool_->Run([&](db::MysqlConnection& c) {
    c.Execute(sql);
    return absl::OkStatus();
  });
  if (!status.ok()) Die(absl::StrCat(sql, ": ", status.ToString()));
}

}  // namespace enlace::testing
