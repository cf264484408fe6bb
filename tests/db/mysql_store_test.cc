// The MySQL stores against a real MariaDB (started by scripts/test.sh):
// idempotent batch ingest, record-level visibility, keyset paging, consent
// history, the audit hash chain, migrations, and recovery after the
// database drops our connections.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "db/audit_chain.h"
#include "db/migrations.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_registry_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::testing::StatusIs;
using ::enlace::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::SizeIs;

enlace::v1::Arrival MakeArrival(const std::string& external_id,
                                std::vector<std::string> agencies = {"iom"},
                                const std::string& municipality = "Guazapa") {
  enlace::v1::Arrival a;
  a.set_external_id(external_id);
  a.set_arrival_date("2018-01-15");
  a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  a.set_origin_country("US");
  a.mutable_person()->set_given_name("José");
  a.mutable_person()->set_family_name("Peña");
  a.mutable_person()->set_birth_date("1990-03-02");
  a.mutable_person()->set_sex(enlace::v1::SEX_MALE);
  a.mutable_destination()->set_department_code("SV-SS");
  a.mutable_destination()->set_municipality(municipality);
  a.add_needs(enlace::v1::NEED_TRAINING);
  a.add_needs(enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT);
  for (const std::string& agency : agencies) a.mutable_consent()->add_agencies(agency);
  if (!agencies.empty()) a.mutable_consent()->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  a.mutable_consent()->mutable_given_at()->set_seconds(1516000000);
  return a;
}

class MysqlStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlArrivalStore arrivals_{&database_->pool()};
  MysqlAuditStore audit_{&database_->pool()};

  std::vector<RecordResult> Record(std::vector<NewArrival> batch) {
    absl::StatusOr<std::vector<RecordResult>> results = arrivals_.RecordBatch(batch);
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? *results : std::vector<RecordResult>{};
  }
};

TEST_F(MysqlStoreTest, BatchCreatesThenResendIsAlreadyRecordedWithTheSameIds) {
  std::vector<NewArrival> batch;
  for (int i = 0; i < 300; ++i) batch.push_back({MakeArrival(absl::StrCat("e-", i)), "mfa"});
  std::vector<RecordResult> first = Record(batch);
  ASSERT_THAT(first, SizeIs(300));
  for (const RecordResult& r : first) {
    EXPECT_TRUE(r.status.ok());
    EXPECT_EQ(r.outcome, enlace::v1::OUTCOME_CREATED);
    EXPECT_EQ(r.arrival_id.size(), 32u);
  }
  // Reordered repeated fields are the same content.
  std::swap(*batch[7].arrival.mutable_needs()->Mutable(0),
            *batch[7].arrival.mutable_needs()->Mutable(1));
  std::vector<RecordResult> second = Record(batch);
  ASSERT_THAT(second, SizeIs(300));
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(second[i].outcome, enlace::v1::OUTCOME_ALREADY_RECORDED) << i;
    EXPECT_EQ(second[i].arrival_id, first[i].arrival_id) << i;
  }
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 300);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrival_consent_agencies"), 300);
}

TEST_F(MysqlStoreTest, SameExternalIdWithOtherContentIsRejectedAndChangesNothing) {
  std::vector<RecordResult> first = Record({{MakeArrival("dup"), "mfa"}});
  ASSERT_EQ(first[0].outcome, enlace::v1::OUTCOME_CREATED);
  std::vector<RecordResult> second =
      Record({{MakeArrival("dup", {"iom"}, "Mejicanos"), "mfa"}, {MakeArrival("fresh"), "mfa"}});
  EXPECT_EQ(second[0].outcome, enlace::v1::OUTCOME_REJECTED);
  EXPECT_THAT(second[0].status, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(second[1].outcome, enlace::v1::OUTCOME_CREATED);
  absl::StatusOr<enlace::v1::Arrival> stored = arrivals_.Get(first[0].arrival_id, Viewer{"mfa"});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->destination().municipality(), "Guazapa");
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 2);
}

