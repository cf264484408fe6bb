// MysqlReportStore against a real MariaDB (started by scripts/test.sh): exact
// counts per cell, suppression of small cells for everyone but the owner of
// every record in them, filters by period and department, and the programme's
// official returnee figures (DOMAIN.md) reproduced from records.
//
// Fixture rows are written with plain SQL, so this test depends only on the
// schema (db/migrations/), not on the other stores.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "db/mysql_report_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::testing::StatusIs;
using ::enlace::testing::TestDatabase;
using ::enlace::v1::ProgrammeReport;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int kFemale = enlace::v1::SEX_FEMALE;
constexpr int kMale = enlace::v1::SEX_MALE;

// A cell as text: its count, "x" when suppressed (with count 0 as it must
// be), or "BAD" for a suppressed cell that leaks a count.
std::string Show(const enlace::v1::CountCell& cell) {
  if (!cell.suppressed()) return absl::StrCat(cell.count());
  return cell.count() == 0 ? "x" : "BAD";
}

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

// Microseconds since the epoch of a UTC civil time "YYYY-MM-DDTHH:MM:SS",
// plus `extra_us`.
int64_t Micros(const std::string& civil_second, int64_t extra_us = 0) {
  absl::CivilSecond t;
  EXPECT_TRUE(absl::ParseCivilTime(civil_second, &t)) << civil_second;
  return absl::ToUnixMicros(absl::FromCivil(t, absl::UTCTimeZone())) + extra_us;
}

class ReportStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlReportStore store_{&database_->pool()};
  int next_id_ = 0;

  // Inserts `count` arrivals with one INSERT ... SELECT over a numbers
  // table (0..9999), the n-th dated `first_day` + (n mod span_days) days.
  void AddArrivals(int count, const std::string& submitted_by, const std::string& department,
                   const std::string& first_day, int span_days, int sex = kMale) {
    ASSERT_LE(count, 10000);
    std::string tag = absl::StrCat("a", ++next_id_, "n");
    constexpr char kDigits[] =
        "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL "
        "SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL "
        "SELECT 8 UNION ALL SELECT 9)";
    database_->Execute(absl::StrCat(
        "INSERT INTO arrivals (arrival_id, submitted_by, external_id, content_hash, "
        "arrival_date, mode, origin_country, given_name, family_name, birth_date, sex, "
        "document_number, department_code, municipality, needs_mask, consent_purposes_mask, "
        "consent_given_at_us, consent_version, recorded_at_us) "
        "SELECT CONCAT('", tag, "', LPAD(n, 24, '0')), '", submitted_by, "', CONCAT('", tag,
        "', n), UNHEX(SHA2(CONCAT('", tag, "', n), 256)), DATE_ADD('", first_day,
        "', INTERVAL n MOD ", span_days, " DAY), 1, 'US', 'Test', 'Returnee', '1980-01-01', ",
        sex, ", '', '", department, "', 'Municipio', 0, 0, NULL, 1, 0 "
        "FROM (SELECT d0.d + 10 * d1.d + 100 * d2.d + 1000 * d3.d AS n FROM ",
        kDigits, " d0, ", kDigits, " d1, ", kDigits, " d2, ", kDigits, " d3) numbers "
        "WHERE n < ", count));
  }

  // The seq of the k-th arrival (0-based, in recording order) of `department`.
  int64_t ArrivalSeq(const std::string& department, int k) {
    return database_->QueryInt(absl::StrCat("SELECT seq FROM arrivals WHERE department_code = '",
                                            department, "' ORDER BY seq LIMIT 1 OFFSET ", k));
  }

  // A case of arrival `arrival_seq` in that arrival's department; its seq.
  int64_t AddCase(int64_t arrival_seq, const std::string& owner, enlace::v1::CaseStatus status,
                  int64_t created_at_us) {
    database_->Execute(absl::StrCat(
        "INSERT INTO cases (case_id, arrival_seq, owner_agency, status, department_code, "
        "municipality, summary, psychosocial_notes, version, created_at_us, updated_at_us) "
        "SELECT 'case", ++next_id_, "', seq, '", owner, "', ", status,
        ", department_code, municipality, '', '', 1, ", created_at_us, ", ", created_at_us,
        " FROM arrivals WHERE seq = ", arrival_seq));
    return database_->QueryInt("SELECT MAX(seq) FROM cases");
  }

  void AddService(int64_t case_seq, enlace::v1::Need service, const std::string& delivered_on,
                  const std::string& recorded_by) {
    database_->Execute(absl::StrCat(
        "INSERT INTO case_services (service_id, case_seq, service, delivered_on, notes, "
        "recorded_by, recorded_at_us) VALUES ('service", ++next_id_, "', ", case_seq, ", ",
        service, ", '", delivered_on, "', '', '", recorded_by, "', 0)"));
  }

  void AddReferral(int64_t case_seq, const std::string& from, const std::string& to,
                   enlace::v1::ReferralStatus status, int64_t created_at_us) {
    database_->Execute(absl::StrCat(
        "INSERT INTO referrals (referral_id, case_seq, from_agency, to_agency, service, reason, "
        "status, decline_reason, outcome, version, created_at_us, updated_at_us) VALUES "
        "('referral", ++next_id_, "', ", case_seq, ", '", from, "', '", to, "', 1, '', ", status,
        ", '', '', 1, ", created_at_us, ", ", created_at_us, ")"));
  }

  // An initiative of case `case_seq`, in that case's department.
  void AddInitiative(int64_t case_seq, const std::string& owner, int64_t registered_at_us) {
    database_->Execute(absl::StrCat(
        "INSERT INTO initiatives (initiative_id, case_seq, owner_agency, name, sector, "
        "department_code, municipality, registered_at_us) SELECT 'initiative", ++next_id_,
        "', seq, '", owner, "', 'Pupuseria', 'food', department_code, municipality, ",
        registered_at_us, " FROM cases WHERE seq = ", case_seq));
  }

  ProgrammeReport Report(const std::string& viewer, const std::string& from = "",
                         const std::string& to = "", const std::string& department = "") {
    ReportQuery query;
    query.period_from = from;
    query.period_to = to;
    query.department_code = department;
    query.viewer_agency = viewer;
    absl::StatusOr<ProgrammeReport> report = store_.Compute(query);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ProgrammeReport{};
  }
};

