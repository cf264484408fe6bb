// The conformance suite of db::ReportStore (db/report_store.h): the report
// of the same records, for the same viewer and filters, is the same from
// every implementation: the grid cells counted from the records (ownership,
// a case's role, months, departments), whole-month periods, and the release
// rule (a cell whose records the viewer does not own number 1 to 4 hides
// every number that sums it). Run against the fake
// (tests/testing/fakes/fake_report_store.h, counting FakeCaseStore's
// records) and MysqlReportStore (cells kept by the MySQL stores' changes).
//
//   INSTANTIATE_TEST_SUITE_P(Fake, ReportStoreConformanceTest,
//                            ::testing::Values(ReportStoreImpl{"fake", [] { ... }}),
//                            ReportStoreImplName);
//
// (report_store_fake_test.cc, unit; report_store_mysql_test.cc, db).
#ifndef ENLACE_TESTS_CONFORMANCE_REPORT_STORE_CONFORMANCE_H_
#define ENLACE_TESTS_CONFORMANCE_REPORT_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/case_store.h"
#include "db/report_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/case_requests.h"
#include "tests/testing/status_matchers.h"

namespace enlace::conformance {

// One report store under test, and how its records are made: arrivals
// recorded as the arrival store does, the rest through the case store.
class ReportStoreUnderTest {
 public:
  virtual ~ReportStoreUnderTest() = default;
  virtual db::ReportStore* store() = 0;
  virtual db::CaseStore* cases() = 0;
  // Records `arrival` as submitted by `submitter`; returns its id.
  virtual std::string AddArrival(const enlace::v1::Arrival& arrival,
                                 const std::string& submitter) = 0;
};

struct ReportStoreImpl {
  std::string name;
  std::function<std::unique_ptr<ReportStoreUnderTest>()> make;
};

// gtest prints a parameter by its name.
inline void PrintTo(const ReportStoreImpl& impl, std::ostream* os) { *os << impl.name; }

inline std::string ReportStoreImplName(const ::testing::TestParamInfo<ReportStoreImpl>& info) {
  return info.param.name;
}

class ReportStoreConformanceTest : public ::testing::TestWithParam<ReportStoreImpl> {
 protected:
  void SetUp() override { under_test_ = GetParam().make(); }
  db::ReportStore& store() { return *under_test_->store(); }
  db::CaseStore& cases() { return *under_test_->cases(); }

  std::string AddArrival(const std::string& department, const std::string& arrival_date,
                         enlace::v1::Sex sex = enlace::v1::SEX_FEMALE,
                         const std::string& birth_date = "1990-03-02") {
    enlace::v1::Arrival a;
    a.set_external_id(absl::StrCat("ext-", ++arrivals_));
    a.set_arrival_date(arrival_date);
    a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
    a.set_origin_country("US");
    a.mutable_person()->set_given_name("Ana");
    a.mutable_person()->set_family_name("Peña");
    a.mutable_person()->set_birth_date(birth_date);
    a.mutable_person()->set_sex(sex);
    a.mutable_destination()->set_department_code(department);
    a.mutable_destination()->set_municipality("Guazapa");
    a.add_needs(enlace::v1::NEED_TRAINING);
    for (const char* agency : {"iom", "unhcr", "undp"}) a.mutable_consent()->add_agencies(agency);
    a.mutable_consent()->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
    return under_test_->AddArrival(a, "mfa");
  }
  enlace::v1::ProgrammeReport Report(const std::string& viewer, const std::string& from = "",
                                     const std::string& to = "",
                                     const std::string& department = "") {
    db::ReportQuery query;
    query.period_from = from;
    query.period_to = to;
    query.department_code = department;
    query.viewer_agency = viewer;
    absl::StatusOr<enlace::v1::ProgrammeReport> report = store().Compute(query);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : enlace::v1::ProgrammeReport{};
  }
  static std::string Shown(const enlace::v1::CountCell& cell) {
    return cell.suppressed() ? "suppressed" : absl::StrCat(cell.count());
  }
  static std::vector<std::string> ByDepartment(const enlace::v1::ProgrammeReport& r) {
    std::vector<std::string> out;
    for (const auto& d : r.returnees_by_department()) {
      out.push_back(absl::StrCat(d.department_code(), "=", Shown(d.returnees())));
    }
    return out;
  }
  static std::vector<std::string> ByMonth(const enlace::v1::ProgrammeReport& r) {
    std::vector<std::string> out;
    for (const auto& m : r.returnees_by_month()) {
      out.push_back(absl::StrCat(m.month(), " ", m.department_code(), "=", Shown(m.returnees())));
    }
    return out;
  }
  static std::vector<std::string> CasesByStatus(const enlace::v1::ProgrammeReport& r) {
    std::vector<std::string> out;
    for (const auto& c : r.cases_by_status()) {
      out.push_back(absl::StrCat(enlace::v1::CaseStatus_Name(c.status()), "=", Shown(c.cases())));
    }
    return out;
  }
  static std::vector<std::string> Referrals(const enlace::v1::ProgrammeReport& r) {
    std::vector<std::string> out;
    for (const auto& c : r.referrals()) {
      out.push_back(absl::StrCat(c.from_agency(), ">", c.to_agency(), " ",
                                 enlace::v1::ReferralStatus_Name(c.status()), "=",
                                 Shown(c.referrals())));
    }
    return out;
  }
  static std::vector<std::string> Services(const enlace::v1::ProgrammeReport& r) {
    std::vector<std::string> out;
    for (const auto& s : r.services_by_type()) {
      out.push_back(absl::StrCat(enlace::v1::Need_Name(s.service()), "=", Shown(s.services())));
    }
    return out;
  }

