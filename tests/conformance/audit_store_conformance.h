// The conformance suite of db::AuditStore (db/audit_store.h): what every
// implementation promises, run against each of them by a factory. The fake
// (tests/testing/fakes/fake_audit_store.h) is held to exactly what the MySQL
// store does, so unit tests built on the fake test the code above the store
// against the behaviour it will meet in production.
//
// An implementation joins with one file that includes this header and
// instantiates the suite with its factory:
//
//   INSTANTIATE_TEST_SUITE_P(Fake, AuditStoreConformanceTest,
//                            ::testing::Values(AuditStoreImpl{"fake", [] { ... }}),
//                            AuditStoreImplName);
//
// (audit_store_fake_test.cc, unit; audit_store_mysql_test.cc, db).
#ifndef ENLACE_TESTS_CONFORMANCE_AUDIT_STORE_CONFORMANCE_H_
#define ENLACE_TESTS_CONFORMANCE_AUDIT_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/audit_chain.h"
#include "db/audit_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enlace::conformance {

// One audit store under test, and the tampering only its owner can do
// (an administrator's direct access: SQL for MySQL, the fake's own hooks).
class AuditStoreUnderTest {
 public:
  virtual ~AuditStoreUnderTest() = default;
  virtual db::AuditStore* store() = 0;
  // Changes the principal of stored event `seq`, leaving its hashes.
  virtual void ChangePrincipal(int64_t seq, const std::string& principal) = 0;
  // Removes stored event `seq`.
  virtual void DeleteEvent(int64_t seq) = 0;
};

struct AuditStoreImpl {
  std::string name;
  std::function<std::unique_ptr<AuditStoreUnderTest>()> make;
};

// Names the parameter in test output (the implementation's name).
inline void PrintTo(const AuditStoreImpl& impl, std::ostream* os) { *os << impl.name; }

inline std::string AuditStoreImplName(const ::testing::TestParamInfo<AuditStoreImpl>& info) {
  return info.param.name;
}

class AuditStoreConformanceTest : public ::testing::TestWithParam<AuditStoreImpl> {
 protected:
  void SetUp() override { under_test_ = GetParam().make(); }
  db::AuditStore& store() { return *under_test_->store(); }

  static db::AuditRecord Event(const std::string& principal, const std::string& method,
                               std::vector<std::string> ids = {}, int64_t at_us = 1800000000000000,
                               int decision = 1) {
    db::AuditRecord r;
    r.at_us = at_us;
    r.principal = principal;
    r.method = method;
    r.decision = decision;
    r.status_code = 0;
    r.record_ids = std::move(ids);
    r.detail = "d";
    r.peer = "ipv4:127.0.0.1:5000";
    return r;
  }
  void AppendOk(std::vector<db::AuditRecord> records) {
    absl::Status s = store().Append(&records);
    ASSERT_TRUE(s.ok()) << s;
  }
  // n events of iom reading case c<i>.
  void AppendReads(int n) {
    std::vector<db::AuditRecord> records;
    for (int i = 0; i < n; ++i) {
      records.push_back(Event(kIom, kGetCase, {absl::StrCat("c", i)}));
    }
    AppendOk(records);
  }
  std::vector<db::AuditRecord> All() {
    db::AuditQuery query;
    query.limit = 10000;
    absl::StatusOr<db::AuditPage> page = store().List(query);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->records : std::vector<db::AuditRecord>{};
  }
  std::vector<int64_t> Seqs(const absl::StatusOr<db::AuditPage>& page) {
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<int64_t> seqs;
    if (page.ok()) {
      for (const db::AuditRecord& r : page->records) seqs.push_back(r.seq);
    }
    return seqs;
  }
  std::vector<int64_t> Seqs(const absl::StatusOr<std::vector<db::AuditRecord>>& records) {
    EXPECT_TRUE(records.ok()) << records.status();
    std::vector<int64_t> seqs;
    if (records.ok()) {
      for (const db::AuditRecord& r : *records) seqs.push_back(r.seq);
    }
    return seqs;
  }
  db::ChainReport Verify() {
    absl::StatusOr<db::ChainReport> report = store().Verify();
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : db::ChainReport{false, -1, -1};
  }