// The fixture of the exact-count tests, every record created in March or
// April 2018:
//   arrivals (all by mfa): SV-SS 7 in March (ss0..ss3 women), SV-LI 3 in
//     April, SV-CH 5 in March;
//   cases: OPEN 3 (iom on ss0 and ss1, undp on ss0: mixed owners),
//     IN_PROGRESS 5 (iom on ss2..ss6), CLOSED 2 (iom on li0, li1);
//   referrals: iom>unhcr PENDING 2, iom>undp ACCEPTED 6, unhcr>iom COMPLETED 1;
//   services: PSYCHOSOCIAL 6 on iom cases; TRAINING 2 on the undp case (one
//     of them recorded by iom: still undp's); SEED_CAPITAL 2, one on an iom
//     case and one on the undp case (mixed);
//   initiatives: 4, all iom's.
class ReportFixtureTest : public ReportStoreTest {
 protected:
  void SetUp() override {
    AddArrivals(4, "mfa", "SV-SS", "2018-03-01", 28, kFemale);
    AddArrivals(3, "mfa", "SV-SS", "2018-03-05", 20, kMale);
    AddArrivals(3, "mfa", "SV-LI", "2018-04-02", 10, kMale);
    AddArrivals(5, "mfa", "SV-CH", "2018-03-10", 5, kFemale);
    int64_t ss[7];
    for (int k = 0; k < 7; ++k) ss[k] = ArrivalSeq("SV-SS", k);
    const int64_t march = Micros("2018-03-15T12:00:00");
    int64_t iom_open = AddCase(ss[0], "iom", enlace::v1::CASE_STATUS_OPEN, march);
    AddCase(ss[1], "iom", enlace::v1::CASE_STATUS_OPEN, march);
    int64_t undp_open = AddCase(ss[0], "undp", enlace::v1::CASE_STATUS_OPEN, march);
    std::vector<int64_t> iom_cases = {iom_open};
    for (int k = 2; k < 7; ++k) {
      iom_cases.push_back(AddCase(ss[k], "iom", enlace::v1::CASE_STATUS_IN_PROGRESS, march));
    }
    AddCase(ArrivalSeq("SV-LI", 0), "iom", enlace::v1::CASE_STATUS_CLOSED, march);
    AddCase(ArrivalSeq("SV-LI", 1), "iom", enlace::v1::CASE_STATUS_CLOSED, march);

    const int64_t later = Micros("2018-03-20T08:00:00");
    for (int k = 0; k < 2; ++k) {
      AddReferral(iom_cases[k], "iom", "unhcr", enlace::v1::REFERRAL_STATUS_PENDING, later);
    }
    for (int k = 0; k < 6; ++k) {
      AddReferral(iom_cases[k], "iom", "undp", enlace::v1::REFERRAL_STATUS_ACCEPTED, later);
    }
    AddReferral(iom_cases[1], "unhcr", "iom", enlace::v1::REFERRAL_STATUS_COMPLETED, later);

    for (int k = 0; k < 6; ++k) {
      AddService(iom_cases[k], enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT, "2018-03-21", "iom");
    }
    AddService(undp_open, enlace::v1::NEED_TRAINING, "2018-03-22", "undp");
    AddService(undp_open, enlace::v1::NEED_TRAINING, "2018-03-23", "iom");
    AddService(iom_cases[0], enlace::v1::NEED_SEED_CAPITAL, "2018-03-24", "iom");
    AddService(undp_open, enlace::v1::NEED_SEED_CAPITAL, "2018-03-24", "undp");

    for (int k = 0; k < 4; ++k) AddInitiative(iom_cases[k], "iom", later);
  }
};