  static std::string Shown(const enlace::v1::AmountCell& cell) {
    return cell.suppressed() ? "suppressed" : absl::StrCat(cell.amount());
  }
  static std::vector<std::string> People(const enlace::v1::ProgrammeReport& r) {
    std::vector<std::string> out;
    for (const auto& p : r.people()) {
      out.push_back(absl::StrCat(enlace::v1::Sex_Name(p.sex()), " ",
                                 enlace::v1::AgeBand_Name(p.age_band()), " ", Shown(p.returnees()),
                                 "/", Shown(p.served())));
    }
    return out;
  }
  static std::vector<std::string> InitiativesByStatus(const enlace::v1::ProgrammeReport& r) {
    std::vector<std::string> out;
    for (const auto& i : r.initiatives_by_status()) {
      out.push_back(absl::StrCat(enlace::v1::InitiativeStatus_Name(i.status()), "=",
                                 Shown(i.initiatives()), " woman_led=", Shown(i.woman_led()),
                                 " jobs=", Shown(i.jobs_created())));
    }
    return out;
  }

  std::unique_ptr<ReportStoreUnderTest> under_test_;
  int arrivals_ = 0;
};

using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_P(ReportStoreConformanceTest, NoRecordsGiveAnEmptyReportWithTheQueryEchoed) {
  enlace::v1::ProgrammeReport r = Report("iom", "2018-01-01", "2018-12-31", "SV-SS");
  EXPECT_EQ(r.period_from(), "2018-01-01");
  EXPECT_EQ(r.period_to(), "2018-12-31");
  EXPECT_EQ(r.department_code(), "SV-SS");
  EXPECT_EQ(r.initiatives_target(), 0);  // targets are the service's (ProgrammeTargets)
  EXPECT_THAT(r.sites(), IsEmpty());
  EXPECT_THAT(r.people(), IsEmpty());
  EXPECT_THAT(r.returnees_by_department(), IsEmpty());
  EXPECT_THAT(r.returnees_by_month(), IsEmpty());
  EXPECT_THAT(r.cases_by_status(), IsEmpty());
  EXPECT_THAT(r.referrals(), IsEmpty());
  EXPECT_THAT(r.services_by_type(), IsEmpty());
  EXPECT_EQ(Shown(r.initiatives()), "0");
  EXPECT_EQ(Shown(r.returnees_served()), "0");
  EXPECT_EQ(Shown(r.women_served()), "0");
  EXPECT_EQ(r.women_share(), 0);
}

TEST_P(ReportStoreConformanceTest, PeriodsAreWholeMonthsNotAfterOneAnother) {
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"2018-03-02", ""},
                                                        {"", "2018-03-30"},
                                                        {"2018-04-01", "2018-03-31"},
                                                        {"2018-02-30", ""},
                                                        {"March", ""}}) {
    db::ReportQuery query;
    query.period_from = from;
    query.period_to = to;
    query.viewer_agency = "iom";
    EXPECT_THAT(store().Compute(query), StatusIs(absl::StatusCode::kInvalidArgument))
        << from << ".." << to;
  }
}