  static constexpr char kIom[] = "spiffe://enlace/agency/iom";
  static constexpr char kUndp[] = "spiffe://enlace/agency/undp";
  static constexpr char kGetCase[] = "/enlace.v1.CaseService/GetCase";
  static constexpr char kUpdateCase[] = "/enlace.v1.CaseService/UpdateCase";
  static constexpr char kRecordArrivals[] = "/enlace.v1.ArrivalService/RecordArrivals";
  static constexpr char kRecordArrival[] = "/enlace.v1.ArrivalService/RecordArrival";

  std::unique_ptr<AuditStoreUnderTest> under_test_;
};

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST_P(AuditStoreConformanceTest, AnEmptyChainIsIntactAndListsNothing) {
  std::vector<db::AuditRecord> none;
  EXPECT_TRUE(store().Append(&none).ok());
  EXPECT_THAT(All(), IsEmpty());
  db::ChainReport report = Verify();
  EXPECT_TRUE(report.intact);
  EXPECT_EQ(report.checked, 0);
  EXPECT_EQ(report.first_broken_sequence, 0);
}

TEST_P(AuditStoreConformanceTest, AppendAssignsGapFreeSequencesAndChainsTheHashes) {
  std::vector<db::AuditRecord> first = {Event(kIom, kGetCase, {"c1"}), Event(kUndp, kGetCase)};
  ASSERT_TRUE(store().Append(&first).ok());
  std::vector<db::AuditRecord> second = {Event(kIom, kUpdateCase, {"c1"})};
  ASSERT_TRUE(store().Append(&second).ok());
  // The caller's records now carry what was assigned.
  EXPECT_EQ(first[0].seq, 1);
  EXPECT_EQ(first[1].seq, 2);
  EXPECT_EQ(second[0].seq, 3);
  EXPECT_EQ(first[0].prev_hash, db::GenesisHash());
  EXPECT_EQ(first[1].prev_hash, first[0].hash);
  EXPECT_EQ(second[0].prev_hash, first[1].hash);
  EXPECT_EQ(second[0].hash, db::ChainHash(first[1].hash, second[0]));
  std::vector<db::AuditRecord> all = All();
  ASSERT_THAT(all, SizeIs(3));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(all[i].seq, i + 1);
  EXPECT_EQ(all[2].hash, second[0].hash);
  db::ChainReport report = Verify();
  EXPECT_TRUE(report.intact);
  EXPECT_EQ(report.checked, 3);
}

TEST_P(AuditStoreConformanceTest, EveryFieldIsStoredAsAppended) {
  db::AuditRecord event = Event(kUndp, kUpdateCase, {"case-1", "arrival-2"}, 1800000000123456, 2);
  event.status_code = 7;
  event.detail = "consent_version=3 (ñ)";
  event.peer = "ipv6:[::1]:41000";
  event.actor = "undp-0042";
  AppendOk({event});
  std::vector<db::AuditRecord> all = All();
  ASSERT_THAT(all, SizeIs(1));
  const db::AuditRecord& stored = all[0];
  EXPECT_EQ(stored.at_us, 1800000000123456);
  EXPECT_EQ(stored.principal, kUndp);
  EXPECT_EQ(stored.method, kUpdateCase);
  EXPECT_EQ(stored.decision, 2);
  EXPECT_EQ(stored.status_code, 7);
  EXPECT_THAT(stored.record_ids, ElementsAre("case-1", "arrival-2"));
  EXPECT_EQ(stored.detail, "consent_version=3 (ñ)");
  EXPECT_EQ(stored.peer, "ipv6:[::1]:41000");
  EXPECT_EQ(stored.actor, "undp-0042");
  EXPECT_EQ(stored.prev_hash, db::GenesisHash());
  EXPECT_EQ(stored.hash, db::ChainHash(db::GenesisHash(), stored));
}