TEST_F(ReportFixtureTest, AnAdministratorSeesOnlyCellsOfFiveOrMore) {
  ProgrammeReport r = Report("");
  EXPECT_THAT(Departments(r), ElementsAre("SV-CH=5", "SV-LI=x", "SV-SS=7"));
  EXPECT_THAT(Months(r), ElementsAre("2018-03 SV-CH=5", "2018-03 SV-SS=7", "2018-04 SV-LI=x"));
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=5",
                                    "CASE_STATUS_CLOSED=x"));
  EXPECT_THAT(Referrals(r), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                        "iom>unhcr REFERRAL_STATUS_PENDING=x",
                                        "unhcr>iom REFERRAL_STATUS_COMPLETED=x"));
  EXPECT_THAT(Services(r), ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=6", "NEED_TRAINING=x",
                                       "NEED_SEED_CAPITAL=x"));
  EXPECT_EQ(Show(r.initiatives()), "x");
  EXPECT_EQ(r.initiatives_target(), 70);
  // Served: ss0..ss6, li0, li1. Women among them: ss0..ss3.
  EXPECT_EQ(Show(r.returnees_served()), "9");
  EXPECT_EQ(Show(r.women_served()), "x");
  EXPECT_EQ(r.women_share(), 0);
  // Names are the service's (the gazetteer), never the store's.
  for (const auto& d : r.returnees_by_department()) EXPECT_EQ(d.department_name(), "");
}

TEST_F(ReportFixtureTest, TheMinistrySeesItsOwnSmallArrivalCells) {
  ProgrammeReport r = Report("mfa");
  EXPECT_THAT(Departments(r), ElementsAre("SV-CH=5", "SV-LI=3", "SV-SS=7"));
  EXPECT_THAT(Months(r), ElementsAre("2018-03 SV-CH=5", "2018-03 SV-SS=7", "2018-04 SV-LI=3"));
  // It owns no case, referral, service or initiative.
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=5",
                                    "CASE_STATUS_CLOSED=x"));
  EXPECT_EQ(Show(r.initiatives()), "x");
  EXPECT_EQ(Show(r.women_served()), "x");
}

TEST_F(ReportFixtureTest, IomSeesWhatItOwnsEntirelyButNotMixedCells) {
  ProgrammeReport r = Report("iom");
  // Arrivals are mfa's: 3 is suppressed for iom.
  EXPECT_THAT(Departments(r), ElementsAre("SV-CH=5", "SV-LI=x", "SV-SS=7"));
  // OPEN holds 2 iom cases and 1 undp case: suppressed even for iom.
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=5",
                                    "CASE_STATUS_CLOSED=2"));
  EXPECT_THAT(Referrals(r), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                        "iom>unhcr REFERRAL_STATUS_PENDING=2",
                                        "unhcr>iom REFERRAL_STATUS_COMPLETED=x"));
  // TRAINING was delivered on undp's case (once recorded by iom): undp's.
  EXPECT_THAT(Services(r), ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=6", "NEED_TRAINING=x",
                                       "NEED_SEED_CAPITAL=x"));
  EXPECT_EQ(Show(r.initiatives()), "4");
  EXPECT_EQ(Show(r.returnees_served()), "9");
  // ss0 also has a undp case, so iom owns 3 of the 4 women served.
  EXPECT_EQ(Show(r.women_served()), "x");
  EXPECT_EQ(r.women_share(), 0);
}