TEST_P(ReportStoreConformanceTest, ReturneesAreCountedByDepartmentAndMonthAndSmallCellsHidden) {
  for (int i = 0; i < 7; ++i) AddArrival("SV-SS", "2018-03-14");
  for (int i = 0; i < 2; ++i) AddArrival("SV-SS", "2018-04-02");
  for (int i = 0; i < 5; ++i) AddArrival("SV-LI", "2018-03-31");
  // iom owns none: the April cell (2 others) is hidden, and so is SV-SS,
  // which sums it. An administrator owns nothing either.
  for (const char* viewer : {"iom", ""}) {
    enlace::v1::ProgrammeReport r = Report(viewer);
    EXPECT_THAT(ByDepartment(r), ElementsAre("SV-LI=5", "SV-SS=suppressed")) << viewer;
    EXPECT_THAT(ByMonth(r),
                ElementsAre("2018-03 SV-LI=5", "2018-03 SV-SS=7", "2018-04 SV-SS=suppressed"))
        << viewer;
  }
  // mfa, the submitter, owns them all: nothing is hidden from it.
  enlace::v1::ProgrammeReport mfa = Report("mfa");
  EXPECT_THAT(ByDepartment(mfa), ElementsAre("SV-LI=5", "SV-SS=9"));
  // A period of whole months leaves the April cell out; a department, SV-LI.
  enlace::v1::ProgrammeReport march = Report("iom", "2018-03-01", "2018-03-31");
  EXPECT_THAT(ByDepartment(march), ElementsAre("SV-LI=5", "SV-SS=7"));
  enlace::v1::ProgrammeReport april_on = Report("iom", "2018-04-01", "");
  EXPECT_THAT(ByMonth(april_on), ElementsAre("2018-04 SV-SS=suppressed"));
  enlace::v1::ProgrammeReport li = Report("iom", "", "", "SV-LI");
  EXPECT_THAT(ByDepartment(li), ElementsAre("SV-LI=5"));
}

