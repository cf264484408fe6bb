// The report's pre-aggregated grid (db/mysql_report_grid.h) against a real
// MariaDB: every change made through the stores leaves the grid cells equal
// to a recount from the records, cases of one returnee opened at the same
// moment still count exactly one of them as the returnee's first, and a
// report reads no more rows with ten times the records.
#include "db/mysql_report_grid.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_case_store.h"
#include "db/mysql_report_store.h"
#include "db/report_cells.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/case_requests.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::testing::TestDatabase;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr const char* kGridTables[] = {"report_returnee_cells", "report_case_cells",
                                       "report_referral_cells", "report_service_cells",
                                       "report_initiative_cells"};

enlace::v1::Arrival MakeArrival(const std::string& external_id, const std::string& department,
                                const std::string& arrival_date, enlace::v1::Sex sex) {
  enlace::v1::Arrival a;
  a.set_external_id(external_id);
  a.set_arrival_date(arrival_date);
  a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  a.set_origin_country("US");
  a.mutable_person()->set_given_name("Ana");
  a.mutable_person()->set_family_name("Peña");
  a.mutable_person()->set_birth_date("1990-03-02");
  a.mutable_person()->set_sex(sex);
  a.mutable_destination()->set_department_code(department);
  a.mutable_destination()->set_municipality("Guazapa");
  a.add_needs(enlace::v1::NEED_TRAINING);
  for (const char* agency : {"iom", "undp", "unhcr"}) a.mutable_consent()->add_agencies(agency);
  a.mutable_consent()->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  a.mutable_consent()->mutable_given_at()->set_seconds(1516000000);
  return a;
}

class ReportGridTest : public ::testing::Test {
 protected:
  // Records `count` arrivals by mfa, alternately women and men, over two
  // departments and two months; returns their ids.
  std::vector<std::string> RecordArrivals(int count, const std::string& tag) {
    std::vector<NewArrival> batch;
    for (int i = 0; i < count; ++i) {
      batch.push_back({MakeArrival(absl::StrCat(tag, i), i % 3 == 0 ? "SV-LI" : "SV-SS",
                                   i % 2 == 0 ? "2018-03-14" : "2018-04-02",
                                   i % 2 == 0 ? enlace::v1::SEX_FEMALE : enlace::v1::SEX_MALE),
                       "mfa"});
    }
    absl::StatusOr<std::vector<RecordResult>> results = arrivals_.RecordBatch(batch);
    EXPECT_TRUE(results.ok()) << results.status();
    std::vector<std::string> ids;
    if (results.ok()) {
      for (const RecordResult& r : *results) ids.push_back(r.arrival_id);
    }
    return ids;
  }

  // Every grid cell with records, one line each, table by table in key order.
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

  int64_t Sum(const std::string& table, const std::string& where = "1 = 1") {
    return database_->QueryInt(
        absl::StrCat("SELECT COALESCE(SUM(records), 0) FROM ", table, " WHERE ", where));
  }

  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlArrivalStore arrivals_{&database_->pool()};
  MysqlCaseStore cases_{&database_->pool()};
};