TEST_P(AuditStoreConformanceTest, ListFiltersByPrincipalMethodDecisionAndTime) {
  AppendOk({Event(kIom, kGetCase, {}, 1000),  // 1
            Event(kUndp, kGetCase, {}, 2000),  // 2
            Event(kIom, kUpdateCase, {}, 3000),  // 3
            Event(kIom, kGetCase, {}, 4000, /*deny=*/2),  // 4
            Event(kUndp, kUpdateCase, {}, 5000, 2)});  // 5
  db::AuditQuery query;
  query.principal = kIom;
  EXPECT_THAT(Seqs(store().List(query)), ElementsAre(1, 3, 4));
  query = {};
  query.method = kUpdateCase;
  EXPECT_THAT(Seqs(store().List(query)), ElementsAre(3, 5));
  query = {};
  query.decision = 2;
  EXPECT_THAT(Seqs(store().List(query)), ElementsAre(4, 5));
  query = {};
  query.from_us = 2000;  // inclusive
  query.to_us = 4000;  // exclusive
  EXPECT_THAT(Seqs(store().List(query)), ElementsAre(2, 3));
  query = {};
  query.principal = kIom;
  query.method = kGetCase;
  query.decision = 1;
  EXPECT_THAT(Seqs(store().List(query)), ElementsAre(1));
  query.principal = "spiffe://enlace/agency/nobody";
  EXPECT_THAT(Seqs(store().List(query)), IsEmpty());
}

TEST_P(AuditStoreConformanceTest, ListFiltersByActor) {
  db::AuditRecord named = Event(kIom, kGetCase, {}, 1000);
  named.actor = "iom-0042";
  db::AuditRecord other = named;
  other.actor = "iom-0043";
  db::AuditRecord none = Event(kIom, kGetCase, {}, 3000);
  db::AuditRecord undp = Event(kUndp, kUpdateCase, {}, 4000);
  undp.actor = "iom-0042";  // actors are the agency's: another agency may reuse one
  AppendOk({named, other, none, named, undp});
  db::AuditQuery query;
  query.actor = "iom-0042";
  EXPECT_THAT(Seqs(store().List(query)), ElementsAre(1, 4, 5));
  query.principal = kIom;
  EXPECT_THAT(Seqs(store().List(query)), ElementsAre(1, 4));
  query.principal.clear();
  query.actor = "iom-0099";
  EXPECT_THAT(Seqs(store().List(query)), IsEmpty());
}

TEST_P(AuditStoreConformanceTest, ListPagesByKeysetAndTellsWhenMoreExist) {
  AppendReads(7);
  db::AuditQuery query;
  query.limit = 3;
  absl::StatusOr<db::AuditPage> page = store().List(query);
  EXPECT_THAT(Seqs(page), ElementsAre(1, 2, 3));
  EXPECT_TRUE(page->more);
  query.after_seq = 3;
  page = store().List(query);
  EXPECT_THAT(Seqs(page), ElementsAre(4, 5, 6));
  EXPECT_TRUE(page->more);
  query.after_seq = 6;
  page = store().List(query);
  EXPECT_THAT(Seqs(page), ElementsAre(7));
  EXPECT_FALSE(page->more);
  // Exactly a page left: no more.
  query.after_seq = 4;
  page = store().List(query);
  EXPECT_THAT(Seqs(page), ElementsAre(5, 6, 7));
  EXPECT_FALSE(page->more);
}