TEST_P(ReportStoreConformanceTest, CasesReferralsServicesAndInitiativesCountedForEachViewer) {
  std::vector<std::string> arrivals;
  for (int i = 0; i < 6; ++i) arrivals.push_back(AddArrival("SV-SS", "2018-03-14"));
  std::string man = AddArrival("SV-SS", "2018-03-14", enlace::v1::SEX_MALE);
  std::vector<std::string> iom_cases;
  for (const std::string& a : arrivals) {
    absl::StatusOr<enlace::v1::Case> c = cases().OpenCase(a, "", db::Viewer{"iom"}, nullptr);
    ASSERT_TRUE(c.ok()) << c.status();
    iom_cases.push_back(c->case_id());
  }
  // A second case of a returnee: not her first, so not served again.
  ASSERT_TRUE(cases().OpenCase(arrivals[0], "", db::Viewer{"unhcr"}, nullptr).ok());
  // A man's first case, by undp.
  ASSERT_TRUE(cases().OpenCase(man, "", db::Viewer{"undp"}, nullptr).ok());
  absl::StatusOr<enlace::v1::Referral> pending = cases().CreateReferral(
      iom_cases[0], "unhcr", enlace::v1::NEED_TRAINING, "", db::Viewer{"iom"}, nullptr);
  ASSERT_TRUE(pending.ok());
  absl::StatusOr<enlace::v1::Referral> accepted = cases().CreateReferral(
      iom_cases[1], "unhcr", enlace::v1::NEED_TRAINING, "", db::Viewer{"iom"}, nullptr);
  ASSERT_TRUE(accepted.ok());
  ASSERT_TRUE(cases()
                  .TransitionReferral(
                      {accepted->referral_id(), enlace::v1::REFERRAL_STATUS_ACCEPTED, "", ""},
                      db::Viewer{"unhcr"}, nullptr)
                  .ok());
  // unhcr records a service on iom's case; iom five of its own.
  ASSERT_TRUE(cases()
                  .RecordService(::enlace::testing::ServiceRequest(
                                     iom_cases[1], enlace::v1::NEED_TRAINING, "2018-05-10", ""),
                                 db::Viewer{"unhcr"}, nullptr)
                  .ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(cases()
                    .RecordService(
                        ::enlace::testing::ServiceRequest(
                            iom_cases[i], enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT, "2018-05-11", ""),
                        db::Viewer{"iom"}, nullptr)
                    .ok());
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(cases()
                    .RegisterInitiative(
                        ::enlace::testing::InitiativeRequest(iom_cases[i], "Bakery", "food", ""),
                        db::Viewer{"iom"}, nullptr)
                    .ok());
  }
  // One of iom's cases closed: it moves to the CLOSED cell.
  enlace::v1::Case update;
  update.set_case_id(iom_cases[5]);
  update.set_status(enlace::v1::CASE_STATUS_CLOSED);
  ASSERT_TRUE(cases().UpdateCase(update, "v1", db::Viewer{"iom"}, nullptr).ok());

  // iom: its own first cases are shown (OPEN 5), but the OPEN cells of
  // unhcr's later case and undp's first case (1 record each) are not.
  enlace::v1::ProgrammeReport iom = Report("iom");
  EXPECT_THAT(CasesByStatus(iom),
              ElementsAre("CASE_STATUS_OPEN=suppressed", "CASE_STATUS_CLOSED=1"));
  EXPECT_THAT(Referrals(iom), ElementsAre("iom>unhcr REFERRAL_STATUS_PENDING=1",
                                          "iom>unhcr REFERRAL_STATUS_ACCEPTED=1"));
  EXPECT_THAT(Services(iom), ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=5", "NEED_TRAINING=1"));
  EXPECT_EQ(Shown(iom.initiatives()), "2");
  EXPECT_EQ(Shown(iom.women_served()), "6");
  EXPECT_EQ(Shown(iom.returnees_served()), "suppressed");  // the man's part: 1 of undp's
  EXPECT_EQ(iom.women_share(), 0);

  // undp: iom's 5 open first cases shown (5 others), its own 1: OPEN is
  // still hidden by unhcr's single later case; services: the training one
  // (1 other) hidden, the five shown.
  enlace::v1::ProgrammeReport undp = Report("undp");
  EXPECT_THAT(CasesByStatus(undp),
              ElementsAre("CASE_STATUS_OPEN=suppressed", "CASE_STATUS_CLOSED=suppressed"));
  EXPECT_THAT(Referrals(undp), ElementsAre("iom>unhcr REFERRAL_STATUS_PENDING=suppressed",
                                           "iom>unhcr REFERRAL_STATUS_ACCEPTED=suppressed"));
  EXPECT_THAT(Services(undp),
              ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=5", "NEED_TRAINING=suppressed"));
  EXPECT_EQ(Shown(undp.initiatives()), "suppressed");
  EXPECT_EQ(Shown(undp.women_served()), "suppressed");  // 6 women: 5 open + 1 closed (hidden)

  // unhcr recorded the training service itself: it is its own.
  enlace::v1::ProgrammeReport unhcr = Report("unhcr");
  EXPECT_THAT(Services(unhcr), ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=5", "NEED_TRAINING=1"));

  // 2018: the services delivered then, nothing opened now.
  enlace::v1::ProgrammeReport of_2018 = Report("iom", "2018-01-01", "2018-12-31");
  EXPECT_THAT(CasesByStatus(of_2018), IsEmpty());
  EXPECT_THAT(Referrals(of_2018), IsEmpty());
  EXPECT_THAT(Services(of_2018), ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=5", "NEED_TRAINING=1"));
  EXPECT_EQ(Shown(of_2018.returnees_served()), "0");
  // Another department: nothing but the empty report.
  enlace::v1::ProgrammeReport li = Report("iom", "", "", "SV-LI");
  EXPECT_THAT(CasesByStatus(li), IsEmpty());
  EXPECT_THAT(Services(li), IsEmpty());
}

TEST_P(ReportStoreConformanceTest, OutcomesAndBreakdownsBySexAndAgeAreCountedAlike) {
  // Ages on the arrival date 2018-06-15, a birthday apart: 14 and 15, 17
  // and 18, 29 and 30; a 29 February birth on 1 March.
  std::vector<std::string> a = {
      AddArrival("SV-SS", "2018-06-15", enlace::v1::SEX_FEMALE, "2003-06-16"),  // 14
      AddArrival("SV-SS", "2018-06-15", enlace::v1::SEX_FEMALE, "2003-06-15"),  // 15
      AddArrival("SV-SS", "2018-06-15", enlace::v1::SEX_MALE, "2000-06-16"),  // 17
      AddArrival("SV-SS", "2018-06-15", enlace::v1::SEX_MALE, "2000-06-15"),  // 18
      AddArrival("SV-SS", "2018-06-15", enlace::v1::SEX_MALE, "1988-06-16"),  // 29
      AddArrival("SV-SS", "2018-06-15", enlace::v1::SEX_OTHER, "1988-06-15"),  // 30
      AddArrival("SV-LI", "2018-03-01", enlace::v1::SEX_FEMALE, "2000-02-29"),  // 18
  };
  enlace::v1::ProgrammeReport mfa = Report("mfa");
  EXPECT_THAT(People(mfa),
              ElementsAre("SEX_FEMALE AGE_BAND_0_14 1/0", "SEX_FEMALE AGE_BAND_15_17 1/0",
                          "SEX_FEMALE AGE_BAND_18_24 1/0", "SEX_MALE AGE_BAND_15_17 1/0",
                          "SEX_MALE AGE_BAND_18_24 1/0", "SEX_MALE AGE_BAND_25_29 1/0",
                          "SEX_OTHER AGE_BAND_30_59 1/0"));
  // iom opens a case for each: all first cases, all its own.
  std::vector<std::string> case_ids;
  for (const std::string& arrival : a) {
    absl::StatusOr<enlace::v1::Case> c = cases().OpenCase(arrival, "", db::Viewer{"iom"}, nullptr);
    ASSERT_TRUE(c.ok()) << c.status();
    case_ids.push_back(c->case_id());
  }
  // Trainings: two completed, one not; a psychosocial session.
  enlace::v1::RecordServiceRequest training =
      ::enlace::testing::ServiceRequest(case_ids[1], enlace::v1::NEED_TRAINING, "2018-07-02", "");
  training.set_training_hours(40);
  training.set_training_completed(true);
  ASSERT_TRUE(cases().RecordService(training, db::Viewer{"iom"}, nullptr).ok());
  training.set_case_id(case_ids[3]);
  ASSERT_TRUE(cases().RecordService(training, db::Viewer{"iom"}, nullptr).ok());
  training.set_case_id(case_ids[4]);
  training.set_training_completed(false);
  ASSERT_TRUE(cases().RecordService(training, db::Viewer{"iom"}, nullptr).ok());
  // Initiatives: one woman-led, then active with 3 jobs; one planned.
  enlace::v1::RegisterInitiativeRequest register_request =
      ::enlace::testing::InitiativeRequest(case_ids[1], "Pupusería", "food", "");
  register_request.set_woman_led(true);
  absl::StatusOr<enlace::v1::Initiative> bakery =
      cases().RegisterInitiative(register_request, db::Viewer{"iom"}, nullptr);
  ASSERT_TRUE(bakery.ok()) << bakery.status();
  EXPECT_EQ(bakery->status(), enlace::v1::INITIATIVE_STATUS_PLANNED);
  absl::StatusOr<enlace::v1::Initiative> repair = cases().RegisterInitiative(
      ::enlace::testing::InitiativeRequest(case_ids[6], "Taller", "repair", ""), db::Viewer{"iom"},
      nullptr);
  ASSERT_TRUE(repair.ok()) << repair.status();
  enlace::v1::Initiative update = *bakery;
  update.set_status(enlace::v1::INITIATIVE_STATUS_ACTIVE);
  update.set_jobs_created(3);
  ASSERT_TRUE(cases().UpdateInitiative(update, bakery->etag(), db::Viewer{"iom"}, nullptr).ok());
  // Seed capital: two disbursements to the bakery, one to the workshop.
  for (auto [case_id, initiative, cents] :
       {std::tuple<std::string, std::string, int64_t>{case_ids[1], bakery->initiative_id(), 125000},
        {case_ids[1], bakery->initiative_id(), 50050},
        {case_ids[6], repair->initiative_id(), 80000}}) {
    enlace::v1::RecordServiceRequest seed =
        ::enlace::testing::ServiceRequest(case_id, enlace::v1::NEED_SEED_CAPITAL, "2018-07-03", "");
    seed.set_amount_usd_cents(cents);
    seed.set_initiative_id(initiative);
    ASSERT_TRUE(cases().RecordService(seed, db::Viewer{"iom"}, nullptr).ok());
  }

  enlace::v1::ProgrammeReport iom = Report("iom");
  EXPECT_EQ(Shown(iom.returnees_served()), "7");
  EXPECT_EQ(Shown(iom.women_served()), "3");
  EXPECT_EQ(Shown(iom.youth_served()), "5");  // 15, 17, 18, 29 and the LI 18
  EXPECT_EQ(Shown(iom.training_completed()), "2");
  EXPECT_EQ(Shown(iom.seed_capital_disbursements()), "3");
  EXPECT_EQ(Shown(iom.seed_capital_usd_cents()), "255050");
  EXPECT_EQ(Shown(iom.initiatives()), "2");
  EXPECT_EQ(Shown(iom.initiatives_woman_led()), "1");
  EXPECT_EQ(Shown(iom.jobs_created()), "3");
  EXPECT_THAT(InitiativesByStatus(iom),
              ElementsAre("INITIATIVE_STATUS_PLANNED=1 woman_led=0 jobs=0",
                          "INITIATIVE_STATUS_ACTIVE=1 woman_led=1 jobs=3"));
  // Arrivals are the ministry's: every one of iom's sex and band cells is
  // hidden, and so is every sum of them, but its served figures are its own.
  EXPECT_THAT(
      People(iom),
      ElementsAre("SEX_FEMALE AGE_BAND_0_14 suppressed/1", "SEX_FEMALE AGE_BAND_15_17 suppressed/1",
                  "SEX_FEMALE AGE_BAND_18_24 suppressed/1", "SEX_MALE AGE_BAND_15_17 suppressed/1",
                  "SEX_MALE AGE_BAND_18_24 suppressed/1", "SEX_MALE AGE_BAND_25_29 suppressed/1",
                  "SEX_OTHER AGE_BAND_30_59 suppressed/1"));
  // undp owns nothing of it: outcomes of 1 to 4 records are hidden.
  enlace::v1::ProgrammeReport undp = Report("undp");
  EXPECT_EQ(Shown(undp.training_completed()), "suppressed");
  EXPECT_EQ(Shown(undp.seed_capital_usd_cents()), "suppressed");
  EXPECT_EQ(Shown(undp.jobs_created()), "suppressed");

  // Sites by quarter: arrivals and cases of today fall in their quarters.
  db::ReportQuery query;
  query.viewer_agency = "iom";
  query.period_from = "2018-01-01";
  query.period_to = "2018-12-31";
  query.interval = enlace::v1::REPORT_INTERVAL_QUARTER;
  absl::StatusOr<enlace::v1::ProgrammeReport> quarters = store().Compute(query);
  ASSERT_TRUE(quarters.ok()) << quarters.status();
  EXPECT_EQ(quarters->interval(), enlace::v1::REPORT_INTERVAL_QUARTER);
  std::vector<std::string> sites;
  for (const auto& site : quarters->sites()) {
    sites.push_back(absl::StrCat(site.period(), " ", site.department_code(),
                                 " returnees=", Shown(site.returnees()),
                                 " trained=", Shown(site.training_completed()),
                                 " seed=", Shown(site.seed_capital_usd_cents())));
  }
  EXPECT_THAT(sites, ElementsAre("2018-Q1 SV-LI returnees=suppressed trained=0 seed=0",
                                 "2018-Q2 SV-SS returnees=suppressed trained=0 seed=0",
                                 "2018-Q3 SV-LI returnees=0 trained=0 seed=80000",
                                 "2018-Q3 SV-SS returnees=0 trained=2 seed=175050"));
  // A quarterly report of part of a quarter is refused.
  query.period_from = "2018-02-01";
  EXPECT_THAT(store().Compute(query).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::StartsWith("period_from")));
}

}  // namespace enlace::conformance

#endif  // ENLACE_TESTS_CONFORMANCE_REPORT_STORE_CONFORMANCE_H_