TEST_F(MysqlStoreTest, DuplicatesInsideOneBatchResolveAsIfSentInOrder) {
  std::vector<RecordResult> results = Record(
      {{MakeArrival("x"), "mfa"}, {MakeArrival("x"), "mfa"}, {MakeArrival("x", {"undp"}), "mfa"}});
  EXPECT_EQ(results[0].outcome, enlace::v1::OUTCOME_CREATED);
  EXPECT_EQ(results[1].outcome, enlace::v1::OUTCOME_ALREADY_RECORDED);
  EXPECT_EQ(results[1].arrival_id, results[0].arrival_id);
  EXPECT_THAT(results[2].status, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 1);
}

TEST_F(MysqlStoreTest, ExternalIdsAreScopedToTheSubmitter) {
  std::vector<RecordResult> results =
      Record({{MakeArrival("same"), "mfa"}, {MakeArrival("same"), "iom"}});
  EXPECT_EQ(results[0].outcome, enlace::v1::OUTCOME_CREATED);
  EXPECT_EQ(results[1].outcome, enlace::v1::OUTCOME_CREATED);
  EXPECT_NE(results[0].arrival_id, results[1].arrival_id);
}

TEST_F(MysqlStoreTest, ConcurrentWritersOfOverlappingRecordsStoreEachOnce) {
  constexpr int kThreads = 4;
  constexpr int kRecords = 200;
  std::vector<std::vector<RecordResult>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<NewArrival> batch;
      // Each thread sends the same records in another order.
      for (int i = 0; i < kRecords; ++i) {
        int k = (i * (t + 1) * 7) % kRecords;
        batch.push_back({MakeArrival(absl::StrCat("c-", k)), "mfa"});
      }
      absl::StatusOr<std::vector<RecordResult>> r = arrivals_.RecordBatch(batch);
      ASSERT_TRUE(r.ok()) << r.status();
      results[t] = *r;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), kRecords);
  int created = 0;
  for (const auto& thread_results : results) {
    for (const RecordResult& r : thread_results) {
      EXPECT_TRUE(r.status.ok()) << r.status;
      if (r.outcome == enlace::v1::OUTCOME_CREATED) ++created;
    }
  }
  EXPECT_EQ(created, kRecords);  // every record created exactly once overall
}

