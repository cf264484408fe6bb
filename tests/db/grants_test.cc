// Least privilege in the database (db/grants.h), against a real MariaDB
// (scripts/test.sh): the rule itself; the grants ApplyServerGrants() gives a
// server user on a migrated throwaway database, checked by connecting as that
// user and asserting the exact MySQL errors (1142: command denied) for what
// it must never do (rewrite the audit log, change the schema) and success
// for what it must; that a table added later is covered by the same rule;
// that privileges granted before by hand are taken away; and, end to end,
// the real server working as that user, refusing to start on a schema that
// is behind or without its grants.
#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "db/grants.h"
#include "db/migrations.h"
#include "db/mysql_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int kOk = 0;
constexpr int kCommandDenied = 1142;  // ER_TABLEACCESS_DENIED_ERROR
constexpr int kDatabaseDenied = 1044;  // ER_DBACCESS_DENIED_ERROR

TEST(ServerTablePrivilegesTest, TheRule) {
  using V = std::vector<std::string>;
  EXPECT_EQ(db::ServerTablePrivileges("audit_events"), (V{"SELECT", "INSERT"}));
  EXPECT_EQ(db::ServerTablePrivileges("audit_event_records"), (V{"SELECT", "INSERT"}));
  // Any audit_* table, also one no migration has made yet.
  EXPECT_EQ(db::ServerTablePrivileges("audit_checkpoints"), (V{"SELECT", "INSERT"}));
  EXPECT_EQ(db::ServerTablePrivileges("audit_anything_later"), (V{"SELECT", "INSERT"}));
  EXPECT_EQ(db::ServerTablePrivileges("audit_chain_head"), (V{"SELECT", "UPDATE"}));
  EXPECT_EQ(db::ServerTablePrivileges("schema_migrations"), (V{"SELECT"}));
  EXPECT_EQ(db::ServerTablePrivileges("report_grid_state"), (V{"SELECT"}));
  EXPECT_EQ(db::ServerTablePrivileges("report_case_cells"), (V{"SELECT", "INSERT", "UPDATE"}));
  EXPECT_EQ(db::ServerTablePrivileges("report_later_cells"), (V{"SELECT", "INSERT", "UPDATE"}));
  for (const char* table : {"arrivals", "certificates", "referrals", "auditors", "audit"}) {
    EXPECT_EQ(db::ServerTablePrivileges(table), (V{"SELECT", "INSERT", "UPDATE", "DELETE"}))
        << table;
  }
  EXPECT_THAT(db::ServerTablePrivileges("arrivals_view", /*is_view=*/true), IsEmpty());
}

TEST(DbAccountTest, OnlyPlainNamesAreAccepted) {
  EXPECT_TRUE((db::DbAccount{"enlace_server", "%"}).Validate().ok());
  EXPECT_TRUE((db::DbAccount{"srv-1.a", "10.0.%"}).Validate().ok());
  EXPECT_FALSE((db::DbAccount{"x'@'%' IDENTIFIED BY 'y", "%"}).Validate().ok());
  EXPECT_FALSE((db::DbAccount{"", "%"}).Validate().ok());
  EXPECT_FALSE((db::DbAccount{"srv", "h'st"}).Validate().ok());
  EXPECT_EQ((db::DbAccount{"srv", "%"}).Quoted(), "'srv'@'%'");
}

class GrantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<db::Dsn> dsn = db::ParseDsn(database_->server_dsn_string());
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    server_pool_ = std::make_unique<db::MysqlPool>(*dsn, db::PoolOptions{.max_connections = 1});
  }

  // Runs `sql` as the server user: the MySQL error number, 0 on success.
  int AsServer(const std::string& sql) {
    int code = -1;
    absl::Status status = server_pool_->Run([&](db::MysqlConnection& c) {
      try {
        std::unique_ptr<sql::Statement> statement(c.raw().createStatement());
        if (statement->execute(sql)) {  // a result set: read it all
          std::unique_ptr<sql::ResultSet> rows(statement->getResultSet());
          while (rows->next()) {
          }
        }
        code = kOk;
      } catch (const sql::SQLException& e) {
        code = e.getErrorCode();
        last_error_ = e.what();
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return code;
  }

  // One audit event row with sequence `seq`, as the append path writes it.
  static std::string InsertAuditEvent(int seq) {
    return absl::StrCat(
        "INSERT INTO audit_events (seq, at_us, principal, method, decision, status_code, "
        "record_ids, detail, peer, prev_hash, hash) VALUES (",
        seq,
        ", 1, 'spiffe://enlace/agency/iom', '/enlace.v1.ArrivalService/GetArrival', 1, 0, "
        "'', '', 'ipv4:127.0.0.1:1', UNHEX(REPEAT('00', 32)), UNHEX(REPEAT('11', 32)))");
  }

  // The audit_* tables of the migrated schema (as the administrator).
  std::vector<std::string> AuditTables() {
    return Strings(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME LIKE 'audit\\_%' ORDER BY TABLE_NAME");
  }
  // The first column of `table`.
  std::string FirstColumn(const std::string& table) {
    std::vector<std::string> columns = Strings(absl::StrCat(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = '",
        table, "' ORDER BY ORDINAL_POSITION LIMIT 1"));
    return columns.empty() ? "missing_column" : columns[0];
  }
  std::vector<std::string> Strings(const std::string& query) {
    std::vector<std::string> out;
    absl::Status status = database_->pool().Run([&](db::MysqlConnection& c) {
      std::unique_ptr<sql::Statement> statement(c.raw().createStatement());
      std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(query));
      while (rows->next()) out.push_back(rows->getString(1));
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  std::unique_ptr<db::MysqlPool> server_pool_;
  std::string last_error_;
};

TEST_F(GrantsTest, TheServerUserAppendsAndReadsTheAuditLogButCannotRewriteIt) {
  // What the append path and the readers do.
  ASSERT_EQ(AsServer(InsertAuditEvent(1)), kOk) << last_error_;
  ASSERT_EQ(AsServer("INSERT INTO audit_event_records (record_id, audit_seq) VALUES ('r1', 1)"),
            kOk)
      << last_error_;
  EXPECT_EQ(AsServer("SELECT seq, hash FROM audit_events WHERE seq = 1"), kOk) << last_error_;
  EXPECT_EQ(AsServer("SELECT audit_seq FROM audit_event_records WHERE record_id = 'r1'"), kOk);
  EXPECT_EQ(AsServer("UPDATE audit_chain_head SET last_seq = 1 WHERE id = 1"), kOk) << last_error_;
  EXPECT_EQ(AsServer("SELECT last_seq FROM audit_chain_head WHERE id = 1 FOR UPDATE"), kOk);

  // What nobody holding the server's credentials can do to the evidence.
  EXPECT_EQ(AsServer("UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 1"),
            kCommandDenied);
  EXPECT_THAT(last_error_, HasSubstr("UPDATE command denied"));
  EXPECT_EQ(AsServer("DELETE FROM audit_events WHERE seq = 1"), kCommandDenied);
  EXPECT_THAT(last_error_, HasSubstr("DELETE command denied"));
  EXPECT_EQ(AsServer("UPDATE audit_event_records SET audit_seq = 2"), kCommandDenied);
  EXPECT_EQ(AsServer("DELETE FROM audit_event_records"), kCommandDenied);
  EXPECT_EQ(AsServer("REPLACE INTO audit_events SELECT * FROM audit_events"), kCommandDenied);
  EXPECT_EQ(AsServer("TRUNCATE TABLE audit_events"), kCommandDenied);
  EXPECT_EQ(AsServer("DROP TABLE audit_events"), kCommandDenied);
  EXPECT_EQ(AsServer("ALTER TABLE audit_events ADD COLUMN forged INT"), kCommandDenied);
  EXPECT_EQ(AsServer("RENAME TABLE audit_events TO audit_events_old"), kCommandDenied);
  EXPECT_EQ(AsServer("CREATE TRIGGER t BEFORE INSERT ON audit_events FOR EACH ROW SET @x = 1"),
            kCommandDenied);
  // The head row is bookkeeping: moved, never made or removed.
  EXPECT_EQ(AsServer("DELETE FROM audit_chain_head"), kCommandDenied);
  EXPECT_EQ(AsServer("INSERT INTO audit_chain_head (id, last_seq, last_hash) "
                     "VALUES (2, 0, UNHEX(REPEAT('00', 32)))"),
            kCommandDenied);
  // Only --migrate records migrations.
  EXPECT_EQ(AsServer("SELECT MAX(version) FROM schema_migrations"), kOk);
  EXPECT_EQ(AsServer("DELETE FROM schema_migrations"), kCommandDenied);
  // Every audit_* table of the migrated schema gets the same, whoever added it.
  int audit_tables = 0;
  for (const std::string& table : AuditTables()) {
    if (table == "audit_chain_head") continue;
    ++audit_tables;
    EXPECT_EQ(AsServer(absl::StrCat("UPDATE ", table, " SET ", FirstColumn(table), " = ",
                                    FirstColumn(table))),
              kCommandDenied)
        << table;
    EXPECT_EQ(AsServer(absl::StrCat("DELETE FROM ", table)), kCommandDenied) << table;
    EXPECT_EQ(AsServer(absl::StrCat("SELECT COUNT(*) FROM ", table)), kOk) << table;
  }
  EXPECT_GE(audit_tables, 2);  // audit_events, audit_event_records (and later ones)
  // Nothing stayed changed: the evidence is as appended.
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM audit_events"), 1);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM audit_event_records"), 1);
}

TEST_F(GrantsTest, TheServerUserDoesItsWorkButCannotChangeTheSchema) {
  EXPECT_EQ(AsServer("INSERT INTO agencies (code, display_name, created_at_us) "
                     "VALUES ('wfp', 'World Food Programme', 1)"),
            kOk)
      << last_error_;
  EXPECT_EQ(AsServer("UPDATE agencies SET display_name = 'WFP' WHERE code = 'wfp'"), kOk);
  EXPECT_EQ(AsServer("DELETE FROM agencies WHERE code = 'wfp'"), kOk);
  EXPECT_EQ(AsServer("SELECT seq FROM arrivals WHERE seq = 1 FOR UPDATE"), kOk);
  EXPECT_EQ(AsServer("SELECT seq FROM arrivals WHERE seq = 1 LOCK IN SHARE MODE"), kOk);
  EXPECT_EQ(AsServer("SELECT GET_LOCK('enlace_test', 1)"), kOk);

  EXPECT_EQ(AsServer("DROP TABLE arrivals"), kCommandDenied);
  EXPECT_EQ(AsServer("ALTER TABLE arrivals ADD COLUMN x INT"), kCommandDenied);
  EXPECT_EQ(AsServer("CREATE INDEX k_x ON arrivals (given_name)"), kCommandDenied);
  EXPECT_EQ(AsServer("CREATE TABLE audit_events_shadow (x INT)"), kCommandDenied);
  EXPECT_EQ(AsServer(absl::StrCat("DROP DATABASE `", database_->dsn().database, "`")),
            kDatabaseDenied);
  EXPECT_EQ(AsServer("GRANT SELECT ON arrivals TO CURRENT_USER"), kCommandDenied);
}

TEST_F(GrantsTest, ATableAddedLaterGetsWhatItsNameAllowsAndNoMore) {
  // As a later migration would (migration 0005 added audit_* tables this way).
  database_->Execute("CREATE TABLE audit_later (id BIGINT NOT NULL PRIMARY KEY, v INT NOT NULL)");
  database_->Execute("CREATE TABLE later_things (id BIGINT NOT NULL PRIMARY KEY, v INT NOT NULL)");
  EXPECT_EQ(AsServer("SELECT * FROM audit_later"), kCommandDenied);  // nothing until granted
  database_->RegrantServerUser();  // what enlace-server --migrate does after migrating
  EXPECT_EQ(AsServer("INSERT INTO audit_later (id, v) VALUES (1, 1)"), kOk) << last_error_;
  EXPECT_EQ(AsServer("SELECT v FROM audit_later"), kOk);
  EXPECT_EQ(AsServer("UPDATE audit_later SET v = 2"), kCommandDenied);
  EXPECT_EQ(AsServer("DELETE FROM audit_later"), kCommandDenied);
  EXPECT_EQ(AsServer("INSERT INTO later_things (id, v) VALUES (1, 1)"), kOk);
  EXPECT_EQ(AsServer("UPDATE later_things SET v = 2"), kOk);
  EXPECT_EQ(AsServer("DELETE FROM later_things"), kOk);
  EXPECT_EQ(AsServer("DROP TABLE later_things"), kCommandDenied);
}

TEST_F(GrantsTest, PrivilegesGivenByHandAreTakenAway) {
  const db::DbAccount& account = database_->server_account();
  const std::string& schema = database_->dsn().database;
  // The old advice (grant the schema, take UPDATE/DELETE on audit_events
  // away later), and a table-level slip.
  database_->Execute(absl::StrCat("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON `",
                                  schema, "`.* TO ", account.Quoted()));
  database_->Execute(absl::StrCat("GRANT UPDATE, DELETE, DROP ON `", schema,
                                  "`.audit_event_records TO ", account.Quoted()));
  EXPECT_EQ(AsServer("DELETE FROM audit_event_records"), kOk);  // the hole, before
  database_->RegrantServerUser();
  // A database-level privilege leaves a session only when it selects the
  // database again (MySQL and MariaDB alike): servers restarted after such a
  // --migrate, as a rollout does, connect anew.
  SetUp();
  EXPECT_EQ(AsServer("DELETE FROM audit_event_records"), kCommandDenied);
  EXPECT_EQ(AsServer("UPDATE audit_events SET detail = ''"), kCommandDenied);
  EXPECT_EQ(AsServer("DROP TABLE audit_event_records"), kCommandDenied);
  EXPECT_EQ(AsServer("CREATE TABLE x (id INT)"), kCommandDenied);
  EXPECT_EQ(AsServer("SELECT COUNT(*) FROM audit_events"), kOk);
  EXPECT_EQ(AsServer("UPDATE agencies SET display_name = display_name"), kOk);
}

TEST_F(GrantsTest, GrantingNeedsAnExistingAccountAndAMigrationUserOfItsOwn) {
  absl::StatusOr<std::vector<db::TableGrant>> granted =
      db::ApplyServerGrants(database_->dsn(), db::DbAccount{"nobody_here", "%"});
  EXPECT_EQ(granted.status().code(), absl::StatusCode::kFailedPrecondition) << granted.status();
  EXPECT_THAT(granted.status().message(), HasSubstr("CREATE USER"));
  // Never created on the way (MariaDB would, with no password, unless told not to).
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM mysql.user WHERE User = 'nobody_here'"), 0);
  granted = db::ApplyServerGrants(database_->dsn(), db::DbAccount{database_->dsn().user, "%"});
  EXPECT_EQ(granted.status().code(), absl::StatusCode::kInvalidArgument);
  // The grants returned follow the rule, table by table.
  granted = db::ApplyServerGrants(database_->dsn(), database_->server_account());
  ASSERT_TRUE(granted.ok()) << granted.status();
  bool saw_events = false, saw_head = false;
  for (const db::TableGrant& grant : *granted) {
    EXPECT_EQ(grant.privileges, db::ServerTablePrivileges(grant.table)) << grant.table;
    saw_events = saw_events || grant.table == "audit_events";
    saw_head = saw_head || grant.table == "audit_chain_head";
  }
  EXPECT_TRUE(saw_events && saw_head);
}

// The real server, as its own user: ServerFixture connects as
// TestDatabase::server_dsn_string() (the grants above), as production does.
class RestrictedServerTest : public ServerFixture {
 protected:
  std::string CurrentUser() {
    std::string user;
    absl::StatusOr<db::Dsn> dsn = db::ParseDsn(database_->server_dsn_string());
    EXPECT_TRUE(dsn.ok());
    db::MysqlPool pool(*dsn, db::PoolOptions{.max_connections = 1});
    EXPECT_TRUE(pool.Run([&](db::MysqlConnection& c) {
                      std::unique_ptr<sql::Statement> statement(c.raw().createStatement());
                      std::unique_ptr<sql::ResultSet> row(
                          statement->executeQuery("SELECT CURRENT_USER()"));
                      if (row->next()) user = row->getString(1);
                      return absl::OkStatus();
                    })
                    .ok());
    return user;
  }

  server::ServerConfig ConfigFor(const std::string& dsn) {
    server::ServerConfig config;
    config.tls_addr = "127.0.0.1:0";
    config.health_addr = "";
    config.metrics_addr = "";
    config.db_dsn = dsn;
    config.db_wait = absl::Seconds(2);
    config.ca_cert = pki_.ca_cert_path();
    config.server_cert = pki_.server_cert_path();
    config.server_key = pki_.server_key_path();
    config.policy = policy_path_;
    config.token_keys = token_keys_path_;
    return config;
  }
};

TEST_F(RestrictedServerTest, TheServerRecordsReadsAndVerifiesAsItsOwnUser) {
  EXPECT_EQ(CurrentUser(), absl::StrCat(database_->server_account().user, "@%"));
  grpc::Status status;
  std::vector<v1::Arrival> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(MakeArrival(absl::StrCat("least-", i)));
  std::vector<v1::RecordArrivalsResponse> responses = Stream(mfa_cert_, batch, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(responses.size(), batch.size());
  for (const auto& r : responses) EXPECT_EQ(r.outcome(), v1::OUTCOME_CREATED);
  v1::GetArrivalRequest get;
  get.set_arrival_id(responses[0].arrival_id());
  v1::Arrival seen;
  ASSERT_TRUE(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &seen).ok());
  // Answers may come in another order than sent: each names its record.
  EXPECT_EQ(seen.external_id(), responses[0].external_id());
  EXPECT_TRUE(absl::StartsWith(seen.external_id(), "least-")) << seen.external_id();
  OpenedCase opened = OpenIomCase("least-case", {"iom", "undp"});
  v1::Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());

  v1::VerifyAuditLogResponse verified;
  ASSERT_TRUE(Admin()->VerifyAuditLog(Context().get(), {}, &verified).ok());
  EXPECT_TRUE(verified.intact());
  EXPECT_GT(verified.checked(), 3);
  EXPECT_GT(database_->QueryInt("SELECT COUNT(*) FROM audit_events"), 3);
}

TEST_F(RestrictedServerTest, AServerNeverMigratesAndSaysWhatToRun) {
  // An empty database: the schema is behind (version 0).
  std::string empty = absl::StrCat(database_->dsn().database, "_empty");
  database_->Execute(absl::StrCat("CREATE DATABASE `", empty, "`"));
  std::string dsn =
      absl::StrReplaceAll(database_->dsn_string(), {{database_->dsn().database, empty}});
  absl::StatusOr<std::unique_ptr<server::EnlaceServer>> started =
      server::EnlaceServer::Start(ConfigFor(dsn));
  database_->Execute(absl::StrCat("DROP DATABASE `", empty, "`"));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.status().message(), HasSubstr("is at version 0"));
  EXPECT_THAT(started.status().message(), HasSubstr("enlace-server --migrate"));

  // A user without its grants.
  database_->Execute("CREATE USER 'srv_nogrants'@'%' IDENTIFIED BY 'pw_nogrants_123'");
  db::Dsn bare = database_->dsn();
  bare.user = "srv_nogrants";
  bare.password = "pw_nogrants_123";
  started = server::EnlaceServer::Start(ConfigFor(bare.ToStringWithPassword()));
  database_->Execute("DROP USER 'srv_nogrants'@'%'");
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.status().message(), HasSubstr("grants are missing"));
  EXPECT_THAT(started.status().message(), HasSubstr("enlace-server --migrate"));
}

}  // namespace
}  // namespace enlace