TEST_P(AuditStoreConformanceTest, ListForRecordGivesTheEventsNamingItInOrder) {
  AppendOk({Event(kIom, kGetCase, {"case-a"}),  // 1
            Event(kIom, kGetCase, {"case-b"}),  // 2
            Event(kUndp, kUpdateCase, {"case-b", "case-a"}),  // 3
            Event(kIom, kGetCase, {"case-a"}),  // 4
            Event(kIom, kGetCase, {"case-a-2"})});  // 5: another id, a prefix alike
  EXPECT_THAT(Seqs(store().ListForRecord("case-a", 0, 100)), ElementsAre(1, 3, 4));
  EXPECT_THAT(Seqs(store().ListForRecord("case-b", 0, 100)), ElementsAre(2, 3));
  // After a position, and at most `limit`.
  EXPECT_THAT(Seqs(store().ListForRecord("case-a", 1, 100)), ElementsAre(3, 4));
  EXPECT_THAT(Seqs(store().ListForRecord("case-a", 0, 2)), ElementsAre(1, 3));
  EXPECT_THAT(Seqs(store().ListForRecord("nothing", 0, 100)), IsEmpty());
}

TEST_P(AuditStoreConformanceTest, ListForRecordGivesAnEventOnceWhenItNamesTheRecordTwice) {
  AppendOk({Event(kIom, kGetCase, {"case-a", "case-a"})});
  EXPECT_THAT(Seqs(store().ListForRecord("case-a", 0, 100)), ElementsAre(1));
  std::vector<db::AuditRecord> all = All();
  ASSERT_THAT(all, SizeIs(1));
  EXPECT_THAT(all[0].record_ids, ElementsAre("case-a", "case-a"));  // as appended
}

// Ingest events name the arrivals their call recorded; the access log is a
// record's history of reads and changes, and leaves them out (they are in
// List and in the chain).
TEST_P(AuditStoreConformanceTest, ListForRecordLeavesOutIngestEvents) {
  AppendOk({Event(kIom, kRecordArrivals, {"arrival-1"}), Event(kIom, kRecordArrival, {"arrival-1"}),
            Event(kIom, "/enlace.v1.ArrivalService/GetArrival", {"arrival-1"})});
  EXPECT_THAT(Seqs(store().ListForRecord("arrival-1", 0, 100)), ElementsAre(3));
  std::vector<db::AuditRecord> all = All();
  ASSERT_THAT(all, SizeIs(3));
  EXPECT_THAT(all[0].record_ids, ElementsAre("arrival-1"));
  EXPECT_TRUE(Verify().intact);
}

TEST_P(AuditStoreConformanceTest, VerifyNamesAChangedEvent) {
  AppendReads(6);
  EXPECT_TRUE(Verify().intact);
  under_test_->ChangePrincipal(4, kUndp);
  db::ChainReport report = Verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_broken_sequence, 4);
}

TEST_P(AuditStoreConformanceTest, VerifyNamesADeletedMiddleEvent) {
  AppendReads(6);
  under_test_->DeleteEvent(3);
  db::ChainReport report = Verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_broken_sequence, 3);
}

// Events deleted at the end leave a chain that is intact in itself: the
// head kept beside it tells.
TEST_P(AuditStoreConformanceTest, VerifyNamesTheLastEventDeleted) {
  AppendReads(5);
  under_test_->DeleteEvent(5);
  db::ChainReport report = Verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_broken_sequence, 5);
}

TEST_P(AuditStoreConformanceTest, ConcurrentAppendsFormOneGapFreeChain) {
  constexpr int kThreads = 4;
  constexpr int kAppends = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kAppends; ++i) {
        std::vector<db::AuditRecord> records = {
            Event(kIom, kGetCase, {absl::StrCat("t", t, "-", i)}),
            Event(kIom, kGetCase, {absl::StrCat("t", t, "-", i, "b")})};
        absl::Status s = store().Append(&records);
        EXPECT_TRUE(s.ok()) << s;
        // One append's records are consecutive.
        EXPECT_EQ(records[1].seq, records[0].seq + 1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<db::AuditRecord> all = All();
  ASSERT_THAT(all, SizeIs(kThreads * kAppends * 2));
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].seq, static_cast<int64_t>(i) + 1);
  db::ChainReport report = Verify();
  EXPECT_TRUE(report.intact);
  EXPECT_EQ(report.checked, kThreads * kAppends * 2);
}

}  // namespace enlace::conformance

#endif  // ENLACE_TESTS_CONFORMANCE_AUDIT_STORE_CONFORMANCE_H_