TEST_F(MysqlStoreTest, VisibilityFollowsSubmitterAndConsent) {
  std::vector<RecordResult> r = Record({{MakeArrival("v", {"iom", "undp"}), "mfa"}});
  const std::string& id = r[0].arrival_id;
  EXPECT_TRUE(arrivals_.Get(id, Viewer{"mfa"}).ok());
  absl::StatusOr<enlace::v1::Arrival> seen = arrivals_.Get(id, Viewer{"iom"});
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->person().given_name(), "José");
  EXPECT_THAT(seen->consent().agencies(), ElementsAre("iom", "undp"));
  EXPECT_THAT(seen->needs(),
              ElementsAre(enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT, enlace::v1::NEED_TRAINING));
  EXPECT_EQ(seen->submitted_by(), "mfa");
  EXPECT_EQ(seen->consent_version(), 1);
  EXPECT_EQ(seen->consent().given_at().seconds(), 1516000000);
  EXPECT_THAT(arrivals_.Get(id, Viewer{"unhcr"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(arrivals_.Get("no-such-id", Viewer{"mfa"}), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MysqlStoreTest, ListPagesByKeysetWithoutSkipsOrRepeatsUnderInserts) {
  std::vector<NewArrival> batch;
  for (int i = 0; i < 120; ++i) {
    batch.push_back(
        {MakeArrival(absl::StrCat("l-", i), i % 2 == 0 ? std::vector<std::string>{"iom"}
                                                       : std::vector<std::string>{"undp"}),
         "mfa"});
  }
  Record(batch);
  std::set<std::string> seen;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    absl::StatusOr<ArrivalPage> page = arrivals_.List({}, Viewer{"iom"}, after, 25);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& a : page->arrivals) EXPECT_TRUE(seen.insert(a.arrival_id()).second);
    ++pages;
    if (pages == 1) Record({{MakeArrival("late", {"iom"}), "mfa"}});  // appended at the end
    if (!page->more) break;
    after = page->last_position;
  }
  EXPECT_EQ(seen.size(), 61u);  // 60 consented to iom, plus the late one
  EXPECT_EQ(pages, 3);

  ArrivalFilter filter;
  filter.municipality = "Guazapa";
  filter.arrival_date_from = "2018-01-15";
  filter.arrival_date_to = "2018-01-15";
  absl::StatusOr<ArrivalPage> filtered = arrivals_.List(filter, Viewer{"undp"}, 0, 500);
  ASSERT_TRUE(filtered.ok());
  EXPECT_THAT(filtered->arrivals, SizeIs(60));
  filter.arrival_date_from = "2018-01-16";
  filtered = arrivals_.List(filter, Viewer{"undp"}, 0, 500);
  ASSERT_TRUE(filtered.ok());
  EXPECT_THAT(filtered->arrivals, SizeIs(0));
}

// The consent history keeps each version's guardian, the one given at
// arrival included.
TEST_F(MysqlStoreTest, TheConsentHistoryKeepsEachVersionsGuardian) {
  enlace::v1::Arrival minor = MakeArrival("gh", {"iom"});
  minor.mutable_person()->set_birth_date("2009-01-02");
  minor.mutable_consent()->mutable_guardian()->set_name("Ana Ruiz");
  minor.mutable_consent()->mutable_guardian()->set_relationship(
      enlace::v1::GUARDIAN_RELATIONSHIP_PARENT);
  std::vector<RecordResult> r = Record({{minor, "mfa"}});
  const std::string& id = r[0].arrival_id;
  enlace::v1::Consent consent = minor.consent();
  consent.mutable_guardian()->set_name("Luis Ruiz");
  consent.mutable_guardian()->set_relationship(enlace::v1::GUARDIAN_RELATIONSHIP_OTHER_RELATIVE);
  ASSERT_TRUE(arrivals_.UpdateConsent(id, consent, Viewer{"mfa"}, nullptr).ok());
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM consent_versions WHERE version = 1 AND "
                                "guardian_name = 'Ana Ruiz' AND guardian_relationship = 1"),
            1);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM consent_versions WHERE version = 2 AND "
                                "guardian_name = 'Luis Ruiz' AND guardian_relationship = 3"),
            1);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE consent_guardian_name = "
                                "'Luis Ruiz' AND consent_guardian_relationship = 3"),
            1);
}