TEST_F(ReportFixtureTest, UndpAndUnhcrSeeTheirOwnSmallCells) {
  ProgrammeReport undp = Report("undp");
  EXPECT_THAT(Cases(undp), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=5",
                                       "CASE_STATUS_CLOSED=x"));
  EXPECT_THAT(Services(undp), ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=6", "NEED_TRAINING=2",
                                          "NEED_SEED_CAPITAL=x"));
  // Receiving referrals does not make them yours.
  EXPECT_THAT(Referrals(undp), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                           "iom>unhcr REFERRAL_STATUS_PENDING=x",
                                           "unhcr>iom REFERRAL_STATUS_COMPLETED=x"));
  ProgrammeReport unhcr = Report("unhcr");
  EXPECT_THAT(Referrals(unhcr), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                            "iom>unhcr REFERRAL_STATUS_PENDING=x",
                                            "unhcr>iom REFERRAL_STATUS_COMPLETED=1"));
}

TEST_F(ReportFixtureTest, AnAgencyWithNoRecordsIsTreatedLikeAnAdministrator) {
  ProgrammeReport stranger = Report("wfp");
  ProgrammeReport admin = Report("");
  EXPECT_EQ(stranger.SerializeAsString(), admin.SerializeAsString());
}

TEST_F(ReportFixtureTest, TheDepartmentFilterReachesReferralsAndServicesThroughTheirCase) {
  ProgrammeReport r = Report("iom", "", "", "SV-LI");
  EXPECT_EQ(r.department_code(), "SV-LI");
  EXPECT_THAT(Departments(r), ElementsAre("SV-LI=x"));
  EXPECT_THAT(Months(r), ElementsAre("2018-04 SV-LI=x"));
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_CLOSED=2"));
  EXPECT_THAT(Referrals(r), IsEmpty());
  EXPECT_THAT(Services(r), IsEmpty());
  EXPECT_EQ(Show(r.initiatives()), "0");
  EXPECT_EQ(Show(r.returnees_served()), "2");  // iom owns both: shown to iom
  EXPECT_EQ(Show(r.women_served()), "0");
  EXPECT_EQ(r.women_share(), 0);

  ProgrammeReport ss = Report("iom", "", "", "SV-SS");
  EXPECT_THAT(Departments(ss), ElementsAre("SV-SS=7"));
  EXPECT_THAT(Cases(ss), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=5"));
  EXPECT_THAT(Referrals(ss), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                         "iom>unhcr REFERRAL_STATUS_PENDING=2",
                                         "unhcr>iom REFERRAL_STATUS_COMPLETED=x"));
  EXPECT_THAT(Services(ss), ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=6", "NEED_TRAINING=x",
                                        "NEED_SEED_CAPITAL=x"));
  EXPECT_EQ(Show(ss.initiatives()), "4");
  EXPECT_EQ(Show(ss.returnees_served()), "7");

  ProgrammeReport ch = Report("", "", "", "SV-CH");
  EXPECT_THAT(Departments(ch), ElementsAre("SV-CH=5"));
  EXPECT_THAT(Cases(ch), IsEmpty());
  EXPECT_EQ(Show(ch.returnees_served()), "0");
}

TEST_F(ReportStoreTest, AnEmptyDatabaseGivesZerosAndNoRows) {
  ProgrammeReport r = Report("iom", "2018-01-01", "2018-12-31");
  EXPECT_EQ(r.period_from(), "2018-01-01");
  EXPECT_EQ(r.period_to(), "2018-12-31");
  EXPECT_THAT(Departments(r), IsEmpty());
  EXPECT_THAT(Months(r), IsEmpty());
  EXPECT_THAT(Cases(r), IsEmpty());
  EXPECT_THAT(Referrals(r), IsEmpty());
  EXPECT_THAT(Services(r), IsEmpty());
  EXPECT_EQ(Show(r.initiatives()), "0");
  EXPECT_EQ(r.initiatives_target(), 70);
  EXPECT_EQ(Show(r.returnees_served()), "0");
  EXPECT_EQ(Show(r.women_served()), "0");
  EXPECT_EQ(r.women_share(), 0);
}

