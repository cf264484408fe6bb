// The data-minimization rule of programme reports (db/report_cells.h), pure
// functions: the hidden rule of a grid cell, the aggregation of grid cells
// into the report's numbers, the served/women complement, the whole-month
// period rule; and the request check of ReportService
// (server/report_service.h). docs/report-suppression.md explains the rule.
#include "db/report_cells.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/report_service.h"
#include "tests/testing/report_grid_probe.h"
#include "tests/testing/status_matchers.h"

namespace enlace::db {
namespace {

using ::enlace::testing::StatusIs;
using ::enlace::v1::ProgrammeReport;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// A released cell as text: its count, "x" when suppressed (with count 0 as
// it must be), or "BAD" for a suppressed cell that leaks a count.
std::string Show(const enlace::v1::CountCell& cell) {
  if (!cell.suppressed()) return absl::StrCat(cell.count());
  return cell.count() == 0 ? "x" : "BAD";
}

// ---------------------------------------------------------------------------
// The hidden rule of one grid cell.

struct HiddenCase {
  int64_t total;
  int64_t owned;
  bool hidden;
  const char* why;
};

TEST(IsHiddenTest, HidesACellWhoseRecordsNotOwnedNumberOneToFour) {
  const HiddenCase kTable[] = {
      {0, 0, false, "empty: nothing to hide"},
      {1, 0, true, "one record of others"},
      {2, 0, true, "two records of others"},
      {3, 0, true, "three records of others"},
      {4, 0, true, "four records of others"},
      {5, 0, false, "five records of others"},
      {6, 0, false, "six records of others"},
      {3988, 0, false, "the official San Salvador figure"},
      {1, 1, false, "the viewer owns its only record"},
      {4, 4, false, "the viewer owns all four"},
      {3988, 3988, false, "the ministry's own arrivals"},
      {2, 1, true, "1 of others"},
      {3, 2, true, "e.g. 3 cases: 2 iom, 1 undp, seen by iom"},
      {4, 1, true, "3 of others"},
      {7, 3, true, "4 of others, although 7 in all"},
      {9, 4, false, "5 of others"},
      {5, 1, true, "4 of others: the old rule (total >= 5) showed it"},
      // The add-own-records attack: iom has 2 records in a cell; undp adds
      // 3 (or 100) of its own. The old rule showed 5 to undp, who then
      // subtracted its 3 and learnt iom's 2.
      {5, 3, true, "undp added 3 of its own to iom's 2"},
      {102, 100, true, "undp added 100 of its own to iom's 2"},
      {8, 3, false, "iom's part is 5: shown"},
      // Inconsistent ownership counts as owning nothing.
      {3, 4, true, "owned above total: owns nothing, 3 of others"},
      {3, -1, true, "owned below zero: owns nothing, 3 of others"},
      {6, 9, false, "owned above total: owns nothing, 6 of others"},
      {-2, 0, false, "negative total: nothing"},
  };
  for (const HiddenCase& c : kTable) {
    EXPECT_EQ(IsHidden({c.total, c.owned}), c.hidden) << c.total << "/" << c.owned << ": " << c.why;
  }
}

TEST(IsHiddenTest, OthersInIsTotalMinusOwnedOrTotalWhenInconsistent) {
  EXPECT_EQ(OthersIn({7, 3}), 4);
  EXPECT_EQ(OthersIn({7, 7}), 0);
  EXPECT_EQ(OthersIn({7, 0}), 7);
  EXPECT_EQ(OthersIn({7, 8}), 7);
  EXPECT_EQ(OthersIn({7, -2}), 7);
}

TEST(IsHiddenTest, AddingOwnRecordsNeverChangesWhetherACellIsHidden) {
  for (int64_t total = 0; total <= 30; ++total) {
    for (int64_t owned = 0; owned <= total; ++owned) {
      for (int64_t added : {1, 2, 3, 4, 5, 17, 1000}) {
        EXPECT_EQ(IsHidden({total + added, owned + added}), IsHidden({total, owned}))
            << total << "/" << owned << " + " << added << " own records";
      }
    }
  }
}

TEST(IsHiddenTest, AShownCellHasNoneOrAtLeastFiveRecordsOfOthers) {
  for (int64_t total = 0; total <= 30; ++total) {
    for (int64_t owned = 0; owned <= total; ++owned) {
      int64_t others = total - owned;
      if (!IsHidden({total, owned})) {
        EXPECT_TRUE(others == 0 || others >= kMinimumShownCount) << total << "/" << owned;
      } else {
        EXPECT_TRUE(others >= 1 && others <= 4) << total << "/" << owned;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Aggregation: a number is its exact sum only when no grid cell in it is
// hidden.

TEST(CellSumTest, NothingAddedIsZeroAndShown) { EXPECT_EQ(Show(CellSum().Release()), "0"); }

TEST(CellSumTest, SumsCellsThatAreNotHidden) {
  CellSum sum;
  sum.Add({5, 0});
  sum.Add({3, 3});  // the viewer's own
  sum.Add({0, 0});
  sum.Add({12, 2});
  EXPECT_FALSE(sum.hidden());
  EXPECT_EQ(sum.total(), 20);
  EXPECT_EQ(Show(sum.Release()), "20");
}

TEST(CellSumTest, OneHiddenCellSuppressesTheWholeSumHoweverLarge) {
  CellSum sum;
  sum.Add({3988, 0});
  sum.Add({2, 0});
  EXPECT_TRUE(sum.hidden());
  EXPECT_EQ(Show(sum.Release()), "x");
  // Whatever else is added later.
  sum.Add({100, 0});
  EXPECT_EQ(Show(sum.Release()), "x");
}

TEST(CellSumTest, AddingSumsKeepsHiddenness) {
  CellSum shown;
  shown.Add({6, 0});
  CellSum hidden;
  hidden.Add({1, 0});
  CellSum both = shown;
  both.Add(hidden);
  EXPECT_EQ(Show(both.Release()), "x");
  CellSum twice = shown;
  twice.Add(shown);
  EXPECT_EQ(Show(twice.Release()), "12");
}

// ---------------------------------------------------------------------------
// The complement: returnees served = women + not women.

struct ServedCase {
  GridCount women;
  GridCount not_women;
  const char* served;
  const char* women_shown;
  double share;
};

TEST(ReleaseServedTest, ServedIsShownOnlyWhenBothPartsAreShown) {
  const ServedCase kTable[] = {
      {{5, 0}, {3, 0}, "x", "5", 0.0},  // served - women would give the 3 men
      {{3, 0}, {5, 0}, "x", "x", 0.0},  // women hidden
      {{2, 0}, {2, 0}, "x", "x", 0.0},  // both hidden
      {{5, 0}, {5, 0}, "10", "5", 0.5},  // both shown
      {{0, 0}, {6, 0}, "6", "0", 0.0},  // no women
      {{6, 0}, {0, 0}, "6", "6", 1.0},  // only women
      {{3, 3}, {1, 1}, "4", "3", 0.75},  // the owner of every first case
      {{3, 3}, {2, 0}, "x", "3", 0.0},  // own women, 2 men of others
      {{0, 0}, {0, 0}, "0", "0", 0.0},  // nobody served
  };
  for (const ServedCase& c : kTable) {
    CellSum women;
    women.Add(c.women);
    CellSum not_women;
    not_women.Add(c.not_women);
    ServedRelease r = ReleaseServed(women, not_women);
    EXPECT_EQ(Show(r.served), c.served) << c.women.total << "+" << c.not_women.total;
    EXPECT_EQ(Show(r.women), c.women_shown) << c.women.total << "+" << c.not_women.total;
    EXPECT_DOUBLE_EQ(r.women_share, c.share) << c.women.total << "+" << c.not_women.total;
    // Whenever both are shown, their difference is a sum of non-hidden cells.
    if (!r.served.suppressed() && !r.women.suppressed()) {
      EXPECT_FALSE(not_women.hidden());
    }
  }
}

// ---------------------------------------------------------------------------
// AggregateReport: the report from the grid.

std::vector<std::string> Departments(const ProgrammeReport& r) {
  std::vector<std::string> out;
  for (const auto& d : r.returnees_by_department()) {
    out.push_back(absl::StrCat(d.department_code(), "=", Show(d.returnees())));
  }
  return out;
}

std::vector<std::string> Months(const ProgrammeReport& r) {
  std::vector<std::string> out;
  for (const auto& m : r.returnees_by_month()) {
    out.push_back(absl::StrCat(m.month(), " ", m.department_code(), "=", Show(m.returnees())));
  }
  return out;
}

std::vector<std::string> Cases(const ProgrammeReport& r) {
  std::vector<std::string> out;
  for (const auto& c : r.cases_by_status()) {
    out.push_back(absl::StrCat(enlace::v1::CaseStatus_Name(c.status()), "=", Show(c.cases())));
  }
  return out;
}

std::vector<std::string> Referrals(const ProgrammeReport& r) {
  std::vector<std::string> out;
  for (const auto& x : r.referrals()) {
    out.push_back(absl::StrCat(x.from_agency(), ">", x.to_agency(), " ",
                               enlace::v1::ReferralStatus_Name(x.status()), "=",
                               Show(x.referrals())));
  }
  return out;
}

std::vector<std::string> Services(const ProgrammeReport& r) {
  std::vector<std::string> out;
  for (const auto& s : r.services_by_type()) {
    out.push_back(absl::StrCat(enlace::v1::Need_Name(s.service()), "=", Show(s.services())));
  }
  return out;
}

ProgrammeReport Aggregate(const ReportGrid& grid) {
  ProgrammeReport report;
  AggregateReport(grid, enlace::v1::REPORT_INTERVAL_MONTH, &report);
  return report;
}

TEST(AggregateReportTest, AnEmptyGridGivesZerosAndNoRows) {
  ProgrammeReport r = Aggregate(ReportGrid{});
  EXPECT_THAT(Departments(r), IsEmpty());
  EXPECT_THAT(Months(r), IsEmpty());
  EXPECT_THAT(Cases(r), IsEmpty());
  EXPECT_THAT(Referrals(r), IsEmpty());
  EXPECT_THAT(Services(r), IsEmpty());
  EXPECT_EQ(Show(r.initiatives()), "0");
  EXPECT_EQ(Show(r.returnees_served()), "0");
  EXPECT_EQ(Show(r.women_served()), "0");
  EXPECT_EQ(r.women_share(), 0);
}

TEST(AggregateReportTest, ADepartmentIsSuppressedWhenAnyOfItsMonthsIsHidden) {
  // Attack (a): SV-SS total - visible months = the hidden month.
  ReportGrid grid;
  grid.returnees = {{"SV-SS", "2018-01", {10, 0}},
                    {"SV-SS", "2018-02", {3, 0}},
                    {"SV-SS", "2018-03", {8, 0}},
                    {"SV-LI", "2018-01", {6, 0}},
                    {"SV-LI", "2018-03", {9, 0}}};
  ProgrammeReport r = Aggregate(grid);
  EXPECT_THAT(Departments(r), ElementsAre("SV-LI=15", "SV-SS=x"));
  EXPECT_THAT(Months(r), ElementsAre("2018-01 SV-LI=6", "2018-01 SV-SS=10", "2018-02 SV-SS=x",
                                     "2018-03 SV-LI=9", "2018-03 SV-SS=8"));
}

TEST(AggregateReportTest, TheOwnerOfEveryRecordSeesExactFigures) {
  ReportGrid grid;
  grid.returnees = {
      {"SV-SS", "2018-01", {307, 307}}, {"SV-SS", "2018-02", {3, 3}}, {"SV-LI", "2018-02", {1, 1}}};
  ProgrammeReport r = Aggregate(grid);
  EXPECT_THAT(Departments(r), ElementsAre("SV-LI=1", "SV-SS=310"));
  EXPECT_THAT(Months(r), ElementsAre("2018-01 SV-SS=307", "2018-02 SV-LI=1", "2018-02 SV-SS=3"));
}

TEST(AggregateReportTest, CasesByStatusSumEveryRoleDepartmentAndMonth) {
  ReportGrid grid;
  using C = ReportGrid::Cases;
  using enlace::v1::CASE_STATUS_CLOSED;
  using enlace::v1::CASE_STATUS_IN_PROGRESS;
  using enlace::v1::CASE_STATUS_OPEN;
  grid.cases = {
      C{CASE_STATUS_OPEN, CaseRole::kFirstFemale, "SV-SS", "2018-03", {6, 0}},
      C{CASE_STATUS_OPEN, CaseRole::kFirstOther, "SV-SS", "2018-03", {5, 0}},
      C{CASE_STATUS_OPEN, CaseRole::kLater, "SV-LI", "2018-04", {7, 0}},
      C{CASE_STATUS_IN_PROGRESS, CaseRole::kFirstOther, "SV-SS", "2018-03", {5, 0}},
      C{CASE_STATUS_IN_PROGRESS, CaseRole::kLater, "SV-SS", "2018-03", {1, 0}},  // hidden
      C{CASE_STATUS_CLOSED, CaseRole::kFirstFemale, "SV-LI", "2018-04", {2, 2}},  // own
  };
  ProgrammeReport r = Aggregate(grid);
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=18", "CASE_STATUS_IN_PROGRESS=x",
                                    "CASE_STATUS_CLOSED=2"));
  // Served: the first cases of every status. A later case (a second agency's
  // case of the same returnee) is not a second returnee served, and its
  // being hidden does not suppress the served counts.
  EXPECT_EQ(Show(r.returnees_served()), "18");  // 6 + 5 + 5 + 2
  EXPECT_EQ(Show(r.women_served()), "8");  // 6 + 2
  EXPECT_DOUBLE_EQ(r.women_share(), 8.0 / 18.0);
}

TEST(AggregateReportTest, ServedIsSuppressedWhenTheNonWomenPartIsHidden) {
  // Attack (d): served - women would give a small number of men.
  ReportGrid grid;
  using C = ReportGrid::Cases;
  grid.cases = {
      C{enlace::v1::CASE_STATUS_OPEN, CaseRole::kFirstFemale, "SV-SS", "2018-03", {10, 0}},
      C{enlace::v1::CASE_STATUS_OPEN, CaseRole::kFirstOther, "SV-SS", "2018-03", {9, 0}},
      C{enlace::v1::CASE_STATUS_IN_PROGRESS, CaseRole::kFirstOther, "SV-LI", "2018-03", {2, 0}},
  };
  ProgrammeReport r = Aggregate(grid);
  EXPECT_EQ(Show(r.women_served()), "10");
  EXPECT_EQ(Show(r.returnees_served()), "x");
  EXPECT_EQ(r.women_share(), 0);
}

TEST(AggregateReportTest, ServedIsSuppressedWhenAnyCaseStatusPartOfItIsHidden) {
  // Served and cases by status are sums over one partition of the cases:
  // served cannot be set against the visible statuses to give a hidden one
  // (6 IN_PROGRESS shown, served 8 would reveal 2 OPEN).
  ReportGrid grid;
  using C = ReportGrid::Cases;
  grid.cases = {
      C{enlace::v1::CASE_STATUS_IN_PROGRESS, CaseRole::kFirstOther, "SV-SS", "2018-03", {6, 0}},
      C{enlace::v1::CASE_STATUS_OPEN, CaseRole::kFirstOther, "SV-SS", "2018-03", {2, 0}},
  };
  ProgrammeReport r = Aggregate(grid);
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=6"));
  EXPECT_EQ(Show(r.returnees_served()), "x");
  EXPECT_EQ(Show(r.women_served()), "0");
}

TEST(AggregateReportTest, ReferralsServicesAndInitiativesSumTheirGrids) {
  ReportGrid grid;
  using R = ReportGrid::Referrals;
  using S = ReportGrid::Services;
  using enlace::v1::REFERRAL_STATUS_ACCEPTED;
  using enlace::v1::REFERRAL_STATUS_PENDING;
  grid.referrals = {
      R{"iom", "undp", REFERRAL_STATUS_ACCEPTED, "SV-SS", "2018-03", {6, 6}},
      R{"iom", "undp", REFERRAL_STATUS_ACCEPTED, "SV-LI", "2018-04", {1, 1}},
      R{"iom", "unhcr", REFERRAL_STATUS_PENDING, "SV-SS", "2018-03", {5, 0}},
      R{"iom", "unhcr", REFERRAL_STATUS_PENDING, "SV-SS", "2018-04", {1, 0}},
      R{"unhcr", "iom", REFERRAL_STATUS_PENDING, "SV-SS", "2018-03", {9, 0}},
  };
  grid.services = {
      S{enlace::v1::NEED_TRAINING, "SV-SS", "2018-03", {5, 0}},
      S{enlace::v1::NEED_TRAINING, "SV-LI", "2018-03", {5, 0}},
      S{enlace::v1::NEED_SEED_CAPITAL, "SV-SS", "2018-03", {4, 0}},
  };
  grid.initiatives = {{"SV-SS", "2018-03", {40, 40}}, {"SV-LI", "2018-05", {30, 0}}};
  ProgrammeReport r = Aggregate(grid);
  EXPECT_THAT(Referrals(r), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=7",
                                        "iom>unhcr REFERRAL_STATUS_PENDING=x",
                                        "unhcr>iom REFERRAL_STATUS_PENDING=9"));
  EXPECT_THAT(Services(r), ElementsAre("NEED_TRAINING=10", "NEED_SEED_CAPITAL=x"));
  EXPECT_EQ(Show(r.initiatives()), "70");

  grid.initiatives.push_back({"SV-CH", "2018-05", {1, 0}});
  EXPECT_EQ(Show(Aggregate(grid).initiatives()), "x");
}

// ---------------------------------------------------------------------------
// The argument, tested on the pure aggregation: a store's report over a
// period (whole months) and a department is AggregateReport over the grid
// cells in them, so tests/testing/report_grid_probe.h can try every report
// against every value a hidden cell could hold.

// A grid for one viewer with hidden and shown cells of every indicator.
ReportGrid MixedGrid() {
  ReportGrid grid;
  using C = ReportGrid::Cases;
  using R = ReportGrid::Referrals;
  using S = ReportGrid::Services;
  using enlace::v1::CASE_STATUS_IN_PROGRESS;
  using enlace::v1::CASE_STATUS_OPEN;
  grid.returnees = {{"SV-SS", "2018-01", {10, 0}}, {"SV-SS", "2018-02", {3, 0}},
                    {"SV-SS", "2018-03", {8, 0}},  {"SV-LI", "2018-01", {7, 0}},
                    {"SV-LI", "2018-02", {6, 0}},  {"SV-LI", "2018-04", {2, 0}}};
  grid.cases = {
      C{CASE_STATUS_OPEN, CaseRole::kFirstFemale, "SV-SS", "2018-01", {9, 4}},
      C{CASE_STATUS_OPEN, CaseRole::kFirstOther, "SV-SS", "2018-01", {6, 4}},  // 2 others
      C{CASE_STATUS_OPEN, CaseRole::kFirstOther, "SV-SS", "2018-02", {5, 5}},
      C{CASE_STATUS_IN_PROGRESS, CaseRole::kFirstFemale, "SV-LI", "2018-03", {7, 0}},
      C{CASE_STATUS_IN_PROGRESS, CaseRole::kFirstOther, "SV-LI", "2018-03", {8, 0}},
      C{CASE_STATUS_IN_PROGRESS, CaseRole::kLater, "SV-LI", "2018-04", {1, 0}},
  };
  grid.referrals = {
      R{"iom", "undp", enlace::v1::REFERRAL_STATUS_PENDING, "SV-SS", "2018-01", {6, 0}},
      R{"iom", "undp", enlace::v1::REFERRAL_STATUS_PENDING, "SV-LI", "2018-02", {3, 0}},
      R{"iom", "undp", enlace::v1::REFERRAL_STATUS_PENDING, "SV-SS", "2018-03", {5, 0}},
  };
  grid.services = {S{enlace::v1::NEED_TRAINING, "SV-SS", "2018-01", {5, 0}},
                   S{enlace::v1::NEED_TRAINING, "SV-SS", "2018-04", {9, 5}}};  // 4 others
  grid.initiatives = {{"SV-SS", "2018-02", {20, 20}}, {"SV-LI", "2018-03", {3, 1}}};
  return grid;
}

TEST(AggregateReportTest, NoReportOverAnyPeriodOrDepartmentDependsOnAHiddenCellsValue) {
  // Every range of months (open ends included) and every department filter.
  EXPECT_EQ(::enlace::testing::ProbeHiddenCells(
                MixedGrid(), {"", "2018-01", "2018-02", "2018-03", "2018-04"},
                {"", "SV-SS", "SV-LI"}, {enlace::v1::REPORT_INTERVAL_MONTH}),
            7);  // the fixture does hold hidden cells
}

// ---------------------------------------------------------------------------
// Periods: whole months.

TEST(ValidateReportPeriodTest, AcceptsWholeMonthsAndOpenEnds) {
  EXPECT_TRUE(ValidateReportPeriod("", "").ok());
  EXPECT_TRUE(ValidateReportPeriod("2017-01-01", "2017-12-31").ok());
  EXPECT_TRUE(ValidateReportPeriod("2018-01-01", "2018-02-28").ok());
  EXPECT_TRUE(ValidateReportPeriod("2018-02-01", "2018-02-28").ok());
  EXPECT_TRUE(ValidateReportPeriod("2016-02-01", "2016-02-29").ok());  // leap year
  EXPECT_TRUE(ValidateReportPeriod("2018-04-01", "2018-04-30").ok());
  EXPECT_TRUE(ValidateReportPeriod("2018-03-01", "").ok());
  EXPECT_TRUE(ValidateReportPeriod("", "2018-03-31").ok());
}

TEST(ValidateReportPeriodTest, RefusesPartsOfMonthsNamingTheFieldAndTheWholeMonth) {
  EXPECT_THAT(ValidateReportPeriod("2018-01-15", ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_from: reports cover whole months; use 2018-01-01"));
  EXPECT_THAT(ValidateReportPeriod("2018-01-02", "2018-01-31"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_from: reports cover whole months; use 2018-01-01"));
  EXPECT_THAT(ValidateReportPeriod("2018-02-28", "2018-02-28"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_from: reports cover whole months; use 2018-02-01"));
  EXPECT_THAT(ValidateReportPeriod("", "2018-02-27"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_to: reports cover whole months; use 2018-02-28"));
  EXPECT_THAT(ValidateReportPeriod("2016-01-01", "2016-02-28"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_to: reports cover whole months; use 2016-02-29"));
  EXPECT_THAT(ValidateReportPeriod("2018-01-01", "2018-03-01"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_to: reports cover whole months; use 2018-03-31"));
  EXPECT_THAT(ValidateReportPeriod("2018-12-01", "2018-12-30"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_to: reports cover whole months; use 2018-12-31"));
}

TEST(ValidateReportPeriodTest, RefusesBadDaysAndReversedPeriods) {
  EXPECT_THAT(ValidateReportPeriod("2018-02-30", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_THAT(ValidateReportPeriod("2018-2-1", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_THAT(ValidateReportPeriod("", "2018-02-29"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_to: ")));
  EXPECT_THAT(ValidateReportPeriod("", "yesterday"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_to: ")));
  EXPECT_THAT(
      ValidateReportPeriod("2018-03-01", "2018-02-28"),
      StatusIs(absl::StatusCode::kInvalidArgument, "period_from: must not be after period_to"));
}

// ---------------------------------------------------------------------------
// The request check of ReportService.

enlace::v1::GetProgrammeReportRequest Request(std::string from, std::string to,
                                              std::string department) {
  enlace::v1::GetProgrammeReportRequest request;
  request.set_period_from(from);
  request.set_period_to(to);
  request.set_department_code(department);
  return request;
}

TEST(ValidateGetProgrammeReportRequestTest, AcceptsOpenAndWholeMonthPeriods) {
  using server::ValidateGetProgrammeReportRequest;
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("", "", "")).ok());
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("2017-01-01", "2017-12-31", "SV-SS")).ok());
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("2018-01-01", "2018-02-28", "SV-LI")).ok());
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("2018-02-01", "2018-02-28", "")).ok());
  EXPECT_TRUE(ValidateGetProgrammeReportRequest(Request("", "2018-02-28", "SV-LI")).ok());
}

TEST(ValidateGetProgrammeReportRequestTest, RefusesPeriodsThatAreNotWholeMonths) {
  using server::ValidateGetProgrammeReportRequest;
  // Attack (b): two reports whose periods differ by a few days.
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-01-01", "2018-02-09", "")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_to: reports cover whole months; use 2018-02-28"));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-02-11", "2018-03-31", "SV-SS")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_from: reports cover whole months; use 2018-02-01"));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-02-28", "2018-02-28", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("whole months")));
}

TEST(ValidateGetProgrammeReportRequestTest, NamesTheOffendingFieldFirst) {
  using server::ValidateGetProgrammeReportRequest;
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-02-30", "", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-2-3", "", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("", "yesterday", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_to: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("2018-03-01", "2018-02-28", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("", "", "sv-ss")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("department_code: ")));
  EXPECT_THAT(ValidateGetProgrammeReportRequest(Request("", "", "SV-XX")),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("department_code: ")));
}

}  // namespace
}  // namespace enlace::db
