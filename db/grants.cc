// The serving user's privileges (see grants.h).
#include "db/grants.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "db/mysql_pool.h"

namespace enlace::db {
namespace {

// Every table-level privilege of MySQL 8 and MariaDB 10.11 (MariaDB also has
// DELETE HISTORY), so that whatever the account was given before, only the
// rule's privileges are left.
const std::vector<std::string>& TablePrivileges(bool mariadb) {
  static const auto* const mysql = new std::vector<std::string>{
      "SELECT",     "INSERT", "UPDATE", "DELETE",      "CREATE",    "DROP",
      "REFERENCES", "INDEX",  "ALTER",  "CREATE VIEW", "SHOW VIEW", "TRIGGER"};
  static const auto* const maria = [] {
    auto* all = new std::vector<std::string>(*mysql);
    all->push_back("DELETE HISTORY");
    return all;
  }();
  return mariadb ? *maria : *mysql;
}

bool AllCharsIn(absl::string_view text, absl::string_view extra) {
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && !absl::StrContains(extra, c)) {
      return false;
    }
  }
  return true;
}

std::string QuoteIdentifier(absl::string_view name) {
  return absl::StrCat("`", absl::StrReplaceAll(name, {{"`", "``"}}), "`");
}

}  // namespace

std::vector<std::string> ServerTablePrivileges(absl::string_view table, bool is_view) {
  if (is_view) return {};
  if (table == "audit_chain_head") return {"SELECT", "UPDATE"};
  if (absl::StartsWith(table, "audit_")) return {"SELECT", "INSERT"};
  if (table == "schema_migrations" || table == "report_grid_state") return {"SELECT"};
  if (absl::StartsWith(table, "report_")) return {"SELECT", "INSERT", "UPDATE"};
  return {"SELECT", "INSERT", "UPDATE", "DELETE"};
}

std::string DbAccount::Quoted() const { return absl::StrCat("'", user, "'@'", host, "'"); }

absl::Status DbAccount::Validate() const {
  if (user.empty() || user.size() > 80 || !AllCharsIn(user, "_.-")) {
    return absl::InvalidArgumentError(
        absl::StrCat("database user name \"", user, "\": must be [A-Za-z0-9_.-]{1,80}"));
  }
  if (host.empty() || host.size() > 255 || !AllCharsIn(host, "_.%:-")) {
    return absl::InvalidArgumentError(
        absl::StrCat("database account host \"", host, "\": must be [A-Za-z0-9_.%:-]{1,255}"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TableGrant>> ApplyServerGrants(const Dsn& admin_dsn,
                                                          const DbAccount& account) {
  if (absl::Status s = account.Validate(); !s.ok()) return s;
  if (admin_dsn.database.empty()) {
    return absl::InvalidArgumentError("the migration DSN names no database");
  }
  if (account.user == admin_dsn.user) {
    return absl::InvalidArgumentError(
        absl::StrCat("the serving account and the migration user are both ", account.user,
                     ": the server must connect as a user of its own"));
  }
  const std::string schema = QuoteIdentifier(admin_dsn.database);
  const std::string grantee = account.Quoted();
  std::vector<TableGrant> granted;
  MysqlPool pool(admin_dsn, PoolOptions{.max_connections = 1, .io_timeout = absl::Minutes(5)});
  absl::Status status = pool.Run([&](MysqlConnection& c) -> absl::Status {
    std::string statement;  // the one running, for error messages
    try {
      std::unique_ptr<sql::ResultSet> version(c.Prepare("SELECT VERSION()")->executeQuery());
      const bool mariadb =
          version->next() && absl::StrContains(std::string(version->getString(1)), "MariaDB");
      if (mariadb) {
        // A GRANT to a missing account must fail, never create it without a
        // password (MySQL 8 never creates one; the pool's sql_mode omits this).
        c.Execute("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_CREATE_USER')");
      }
      sql::PreparedStatement* list = c.Prepare(
          "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
          "WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME");
      list->setString(1, admin_dsn.database);
      std::unique_ptr<sql::ResultSet> tables(list->executeQuery());
      while (tables->next()) {
        std::string table = tables->getString(1);
        bool is_view = std::string(tables->getString(2)) == "VIEW";
        granted.push_back({table, ServerTablePrivileges(table, is_view)});
      }
      for (const TableGrant& grant : granted) {
        if (grant.privileges.empty()) continue;  // a view: see grants.h
        const std::string on = absl::StrCat(schema, ".", QuoteIdentifier(grant.table));
        statement = absl::StrCat("GRANT ", absl::StrJoin(grant.privileges, ", "), " ON ", on,
                                 " TO ", grantee);
        c.Execute(statement);
        // Now the account has a grant row for the table, so revoking a
        // privilege it does not hold is no error.
        std::vector<std::string> others = {"GRANT OPTION"};
        for (const std::string& privilege : TablePrivileges(mariadb)) {
          bool keep = false;
          for (const std::string& wanted : grant.privileges) keep = keep || wanted == privilege;
          if (!keep) others.push_back(privilege);
        }
        statement =
            absl::StrCat("REVOKE ", absl::StrJoin(others, ", "), " ON ", on, " FROM ", grantee);
        c.Execute(statement);
      }
      // Anything on the whole schema (ON db.*) would reach every table,
      // present and future, past the rule: take it away, last.
      for (const char* what : {"ALL PRIVILEGES", "GRANT OPTION"}) {
        statement = absl::StrCat("REVOKE ", what, " ON ", schema, ".* FROM ", grantee);
        try {
          c.Execute(statement);
        } catch (const sql::SQLException& e) {
          if (e.getErrorCode() != 1141) throw;  // 1141: there was no such grant
        }
      }
      return absl::OkStatus();
    } catch (const sql::SQLException& e) {
      std::string detail =
          absl::StrCat("MySQL error ", e.getErrorCode(), ": ", e.what(), " (in: ", statement, ")");
      switch (e.getErrorCode()) {
        case 1133:  // no matching row in the user table
        case 1410:  // not allowed to create a user with GRANT
          return absl::FailedPreconditionError(absl::StrCat(
              "the database account ", grantee, " does not exist: create it first (CREATE USER ",
              grantee, " IDENTIFIED BY '...'), with no privileges; ", detail));
        case 1044:  // access denied to the database
        case 1045:
        case 1142:  // command denied on the table
        case 1227:  // needs a privilege it lacks
          return absl::PermissionDeniedError(absl::StrCat(
              "the migration user ", admin_dsn.user, " may not grant on ", schema,
              ": it needs ALL PRIVILEGES ON ", schema, ".* WITH GRANT OPTION; ", detail));
        default: return absl::Status(StatusFromSqlException(e).code(), detail);
      }
    }
  });
  if (!status.ok()) return status;
  return granted;
}

}  // namespace enlace::db