// The store refuses a new consent or a correction of an erased arrival
// under the row's lock, whatever its caller read before (an erasure
// committed between that read and the change still wins).
TEST_F(MysqlStoreTest, AnErasedArrivalTakesNoConsentChangeNorCorrection) {
  enlace::v1::Arrival arrival = MakeArrival("er", {"iom"});
  std::vector<RecordResult> r = Record({{arrival, "mfa"}});
  const std::string& id = r[0].arrival_id;
  absl::StatusOr<enlace::v1::Arrival> read = arrivals_.Get(id, Viewer{"mfa"});
  ASSERT_TRUE(read.ok()) << read.status();
  // Erased after the caller's read (only the mark matters to these checks).
  database_->Execute(
      absl::StrCat("UPDATE arrivals SET erased_at_us = 1 WHERE arrival_id = '", id, "'"));
  EXPECT_THAT(arrivals_.UpdateConsent(id, arrival.consent(), Viewer{"mfa"}, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ArrivalCorrection correction{id, *read, read->version(), "typo"};
  correction.content.mutable_person()->set_given_name("Otra");
  EXPECT_THAT(arrivals_.Correct(correction, Viewer{"mfa"}, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM consent_versions"), 0);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrival_versions"), 0);
  EXPECT_EQ(database_->QueryInt("SELECT version FROM arrivals"), 1);
}

TEST_F(MysqlStoreTest, UpdateConsentKeepsHistoryAndChangesVisibility) {
  std::vector<RecordResult> r = Record({{MakeArrival("u", {"iom"}), "mfa"}});
  const std::string& id = r[0].arrival_id;
  enlace::v1::Consent consent;
  consent.add_agencies("undp");
  consent.add_purposes(enlace::v1::PURPOSE_STATISTICS);
  EXPECT_THAT(arrivals_.UpdateConsent(id, consent, Viewer{"iom"}, nullptr),
              StatusIs(absl::StatusCode::kNotFound));  // only the submitter may
  absl::StatusOr<enlace::v1::Arrival> updated =
      arrivals_.UpdateConsent(id, consent, Viewer{"mfa"}, nullptr);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->consent_version(), 2);
  EXPECT_THAT(updated->consent().agencies(), ElementsAre("undp"));
  EXPECT_THAT(arrivals_.Get(id, Viewer{"iom"}), StatusIs(absl::StatusCode::kNotFound));
  // Named for STATISTICS only: counted, never shown the record.
  EXPECT_THAT(arrivals_.Get(id, Viewer{"undp"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM consent_versions"), 2);
  EXPECT_EQ(database_->QueryInt(
                "SELECT COUNT(*) FROM consent_versions WHERE version = 1 AND agencies = 'iom'"),
            1);
  // For PROTECTION, the record is shown.
  consent.add_purposes(enlace::v1::PURPOSE_PROTECTION);
  ASSERT_TRUE(arrivals_.UpdateConsent(id, consent, Viewer{"mfa"}, nullptr).ok());
  EXPECT_TRUE(arrivals_.Get(id, Viewer{"undp"}).ok());
  // The original submission is still the idempotency reference.
  std::vector<RecordResult> resend = Record({{MakeArrival("u", {"iom"}), "mfa"}});
  EXPECT_EQ(resend[0].outcome, enlace::v1::OUTCOME_ALREADY_RECORDED);
}

std::vector<AuditRecord> MakeAuditRecords(int n) {
  std::vector<AuditRecord> records(n);
  for (int i = 0; i < n; ++i) {
    records[i].at_us = 1700000000000000 + i;
    records[i].principal = "spiffe://enlace/agency/iom";
    records[i].method = "/enlace.v1.ArrivalService/GetArrival";
    records[i].decision = 1;
    records[i].record_ids = {absl::StrCat("id", i)};
    records[i].detail = "d";
    records[i].peer = "ipv4:127.0.0.1:1";
  }
  return records;
}

TEST_F(MysqlStoreTest, AuditChainVerifiesAndNamesTheFirstAlteredRow) {
  for (int round = 0; round < 3; ++round) {
    std::vector<AuditRecord> records = MakeAuditRecords(4);
    ASSERT_TRUE(audit_.Append(&records).ok());
    EXPECT_EQ(records.back().seq, (round + 1) * 4);
  }
  absl::StatusOr<ChainReport> report = audit_.Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->intact);
  EXPECT_EQ(report->checked, 12);

  database_->Execute("UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 6");
  report = audit_.Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->intact);
  EXPECT_EQ(report->first_broken_sequence, 6);
}

TEST_F(MysqlStoreTest, AuditChainDetectsDeletedRowsInsideAndAtTheEnd) {
  std::vector<AuditRecord> records = MakeAuditRecords(10);
  ASSERT_TRUE(audit_.Append(&records).ok());
  database_->Execute("DELETE FROM audit_events WHERE seq >= 9");
  absl::StatusOr<ChainReport> report = audit_.Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->first_broken_sequence, 9);
  database_->Execute("DELETE FROM audit_events WHERE seq = 3");
  report = audit_.Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->first_broken_sequence, 3);
}

TEST_F(MysqlStoreTest, AuditListFiltersAndPages) {
  std::vector<AuditRecord> records = MakeAuditRecords(7);
  records[2].principal = "spiffe://enlace/agency/unhcr";
  records[2].decision = 2;
  ASSERT_TRUE(audit_.Append(&records).ok());
  AuditQuery query;
  query.decision = 2;
  absl::StatusOr<AuditPage> denied = audit_.List(query);
  ASSERT_TRUE(denied.ok());
  ASSERT_THAT(denied->records, SizeIs(1));
  EXPECT_EQ(denied->records[0].principal, "spiffe://enlace/agency/unhcr");
  EXPECT_EQ(denied->records[0].record_ids, std::vector<std::string>{"id2"});
  EXPECT_EQ(denied->records[0].hash, records[2].hash);
  AuditQuery paged;
  paged.limit = 3;
  absl::StatusOr<AuditPage> page = audit_.List(paged);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->records, SizeIs(3));
  EXPECT_TRUE(page->more);
}