TEST_F(ReportGridTest, EveryChangeThroughTheStoresKeepsTheGridEqualToARecount) {
  std::vector<std::string> ids = RecordArrivals(12, "g");
  ASSERT_EQ(ids.size(), 12u);
  // Resent: already recorded, counted once.
  RecordArrivals(12, "g");
  const Viewer iom{"iom"}, undp{"undp"}, unhcr{"unhcr"};
  std::vector<std::string> iom_cases;
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<enlace::v1::Case> c = cases_.OpenCase(ids[i], "s", iom, nullptr);
    ASSERT_TRUE(c.ok()) << c.status();
    iom_cases.push_back(c->case_id());
  }
  // Second cases of returnees 0 and 1 (later), first case of returnee 9.
  absl::StatusOr<enlace::v1::Case> undp_case = cases_.OpenCase(ids[0], "s", undp, nullptr);
  ASSERT_TRUE(undp_case.ok()) << undp_case.status();
  ASSERT_TRUE(cases_.OpenCase(ids[1], "s", undp, nullptr).ok());
  ASSERT_TRUE(cases_.OpenCase(ids[9], "s", undp, nullptr).ok());

  // A status change moves a case; an update that keeps it does not.
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<enlace::v1::Case> c = cases_.GetCase(iom_cases[i], iom);
    ASSERT_TRUE(c.ok()) << c.status();
    c->set_status(enlace::v1::CASE_STATUS_IN_PROGRESS);
    ASSERT_TRUE(cases_.UpdateCase(*c, c->etag(), iom, nullptr).ok());
    c = cases_.GetCase(iom_cases[i], iom);
    c->set_summary("still in progress");
    ASSERT_TRUE(cases_.UpdateCase(*c, c->etag(), iom, nullptr).ok());
  }

  // Referrals through every transition, and the ones a consent change
  // withdraws.
  std::vector<std::string> referrals;
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<enlace::v1::Referral> r = cases_.CreateReferral(
        iom_cases[i], i < 3 ? "undp" : "unhcr", enlace::v1::NEED_TRAINING, "why", iom, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    referrals.push_back(r->referral_id());
  }
  auto move = [&](int k, enlace::v1::ReferralStatus to, const Viewer& who) {
    absl::StatusOr<enlace::v1::Referral> r =
        cases_.TransitionReferral(Transition{referrals[k], to, "text", ""}, who, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
  };
  move(0, enlace::v1::REFERRAL_STATUS_ACCEPTED, undp);
  move(0, enlace::v1::REFERRAL_STATUS_COMPLETED, undp);
  move(1, enlace::v1::REFERRAL_STATUS_DECLINED, undp);
  move(2, enlace::v1::REFERRAL_STATUS_ACCEPTED, undp);
  move(3, enlace::v1::REFERRAL_STATUS_WITHDRAWN, iom);
  // Services by the owner and by the receiver of an accepted referral.
  ASSERT_TRUE(cases_
                  .RecordService(::enlace::testing::ServiceRequest(
                                     iom_cases[0], enlace::v1::NEED_TRAINING, "2018-05-02", "n"),
                                 iom, nullptr)
                  .ok());
  ASSERT_TRUE(cases_
                  .RecordService(::enlace::testing::ServiceRequest(
                                     iom_cases[2], enlace::v1::NEED_TRAINING, "2018-05-03", "n"),
                                 undp, nullptr)
                  .ok());
  ASSERT_TRUE(cases_
                  .RegisterInitiative(
                      ::enlace::testing::InitiativeRequest(iom_cases[0], "Pupusería", "food", ""),
                      iom, nullptr)
                  .ok());
  ASSERT_TRUE(cases_
                  .RegisterInitiative(
                      ::enlace::testing::InitiativeRequest(iom_cases[4], "Taller", "crafts", ""),
                      iom, nullptr)
                  .ok());
  // Returnee 4's consent no longer names unhcr: its pending referral is
  // withdrawn (and moves cell) in the consent change's transaction.
  enlace::v1::Consent consent;
  for (const char* agency : {"iom", "undp"}) consent.add_agencies(agency);
  consent.add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  ASSERT_TRUE(arrivals_.UpdateConsent(ids[4], consent, Viewer{"mfa"}, nullptr).ok());
  absl::StatusOr<enlace::v1::Referral> lost = cases_.GetReferral(referrals[4], iom);
  ASSERT_TRUE(lost.ok()) << lost.status();
  ASSERT_EQ(lost->status(), enlace::v1::REFERRAL_STATUS_WITHDRAWN);

  // What the stores kept, cell by cell...
  std::vector<std::string> kept = Cells();
  ASSERT_THAT(kept, Not(IsEmpty()));
  EXPECT_EQ(Sum("report_returnee_cells"), 12);
  EXPECT_EQ(Sum("report_returnee_cells", "grid_month = '2018-03' AND department_code = 'SV-LI'"),
            2);  // returnees 0 and 6
  EXPECT_EQ(Sum("report_case_cells"), 11);
  EXPECT_EQ(
      Sum("report_case_cells", absl::StrCat("case_role = ", static_cast<int>(CaseRole::kLater))),
      2);
  EXPECT_EQ(Sum("report_case_cells",
                absl::StrCat("case_role = ", static_cast<int>(CaseRole::kFirstFemale))),
            4);  // returnees 0, 2, 4 and 6 (iom's); undp's first (returnee 9) is a man
  EXPECT_EQ(
      Sum("report_case_cells", absl::StrCat("status = ", enlace::v1::CASE_STATUS_IN_PROGRESS)), 2);
  EXPECT_EQ(Sum("report_referral_cells"), 6);
  EXPECT_EQ(Sum("report_referral_cells",
                absl::StrCat("status = ", enlace::v1::REFERRAL_STATUS_WITHDRAWN)),
            2);
  EXPECT_EQ(
      Sum("report_referral_cells", absl::StrCat("status = ", enlace::v1::REFERRAL_STATUS_PENDING)),
      1);  // referral 5
  EXPECT_EQ(Sum("report_service_cells", "recorded_by = 'undp' AND case_owner = 'iom'"), 1);
  EXPECT_EQ(Sum("report_initiative_cells"), 2);
  // ... is exactly what a recount from the records gives.
  ASSERT_TRUE(RecountReportGrid(database_->pool()).ok());
  EXPECT_EQ(Cells(), kept);
}

