// The programme's outcomes and the report's breakdowns, pure functions: the
// age bands (db/report_cells.h AgeBandOn), quarters, amounts released with
// their counts (AmountSum), the breakdowns of AggregateReport (people by
// sex and age band, youth, sites by month or quarter, seed capital,
// trainings, initiatives by status) under the small-cell rule, with the
// differencing argument of report_suppression_test repeated over them; the
// field rules of outcomes (server/outcome_validation.h); the programme's
// targets (server/programme_targets.h); the departments' P-codes.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "db/report_cells.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/gazetteer.h"
#include "server/outcome_validation.h"
#include "server/programme_targets.h"
#include "server/report_service.h"
#include "tests/testing/report_grid_probe.h"
#include "tests/testing/status_matchers.h"

namespace enlace {
namespace {

using ::enlace::db::AgeBandOn;
using ::enlace::db::AmountSum;
using ::enlace::db::CaseRole;
using ::enlace::db::GridCount;
using ::enlace::db::ReportGrid;
using ::enlace::testing::StatusIs;
using ::enlace::v1::ProgrammeReport;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Show(const enlace::v1::CountCell& cell) {
  if (!cell.suppressed()) return absl::StrCat(cell.count());
  return cell.count() == 0 ? "x" : "BAD";
}

std::string Show(const enlace::v1::AmountCell& cell) {
  if (!cell.suppressed()) return absl::StrCat(cell.amount());
  return cell.amount() == 0 ? "x" : "BAD";
}

absl::CivilDay Day(const std::string& text) {
  absl::CivilDay day;
  EXPECT_TRUE(absl::ParseCivilTime(text, &day)) << text;
  return day;
}

// ---------------------------------------------------------------------------
// Age bands.

TEST(AgeBandOnTest, CountsWholeYearsOnTheArrivalDate) {
  struct Case {
    const char* birth;
    const char* on;
    enlace::v1::AgeBand band;
  };
  const Case kTable[] = {
      {"2010-06-15", "2010-06-15", enlace::v1::AGE_BAND_0_14},  // born that day
      {"2003-06-15", "2018-06-14", enlace::v1::AGE_BAND_0_14},  // 14, the eve of 15
      {"2003-06-15", "2018-06-15", enlace::v1::AGE_BAND_15_17},  // 15 on the birthday
      {"2000-06-15", "2018-06-14", enlace::v1::AGE_BAND_15_17},
      {"2000-06-15", "2018-06-15", enlace::v1::AGE_BAND_18_24},
      {"1993-06-15", "2018-06-14", enlace::v1::AGE_BAND_18_24},
      {"1993-06-15", "2018-06-15", enlace::v1::AGE_BAND_25_29},
      {"1988-06-15", "2018-06-14", enlace::v1::AGE_BAND_25_29},
      {"1988-06-15", "2018-06-15", enlace::v1::AGE_BAND_30_59},
      {"1958-06-15", "2018-06-14", enlace::v1::AGE_BAND_30_59},
      {"1958-06-15", "2018-06-15", enlace::v1::AGE_BAND_60_PLUS},
      {"1920-01-01", "2018-06-15", enlace::v1::AGE_BAND_60_PLUS},
      // Born on 29 February: a year older on 1 March of a common year.
      {"2000-02-29", "2015-02-28", enlace::v1::AGE_BAND_0_14},
      {"2000-02-29", "2015-03-01", enlace::v1::AGE_BAND_15_17},
      {"2000-02-29", "2018-02-28", enlace::v1::AGE_BAND_15_17},
      {"2000-02-29", "2018-03-01", enlace::v1::AGE_BAND_18_24},
      // A birth date after the arrival has no age.
      {"2018-06-16", "2018-06-15", enlace::v1::AGE_BAND_UNSPECIFIED},
  };
  for (const Case& c : kTable) {
    EXPECT_EQ(AgeBandOn(Day(c.birth), Day(c.on)), c.band) << c.birth << " on " << c.on;
  }
}

TEST(AgeBandOnTest, YouthIsFifteenToTwentyNineAndChildrenUnderEighteen) {
  EXPECT_FALSE(db::IsYouth(enlace::v1::AGE_BAND_0_14));
  EXPECT_TRUE(db::IsYouth(enlace::v1::AGE_BAND_15_17));
  EXPECT_TRUE(db::IsYouth(enlace::v1::AGE_BAND_18_24));
  EXPECT_TRUE(db::IsYouth(enlace::v1::AGE_BAND_25_29));
  EXPECT_FALSE(db::IsYouth(enlace::v1::AGE_BAND_30_59));
  EXPECT_TRUE(db::IsChild(enlace::v1::AGE_BAND_0_14));
  EXPECT_TRUE(db::IsChild(enlace::v1::AGE_BAND_15_17));
  EXPECT_FALSE(db::IsChild(enlace::v1::AGE_BAND_18_24));
  EXPECT_FALSE(db::IsChild(enlace::v1::AGE_BAND_UNSPECIFIED));
}

// ---------------------------------------------------------------------------
// Quarters.

TEST(IntervalBucketTest, MonthsOrQuarters) {
  EXPECT_EQ(db::IntervalBucket("2018-03", enlace::v1::REPORT_INTERVAL_MONTH), "2018-03");
  EXPECT_EQ(db::IntervalBucket("2018-03", enlace::v1::REPORT_INTERVAL_UNSPECIFIED), "2018-03");
  EXPECT_EQ(db::IntervalBucket("2018-01", enlace::v1::REPORT_INTERVAL_QUARTER), "2018-Q1");
  EXPECT_EQ(db::IntervalBucket("2018-03", enlace::v1::REPORT_INTERVAL_QUARTER), "2018-Q1");
  EXPECT_EQ(db::IntervalBucket("2018-04", enlace::v1::REPORT_INTERVAL_QUARTER), "2018-Q2");
  EXPECT_EQ(db::IntervalBucket("2018-09", enlace::v1::REPORT_INTERVAL_QUARTER), "2018-Q3");
  EXPECT_EQ(db::IntervalBucket("2018-10", enlace::v1::REPORT_INTERVAL_QUARTER), "2018-Q4");
  EXPECT_EQ(db::IntervalBucket("2018-12", enlace::v1::REPORT_INTERVAL_QUARTER), "2018-Q4");
}

TEST(ValidateReportPeriodTest, AQuarterlyReportCoversWholeQuarters) {
  using enlace::v1::REPORT_INTERVAL_QUARTER;
  EXPECT_TRUE(db::ValidateReportPeriod("2018-01-01", "2018-12-31", REPORT_INTERVAL_QUARTER).ok());
  EXPECT_TRUE(db::ValidateReportPeriod("2018-04-01", "2018-06-30", REPORT_INTERVAL_QUARTER).ok());
  EXPECT_TRUE(db::ValidateReportPeriod("", "", REPORT_INTERVAL_QUARTER).ok());
  EXPECT_THAT(db::ValidateReportPeriod("2018-02-01", "2018-06-30", REPORT_INTERVAL_QUARTER),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_from: a quarterly report covers whole quarters; use 2018-01-01"));
  EXPECT_THAT(db::ValidateReportPeriod("2018-01-01", "2018-05-31", REPORT_INTERVAL_QUARTER),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_to: a quarterly report covers whole quarters; use 2018-06-30"));
  EXPECT_THAT(db::ValidateReportPeriod("", "2018-11-30", REPORT_INTERVAL_QUARTER),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("use 2018-12-31")));
  // The month rule comes first, and months need no quarter.
  EXPECT_THAT(db::ValidateReportPeriod("2018-02-02", "", REPORT_INTERVAL_QUARTER),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: reports")));
  EXPECT_TRUE(
      db::ValidateReportPeriod("2018-02-01", "2018-05-31", enlace::v1::REPORT_INTERVAL_MONTH).ok());
  EXPECT_THAT(db::ValidateReportPeriod("", "", static_cast<enlace::v1::ReportInterval>(9)),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("interval:")));
}

TEST(ValidateGetProgrammeReportRequestTest, ChecksTheInterval) {
  enlace::v1::GetProgrammeReportRequest request;
  request.set_period_from("2018-02-01");
  request.set_interval(enlace::v1::REPORT_INTERVAL_QUARTER);
  EXPECT_THAT(server::ValidateGetProgrammeReportRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: a quarterly")));
  request.set_interval(static_cast<enlace::v1::ReportInterval>(7));
  EXPECT_THAT(server::ValidateGetProgrammeReportRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("interval:")));
}

// ---------------------------------------------------------------------------
// Amounts are released with their records' count.

TEST(AmountSumTest, AnAmountIsShownExactlyWhenItsRecordsAre) {
  AmountSum shown;
  shown.Add(GridCount{5, 0}, 125000);
  shown.Add(GridCount{2, 2}, 30000);  // the viewer's own
  EXPECT_EQ(Show(shown.Release()), "155000");
  EXPECT_EQ(Show(shown.records().Release()), "7");

  AmountSum hidden = shown;
  hidden.Add(GridCount{1, 0}, 99999999);  // one disbursement of others
  EXPECT_EQ(Show(hidden.Release()), "x");
  EXPECT_EQ(Show(hidden.records().Release()), "x");
}

// ---------------------------------------------------------------------------
// The breakdowns.

using Returnee = ReportGrid::Returnees;
using CaseCell = ReportGrid::Cases;
using ServiceCell = ReportGrid::Services;
using InitiativeCell = ReportGrid::Initiatives;

Returnee R(const char* department, const char* month, enlace::v1::Sex sex, enlace::v1::AgeBand band,
           GridCount count) {
  Returnee r;
  r.department = department;
  r.month = month;
  r.sex = sex;
  r.age_band = band;
  r.count = count;
  return r;
}

CaseCell First(const char* department, const char* month, enlace::v1::Sex sex,
               enlace::v1::AgeBand band, GridCount count) {
  CaseCell c;
  c.status = enlace::v1::CASE_STATUS_OPEN;
  c.role = sex == enlace::v1::SEX_FEMALE ? CaseRole::kFirstFemale : CaseRole::kFirstOther;
  c.department = department;
  c.month = month;
  c.sex = sex;
  c.age_band = band;
  c.count = count;
  return c;
}

ServiceCell Service(const char* department, const char* month, enlace::v1::Need need,
                    bool completed, GridCount count, int64_t cents = 0) {
  ServiceCell s;
  s.service = need;
  s.department = department;
  s.month = month;
  s.training_completed = completed;
  s.count = count;
  s.amount_usd_cents = cents;
  return s;
}

InitiativeCell Initiative(const char* department, const char* month,
                          enlace::v1::InitiativeStatus status, bool woman_led, GridCount count,
                          int64_t jobs) {
  InitiativeCell i;
  i.department = department;
  i.month = month;
  i.status = status;
  i.woman_led = woman_led;
  i.count = count;
  i.jobs_created = jobs;
  return i;
}

ProgrammeReport Aggregate(const ReportGrid& grid,
                          enlace::v1::ReportInterval interval = enlace::v1::REPORT_INTERVAL_MONTH) {
  ProgrammeReport report;
  db::AggregateReport(grid, interval, &report);
  return report;
}

std::vector<std::string> People(const ProgrammeReport& r) {
  std::vector<std::string> out;
  for (const auto& p : r.people()) {
    out.push_back(absl::StrCat(enlace::v1::Sex_Name(p.sex()), " ",
                               enlace::v1::AgeBand_Name(p.age_band()), " ", Show(p.returnees()),
                               "/", Show(p.served())));
  }
  return out;
}

std::vector<std::string> Sites(const ProgrammeReport& r) {
  std::vector<std::string> out;
  for (const auto& s : r.sites()) {
    out.push_back(absl::StrCat(
        s.period(), " ", s.department_code(), " returnees=", Show(s.returnees()), " f_children=",
        Show(s.returnees_female_children()), " f_adults=", Show(s.returnees_female_adults()),
        " m_children=", Show(s.returnees_male_children()),
        " m_adults=", Show(s.returnees_male_adults()), " youth=", Show(s.returnees_youth()),
        " served=", Show(s.served()), " women=", Show(s.served_women()),
        " served_youth=", Show(s.served_youth()), " trained=", Show(s.training_completed()),
        " seed=", Show(s.seed_capital_disbursements()), "/", Show(s.seed_capital_usd_cents()),
        " initiatives=", Show(s.initiatives()), " woman_led=", Show(s.initiatives_woman_led())));
  }
  return out;
}

// An owner's view (the ministry's arrivals, iom's cases and services): every
// figure exact, sites by month and by quarter.
ReportGrid OwnersGrid() {
  using namespace enlace::v1;  // NOLINT(build/namespaces): enum values, test only
  ReportGrid grid;
  grid.returnees = {
      R("SV-SS", "2018-01", SEX_FEMALE, AGE_BAND_0_14, {2, 2}),
      R("SV-SS", "2018-01", SEX_FEMALE, AGE_BAND_18_24, {3, 3}),
      R("SV-SS", "2018-02", SEX_MALE, AGE_BAND_15_17, {1, 1}),
      R("SV-SS", "2018-02", SEX_MALE, AGE_BAND_30_59, {4, 4}),
      R("SV-SS", "2018-02", SEX_UNDISCLOSED, AGE_BAND_25_29, {1, 1}),
      R("SV-LI", "2018-04", SEX_FEMALE, AGE_BAND_60_PLUS, {2, 2}),
  };
  grid.cases = {
      First("SV-SS", "2018-02", SEX_FEMALE, AGE_BAND_18_24, {2, 2}),
      First("SV-SS", "2018-02", SEX_MALE, AGE_BAND_30_59, {1, 1}),
      First("SV-SS", "2018-03", SEX_MALE, AGE_BAND_15_17, {1, 1}),
  };
  CaseCell later;
  later.status = CASE_STATUS_OPEN;
  later.role = CaseRole::kLater;
  later.department = "SV-SS";
  later.month = "2018-03";
  later.count = {1, 1};
  grid.cases.push_back(later);
  grid.services = {
      Service("SV-SS", "2018-03", NEED_TRAINING, true, {2, 2}),
      Service("SV-SS", "2018-03", NEED_TRAINING, false, {1, 1}),
      Service("SV-SS", "2018-03", NEED_SEED_CAPITAL, false, {2, 2}, 250000),
      Service("SV-LI", "2018-04", NEED_SEED_CAPITAL, false, {1, 1}, 75050),
  };
  grid.initiatives = {
      Initiative("SV-SS", "2018-03", INITIATIVE_STATUS_ACTIVE, true, {2, 2}, 3),
      Initiative("SV-SS", "2018-03", INITIATIVE_STATUS_PLANNED, false, {1, 1}, 0),
      Initiative("SV-LI", "2018-04", INITIATIVE_STATUS_CLOSED, true, {1, 1}, 1),
  };
  return grid;
}

TEST(AggregateReportTest, TheOwnerSeesPeopleBySexAndAgeBandAndYouthExactly) {
  ProgrammeReport r = Aggregate(OwnersGrid());
  EXPECT_THAT(People(r),
              ElementsAre("SEX_FEMALE AGE_BAND_0_14 2/0", "SEX_FEMALE AGE_BAND_18_24 3/2",
                          "SEX_FEMALE AGE_BAND_60_PLUS 2/0", "SEX_MALE AGE_BAND_15_17 1/1",
                          "SEX_MALE AGE_BAND_30_59 4/1", "SEX_UNDISCLOSED AGE_BAND_25_29 1/0"));
  EXPECT_EQ(Show(r.returnees_served()), "4");  // the later case is not a returnee
  EXPECT_EQ(Show(r.women_served()), "2");
  EXPECT_EQ(Show(r.youth_served()), "3");  // 18-24 women and the 15-17 man
}

TEST(AggregateReportTest, TheOwnerSeesOutcomesExactly) {
  ProgrammeReport r = Aggregate(OwnersGrid());
  EXPECT_EQ(Show(r.training_completed()), "2");
  EXPECT_EQ(Show(r.seed_capital_disbursements()), "3");
  EXPECT_EQ(Show(r.seed_capital_usd_cents()), "325050");
  EXPECT_EQ(Show(r.initiatives()), "4");
  EXPECT_EQ(Show(r.initiatives_woman_led()), "3");
  EXPECT_EQ(Show(r.jobs_created()), "4");
  ASSERT_EQ(r.initiatives_by_status_size(), 3);
  EXPECT_EQ(r.initiatives_by_status(0).status(), enlace::v1::INITIATIVE_STATUS_PLANNED);
  EXPECT_EQ(Show(r.initiatives_by_status(0).initiatives()), "1");
  EXPECT_EQ(Show(r.initiatives_by_status(0).woman_led()), "0");
  EXPECT_EQ(r.initiatives_by_status(1).status(), enlace::v1::INITIATIVE_STATUS_ACTIVE);
  EXPECT_EQ(Show(r.initiatives_by_status(1).initiatives()), "2");
  EXPECT_EQ(Show(r.initiatives_by_status(1).woman_led()), "2");
  EXPECT_EQ(Show(r.initiatives_by_status(1).jobs_created()), "3");
  EXPECT_EQ(r.initiatives_by_status(2).status(), enlace::v1::INITIATIVE_STATUS_CLOSED);
  EXPECT_EQ(Show(r.initiatives_by_status(2).jobs_created()), "1");
  // Services by type still count every record, completed or not.
  ASSERT_EQ(r.services_by_type_size(), 2);
  EXPECT_EQ(Show(r.services_by_type(0).services()), "3");  // TRAINING
}

TEST(AggregateReportTest, SitesAreMonthsOrQuartersByDepartment) {
  EXPECT_THAT(
      Sites(Aggregate(OwnersGrid())),
      ElementsAre(
          "2018-01 SV-SS returnees=5 f_children=2 f_adults=3 m_children=0 m_adults=0 youth=3 "
          "served=0 women=0 served_youth=0 trained=0 seed=0/0 initiatives=0 woman_led=0",
          "2018-02 SV-SS returnees=6 f_children=0 f_adults=0 m_children=1 m_adults=4 youth=2 "
          "served=3 women=2 served_youth=2 trained=0 seed=0/0 initiatives=0 woman_led=0",
          "2018-03 SV-SS returnees=0 f_children=0 f_adults=0 m_children=0 m_adults=0 youth=0 "
          "served=1 women=0 served_youth=1 trained=2 seed=2/250000 initiatives=3 woman_led=2",
          "2018-04 SV-LI returnees=2 f_children=0 f_adults=2 m_children=0 m_adults=0 youth=0 "
          "served=0 women=0 served_youth=0 trained=0 seed=1/75050 initiatives=1 woman_led=1"));
  ProgrammeReport quarters = Aggregate(OwnersGrid(), enlace::v1::REPORT_INTERVAL_QUARTER);
  EXPECT_EQ(quarters.interval(), enlace::v1::REPORT_INTERVAL_QUARTER);
  EXPECT_THAT(
      Sites(quarters),
      ElementsAre(
          "2018-Q1 SV-SS returnees=11 f_children=2 f_adults=3 m_children=1 m_adults=4 youth=5 "
          "served=4 women=2 served_youth=3 trained=2 seed=2/250000 initiatives=3 woman_led=2",
          "2018-Q2 SV-LI returnees=2 f_children=0 f_adults=2 m_children=0 m_adults=0 youth=0 "
          "served=0 women=0 served_youth=0 trained=0 seed=1/75050 initiatives=1 woman_led=1"));
}

TEST(AggregateReportTest, ABreakdownHidesItsSmallCellsAndEverySumOfThem) {
  // An agency's view of the ministry's arrivals: owns none.
  using namespace enlace::v1;  // NOLINT(build/namespaces): enum values, test only
  ReportGrid grid;
  grid.returnees = {
      R("SV-SS", "2018-01", SEX_FEMALE, AGE_BAND_18_24, {12, 0}),
      R("SV-SS", "2018-01", SEX_MALE, AGE_BAND_18_24, {3, 0}),  // hidden
      R("SV-SS", "2018-02", SEX_FEMALE, AGE_BAND_30_59, {6, 0}),
  };
  ProgrammeReport r = Aggregate(grid);
  EXPECT_THAT(People(r),
              ElementsAre("SEX_FEMALE AGE_BAND_18_24 12/0", "SEX_FEMALE AGE_BAND_30_59 6/0",
                          "SEX_MALE AGE_BAND_18_24 x/0"));
  // January's department total sums the hidden men: suppressed, so that
  // total - women never gives them; February is shown.
  ASSERT_EQ(r.returnees_by_month_size(), 2);
  EXPECT_EQ(Show(r.returnees_by_month(0).returnees()), "x");
  EXPECT_EQ(Show(r.returnees_by_month(1).returnees()), "6");
  ASSERT_EQ(r.sites_size(), 2);
  EXPECT_EQ(Show(r.sites(0).returnees()), "x");
  EXPECT_EQ(Show(r.sites(0).returnees_female_adults()), "12");
  EXPECT_EQ(Show(r.sites(0).returnees_male_adults()), "x");
  EXPECT_EQ(Show(r.sites(0).returnees_youth()), "x");
}

TEST(AggregateReportTest, MoneyIsSuppressedWithTheDisbursementsItSums) {
  ReportGrid grid;
  grid.services = {
      Service("SV-SS", "2018-03", enlace::v1::NEED_SEED_CAPITAL, false, {6, 0}, 900000),
      Service("SV-LI", "2018-03", enlace::v1::NEED_SEED_CAPITAL, false, {2, 0}, 250000),
  };
  ProgrammeReport r = Aggregate(grid);
  EXPECT_EQ(Show(r.seed_capital_disbursements()), "x");
  EXPECT_EQ(Show(r.seed_capital_usd_cents()), "x");
  EXPECT_EQ(Show(r.sites(0).seed_capital_usd_cents()), "x");  // SV-LI: 2 of others
  EXPECT_EQ(Show(r.sites(1).seed_capital_usd_cents()), "900000");
}

TEST(AggregateReportTest, ServedPerSiteIsShownOnlyWithBothItsParts) {
  ReportGrid grid;
  grid.cases = {
      First("SV-SS", "2018-03", enlace::v1::SEX_FEMALE, enlace::v1::AGE_BAND_18_24, {7, 0}),
      First("SV-SS", "2018-03", enlace::v1::SEX_MALE, enlace::v1::AGE_BAND_18_24, {2, 0}),
  };
  ProgrammeReport r = Aggregate(grid);
  ASSERT_EQ(r.sites_size(), 1);
  EXPECT_EQ(Show(r.sites(0).served()), "x");
  EXPECT_EQ(Show(r.sites(0).served_women()), "7");
  EXPECT_EQ(Show(r.sites(0).served_youth()), "x");
}

// The differencing argument (tests/testing/report_grid_probe.h) over the
// breakdowns, by month and by quarter: a grid with hidden cells of every
// kind, amounts included.
ReportGrid MixedBreakdownGrid() {
  using namespace enlace::v1;  // NOLINT(build/namespaces): enum values, test only
  ReportGrid grid;
  grid.returnees = {
      R("SV-SS", "2018-01", SEX_FEMALE, AGE_BAND_18_24, {12, 0}),
      R("SV-SS", "2018-01", SEX_MALE, AGE_BAND_18_24, {3, 0}),
      R("SV-SS", "2018-02", SEX_FEMALE, AGE_BAND_0_14, {6, 0}),
      R("SV-SS", "2018-04", SEX_MALE, AGE_BAND_30_59, {9, 0}),
      R("SV-LI", "2018-02", SEX_FEMALE, AGE_BAND_25_29, {1, 0}),
      R("SV-LI", "2018-06", SEX_OTHER, AGE_BAND_60_PLUS, {5, 0}),
  };
  grid.cases = {
      First("SV-SS", "2018-02", SEX_FEMALE, AGE_BAND_18_24, {8, 3}),  // 5 others
      First("SV-SS", "2018-02", SEX_MALE, AGE_BAND_15_17, {4, 1}),  // 3 others
      First("SV-LI", "2018-03", SEX_MALE, AGE_BAND_30_59, {6, 0}),
  };
  grid.services = {
      Service("SV-SS", "2018-03", NEED_TRAINING, true, {7, 0}),
      Service("SV-SS", "2018-04", NEED_TRAINING, true, {2, 0}),
      Service("SV-SS", "2018-03", NEED_SEED_CAPITAL, false, {5, 0}, 500000),
      Service("SV-LI", "2018-04", NEED_SEED_CAPITAL, false, {3, 1}, 210000),
  };
  grid.initiatives = {
      Initiative("SV-SS", "2018-03", INITIATIVE_STATUS_ACTIVE, true, {6, 0}, 9),
      Initiative("SV-SS", "2018-03", INITIATIVE_STATUS_ACTIVE, false, {2, 0}, 4),
      Initiative("SV-LI", "2018-06", INITIATIVE_STATUS_PLANNED, true, {5, 0}, 0),
  };
  return grid;
}

TEST(AggregateReportTest, NoBreakdownOverAnyPeriodDepartmentOrIntervalRevealsAHiddenCell) {
  EXPECT_EQ(::enlace::testing::ProbeHiddenCells(
                MixedBreakdownGrid(), {"", "2018-01", "2018-02", "2018-03", "2018-04", "2018-06"},
                {"", "SV-SS", "SV-LI"},
                {enlace::v1::REPORT_INTERVAL_MONTH, enlace::v1::REPORT_INTERVAL_QUARTER}),
            6);  // the fixture does hold hidden cells of every kind
}

// ---------------------------------------------------------------------------
// The field rules of outcomes.

enlace::v1::RecordServiceRequest Request(enlace::v1::Need need, int64_t cents,
                                         const std::string& initiative, double hours,
                                         bool completed) {
  enlace::v1::RecordServiceRequest request;
  request.set_case_id("c1");
  request.set_service(need);
  request.set_amount_usd_cents(cents);
  request.set_initiative_id(initiative);
  request.set_training_hours(hours);
  request.set_training_completed(completed);
  return request;
}

TEST(CheckServiceOutcomeTest, EachServiceCarriesOnlyItsOwnOutcome) {
  using enlace::v1::NEED_PROTECTION;
  using enlace::v1::NEED_SEED_CAPITAL;
  using enlace::v1::NEED_TRAINING;
  struct Case {
    enlace::v1::RecordServiceRequest request;
    const char* error;  // the message's start; nullptr: OK
  };
  const Case kTable[] = {
      {Request(NEED_SEED_CAPITAL, 125000, "i1", 0, false), nullptr},
      {Request(NEED_SEED_CAPITAL, 1, "i1", 0, false), nullptr},
      {Request(NEED_SEED_CAPITAL, 100000000, "i1", 0, false), nullptr},
      {Request(NEED_SEED_CAPITAL, 0, "i1", 0, false),
       "amount_usd_cents: required for SEED_CAPITAL"},
      {Request(NEED_SEED_CAPITAL, -5, "i1", 0, false), "amount_usd_cents: required"},
      {Request(NEED_SEED_CAPITAL, 100000001, "i1", 0, false), "amount_usd_cents: required"},
      {Request(NEED_SEED_CAPITAL, 500, "", 0, false), "initiative_id: required for SEED_CAPITAL"},
      {Request(NEED_SEED_CAPITAL, 500, "bad id!", 0, false), "initiative_id:"},
      {Request(NEED_SEED_CAPITAL, 500, "i1", 2, false), "training_hours: only a TRAINING"},
      {Request(NEED_SEED_CAPITAL, 500, "i1", 0, true), "training_completed: only a TRAINING"},
      {Request(NEED_TRAINING, 0, "", 40, true), nullptr},
      {Request(NEED_TRAINING, 0, "", 0.25, false), nullptr},
      {Request(NEED_TRAINING, 0, "", 12.75, false), nullptr},
      {Request(NEED_TRAINING, 0, "", 1000, true), nullptr},
      {Request(NEED_TRAINING, 0, "", 0, true), "training_hours: required for TRAINING"},
      {Request(NEED_TRAINING, 0, "", 0.1, true), "training_hours: required for TRAINING"},
      {Request(NEED_TRAINING, 0, "", 1000.25, true), "training_hours:"},
      {Request(NEED_TRAINING, 0, "", -4, true), "training_hours:"},
      {Request(NEED_TRAINING, 0, "", std::numeric_limits<double>::infinity(), true),
       "training_hours:"},
      {Request(NEED_TRAINING, 0, "", std::numeric_limits<double>::quiet_NaN(), true),
       "training_hours:"},
      {Request(NEED_TRAINING, 100, "", 4, true), "amount_usd_cents: only a SEED_CAPITAL"},
      {Request(NEED_TRAINING, 0, "i1", 4, true), "initiative_id: only a SEED_CAPITAL"},
      {Request(NEED_PROTECTION, 0, "", 0, false), nullptr},
      {Request(NEED_PROTECTION, 1, "", 0, false), "amount_usd_cents: only"},
      {Request(NEED_PROTECTION, 0, "", 1, false), "training_hours: only"},
      {Request(NEED_PROTECTION, 0, "", 0, true), "training_completed: only"},
  };
  for (const Case& c : kTable) {
    absl::Status status = server::CheckServiceOutcome(c.request);
    if (c.error == nullptr) {
      EXPECT_TRUE(status.ok()) << c.request.ShortDebugString() << ": " << status;
    } else {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.error)))
          << c.request.ShortDebugString();
    }
  }
}

