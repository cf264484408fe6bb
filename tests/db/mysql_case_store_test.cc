// MysqlCaseStore's own tests against a real MariaDB, beyond the CaseStore
// conformance suite (tests/conformance/case_store_conformance.h) that it
// shares with the fake: what only the database shows. The audit event is
// written in the change's transaction (its row and its record index, or
// neither and none of the change's rows, grid counts included); concurrent
// changes of one case and of one referral from many connections lose
// nothing and tell one story in the feed; a consent change racing an
// acceptance; the feed gap-free under concurrent writers; the union query
// behind ListCases paging in case order whatever order the referrals came in.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_case_store.h"
#include "db/mysql_report_grid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/case_requests.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::testing::StatusIs;
using ::enlace::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::SizeIs;

constexpr const char* kGridTables[] = {"report_returnee_cells", "report_case_cells",
                                       "report_referral_cells", "report_service_cells",
                                       "report_initiative_cells"};

class MysqlCaseStoreTest : public ::testing::Test {
 protected:
  std::string AddArrival(std::vector<std::string> agencies) {
    NewArrival item;
    enlace::v1::Arrival& a = item.arrival;
    a.set_external_id(absl::StrCat("ext-", ++arrivals_count_));
    a.set_arrival_date("2018-01-15");
    a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
    a.set_origin_country("US");
    a.mutable_person()->set_given_name("Ana");
    a.mutable_person()->set_family_name("Peña");
    a.mutable_person()->set_birth_date("1990-03-02");
    a.mutable_person()->set_sex(enlace::v1::SEX_FEMALE);
    a.mutable_destination()->set_department_code("SV-SS");
    a.mutable_destination()->set_municipality("Guazapa");
    a.add_needs(enlace::v1::NEED_TRAINING);
    *a.mutable_consent() = Consent(std::move(agencies));
    item.submitted_by = "mfa";
    absl::StatusOr<std::vector<RecordResult>> results = arrivals_.RecordBatch({&item, 1});
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? (*results)[0].arrival_id : "";
  }
  static enlace::v1::Consent Consent(std::vector<std::string> agencies) {
    enlace::v1::Consent consent;
    for (const std::string& agency : agencies) consent.add_agencies(agency);
    consent.add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
    return consent;
  }
  std::string Open(const std::string& arrival_id, const std::string& agency) {
    absl::StatusOr<enlace::v1::Case> c = cases_.OpenCase(arrival_id, "0", Viewer{agency}, nullptr);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->case_id() : "";
  }
  std::string Refer(const std::string& case_id, const std::string& from, const std::string& to) {
    absl::StatusOr<enlace::v1::Referral> r =
        cases_.CreateReferral(case_id, to, enlace::v1::NEED_TRAINING, "", Viewer{from}, nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->referral_id() : "";
  }
  static AuditRecord Event(const std::string& method, std::vector<std::string> ids = {}) {
    AuditRecord r;
    r.at_us = 1800000000000000;
    r.principal = "spiffe://enlace/agency/iom";
    r.method = method;
    r.decision = 1;
    r.record_ids = std::move(ids);
    r.peer = "ipv4:127.0.0.1:5000";
    return r;
  }
  std::vector<FeedEvent> Feed(const std::string& agency = "") {
    absl::StatusOr<std::vector<FeedEvent>> events = cases_.ReadFeed(0, 0, agency, 100000);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<FeedEvent>{};
  }
  // Every grid cell with records, one line each, sorted.
  std::vector<std::string> Cells() {
    std::vector<std::string> lines;
    absl::Status status = database_->pool().Run([&](MysqlConnection& c) {
      for (const char* table : kGridTables) {
        std::unique_ptr<sql::ResultSet> rows(
            c.Prepare(absl::StrCat("SELECT * FROM ", table, " WHERE records <> 0"))
                ->executeQuery());
        int columns = static_cast<int>(rows->getMetaData()->getColumnCount());
        while (rows->next()) {
          std::string line = table;
          for (int k = 1; k <= columns; ++k)
            absl::StrAppend(&line, " ", std::string(rows->getString(k)));
          lines.push_back(std::move(line));
        }
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    std::sort(lines.begin(), lines.end());
    return lines;
  }
  // The grid as a recount from the records makes it.
  void ExpectGridEqualsARecount() {
    std::vector<std::string> kept = Cells();
    ASSERT_TRUE(RecountReportGrid(database_->pool()).ok());
    EXPECT_EQ(Cells(), kept);
  }
  // How many rows each table the case store writes holds, and the feed head.
  std::string RowCounts() {
    std::string out;
    for (const char* table : {"cases", "case_services", "initiatives", "referrals",
                              "referral_events", "audit_events", "audit_event_records"}) {
      absl::StrAppend(&out, table, "=",
                      database_->QueryInt(absl::StrCat("SELECT COUNT(*) FROM ", table)), " ");
    }
    absl::StrAppend(&out, "head=", database_->QueryInt("SELECT last_seq FROM referral_feed_head"));
    absl::StrAppend(
        &out, " versions=", database_->QueryInt("SELECT COALESCE(SUM(version), 0) FROM cases"), "/",
        database_->QueryInt("SELECT COALESCE(SUM(version), 0) FROM referrals"));
    return out;
  }

  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlArrivalStore arrivals_{&database_->pool()};
  MysqlAuditStore audit_{&database_->pool()};
  MysqlCaseStore cases_{&database_->pool()};
  int arrivals_count_ = 0;
};

TEST_F(MysqlCaseStoreTest, AChangeCommitsWithItsAuditEventAndItsRecordIndex) {
  std::string arrival = AddArrival({"iom", "unhcr"});
  AuditRecord open = Event("/enlace.v1.CaseService/OpenCase", {arrival});
  absl::StatusOr<enlace::v1::Case> c = cases_.OpenCase(arrival, "s", Viewer{"iom"}, &open);
  ASSERT_TRUE(c.ok()) << c.status();
  AuditRecord refer = Event("/enlace.v1.ReferralService/CreateReferral", {c->case_id()});
  absl::StatusOr<enlace::v1::Referral> r = cases_.CreateReferral(
      c->case_id(), "unhcr", enlace::v1::NEED_TRAINING, "", Viewer{"iom"}, &refer);
  ASSERT_TRUE(r.ok()) << r.status();
  // Each event's row, with the hashes the chain gave it, and one index row
  // per record it names: the case's access log finds both.
  EXPECT_EQ(
      database_->QueryInt(absl::StrCat("SELECT COUNT(*) FROM audit_events WHERE seq = ", open.seq,
                                       " AND method = '/enlace.v1.CaseService/OpenCase'")),
      1);
  EXPECT_EQ(database_->QueryInt(absl::StrCat(
                "SELECT COUNT(*) FROM audit_event_records WHERE audit_seq = ", open.seq)),
            2);
  EXPECT_EQ(database_->QueryInt(absl::StrCat(
                "SELECT COUNT(*) FROM audit_event_records WHERE audit_seq = ", refer.seq)),
            2);
  EXPECT_THAT(open.hash, SizeIs(32));
  EXPECT_EQ(refer.prev_hash, open.hash);
  absl::StatusOr<std::vector<AuditRecord>> log = audit_.ListForRecord(c->case_id(), 0, 10);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_THAT(*log, SizeIs(2));
  EXPECT_EQ((*log)[0].seq, open.seq);
  EXPECT_EQ((*log)[1].seq, refer.seq);
  log = audit_.ListForRecord(r->referral_id(), 0, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_THAT(*log, SizeIs(1));
  EXPECT_EQ((*log)[0].seq, refer.seq);
  absl::StatusOr<ChainReport> chain = audit_.Verify();
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(chain->intact);
  EXPECT_EQ(chain->checked, 2);
}

TEST_F(MysqlCaseStoreTest, AChangeWhoseEventCannotBeWrittenRollsBackEveryRowItWrote) {
  std::string arrival = AddArrival({"iom", "unhcr", "undp"});
  std::string other = AddArrival({"iom", "unhcr"});
  std::string case_id = Open(arrival, "iom");
  std::string pending = Refer(case_id, "iom", "unhcr");
  std::string accepted = Refer(case_id, "iom", "undp");
  ASSERT_TRUE(cases_
                  .TransitionReferral({accepted, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", ""},
                                      Viewer{"undp"}, nullptr)
                  .ok());
  const std::string counts = RowCounts();
  const std::vector<std::string> cells = Cells();
  // The chain head's table gone: the event is the change's last statement,
  // after its rows, its feed event and its grid counts.
  database_->Execute("RENAME TABLE audit_chain_head TO audit_chain_head_gone");
  auto changes = [&](bool expect_ok) {
    auto check = [&](const absl::Status& s, const char* what) {
      if (expect_ok) {
        EXPECT_TRUE(s.ok()) << what << ": " << s;
      } else {
        EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal)) << what;
      }
    };
    AuditRecord e = Event("m");
    check(cases_.OpenCase(other, "s", Viewer{"iom"}, &e).status(), "OpenCase");
    enlace::v1::Case update;
    update.set_case_id(case_id);
    update.set_status(enlace::v1::CASE_STATUS_CLOSED);
    e = Event("m");
    check(cases_.UpdateCase(update, "v1", Viewer{"iom"}, &e).status(), "UpdateCase");
    e = Event("m");
    check(cases_
              .RecordService(::enlace::testing::ServiceRequest(case_id, enlace::v1::NEED_TRAINING,
                                                               "2024-03-01", "n"),
                             Viewer{"undp"}, &e)
              .status(),
          "RecordService");
    e = Event("m");
    check(
        cases_
            .RegisterInitiative(::enlace::testing::InitiativeRequest(case_id, "Bakery", "food", ""),
                                Viewer{"iom"}, &e)
            .status(),
        "RegisterInitiative");
    e = Event("m");
    check(cases_.CreateReferral(case_id, "undp", enlace::v1::NEED_HEALTH, "", Viewer{"iom"}, &e)
              .status(),
          "CreateReferral");
    e = Event("m");
    check(cases_
              .TransitionReferral({pending, enlace::v1::REFERRAL_STATUS_DECLINED, "no", ""},
                                  Viewer{"unhcr"}, &e)
              .status(),
          "Decline");
    e = Event("m");
    check(cases_
              .TransitionReferral({accepted, enlace::v1::REFERRAL_STATUS_COMPLETED, "ok", ""},
                                  Viewer{"undp"}, &e)
              .status(),
          "Complete");
  };
  changes(/*expect_ok=*/false);
  database_->Execute("RENAME TABLE audit_chain_head_gone TO audit_chain_head");
  EXPECT_EQ(RowCounts(), counts);
  EXPECT_EQ(Cells(), cells);
  // Nothing half-done blocks the same changes now, and the chain has no gap.
  changes(/*expect_ok=*/true);
  EXPECT_NE(RowCounts(), counts);
  absl::StatusOr<ChainReport> chain = audit_.Verify();
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(chain->intact);
  EXPECT_EQ(chain->checked, 7);
  ExpectGridEqualsARecount();
}

TEST_F(MysqlCaseStoreTest, ConcurrentUpdatesOfOneCaseLoseNoUpdate) {
  // Each writer reads the case, adds one to the number in its summary and
  // writes it back with the etag it read, again on ABORTED: with the etag
  // check under the row lock no increment is lost.
  std::string case_id = Open(AddArrival({"iom"}), "iom");
  constexpr int kWriters = 6, kEach = 5;
  std::atomic<int> other_errors{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      for (int done = 0; done < kEach;) {
        absl::StatusOr<enlace::v1::Case> read = cases_.GetCase(case_id, Viewer{"iom"});
        if (!read.ok()) {
          ++other_errors;
          return;
        }
        int n = 0;
        if (!absl::SimpleAtoi(read->summary(), &n)) {
          ++other_errors;
          return;
        }
        enlace::v1::Case update = *read;
        update.set_summary(absl::StrCat(n + 1));
        AuditRecord event = Event("/enlace.v1.CaseService/UpdateCase", {case_id});
        absl::StatusOr<enlace::v1::Case> written =
            cases_.UpdateCase(update, read->etag(), Viewer{"iom"}, &event);
        if (written.ok()) {
          ++done;
        } else if (!absl::IsAborted(written.status())) {
          ++other_errors;
          return;
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(other_errors.load(), 0);
  absl::StatusOr<enlace::v1::Case> final_case = cases_.GetCase(case_id, Viewer{"iom"});
  ASSERT_TRUE(final_case.ok());
  EXPECT_EQ(final_case->summary(), absl::StrCat(kWriters * kEach));
  EXPECT_EQ(final_case->etag(), absl::StrCat("v", 1 + kWriters * kEach));
  // One event per update that was made, none for those refused.
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM audit_events"), kWriters * kEach);
}

TEST_F(MysqlCaseStoreTest, BothPartiesMovingOneReferralAtOnceTellOneStory) {
  // The receiver accepts, declines and completes while the sender withdraws,
  // unconditionally, from several connections: whatever wins, the feed's
  // events of the referral are a valid path of its lifecycle, one per
  // successful call, with versions v2, v3, ... and the last one is what the
  // referral is.
  std::string case_id = Open(AddArrival({"iom", "unhcr"}), "iom");
  for (int round = 0; round < 5; ++round) {
    std::string referral = Refer(case_id, "iom", "unhcr");
    const int64_t head = *cases_.FeedHead();
    std::atomic<int> succeeded{0}, other_errors{0};
    absl::Barrier* start = new absl::Barrier(8);
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&, i] {
        static constexpr enlace::v1::ReferralStatus kTo[] = {
            enlace::v1::REFERRAL_STATUS_ACCEPTED, enlace::v1::REFERRAL_STATUS_WITHDRAWN,
            enlace::v1::REFERRAL_STATUS_COMPLETED, enlace::v1::REFERRAL_STATUS_DECLINED};
        enlace::v1::ReferralStatus to = kTo[i % 4];
        Viewer who{to == enlace::v1::REFERRAL_STATUS_WITHDRAWN ? "iom" : "unhcr"};
        if (start->Block()) delete start;
        absl::StatusOr<enlace::v1::Referral> moved =
            cases_.TransitionReferral({referral, to, "t", ""}, who, nullptr);
        if (moved.ok()) {
          ++succeeded;
        } else if (!absl::IsFailedPrecondition(moved.status())) {
          ++other_errors;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(other_errors.load(), 0);
    std::vector<enlace::v1::Referral> story;
    for (const FeedEvent& e : Feed()) {
      if (e.seq > head && e.referral.referral_id() == referral) story.push_back(e.referral);
    }
    ASSERT_EQ(static_cast<int>(story.size()), succeeded.load());
    ASSERT_GE(story.size(), 1u);
    enlace::v1::ReferralStatus from = enlace::v1::REFERRAL_STATUS_PENDING;
    for (size_t k = 0; k < story.size(); ++k) {
      EXPECT_EQ(story[k].etag(), absl::StrCat("v", k + 2));
      enlace::v1::ReferralStatus to = story[k].status();
      bool allowed = (from == enlace::v1::REFERRAL_STATUS_PENDING &&
                      to != enlace::v1::REFERRAL_STATUS_COMPLETED) ||
                     (from == enlace::v1::REFERRAL_STATUS_ACCEPTED &&
                      (to == enlace::v1::REFERRAL_STATUS_COMPLETED ||
                       to == enlace::v1::REFERRAL_STATUS_WITHDRAWN));
      EXPECT_TRUE(allowed) << from << " -> " << to;
      from = to;
    }
    absl::StatusOr<enlace::v1::Referral> now = cases_.GetReferral(referral, Viewer{"iom"});
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(now->status(), story.back().status());
    EXPECT_EQ(now->etag(), story.back().etag());
  }
  ExpectGridEqualsARecount();
}

TEST_F(MysqlCaseStoreTest, AConsentChangeRacingAnAcceptanceLeavesOneConsistentOutcome) {
  // The receiver accepts while the submitter's consent change drops it.
  // Either the acceptance commits first (the referral stays ACCEPTED: only
  // PENDING ones are withdrawn), or the change does (the referral is
  // WITHDRAWN and the receiver no longer sees it: NOT_FOUND). Never both,
  // never neither.
  constexpr int kRounds = 60;
  int accepted_first = 0, withdrawn_first = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::string arrival = AddArrival({"iom", "unhcr"});
    std::string case_id = Open(arrival, "iom");
    std::string referral = Refer(case_id, "iom", "unhcr");
    absl::Barrier* start = new absl::Barrier(2);
    absl::Status accept, change;
    std::thread receiver([&] {
      if (start->Block()) delete start;
      accept = cases_
                   .TransitionReferral({referral, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", ""},
                                       Viewer{"unhcr"}, nullptr)
                   .status();
    });
    std::thread submitter([&] {
      if (start->Block()) delete start;
      change = arrivals_.UpdateConsent(arrival, Consent({"iom"}), Viewer{"mfa"}, nullptr).status();
    });
    receiver.join();
    submitter.join();
    ASSERT_TRUE(change.ok()) << change;
    absl::StatusOr<enlace::v1::Referral> now = cases_.GetReferral(referral, Viewer{"iom"});
    ASSERT_TRUE(now.ok()) << now.status();
    std::vector<enlace::v1::ReferralEventType> types;
    for (const FeedEvent& e : Feed()) {
      if (e.referral.referral_id() == referral) types.push_back(e.type);
    }
    if (accept.ok()) {
      ++accepted_first;
      EXPECT_EQ(now->status(), enlace::v1::REFERRAL_STATUS_ACCEPTED);
      EXPECT_THAT(types, ElementsAre(enlace::v1::REFERRAL_EVENT_TYPE_CREATED,
                                     enlace::v1::REFERRAL_EVENT_TYPE_ACCEPTED));
    } else {
      ++withdrawn_first;
      EXPECT_THAT(accept, StatusIs(absl::StatusCode::kNotFound));
      EXPECT_EQ(now->status(), enlace::v1::REFERRAL_STATUS_WITHDRAWN);
      EXPECT_THAT(types, ElementsAre(enlace::v1::REFERRAL_EVENT_TYPE_CREATED,
                                     enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN));
    }
    EXPECT_EQ(now->etag(), "v2");
  }
  EXPECT_EQ(accepted_first + withdrawn_first, kRounds);
  ExpectGridEqualsARecount();
}

TEST_F(MysqlCaseStoreTest, ConcurrentWritersKeepTheFeedGapFreeAndEachReferralInOrder) {
  constexpr int kWriters = 4, kEach = 6;
  std::vector<std::string> case_ids;
  for (int w = 0; w < kWriters; ++w) case_ids.push_back(Open(AddArrival({"iom", "undp"}), "iom"));
  std::atomic<int> errors{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        absl::StatusOr<enlace::v1::Referral> r = cases_.CreateReferral(
            case_ids[w], "undp", enlace::v1::NEED_TRAINING, "", Viewer{"iom"}, nullptr);
        if (!r.ok()) {
          ++errors;
          continue;
        }
        if (!cases_
                 .TransitionReferral(
                     {r->referral_id(), enlace::v1::REFERRAL_STATUS_ACCEPTED, "", r->etag()},
                     Viewer{"undp"}, nullptr)
                 .ok()) {
          ++errors;
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(errors.load(), 0);
  std::vector<FeedEvent> feed = Feed();
  ASSERT_THAT(feed, SizeIs(2 * kWriters * kEach));
  EXPECT_EQ(*cases_.FeedHead(), 2 * kWriters * kEach);
  std::map<std::string, std::vector<enlace::v1::ReferralEventType>> by_referral;
  for (size_t k = 0; k < feed.size(); ++k) {
    EXPECT_EQ(feed[k].seq, static_cast<int64_t>(k + 1));
    by_referral[feed[k].referral.referral_id()].push_back(feed[k].type);
  }
  ASSERT_THAT(by_referral, SizeIs(kWriters * kEach));
  for (const auto& [id, types] : by_referral) {
    EXPECT_THAT(types, ElementsAre(enlace::v1::REFERRAL_EVENT_TYPE_CREATED,
                                   enlace::v1::REFERRAL_EVENT_TYPE_ACCEPTED))
        << id;
  }
  // The receiver's feed is the same events.
  EXPECT_THAT(Feed("undp"), SizeIs(2 * kWriters * kEach));
  ExpectGridEqualsARecount();
}

TEST_F(MysqlCaseStoreTest, ReferredCasesPageInCaseOrderWhateverOrderTheReferralsCameIn) {
  // ListCases merges the viewer's own cases with those referred to it (one
  // index each) by case seq: referrals made in another order, several to
  // one case, and dead ones, change neither the order nor the pages.
  std::vector<std::string> unhcr_cases, iom_cases;
  for (int i = 0; i < 3; ++i) unhcr_cases.push_back(Open(AddArrival({"iom", "unhcr"}), "unhcr"));
  for (int i = 0; i < 2; ++i) iom_cases.push_back(Open(AddArrival({"iom"}), "iom"));
  std::string late = Open(AddArrival({"iom", "unhcr"}), "unhcr");
  Refer(unhcr_cases[2], "unhcr", "iom");
  Refer(unhcr_cases[0], "unhcr", "iom");
  std::string declined = Refer(unhcr_cases[1], "unhcr", "iom");
  ASSERT_TRUE(cases_
                  .TransitionReferral({declined, enlace::v1::REFERRAL_STATUS_DECLINED, "", ""},
                                      Viewer{"iom"}, nullptr)
                  .ok());
  Refer(unhcr_cases[1], "unhcr", "iom");
  Refer(unhcr_cases[0], "unhcr", "iom");
  std::string dead = Refer(late, "unhcr", "iom");
  ASSERT_TRUE(cases_
                  .TransitionReferral({dead, enlace::v1::REFERRAL_STATUS_WITHDRAWN, "", ""},
                                      Viewer{"unhcr"}, nullptr)
                  .ok());
  std::vector<std::string> expected = {unhcr_cases[0], unhcr_cases[1], unhcr_cases[2], iom_cases[0],
                                       iom_cases[1]};
  for (int limit : {1, 2, 3, 5}) {
    std::vector<std::string> seen;
    int64_t after = 0;
    for (int pages = 0; pages < 10; ++pages) {
      absl::StatusOr<CasePage> page = cases_.ListCases({}, Viewer{"iom"}, after, limit);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const enlace::v1::Case& c : page->cases) seen.push_back(c.case_id());
      if (!page->more) break;
      after = page->last_position;
    }
    EXPECT_EQ(seen, expected) << "limit " << limit;
  }
}

}  // namespace
}  // namespace enlace::db