TEST_F(ReportStoreTest, PeriodsAreWholeUtcDaysBothEndsIncluded) {
  // Period 2018-01-01..2018-02-28; one record just outside at each end.
  for (const char* day : {"2017-12-31", "2018-01-01", "2018-02-28", "2018-03-01"}) {
    AddArrivals(1, "mfa", "SV-SS", day, 1);
  }
  const int64_t kInstants[] = {
      Micros("2018-01-01T00:00:00", -1),  // out: the last microsecond of 2017
      Micros("2018-01-01T00:00:00"),      // in
      Micros("2018-03-01T00:00:00", -1),  // in: the last microsecond of Feb 28
      Micros("2018-03-01T00:00:00"),      // out
  };
  int64_t any_case = 0;
  for (int64_t at : kInstants) {
    // Each case on its own arrival (one case per arrival and owner).
    AddArrivals(1, "mfa", "SV-LI", "2017-06-01", 1);
    any_case = AddCase(database_->QueryInt("SELECT MAX(seq) FROM arrivals"), "iom",
                       enlace::v1::CASE_STATUS_OPEN, at);
  }
  for (int64_t at : kInstants) {
    AddReferral(any_case, "iom", "undp", enlace::v1::REFERRAL_STATUS_PENDING, at);
    AddInitiative(any_case, "iom", at);
  }
  for (const char* day : {"2017-12-31", "2018-01-01", "2018-02-28", "2018-03-01"}) {
    AddService(any_case, enlace::v1::NEED_TRAINING, day, "iom");
  }

  ProgrammeReport mfa = Report("mfa", "2018-01-01", "2018-02-28");
  EXPECT_THAT(Months(mfa), ElementsAre("2018-01 SV-SS=1", "2018-02 SV-SS=1"));
  ProgrammeReport r = Report("iom", "2018-01-01", "2018-02-28");
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=2"));
  EXPECT_THAT(Referrals(r), ElementsAre("iom>undp REFERRAL_STATUS_PENDING=2"));
  EXPECT_THAT(Services(r), ElementsAre("NEED_TRAINING=2"));
  EXPECT_EQ(Show(r.initiatives()), "2");
  EXPECT_EQ(Show(r.returnees_served()), "2");

  // Open ends.
  EXPECT_THAT(Cases(Report("iom", "2018-01-01", "")), ElementsAre("CASE_STATUS_OPEN=3"));
  EXPECT_THAT(Cases(Report("iom", "", "2018-02-28")), ElementsAre("CASE_STATUS_OPEN=3"));
  EXPECT_THAT(Cases(Report("iom")), ElementsAre("CASE_STATUS_OPEN=4"));
  EXPECT_THAT(Departments(Report("mfa", "2018-02-28", "2018-02-28")), ElementsAre("SV-SS=1"));
}

TEST_F(ReportStoreTest, WomenShareIsWomenOverServedWhenBothAreShown) {
  AddArrivals(5, "mfa", "SV-SS", "2018-03-01", 10, kFemale);
  AddArrivals(3, "mfa", "SV-SS", "2018-03-01", 10, kMale);
  AddArrivals(1, "mfa", "SV-SS", "2018-03-01", 10, kFemale);  // not served
  for (int k = 0; k < 8; ++k) {
    AddCase(ArrivalSeq("SV-SS", k), "iom", enlace::v1::CASE_STATUS_OPEN,
            Micros("2018-03-15T00:00:00"));
  }
  // A second case of the same returnee is still one returnee served.
  AddCase(ArrivalSeq("SV-SS", 0), "undp", enlace::v1::CASE_STATUS_OPEN,
          Micros("2018-03-15T00:00:00"));
  ProgrammeReport r = Report("");
  EXPECT_EQ(Show(r.returnees_served()), "8");
  EXPECT_EQ(Show(r.women_served()), "5");
  EXPECT_DOUBLE_EQ(r.women_share(), 5.0 / 8.0);
}