TEST(CheckInitiativeOutcomeTest, StatusAndJobs) {
  EXPECT_TRUE(
      server::CheckInitiativeOutcome(enlace::v1::INITIATIVE_STATUS_ACTIVE, 3, "", false).ok());
  EXPECT_TRUE(server::CheckInitiativeOutcome(0, 0, "", /*allow_unspecified_status=*/true).ok());
  EXPECT_THAT(server::CheckInitiativeOutcome(0, 0, "initiative.", false),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("initiative.status: must")));
  EXPECT_THAT(server::CheckInitiativeOutcome(9, 0, "", true),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("status: must")));
  EXPECT_THAT(server::CheckInitiativeOutcome(1, -1, "", true),
              StatusIs(absl::StatusCode::kInvalidArgument, "jobs_created: 0 to 10000"));
  EXPECT_THAT(server::CheckInitiativeOutcome(1, 10001, "initiative.", true),
              StatusIs(absl::StatusCode::kInvalidArgument, "initiative.jobs_created: 0 to 10000"));
  EXPECT_TRUE(server::CheckInitiativeOutcome(1, 10000, "", true).ok());
}

// ---------------------------------------------------------------------------
// The programme's targets.

TEST(ProgrammeTargetsTest, TheDefaultIsSeventyInitiatives) {
  server::ProgrammeTargets targets;
  EXPECT_EQ(targets.Target("initiatives"), 70);
  EXPECT_EQ(targets.Target("youth_served"), 0);
  absl::StatusOr<server::ProgrammeTargets> empty = server::ProgrammeTargets::Parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Target("initiatives"), 70);
}