// A correction moves the arrival, and the cases whose cells depend on its
// content (sex, age band), out of their cells and into the new ones.
TEST_F(ReportGridTest, ACorrectionMovesTheArrivalAndItsCasesBetweenCells) {
  std::vector<std::string> ids = RecordArrivals(6, "c");
  ASSERT_EQ(ids.size(), 6u);
  const Viewer iom{"iom"}, mfa{"mfa"};
  ASSERT_TRUE(cases_.OpenCase(ids[0], "s", iom, nullptr).ok());  // a woman in SV-LI, March
  ASSERT_TRUE(cases_.OpenCase(ids[0], "s", Viewer{"undp"}, nullptr).ok());  // a later case
  absl::StatusOr<enlace::v1::Arrival> stored = arrivals_.Get(ids[0], mfa);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ArrivalCorrection correction;
  correction.arrival_id = ids[0];
  correction.content = *stored;
  correction.content.set_arrival_date("2018-04-20");
  correction.content.mutable_destination()->set_department_code("SV-SS");
  correction.content.mutable_destination()->set_municipality("Guazapa");
  correction.content.mutable_person()->set_sex(enlace::v1::SEX_MALE);
  correction.content.mutable_person()->set_birth_date("2001-01-01");  // 17: another band
  correction.expected_version = 1;
  correction.reason = "wrong record copied";
  ASSERT_TRUE(arrivals_.Correct(correction, mfa, nullptr).ok());
  EXPECT_EQ(Sum("report_returnee_cells"), 6);
  EXPECT_EQ(Sum("report_returnee_cells", "grid_month = '2018-03' AND department_code = 'SV-LI'"),
            0);  // returnee 0 was its only one
  EXPECT_EQ(Sum("report_returnee_cells", "grid_month = '2018-04' AND department_code = 'SV-SS'"),
            3);  // returnees 1 and 5, and now 0
  EXPECT_EQ(Sum("report_case_cells"), 2);
  EXPECT_EQ(Sum("report_case_cells",
                absl::StrCat("case_role = ", static_cast<int>(CaseRole::kFirstFemale))),
            0);
  EXPECT_EQ(Sum("report_case_cells",
                absl::StrCat("case_role = ", static_cast<int>(CaseRole::kFirstOther))),
            1);
  const std::vector<std::string> kept = Cells();
  ASSERT_TRUE(RecountReportGrid(database_->pool()).ok());
  EXPECT_EQ(Cells(), kept);
}

