// Applies the numbered schema migrations (see migrations.h).
#include "db/migrations.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "db/mysql_pool.h"

namespace enlace::db {
namespace {

absl::StatusOr<int> VersionOf(const Migration& migration) {
  int version = 0;
  std::string digits = migration.file_name.substr(0, migration.file_name.find('_'));
  if (!absl::SimpleAtoi(digits, &version) || version <= 0) {
    return absl::InternalError(
        absl::StrCat("migration file name without a number: ", migration.file_name));
  }
  return version;
}

}  // namespace

absl::StatusOr<SchemaVersion> ReadSchemaVersion(const Dsn& dsn,
                                                const std::vector<Migration>& migrations) {
  if (dsn.database.empty()) {
    return absl::InvalidArgumentError("the database DSN names no database");
  }
  SchemaVersion version;
  for (const Migration& migration : migrations) {
    absl::StatusOr<int> number = VersionOf(migration);
    if (!number.ok()) return number.status();
    if (*number > version.binary) {
      version.binary = *number;
      version.binary_file = migration.file_name;
    }
  }
  // Without a default schema: connecting to a database that does not exist
  // (or that the user may not use) would fail before any query could say so.
  Dsn server_only = dsn;
  server_only.database.clear();
  MysqlPool pool(server_only, PoolOptions{.max_connections = 1});
  absl::Status status = pool.Run([&](MysqlConnection& c) -> absl::Status {
    try {
      // The name was checked to be [A-Za-z0-9_] by ParseDsn.
      std::unique_ptr<sql::ResultSet> rows(
          c.Prepare(absl::StrCat("SELECT COALESCE(MAX(version), 0) FROM `", dsn.database,
                                 "`.schema_migrations"))
              ->executeQuery());
      if (rows->next()) version.database = rows->getInt(1);
      return absl::OkStatus();
    } catch (const sql::SQLException& e) {
      switch (e.getErrorCode()) {
        case 1049:  // unknown database
        case 1146:  // no such table
          version.database = 0;
          return absl::OkStatus();
        case 1044:  // access denied to the database
        case 1142:  // SELECT command denied on the table
          return absl::PermissionDeniedError(absl::StrCat(
              "the database user ", dsn.user, " may not read `", dsn.database,
              "`.schema_migrations (MySQL error ", e.getErrorCode(), ": ", e.what(), ")"));
        default: throw;
      }
    }
  });
  if (!status.ok()) return status;
  return version;
}

std::vector<std::string> SplitStatements(const std::string& sql) {
  std::vector<std::string> statements;
  std::string current;
  for (absl::string_view line : absl::StrSplit(sql, '\n')) {
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || absl::StartsWith(trimmed, "--")) continue;
    absl::StrAppend(&current, line, "\n");
    if (absl::EndsWith(trimmed, ";")) {
      std::string statement(absl::StripAsciiWhitespace(current));
      statement.pop_back();  // the ';'
      statements.push_back(std::move(statement));
      current.clear();
    }
  }
  if (!absl::StripAsciiWhitespace(current).empty()) {
    statements.push_back(std::string(absl::StripAsciiWhitespace(current)));
  }
  return statements;
}

absl::Status ApplyMigrations(const Dsn& dsn, const std::vector<Migration>& migrations,
                             int* applied) {
  if (applied != nullptr) *applied = 0;
  if (dsn.database.empty()) {
    return absl::InvalidArgumentError("the database DSN names no database");
  }
  Dsn server_only = dsn;
  server_only.database.clear();
  MysqlPool server_pool(server_only, PoolOptions{.max_connections = 1});
  absl::Status status = server_pool.Run([&](MysqlConnection& c) {
    // The name was checked to be [A-Za-z0-9_] by ParseDsn; identifiers cannot
    // be bound parameters.
    c.Execute(absl::StrCat("CREATE DATABASE IF NOT EXISTS `", dsn.database,
                           "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;

  MysqlPool pool(dsn, PoolOptions{.max_connections = 1, .io_timeout = absl::Minutes(10)});
  return pool.Run([&](MysqlConnection& c) -> absl::Status {
    std::unique_ptr<sql::ResultSet> lock(
        c.Prepare("SELECT GET_LOCK('enlace_migrations', 60)")->executeQuery());
    if (!lock->next() || lock->getInt(1) != 1) {
      return absl::UnavailableError("could not take the migration lock within 60 s");
    }
    absl::Status result = [&]() -> absl::Status {
      c.Execute(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version INT NOT NULL PRIMARY KEY,"
          " file_name VARCHAR(200) NOT NULL,"
          " applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
          ") ENGINE=InnoDB");
      for (const Migration& migration : migrations) {
        absl::StatusOr<int> version = VersionOf(migration);
        if (!version.ok()) return version.status();
        sql::PreparedStatement* seen =
            c.Prepare("SELECT COUNT(*) FROM schema_migrations WHERE version = ?");
        seen->setInt(1, *version);
        std::unique_ptr<sql::ResultSet> rows(seen->executeQuery());
        if (rows->next() && rows->getInt(1) > 0) continue;
        for (const std::string& statement : SplitStatements(migration.sql)) {
          c.Execute(statement);
        }
        sql::PreparedStatement* record =
            c.Prepare("INSERT INTO schema_migrations (version, file_name) VALUES (?, ?)");
        record->setInt(1, *version);
        record->setString(2, migration.file_name);
        record->executeUpdate();
        if (applied != nullptr) ++*applied;
      }
      return absl::OkStatus();
    }();
    std::unique_ptr<sql::ResultSet> released(
        c.Prepare("SELECT RELEASE_LOCK('enlace_migrations')")->executeQuery());
    return result;
  });
}

}  // namespace enlace::db