TEST(ProgrammeTargetsTest, ParsesIndicatorsAndRefusesWhatItDoesNotKnow) {
  absl::StatusOr<server::ProgrammeTargets> targets =
      server::ProgrammeTargets::Parse(" youth_served=400 , seed_capital_usd=70000");
  ASSERT_TRUE(targets.ok()) << targets.status();
  EXPECT_EQ(targets->Target("initiatives"), 70);  // kept
  EXPECT_EQ(targets->Target("youth_served"), 400);
  EXPECT_EQ(targets->Target("seed_capital_usd"), 70000);
  EXPECT_EQ(server::ProgrammeTargets::Parse("initiatives=90")->Target("initiatives"), 90);
  EXPECT_THAT(server::ProgrammeTargets::Parse("jobs=3").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown indicator")));
  EXPECT_THAT(server::ProgrammeTargets::Parse("initiatives=0").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("from 1 to 10^12")));
  EXPECT_THAT(server::ProgrammeTargets::Parse("initiatives").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("whole number")));
  EXPECT_THAT(server::ProgrammeTargets::Parse("initiatives=7,initiatives=8").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

TEST(ProgrammeTargetsTest, ProgressIsTheReportsOwnNumberAndStaysSuppressed) {
  absl::StatusOr<server::ProgrammeTargets> targets =
      server::ProgrammeTargets::Parse("youth_served=10,seed_capital_usd=5000");
  ASSERT_TRUE(targets.ok());
  ProgrammeReport report;
  report.mutable_initiatives()->set_count(14);
  report.mutable_youth_served()->set_suppressed(true);
  report.mutable_seed_capital_usd_cents()->set_amount(125099);
  targets->Apply(&report);
  EXPECT_EQ(report.initiatives_target(), 70);
  ASSERT_EQ(report.targets_size(), 3);
  EXPECT_EQ(report.targets(0).indicator(), "initiatives");
  EXPECT_EQ(report.targets(0).target(), 70);
  EXPECT_EQ(Show(report.targets(0).achieved()), "14");
  EXPECT_DOUBLE_EQ(report.targets(0).share(), 0.2);
  EXPECT_EQ(report.targets(1).indicator(), "youth_served");
  EXPECT_EQ(Show(report.targets(1).achieved()), "x");
  EXPECT_EQ(report.targets(1).share(), 0);
  EXPECT_EQ(report.targets(2).indicator(), "seed_capital_usd");
  EXPECT_EQ(Show(report.targets(2).achieved()), "1250");  // whole dollars
  EXPECT_DOUBLE_EQ(report.targets(2).share(), 0.25);
}

// ---------------------------------------------------------------------------
// P-codes.

TEST(GazetteerTest, EveryDepartmentHasItsOwnPcode) {
  const server::Gazetteer& g = server::Gazetteer::Default();
  std::vector<std::string> pcodes;
  for (const std::string& code : g.DepartmentCodes()) {
    std::optional<std::string> pcode = g.DepartmentPcode(code);
    ASSERT_TRUE(pcode.has_value()) << code;
    pcodes.push_back(*pcode);
  }
  std::sort(pcodes.begin(), pcodes.end());
  EXPECT_THAT(pcodes, ElementsAre("SV01", "SV02", "SV03", "SV04", "SV05", "SV06", "SV07", "SV08",
                                  "SV09", "SV10", "SV11", "SV12", "SV13", "SV14"));
  EXPECT_EQ(g.DepartmentPcode("SV-SS"), "SV06");
  EXPECT_EQ(g.DepartmentPcode("SV-AH"), "SV01");
  EXPECT_EQ(g.DepartmentPcode("SV-UN"), "SV14");
  EXPECT_FALSE(g.DepartmentPcode("SV-ZZ").has_value());
}

}  // namespace
}  // namespace enlace