TEST_F(ReportGridTest, CasesOfOneReturneeOpenedTogetherCountExactlyOneFirst) {
  // Two agencies open a case for the same returnee at the same moment, for
  // each of 20 returnees: each returnee is served once, by exactly one first
  // case, whichever commits first.
  constexpr int kReturnees = 20;
  std::vector<std::string> ids = RecordArrivals(kReturnees, "race");
  ASSERT_EQ(ids.size(), static_cast<size_t>(kReturnees));
  for (const std::string& id : ids) {
    absl::Barrier* start = new absl::Barrier(2);
    absl::Status opened[2];
    std::thread iom([&] {
      if (start->Block()) delete start;
      opened[0] = cases_.OpenCase(id, "s", Viewer{"iom"}, nullptr).status();
    });
    std::thread undp([&] {
      if (start->Block()) delete start;
      opened[1] = cases_.OpenCase(id, "s", Viewer{"undp"}, nullptr).status();
    });
    iom.join();
    undp.join();
    ASSERT_TRUE(opened[0].ok()) << opened[0];
    ASSERT_TRUE(opened[1].ok()) << opened[1];
  }
  EXPECT_EQ(Sum("report_case_cells"), 2 * kReturnees);
  EXPECT_EQ(
      Sum("report_case_cells", absl::StrCat("case_role = ", static_cast<int>(CaseRole::kLater))),
      kReturnees);
  std::vector<std::string> kept = Cells();
  ASSERT_TRUE(RecountReportGrid(database_->pool()).ok());
  EXPECT_EQ(Cells(), kept);
}

TEST_F(ReportGridTest, ARecountMarksTheGridCountedAndIsIdempotent) {
  absl::StatusOr<bool> needed = ReportGridNeedsRecount(database_->pool());
  ASSERT_TRUE(needed.ok()) << needed.status();
  EXPECT_TRUE(*needed);  // as migration 0007 leaves it
  RecordArrivals(5, "m");
  std::vector<std::string> kept = Cells();
  ASSERT_TRUE(RecountReportGrid(database_->pool()).ok());
  ASSERT_TRUE(RecountReportGrid(database_->pool()).ok());
  EXPECT_EQ(Cells(), kept);
  needed = ReportGridNeedsRecount(database_->pool());
  ASSERT_TRUE(needed.ok()) << needed.status();
  EXPECT_FALSE(*needed);
}

// The rows a report reads (the database's own Handler_read_* counters of the
// session) depend on the grid cells of its period, not on the records.
TEST_F(ReportGridTest, AReportReadsNoMoreRowsWithTenTimesTheRecords) {
  MysqlPool one(database_->dsn(), PoolOptions{.max_connections = 1});
  MysqlReportStore store(&one);
  auto rows_read_by_report = [&]() -> int64_t {
    auto handler_reads = [&]() {
      int64_t total = 0;
      absl::Status status = one.Run([&](MysqlConnection& c) {
        std::unique_ptr<sql::ResultSet> rows(
            c.Prepare("SHOW SESSION STATUS LIKE 'Handler_read%'")->executeQuery());
        while (rows->next()) total += rows->getInt64(2);
        return absl::OkStatus();
      });
      EXPECT_TRUE(status.ok()) << status;
      return total;
    };
    int64_t before = handler_reads();
    ReportQuery query;
    query.period_from = "2018-01-01";
    query.period_to = "2018-12-31";
    query.viewer_agency = "iom";
    absl::StatusOr<enlace::v1::ProgrammeReport> report = store.Compute(query);
    EXPECT_TRUE(report.ok()) << report.status();
    return handler_reads() - before;
  };
  RecordArrivals(100, "few");
  rows_read_by_report();  // the session's first report also reads what it prepares
  int64_t with_few = rows_read_by_report();
  RecordArrivals(1000, "many");  // into the same grid cells
  int64_t with_many = rows_read_by_report();
  EXPECT_GT(with_few, 0);
  EXPECT_EQ(with_many, with_few);
  EXPECT_EQ(Sum("report_returnee_cells"), 1100);
}

}  // namespace
}  // namespace enlace::db