TEST_F(MysqlStoreTest, MigrationsAreAppliedOnce) {
  int applied = -1;
  ASSERT_TRUE(ApplyMigrations(database_->dsn(), EmbeddedMigrations(), &applied).ok());
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<int64_t>(EmbeddedMigrations().size()));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM agencies"), 4);
}

TEST_F(MysqlStoreTest, LostConnectionsGiveUnavailableThenThePoolRecovers) {
  Dsn dsn = database_->dsn();
  MysqlPool pool(dsn, PoolOptions{.max_connections = 2});
  MysqlRegistryStore store(&pool);
  ASSERT_TRUE(store.ListAgencies("", 100).ok());  // opens a connection and keeps it idle
  // The database drops every connection of ours (as in a failover).
  database_->Execute(
      "CREATE TEMPORARY TABLE victims AS SELECT ID FROM information_schema.PROCESSLIST "
      "WHERE DB = DATABASE() AND ID <> CONNECTION_ID()");
  int64_t victims = database_->QueryInt("SELECT COUNT(*) FROM victims");
  ASSERT_GE(victims, 1);
  for (int64_t i = 0; i < victims; ++i) {
    int64_t id =
        database_->QueryInt(absl::StrCat("SELECT ID FROM victims ORDER BY ID LIMIT 1 OFFSET ", i));
    database_->Execute(absl::StrCat("KILL CONNECTION ", id));
  }
  EXPECT_THAT(store.ListAgencies("", 100), StatusIs(absl::StatusCode::kUnavailable));
  absl::StatusOr<std::vector<AgencyRecord>> again = store.ListAgencies("", 100);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, SizeIs(4));
}

// A database address where nothing listens.
Dsn UnreachableDsn() {
  Dsn dsn;
  dsn.user = "root";
  dsn.hosts = {DsnHost{"127.0.0.1", 1}};
  return dsn;
}

// Prefill opens the connections at once (the database sees them), no more
// than the pool's maximum, and calls lease those instead of opening others.
TEST_F(MysqlStoreTest, PrefillOpensThePoolAtOnceAndCallsReuseItsConnections) {
  auto ours = [&] {
    return database_->QueryInt(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
        "WHERE DB = DATABASE() AND ID <> CONNECTION_ID()");
  };
  ASSERT_EQ(ours(), 0);
  MysqlPool pool(database_->dsn(), PoolOptions{.max_connections = 3});
  ASSERT_TRUE(pool.Prefill(5).ok());  // capped at max_connections
  EXPECT_EQ(pool.OpenConnections(), 3);
  EXPECT_EQ(ours(), 3);
  ASSERT_TRUE(pool.Prefill(2).ok());  // already open: nothing to do
  EXPECT_EQ(ours(), 3);

  // Three calls at once, each inside while the others are: no fourth connection.
  absl::Mutex mu;
  int inside = 0;
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(3);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      results[i] = pool.Run([&](MysqlConnection& c) {
        c.Execute("DO 1");
        absl::MutexLock lock(&mu);
        ++inside;
        mu.Await(absl::Condition(
            +[](int* n) { return *n >= 3; }, &inside));
        return absl::OkStatus();
      });
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(pool.OpenConnections(), 3);
  EXPECT_EQ(ours(), 3);
}