TEST_F(ReportStoreTest, WomenShareIsZeroWhenWomenServedIsSuppressed) {
  AddArrivals(3, "mfa", "SV-SS", "2018-03-01", 10, kFemale);
  AddArrivals(3, "mfa", "SV-SS", "2018-03-01", 10, kMale);
  for (int k = 0; k < 6; ++k) {
    AddCase(ArrivalSeq("SV-SS", k), "iom", enlace::v1::CASE_STATUS_OPEN,
            Micros("2018-03-15T00:00:00"));
  }
  ProgrammeReport admin = Report("");
  EXPECT_EQ(Show(admin.returnees_served()), "6");
  EXPECT_EQ(Show(admin.women_served()), "x");
  EXPECT_EQ(admin.women_share(), 0);
  // iom opened every case: the served returnees, women included, are its own.
  ProgrammeReport iom = Report("iom");
  EXPECT_EQ(Show(iom.women_served()), "3");
  EXPECT_DOUBLE_EQ(iom.women_share(), 0.5);
}

// DOMAIN.md: the figures quoted at the launch, reproduced from records.
TEST_F(ReportStoreTest, ReproducesTheOfficialReturneeFigures) {
  AddArrivals(3988, "mfa", "SV-SS", "2017-01-01", 365);
  AddArrivals(2361, "mfa", "SV-LI", "2017-01-01", 365);
  AddArrivals(559, "mfa", "SV-SS", "2018-01-01", 59);  // 31 days of January, 28 of February
  AddArrivals(308, "mfa", "SV-LI", "2018-01-01", 59);
  // Neighbours that the periods must leave out.
  AddArrivals(7, "mfa", "SV-SS", "2016-12-31", 1);
  AddArrivals(9, "mfa", "SV-LI", "2018-03-01", 1);
  AddArrivals(6, "mfa", "SV-SA", "2017-05-05", 1);

  ProgrammeReport y2017 = Report("", "2017-01-01", "2017-12-31");
  EXPECT_THAT(Departments(y2017), ElementsAre("SV-LI=2361", "SV-SA=6", "SV-SS=3988"));
  ASSERT_EQ(y2017.returnees_by_month_size(), 12 * 2 + 1);
  int64_t ss_2017 = 0;
  for (const auto& m : y2017.returnees_by_month()) {
    EXPECT_EQ(m.month().substr(0, 5), "2017-");
    if (m.department_code() == "SV-SS") ss_2017 += m.returnees().count();
  }
  EXPECT_EQ(ss_2017, 3988);

  ProgrammeReport early2018 = Report("", "2018-01-01", "2018-02-28");
  EXPECT_THAT(Departments(early2018), ElementsAre("SV-LI=308", "SV-SS=559"));
  // n mod 59 < 31 falls in January: 559 = 9 * 59 + 28, 308 = 5 * 59 + 13.
  EXPECT_THAT(Months(early2018), ElementsAre("2018-01 SV-LI=168", "2018-01 SV-SS=307",
                                             "2018-02 SV-LI=140", "2018-02 SV-SS=252"));

  ProgrammeReport ss_only = Report("mfa", "2018-01-01", "2018-02-28", "SV-SS");
  EXPECT_THAT(Departments(ss_only), ElementsAre("SV-SS=559"));
}

TEST_F(ReportStoreTest, RefusesPeriodsThatAreNotRealDaysOrAreReversed) {
  ReportQuery query;
  query.period_from = "2018-02-30";
  EXPECT_THAT(store_.Compute(query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period_from")));
  query.period_from = "2018-03-01";
  query.period_to = "2018-2-28";
  EXPECT_THAT(store_.Compute(query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period_to")));
  query.period_to = "2018-02-28";
  EXPECT_THAT(store_.Compute(query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period_from")));
}

TEST_F(ReportStoreTest, LeavesItsConnectionWritable) {
  // The report's read-only snapshot transaction must not outlive it: the
  // next user of the same connection writes, as usual.
  MysqlPool one(database_->dsn(), PoolOptions{.max_connections = 1});
  MysqlReportStore store(&one);
  ASSERT_TRUE(store.Compute(ReportQuery{}).ok());
  absl::Status write = one.Run([](MysqlConnection& c) {
    c.Execute("INSERT INTO referral_feed_head (id, last_seq) VALUES (2, 0)");
    return absl::OkStatus();
  });
  EXPECT_TRUE(write.ok()) << write;
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM referral_feed_head"), 2);
}

}  // namespace
}  // namespace enlace::db