// Statements of many parameters (multi-row shapes) live only while the
// connection is leased; small ones stay cached on the connection.
TEST_F(MysqlStoreTest, LargeStatementsAreClosedWhenTheConnectionReturnsSmallOnesStayCached) {
  MysqlPool pool(database_->dsn(), PoolOptions{.max_connections = 1});
  const std::string small = absl::StrCat("SELECT 1 FROM DUAL WHERE 1 IN ",
                                         InList(MysqlConnection::kMaxCachedPlaceholders));
  const std::string large = absl::StrCat("SELECT 1 FROM DUAL WHERE 1 IN ",
                                         InList(MysqlConnection::kMaxCachedPlaceholders + 1));
  sql::PreparedStatement* small_statement = nullptr;
  ASSERT_TRUE(pool.Run([&](MysqlConnection& c) {
                    small_statement = c.Prepare(small);
                    sql::PreparedStatement* large_statement = c.Prepare(large);
                    EXPECT_EQ(c.Prepare(large), large_statement);  // reused within the lease
                    EXPECT_EQ(c.CachedStatements(), 1u);
                    EXPECT_EQ(c.TransientStatements(), 1u);
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(pool.Run([&](MysqlConnection& c) {  // the same (only) connection
                    EXPECT_EQ(c.TransientStatements(), 0u);
                    EXPECT_EQ(c.CachedStatements(), 1u);
                    EXPECT_EQ(c.Prepare(small), small_statement);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(pool.OpenConnections(), 1);
}

TEST(MysqlPoolTest, PrefillOfAnUnreachableDatabaseIsUnavailableAndLeavesNothingOpen) {
  const Dsn dsn = UnreachableDsn();
  MysqlPool pool(dsn, PoolOptions{.max_connections = 2, .connect_timeout = absl::Seconds(2)});
  EXPECT_THAT(pool.Prefill(2), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(pool.OpenConnections(), 0);
}

// The test database's DSN with `hosts` as its node list.
Dsn WithNodes(const Dsn& dsn, std::vector<DsnHost> hosts) {
  Dsn out = dsn;
  out.hosts = std::move(hosts);
  return out;
}

// Failover (mysql_pool.h): a first node that does not answer is passed over
// for the next, once, and the pool stays on the node that answered.
TEST_F(MysqlStoreTest, ADeadFirstNodeFailsOverToTheNextAndStaysThere) {
  const DsnHost live = database_->dsn().hosts.front();
  std::vector<std::string> moves;
  PoolOptions options{.max_connections = 2, .connect_timeout = absl::Seconds(2)};
  options.on_failover = [&](const DsnHost& from, const DsnHost& to) {
    moves.push_back(absl::StrCat(from.host, ":", from.port, " -> ", to.host, ":", to.port));
  };
  MysqlPool pool(WithNodes(database_->dsn(), {DsnHost{"127.0.0.1", 1}, live}), options);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.Run([](MysqlConnection& c) {
                      EXPECT_EQ(c.node(), 1u);
                      c.Execute("DO 1");
                      return absl::OkStatus();
                    })
                    .ok());
  }
  EXPECT_EQ(pool.Failovers(), 1);
  EXPECT_EQ(pool.CurrentNode().port, live.port);
  EXPECT_THAT(moves, ElementsAre(absl::StrCat("127.0.0.1:1 -> ", live.host, ":", live.port)));
}

// A connection lost on the current node makes the next node current; idle
// connections to the node left are closed, not leased. "127.1" is the same
// server under another address, so both nodes answer.
TEST_F(MysqlStoreTest, ALostConnectionMovesToTheNextNodeAndLeavesTheOldOnesIdle) {
  const DsnHost live = database_->dsn().hosts.front();
  ASSERT_EQ(live.host, "127.0.0.1");
  MysqlPool pool(WithNodes(database_->dsn(), {live, DsnHost{"127.1", live.port}}),
                 PoolOptions{.max_connections = 4});
  ASSERT_TRUE(pool.Prefill(3).ok());
  absl::Status killed = pool.Run([](MysqlConnection& c) {
    EXPECT_EQ(c.node(), 0u);
    c.Execute("KILL CONNECTION_ID()");
    return absl::OkStatus();
  });
  EXPECT_THAT(killed, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(pool.Failovers(), 1);
  EXPECT_EQ(pool.CurrentNode().host, "127.1");
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(pool.Run([](MysqlConnection& c) {
                      EXPECT_EQ(c.node(), 1u);
                      return absl::OkStatus();
                    })
                    .ok());
  }
  EXPECT_EQ(pool.OpenConnections(), 1) << "the idle connections to node 0 were not closed";
}

// A transaction whose connection is lost before COMMIT is sent is run again,
// on a new connection; its first attempt wrote nothing.
TEST_F(MysqlStoreTest, ATransactionLostBeforeCommitIsRunAgainOnANewConnection) {
  database_->Execute("CREATE TABLE failover_probe (id INT PRIMARY KEY)");
  MysqlPool pool(database_->dsn(), PoolOptions{.max_connections = 2});
  int attempts = 0;
  absl::Status status = pool.InTransaction([&](MysqlConnection& c) -> absl::Status {
    ++attempts;
    c.Execute("INSERT INTO failover_probe VALUES (1)");
    if (attempts == 1) c.Execute("KILL CONNECTION_ID()");
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(pool.Failovers(), 0) << "one node: nowhere to move";
  int64_t rows = -1;
  ASSERT_TRUE(pool.Run([&](MysqlConnection& c) {
                    std::unique_ptr<sql::ResultSet> r(
                        c.Prepare("SELECT COUNT(*) FROM failover_probe")->executeQuery());
                    r->next();
                    rows = r->getInt64(1);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(rows, 1);
}

// A connection that dies as COMMIT is sent (its node killed under it): the
// outcome is unknown, so the call is UNAVAILABLE and not run again; never OK.
// (Connector/C++ 1.1.12's commit() and setAutoCommit() report nothing here,
// and the pool once answered OK for a transaction that was rolled back.)
TEST_F(MysqlStoreTest, ATransactionLostAtCommitIsUnavailableNeverOk) {
  database_->Execute("CREATE TABLE commit_probe (id INT PRIMARY KEY)");
  MysqlPool pool(database_->dsn(), PoolOptions{.max_connections = 2});
  int attempts = 0;
  absl::Status status = pool.InTransaction([&](MysqlConnection& c) -> absl::Status {
    ++attempts;
    c.Execute("INSERT INTO commit_probe VALUES (1)");
    std::unique_ptr<sql::ResultSet> id(c.Prepare("SELECT CONNECTION_ID()")->executeQuery());
    id->next();
    // From another session: this one only learns of it at COMMIT.
    database_->Execute(absl::StrCat("KILL CONNECTION ", id->getInt64(1)));
    return absl::OkStatus();
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(attempts, 1) << "a COMMIT of unknown outcome must not be run again";
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM commit_probe"), 0);
}

// A lease that finds every connection leased waits for one, and the wait
// is reported once with its length; Stats() counts leased and idle ones.
TEST_F(MysqlStoreTest, AWaitForAConnectionIsReportedAndStatsCountLeasedAndIdle) {
  std::vector<absl::Duration> waits;
  absl::Mutex waits_mu;
  PoolOptions options{.max_connections = 1};
  options.on_wait = [&](absl::Duration waited) {
    absl::MutexLock lock(&waits_mu);
    waits.push_back(waited);
  };
  MysqlPool pool(database_->dsn(), options);
  ASSERT_TRUE(pool.Prefill(1).ok());
  EXPECT_EQ(pool.Stats().idle, 1);
  EXPECT_EQ(pool.Stats().in_use, 0);
  absl::Notification holding;
  absl::Notification release;
  std::thread holder([&] {
    EXPECT_TRUE(pool.Run([&](MysqlConnection&) {
                      holding.Notify();
                      release.WaitForNotification();
                      return absl::OkStatus();
                    })
                    .ok());
  });
  holding.WaitForNotification();
  EXPECT_EQ(pool.Stats().in_use, 1);
  EXPECT_EQ(pool.Stats().idle, 0);
  std::thread waiter(
      [&] { EXPECT_TRUE(pool.Run([](MysqlConnection&) { return absl::OkStatus(); }).ok()); });
  while (pool.Stats().waiting == 0) std::this_thread::yield();  // the waiter is in Acquire
  // The waiter is blocked until the holder lets go: nothing reported yet.
  {
    absl::MutexLock lock(&waits_mu);
    EXPECT_TRUE(waits.empty());
  }
  release.Notify();
  holder.join();
  waiter.join();
  absl::MutexLock lock(&waits_mu);
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_GT(waits[0], absl::ZeroDuration());
  EXPECT_EQ(pool.Stats().idle, 1);
  EXPECT_EQ(pool.Stats().waiting, 0);
}

CertificateRecord MakeCertificate(const std::string& serial, const std::string& name,
                                  int64_t not_after_us) {
  CertificateRecord c;
  c.serial = serial;
  c.kind = enlace::v1::CERTIFICATE_KIND_AGENCY;
  c.name = name;
  c.spiffe_id = absl::StrCat("spiffe://enlace/agency/", name);
  c.certificate_pem = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
  c.not_before_us = 1;
  c.not_after_us = not_after_us;
  c.issued_by = "spiffe://enlace/admin/ana";
  c.issued_at_us = 1;
  return c;
}

TEST_F(MysqlStoreTest, RegistryRecordsAgenciesAndCertificatesAndRevocations) {
  MysqlRegistryStore registry(&database_->pool());
  ASSERT_TRUE(registry.RegisterAgency("wfp", "World Food Programme", nullptr).ok());
  EXPECT_THAT(registry.RegisterAgency("wfp", "again", nullptr),
              StatusIs(absl::StatusCode::kAlreadyExists));
  absl::StatusOr<bool> exists = registry.AgencyExists("wfp");
  ASSERT_TRUE(exists.ok());
  EXPECT_TRUE(*exists);
  absl::StatusOr<std::vector<AgencyRecord>> agencies = registry.ListAgencies("", 100);
  ASSERT_TRUE(agencies.ok());
  EXPECT_THAT(*agencies, SizeIs(5));

  const int64_t now = 2000000000000000;
  ASSERT_TRUE(registry.AddCertificate(MakeCertificate("a1", "wfp", now + 10), nullptr).ok());
  ASSERT_TRUE(
      registry.AddCertificate(MakeCertificate("b2", "wfp", now - 10), nullptr).ok());  // expired
  ASSERT_TRUE(registry.AddCertificate(MakeCertificate("c3", "iom", now + 1000), nullptr).ok());
  EXPECT_THAT(registry.AddCertificate(MakeCertificate("a1", "wfp", 0), nullptr),
              StatusIs(absl::StatusCode::kAlreadyExists));

  CertificateQuery active;
  active.status = enlace::v1::CERTIFICATE_STATUS_ACTIVE;
  active.now_us = now;
  absl::StatusOr<std::vector<CertificateRecord>> listed = registry.ListCertificates(active);
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, SizeIs(2));
  CertificateQuery expiring;
  expiring.now_us = now;
  expiring.expiring_before_us = now + 100;
  listed = registry.ListCertificates(expiring);
  ASSERT_TRUE(listed.ok());
  ASSERT_THAT(*listed, SizeIs(1));
  EXPECT_EQ((*listed)[0].serial, "a1");

  absl::StatusOr<CertificateRecord> revoked =
      registry.RevokeCertificate("a1", "spiffe://enlace/admin/ana", "key lost", nullptr);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(revoked->revoked);
  EXPECT_THAT(registry.RevokeCertificate("a1", "x", "again", nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(registry.RevokeCertificate("zz", "x", "unknown", nullptr),
              StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<RevokedSerial>> all = registry.ListRevoked();
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(*all, SizeIs(1));
  EXPECT_EQ((*all)[0].serial, "a1");
  absl::StatusOr<CertificateRecord> stored = registry.GetCertificate("a1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->revocation_reason, "key lost");
  EXPECT_EQ(stored->revoked_by, "spiffe://enlace/admin/ana");
}

TEST(MysqlPoolTest, UnreachableDatabaseIsUnavailable) {
  const Dsn dsn = UnreachableDsn();
  MysqlPool pool(dsn, PoolOptions{.max_connections = 1, .connect_timeout = absl::Seconds(2)});
  MysqlRegistryStore store(&pool);
  EXPECT_THAT(store.ListAgencies("", 100), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace enlace::db
