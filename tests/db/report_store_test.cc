// MysqlReportStore against a real MariaDB (started by scripts/test.sh): exact
// counts, the release rule of db/report_cells.h (a grid cell is hidden when
// the viewer's records of others in it number 1 to 4; a number is shown only
// when none of its grid cells is hidden), filters by whole months and
// department, the programme's official returnee figures (docs/programme.md)
// reproduced from records; and the differencing attacks of
// docs/report-suppression.md, each tried as an attacker would and failing if
// a hidden cell's value can be recovered.
//
// Fixture rows are written with plain SQL, so this test depends only on the
// schema (db/migrations/), not on the other stores; the report's grid is
// then counted from them (RecountReportGrid) before the next report.
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "db/mysql_report_grid.h"
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
using ::testing::StartsWith;

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

// What an attacker reads in a cell: its count, or nothing when suppressed.
std::optional<int64_t> Value(const enlace::v1::CountCell& cell) {
  if (cell.suppressed()) return std::nullopt;
  return cell.count();
}

// The first and last days of month "YYYY-MM", as a report period.
std::string FirstDay(const std::string& month) { return month + "-01"; }
std::string LastDay(const std::string& month) {
  absl::CivilMonth m;
  EXPECT_TRUE(absl::ParseCivilTime(month, &m)) << month;
  return absl::FormatCivilTime(absl::CivilDay(m + 1) - 1);
}

// The attacker's arithmetic: every number it reads is an equation "the sum of
// these unknowns is v". It has recovered an unknown when that unknown is a
// linear combination of what it read (any sums and differences, of any
// reports): the unknown's unit vector lies in the span of the equations.
class Equations {
 public:
  void Add(const std::set<std::string>& unknowns, int64_t value) {
    std::vector<double> row;
    for (const std::string& name : unknowns) Set(&row, name, 1);
    rows_.push_back(std::move(row));
    values_.push_back(value);
  }

  // Makes `unknowns` known by name, also when nothing is learnt about them
  // (a suppressed number).
  void Mention(const std::set<std::string>& unknowns) {
    for (const std::string& name : unknowns) index_.emplace(name, index_.size());
  }

  // The value of `unknown` if the equations determine it. An unknown never
  // mentioned is a mistake of the test (a misspelt cell would pass).
  std::optional<int64_t> Recover(const std::string& unknown) const {
    // Reduce [equations | values] and the unit row of `unknown` together:
    // the unknown is determined when the unit row reduces to zero, and its
    // value is then the same combination of the values.
    size_t n = index_.size();
    std::vector<std::vector<double>> rows;
    for (size_t r = 0; r < rows_.size(); ++r) {
      std::vector<double> row = rows_[r];
      row.resize(n, 0);
      row.push_back(static_cast<double>(values_[r]));
      rows.push_back(std::move(row));
    }
    std::vector<double> target(n + 1, 0);
    auto found = index_.find(unknown);
    if (found == index_.end()) {
      ADD_FAILURE() << "no report mentions " << unknown;
      return std::nullopt;
    }
    target[found->second] = 1;
    size_t pivot_row = 0;
    for (size_t col = 0; col < n && pivot_row < rows.size(); ++col) {
      size_t best = pivot_row;
      for (size_t r = pivot_row; r < rows.size(); ++r) {
        if (std::fabs(rows[r][col]) > std::fabs(rows[best][col])) best = r;
      }
      if (std::fabs(rows[best][col]) < 1e-9) continue;
      std::swap(rows[best], rows[pivot_row]);
      const std::vector<double>& p = rows[pivot_row];
      for (size_t r = 0; r < rows.size(); ++r) {
        if (r == pivot_row || std::fabs(rows[r][col]) < 1e-12) continue;
        double k = rows[r][col] / p[col];
        for (size_t c = 0; c <= n; ++c) rows[r][c] -= k * p[c];
      }
      if (std::fabs(target[col]) > 1e-12) {
        double k = target[col] / p[col];
        for (size_t c = 0; c <= n; ++c) target[c] -= k * p[c];
      }
      ++pivot_row;
    }
    for (size_t c = 0; c < n; ++c) {
      if (std::fabs(target[c]) > 1e-9) return std::nullopt;
    }
    return static_cast<int64_t>(std::llround(-target[n]));
  }

 private:
  void Set(std::vector<double>* row, const std::string& name, double value) {
    auto [it, inserted] = index_.emplace(name, index_.size());
    if (row->size() <= it->second) row->resize(it->second + 1, 0);
    (*row)[it->second] = value;
  }

  std::map<std::string, size_t> index_;
  std::vector<std::vector<double>> rows_;
  std::vector<int64_t> values_;
};

TEST(EquationsTest, RecoversWhatDifferencingRecoversAndNothingElse) {
  Equations e;
  e.Add({"jan", "feb", "mar"}, 21);
  e.Add({"jan"}, 10);
  EXPECT_EQ(e.Recover("jan"), 10);
  EXPECT_EQ(e.Recover("feb"), std::nullopt);
  e.Add({"mar"}, 8);
  EXPECT_EQ(e.Recover("feb"), 3);  // 21 - 10 - 8: the attack the rule must prevent
  Equations f;
  f.Add({"a", "b"}, 7);
  f.Add({"b", "c"}, 9);
  EXPECT_EQ(f.Recover("a"), std::nullopt);
  f.Add({"a", "c"}, 8);
  EXPECT_EQ(f.Recover("a"), 3);
}

// The attacker's periods: every whole-month range within `months` (open ends
// included: they reach as far as the data does) and the months each covers.
struct Period {
  std::string from;
  std::string to;
  std::vector<std::string> months;
};
std::vector<Period> EveryPeriod(const std::vector<std::string>& months) {
  std::vector<Period> out;
  for (size_t first = 0; first <= months.size(); ++first) {  // months.size(): open
    for (size_t last = 0; last <= months.size(); ++last) {
      size_t begin = first == months.size() ? 0 : first;
      size_t end = last == months.size() ? months.size() - 1 : last;
      if (begin > end) continue;
      Period period;
      if (first != months.size()) period.from = FirstDay(months[first]);
      if (last != months.size()) period.to = LastDay(months[last]);
      period.months.assign(months.begin() + begin, months.begin() + end + 1);
      out.push_back(std::move(period));
    }
  }
  return out;
}

class ReportStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlReportStore store_{&database_->pool()};
  int next_id_ = 0;
  bool grid_counted_ = true;

  // Records are inserted with SQL, not through the stores that keep the
  // report's grid in step (that is mysql_report_grid_test.cc's subject): the
  // grid is counted from them before the next report.
  void AddRecords(const std::string& insert) {
    database_->Execute(insert);
    grid_counted_ = false;
  }

  absl::StatusOr<ProgrammeReport> Compute(const ReportQuery& query) {
    if (!grid_counted_) {
      if (absl::Status s = RecountReportGrid(database_->pool()); !s.ok()) return s;
      grid_counted_ = true;
    }
    return store_.Compute(query);
  }

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
    AddRecords(absl::StrCat(
        "INSERT INTO arrivals (arrival_id, submitted_by, external_id, content_hash, "
        "arrival_date, mode, origin_country, given_name, family_name, birth_date, sex, "
        "document_number, department_code, municipality, needs_mask, consent_purposes_mask, "
        "consent_given_at_us, consent_version, recorded_at_us) "
        "SELECT CONCAT('",
        tag, "', LPAD(n, 24, '0')), '", submitted_by, "', CONCAT('", tag,
        "', n), UNHEX(SHA2(CONCAT('", tag, "', n), 256)), DATE_ADD('", first_day,
        "', INTERVAL n MOD ", span_days, " DAY), 1, 'US', 'Test', 'Returnee', '1980-01-01', ", sex,
        ", '', '", department,
        "', 'Municipio', 0, 0, NULL, 1, 0 "
        "FROM (SELECT d0.d + 10 * d1.d + 100 * d2.d + 1000 * d3.d AS n FROM ",
        kDigits, " d0, ", kDigits, " d1, ", kDigits, " d2, ", kDigits,
        " d3) numbers "
        "WHERE n < ",
        count));
  }

  // Inserts `count` arrivals of `department`, all on `day`, and returns
  // their seqs.
  std::vector<int64_t> NewArrivals(int count, const std::string& department, const std::string& day,
                                   int sex = kMale, const std::string& submitted_by = "mfa") {
    int64_t before = database_->QueryInt("SELECT COALESCE(MAX(seq), 0) FROM arrivals");
    AddArrivals(count, submitted_by, department, day, 1, sex);
    std::vector<int64_t> seqs;
    for (int k = 0; k < count; ++k) {
      seqs.push_back(database_->QueryInt(absl::StrCat("SELECT seq FROM arrivals WHERE seq > ",
                                                      before, " ORDER BY seq LIMIT 1 OFFSET ", k)));
    }
    return seqs;
  }

  // `count` new returnees of `department` (arrived the month before), each
  // with one case of `owner`: the first case of each. Returns the cases'
  // seqs.
  std::vector<int64_t> FirstCases(int count, const std::string& owner,
                                  enlace::v1::CaseStatus status, const std::string& department,
                                  int64_t created_at_us, int sex = kMale) {
    std::vector<int64_t> cases;
    for (int64_t arrival : NewArrivals(count, department, "2017-12-15", sex)) {
      cases.push_back(AddCase(arrival, owner, status, created_at_us));
    }
    return cases;
  }

  // The seq of the k-th arrival (0-based, in recording order) of `department`.
  int64_t ArrivalSeq(const std::string& department, int k) {
    return database_->QueryInt(absl::StrCat("SELECT seq FROM arrivals WHERE department_code = '",
                                            department, "' ORDER BY seq LIMIT 1 OFFSET ", k));
  }

  // A case of arrival `arrival_seq` in that arrival's department; its seq.
  int64_t AddCase(int64_t arrival_seq, const std::string& owner, enlace::v1::CaseStatus status,
                  int64_t created_at_us) {
    AddRecords(absl::StrCat(
        "INSERT INTO cases (case_id, arrival_seq, owner_agency, status, department_code, "
        "municipality, summary, psychosocial_notes, version, created_at_us, updated_at_us) "
        "SELECT 'case",
        ++next_id_, "', seq, '", owner, "', ", status,
        ", department_code, municipality, '', '', 1, ", created_at_us, ", ", created_at_us,
        " FROM arrivals WHERE seq = ", arrival_seq));
    return database_->QueryInt("SELECT MAX(seq) FROM cases");
  }

  void AddService(int64_t case_seq, enlace::v1::Need service, const std::string& delivered_on,
                  const std::string& recorded_by) {
    AddRecords(absl::StrCat(
        "INSERT INTO case_services (service_id, case_seq, service, delivered_on, notes, "
        "recorded_by, recorded_at_us) VALUES ('service",
        ++next_id_, "', ", case_seq, ", ", service, ", '", delivered_on, "', '', '", recorded_by,
        "', 0)"));
  }

  void AddReferral(int64_t case_seq, const std::string& from, const std::string& to,
                   enlace::v1::ReferralStatus status, int64_t created_at_us) {
    AddRecords(absl::StrCat(
        "INSERT INTO referrals (referral_id, case_seq, from_agency, to_agency, service, reason, "
        "status, decline_reason, outcome, version, created_at_us, updated_at_us) VALUES "
        "('referral",
        ++next_id_, "', ", case_seq, ", '", from, "', '", to, "', 1, '', ", status, ", '', '', 1, ",
        created_at_us, ", ", created_at_us, ")"));
  }

  // An initiative of case `case_seq`, in that case's department.
  void AddInitiative(int64_t case_seq, const std::string& owner, int64_t registered_at_us) {
    AddRecords(absl::StrCat(
        "INSERT INTO initiatives (initiative_id, case_seq, owner_agency, name, sector, "
        "department_code, municipality, registered_at_us) SELECT 'initiative",
        ++next_id_, "', seq, '", owner, "', 'Pupuseria', 'food', department_code, municipality, ",
        registered_at_us, " FROM cases WHERE seq = ", case_seq));
  }

  absl::StatusOr<ProgrammeReport> Try(const std::string& viewer, const std::string& from,
                                      const std::string& to, const std::string& department = "") {
    ReportQuery query;
    query.period_from = from;
    query.period_to = to;
    query.department_code = department;
    query.viewer_agency = viewer;
    return Compute(query);
  }

  ProgrammeReport Report(const std::string& viewer, const std::string& from = "",
                         const std::string& to = "", const std::string& department = "") {
    ReportQuery query;
    query.period_from = from;
    query.period_to = to;
    query.department_code = department;
    query.viewer_agency = viewer;
    absl::StatusOr<ProgrammeReport> report = Compute(query);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ProgrammeReport{};
  }
};

// The fixture of the exact-count tests, every record created in March or
// April 2018:
//   arrivals (all by mfa): SV-SS 7 in March (ss0..ss3 women), SV-LI 3 in
//     April, SV-CH 5 in March;
//   cases (all opened 2018-03-15, all first cases but one):
//     OPEN: iom on ss0 and ss1 (women), undp on ss0 (a later case: ss0's
//       second, so not a second returnee served);
//     IN_PROGRESS: iom on ss2..ss6 (2 women, 3 men);
//     CLOSED: iom on li0, li1 (men);
//   referrals (2018-03-20, all on SV-SS cases): iom>unhcr PENDING 2,
//     iom>undp ACCEPTED 6, unhcr>iom COMPLETED 1;
//   services (March, SV-SS): PSYCHOSOCIAL 6 on iom cases; TRAINING 2 on the
//     undp case (one of them recorded by iom); SEED_CAPITAL 2, one on an iom
//     case and one on the undp case;
//   initiatives: 4, all iom's, SV-SS, March.
// The grid cells of cases (status, role, department, month): (OPEN, first
// woman, SS) 2 iom; (OPEN, later, SS) 1 undp; (IN_PROGRESS, first woman, SS)
// 2 iom; (IN_PROGRESS, first other, SS) 3 iom; (CLOSED, first other, LI) 2
// iom.
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

TEST_F(ReportFixtureTest, AnAdministratorSeesOnlySumsOfGridCellsOfFiveOrMore) {
  ProgrammeReport r = Report("");
  // SV-SS's 7 arrivals of March are 4 women and 3 men of one age band: two
  // grid cells (sex is part of the returnees' grid), each hidden, so is
  // their sum. SV-CH's 5 women are one cell.
  EXPECT_THAT(Departments(r), ElementsAre("SV-CH=5", "SV-LI=x", "SV-SS=x"));
  EXPECT_THAT(Months(r), ElementsAre("2018-03 SV-CH=5", "2018-03 SV-SS=x", "2018-04 SV-LI=x"));
  // IN_PROGRESS holds 5 cases, but in two grid cells (2 first cases of
  // women, 3 of men): each is hidden, so is their sum.
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=x",
                                    "CASE_STATUS_CLOSED=x"));
  EXPECT_THAT(Referrals(r), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                        "iom>unhcr REFERRAL_STATUS_PENDING=x",
                                        "unhcr>iom REFERRAL_STATUS_COMPLETED=x"));
  EXPECT_THAT(Services(r),
              ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=6", "NEED_TRAINING=x", "NEED_SEED_CAPITAL=x"));
  EXPECT_EQ(Show(r.initiatives()), "x");
  EXPECT_EQ(r.initiatives_target(), 0);  // the service's (server/programme_targets.h)
  EXPECT_EQ(Show(r.returnees_served()), "x");
  EXPECT_EQ(Show(r.women_served()), "x");
  EXPECT_EQ(r.women_share(), 0);
  // Names are the service's (the gazetteer), never the store's.
  for (const auto& d : r.returnees_by_department()) EXPECT_EQ(d.department_name(), "");
}

TEST_F(ReportFixtureTest, TheMinistrySeesItsOwnSmallArrivalCells) {
  ProgrammeReport r = Report("mfa");
  EXPECT_THAT(Departments(r), ElementsAre("SV-CH=5", "SV-LI=3", "SV-SS=7"));
  EXPECT_THAT(Months(r), ElementsAre("2018-03 SV-CH=5", "2018-03 SV-SS=7", "2018-04 SV-LI=3"));
  // It owns no case, referral, service or initiative: as an administrator.
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=x",
                                    "CASE_STATUS_CLOSED=x"));
  EXPECT_EQ(Show(r.initiatives()), "x");
  EXPECT_EQ(Show(r.women_served()), "x");
}

TEST_F(ReportFixtureTest, IomSeesWhatItOwnsEntirelyButNotCellsWithFewRecordsOfOthers) {
  ProgrammeReport r = Report("iom");
  // Arrivals are mfa's: 3 is hidden from iom, and so are SV-SS's 4 women
  // and 3 men.
  EXPECT_THAT(Departments(r), ElementsAre("SV-CH=5", "SV-LI=x", "SV-SS=x"));
  // OPEN holds undp's later case of ss0: 1 record of others.
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=5",
                                    "CASE_STATUS_CLOSED=2"));
  EXPECT_THAT(Referrals(r), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                        "iom>unhcr REFERRAL_STATUS_PENDING=2",
                                        "unhcr>iom REFERRAL_STATUS_COMPLETED=x"));
  // TRAINING: 2 on undp's case, one recorded by iom (iom's doing), one by
  // undp: 1 record of others. SEED_CAPITAL: 1 of iom's, 1 of undp's.
  EXPECT_THAT(Services(r),
              ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=6", "NEED_TRAINING=x", "NEED_SEED_CAPITAL=x"));
  EXPECT_EQ(Show(r.initiatives()), "4");
  // Every first case is iom's: the served returnees are iom's, women too
  // (undp's case of ss0 is a later case, not a second returnee).
  EXPECT_EQ(Show(r.returnees_served()), "9");
  EXPECT_EQ(Show(r.women_served()), "4");
  EXPECT_DOUBLE_EQ(r.women_share(), 4.0 / 9.0);
}

TEST_F(ReportFixtureTest, UndpAndUnhcrSeeTheirOwnSmallCells) {
  ProgrammeReport undp = Report("undp");
  EXPECT_THAT(Cases(undp), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=x",
                                       "CASE_STATUS_CLOSED=x"));
  // Both TRAINING records are on undp's case: undp's, whoever recorded them.
  EXPECT_THAT(Services(undp),
              ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=6", "NEED_TRAINING=2", "NEED_SEED_CAPITAL=x"));
  // Receiving referrals does not make them yours.
  EXPECT_THAT(Referrals(undp), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                           "iom>unhcr REFERRAL_STATUS_PENDING=x",
                                           "unhcr>iom REFERRAL_STATUS_COMPLETED=x"));
  EXPECT_EQ(Show(undp.returnees_served()), "x");
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
  EXPECT_EQ(Show(r.returnees_served()), "2");  // iom's first cases: shown to iom
  EXPECT_EQ(Show(r.women_served()), "0");
  EXPECT_EQ(r.women_share(), 0);

  ProgrammeReport ss = Report("iom", "", "", "SV-SS");
  EXPECT_THAT(Departments(ss), ElementsAre("SV-SS=x"));
  EXPECT_THAT(Cases(ss), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=5"));
  EXPECT_THAT(Referrals(ss), ElementsAre("iom>undp REFERRAL_STATUS_ACCEPTED=6",
                                         "iom>unhcr REFERRAL_STATUS_PENDING=2",
                                         "unhcr>iom REFERRAL_STATUS_COMPLETED=x"));
  EXPECT_THAT(Services(ss),
              ElementsAre("NEED_PSYCHOSOCIAL_SUPPORT=6", "NEED_TRAINING=x", "NEED_SEED_CAPITAL=x"));
  EXPECT_EQ(Show(ss.initiatives()), "4");
  EXPECT_EQ(Show(ss.returnees_served()), "7");
  EXPECT_EQ(Show(ss.women_served()), "4");

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
  EXPECT_EQ(r.initiatives_target(), 0);  // the service's (server/programme_targets.h)
  EXPECT_EQ(Show(r.returnees_served()), "0");
  EXPECT_EQ(Show(r.women_served()), "0");
  EXPECT_EQ(r.women_share(), 0);
}

TEST_F(ReportStoreTest, PeriodsAreWholeUtcMonthsBothEndsIncluded) {
  // Period 2018-01-01..2018-02-28; one record just outside at each end.
  for (const char* day : {"2017-12-31", "2018-01-01", "2018-02-28", "2018-03-01"}) {
    AddArrivals(1, "mfa", "SV-SS", day, 1);
  }
  const int64_t kInstants[] = {
      Micros("2018-01-01T00:00:00", -1),  // out: the last microsecond of 2017
      Micros("2018-01-01T00:00:00"),  // in
      Micros("2018-03-01T00:00:00", -1),  // in: the last microsecond of February
      Micros("2018-03-01T00:00:00"),  // out
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
  EXPECT_THAT(Departments(Report("mfa", "2018-02-01", "2018-02-28")), ElementsAre("SV-SS=1"));
  // Grid months are UTC calendar months, for dates and instants alike: one
  // record of each kind in each month.
  for (const char* month : {"2017-12", "2018-01", "2018-02", "2018-03"}) {
    ProgrammeReport one = Report("iom", FirstDay(month), LastDay(month));
    EXPECT_THAT(Cases(one), ElementsAre("CASE_STATUS_OPEN=1")) << month;
    EXPECT_THAT(Referrals(one), ElementsAre("iom>undp REFERRAL_STATUS_PENDING=1")) << month;
    EXPECT_THAT(Services(one), ElementsAre("NEED_TRAINING=1")) << month;
    EXPECT_EQ(Show(one.initiatives()), "1") << month;
    EXPECT_THAT(Months(Report("mfa", FirstDay(month), LastDay(month))),
                ElementsAre(absl::StrCat(month, " SV-SS=1")));
  }
}

TEST_F(ReportStoreTest, ReturneesServedAreCountedOnceByTheirFirstCase) {
  // ss0: iom's case in January, undp's in March; ss1: undp's in March only.
  std::vector<int64_t> ss = NewArrivals(2, "SV-SS", "2017-12-01", kFemale);
  AddCase(ss[0], "iom", enlace::v1::CASE_STATUS_OPEN, Micros("2018-01-10T00:00:00"));
  AddCase(ss[0], "undp", enlace::v1::CASE_STATUS_OPEN, Micros("2018-03-10T00:00:00"));
  AddCase(ss[1], "undp", enlace::v1::CASE_STATUS_OPEN, Micros("2018-03-10T00:00:00"));
  // In January iom served one woman; in March undp served one (ss1), not
  // ss0 again, although its case of ss0 was opened in March.
  EXPECT_EQ(Show(Report("iom", "2018-01-01", "2018-01-31").women_served()), "1");
  EXPECT_EQ(Show(Report("undp", "2018-03-01", "2018-03-31").women_served()), "1");
  EXPECT_EQ(Show(Report("undp", "2018-03-01", "2018-03-31").returnees_served()), "1");
  EXPECT_THAT(Cases(Report("undp", "2018-03-01", "2018-03-31")), ElementsAre("CASE_STATUS_OPEN=2"));
  // Over both months each returnee once: iom's first case is in January.
  EXPECT_EQ(Show(Report("iom", "2018-01-01", "2018-03-31").returnees_served()), "x");  // 1 undp
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM cases"), 3);
}

TEST_F(ReportStoreTest, WomenShareIsWomenOverServedWhenBothAreShown) {
  AddArrivals(5, "mfa", "SV-SS", "2018-03-01", 10, kFemale);
  AddArrivals(5, "mfa", "SV-SS", "2018-03-01", 10, kMale);
  AddArrivals(1, "mfa", "SV-SS", "2018-03-01", 10, kFemale);  // not served
  for (int k = 0; k < 10; ++k) {
    AddCase(ArrivalSeq("SV-SS", k), "iom", enlace::v1::CASE_STATUS_OPEN,
            Micros("2018-03-15T00:00:00"));
  }
  // A second case of the same returnee is still one returnee served.
  AddCase(ArrivalSeq("SV-SS", 0), "undp", enlace::v1::CASE_STATUS_OPEN,
          Micros("2018-03-16T00:00:00"));
  ProgrammeReport r = Report("");
  EXPECT_EQ(Show(r.returnees_served()), "10");
  EXPECT_EQ(Show(r.women_served()), "5");
  EXPECT_DOUBLE_EQ(r.women_share(), 0.5);
  // The second case is a grid cell of 1: cases by status are suppressed.
  EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x"));
}

TEST_F(ReportStoreTest, WomenShareIsZeroWhenWomenServedIsSuppressed) {
  AddArrivals(3, "mfa", "SV-SS", "2018-03-01", 10, kFemale);
  AddArrivals(6, "mfa", "SV-SS", "2018-03-01", 10, kMale);
  for (int k = 0; k < 9; ++k) {
    AddCase(ArrivalSeq("SV-SS", k), "iom", enlace::v1::CASE_STATUS_OPEN,
            Micros("2018-03-15T00:00:00"));
  }
  ProgrammeReport admin = Report("");
  // 6 men shown alone would give the 3 women as 9 - 6: served is suppressed
  // with the women.
  EXPECT_EQ(Show(admin.women_served()), "x");
  EXPECT_EQ(Show(admin.returnees_served()), "x");
  EXPECT_EQ(admin.women_share(), 0);
  // iom opened every case: the served returnees, women included, are its own.
  ProgrammeReport iom = Report("iom");
  EXPECT_EQ(Show(iom.returnees_served()), "9");
  EXPECT_EQ(Show(iom.women_served()), "3");
  EXPECT_DOUBLE_EQ(iom.women_share(), 3.0 / 9.0);
}

// docs/programme.md: the figures quoted at the launch, reproduced from records.
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

  // The ministry submitted every arrival: it sees its exact figures, the
  // small neighbours included.
  EXPECT_THAT(Departments(Report("mfa", "2017-01-01", "2017-12-31")),
              ElementsAre("SV-LI=2361", "SV-SA=6", "SV-SS=3988"));
  EXPECT_THAT(Departments(Report("mfa", "2018-01-01", "2018-02-28")),
              ElementsAre("SV-LI=308", "SV-SS=559"));
  EXPECT_THAT(Departments(Report("mfa", "2018-03-01", "2018-03-31")), ElementsAre("SV-LI=9"));
  EXPECT_THAT(Departments(Report("iom", "2018-03-01", "2018-03-31")), ElementsAre("SV-LI=9"));
}

TEST_F(ReportStoreTest, RefusesPeriodsThatAreNotRealDaysOrAreReversed) {
  ReportQuery query;
  query.period_from = "2018-02-30";
  EXPECT_THAT(Compute(query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period_from")));
  query.period_from = "2018-03-01";
  query.period_to = "2018-2-28";
  EXPECT_THAT(Compute(query), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period_to")));
  query.period_to = "2018-02-28";
  EXPECT_THAT(Compute(query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period_from")));
}

TEST_F(ReportStoreTest, RefusesPeriodsThatAreNotWholeMonthsNamingTheField) {
  AddArrivals(30, "mfa", "SV-SS", "2018-01-01", 59);
  EXPECT_THAT(Try("mfa", "2018-01-02", "2018-02-28"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_from: reports cover whole months; use 2018-01-01"));
  EXPECT_THAT(Try("mfa", "2018-01-01", "2018-02-27"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period_to: reports cover whole months; use 2018-02-28"));
  EXPECT_THAT(Try("mfa", "", "2018-02-15"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_to: ")));
  EXPECT_THAT(Try("mfa", "2018-02-15", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("period_from: ")));
  EXPECT_TRUE(Try("mfa", "2018-01-01", "2018-02-28").ok());
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

// ---------------------------------------------------------------------------
// The attacks (docs/report-suppression.md). Each builds data with small
// hidden grid cells, asks for the reports an attacker would ask for, writes
// down every number it reads as an equation over the grid cells, and fails
// if the true value of a hidden cell comes out of any arithmetic over them.

// The months the attacks' data and periods span.
const std::vector<std::string> kMonths = {"2017-12", "2018-01", "2018-02", "2018-03", "2018-04"};
const std::vector<std::string> kDepartments = {"SV-LI", "SV-SS"};
const std::vector<std::string> kRoles = {"first-woman", "first-other", "later"};
const std::vector<enlace::v1::CaseStatus> kStatuses = {enlace::v1::CASE_STATUS_OPEN,
                                                       enlace::v1::CASE_STATUS_IN_PROGRESS,
                                                       enlace::v1::CASE_STATUS_CLOSED};

// The attacker's unknowns: one per grid cell.
std::string Returnees(const std::string& department, const std::string& month) {
  return absl::StrCat("returnees/", department, "/", month);
}
std::string CaseCell(enlace::v1::CaseStatus status, const std::string& role,
                     const std::string& department, const std::string& month) {
  return absl::StrCat("cases/", enlace::v1::CaseStatus_Name(status), "/", role, "/", department,
                      "/", month);
}
std::string InitiativeCell(const std::string& department, const std::string& month) {
  return absl::StrCat("initiatives/", department, "/", month);
}

// The departments a report with filter `department` covers.
std::vector<std::string> Covered(const std::string& department) {
  return department.empty() ? kDepartments : std::vector<std::string>{department};
}

// Adds to `e` the equation "sum of `cells` = the cell's count" when `cell`
// is shown; a shown 0 tells that every one of those cells is 0.
void Learn(const enlace::v1::CountCell& cell, const std::set<std::string>& cells, Equations* e) {
  e->Mention(cells);
  std::optional<int64_t> value = Value(cell);
  if (!value) return;
  if (*value == 0) {
    for (const std::string& one : cells) e->Add({one}, 0);
  } else {
    e->Add(cells, *value);
  }
}

// What report `r` over `period` and department filter `department` tells
// about arrivals, cases (statuses, served, women), and initiatives.
void LearnAll(const ProgrammeReport& r, const Period& period, const std::string& department,
              Equations* e) {
  const std::vector<std::string> departments = Covered(department);
  // Returnees: department totals over the period and month cells; a row
  // that is absent is 0.
  for (const std::string& d : departments) {
    enlace::v1::CountCell total;  // absent: 0
    for (const auto& row : r.returnees_by_department()) {
      if (row.department_code() == d) total = row.returnees();
    }
    std::set<std::string> cells;
    for (const std::string& m : period.months) cells.insert(Returnees(d, m));
    Learn(total, cells, e);
    for (const std::string& m : period.months) {
      enlace::v1::CountCell cell;
      for (const auto& row : r.returnees_by_month()) {
        if (row.department_code() == d && row.month() == m) cell = row.returnees();
      }
      Learn(cell, {Returnees(d, m)}, e);
    }
  }
  // Cases by status: the sum over roles, departments and months.
  for (enlace::v1::CaseStatus status : kStatuses) {
    enlace::v1::CountCell cell;
    for (const auto& row : r.cases_by_status()) {
      if (row.status() == status) cell = row.cases();
    }
    std::set<std::string> cells;
    for (const std::string& role : kRoles) {
      for (const std::string& d : departments) {
        for (const std::string& m : period.months) cells.insert(CaseCell(status, role, d, m));
      }
    }
    Learn(cell, cells, e);
  }
  // Served: first cases of every status; women: first cases of women.
  std::set<std::string> served;
  std::set<std::string> women;
  for (enlace::v1::CaseStatus status : kStatuses) {
    for (const std::string& d : departments) {
      for (const std::string& m : period.months) {
        served.insert(CaseCell(status, "first-woman", d, m));
        served.insert(CaseCell(status, "first-other", d, m));
        women.insert(CaseCell(status, "first-woman", d, m));
      }
    }
  }
  Learn(r.returnees_served(), served, e);
  Learn(r.women_served(), women, e);
  // Initiatives.
  std::set<std::string> initiatives;
  for (const std::string& d : departments) {
    for (const std::string& m : period.months) initiatives.insert(InitiativeCell(d, m));
  }
  Learn(r.initiatives(), initiatives, e);
}

class ReportAttackTest : public ReportStoreTest {
 protected:
  // Everything `viewer` learns from every report it may ask for: every
  // whole-month period (open ends included) with and without every
  // department filter. `knows_no_second_cases`: the attacker also assumes
  // (rightly, in these tests) that no returnee has a second case, i.e. every
  // "later" cell is 0, which ties returnees served to cases by status.
  Equations Attack(const std::string& viewer, bool knows_no_second_cases = true) {
    Equations e;
    for (const Period& period : EveryPeriod(kMonths)) {
      for (const std::string& department :
           {std::string(), std::string("SV-LI"), std::string("SV-SS")}) {
        LearnAll(Report(viewer, period.from, period.to, department), period, department, &e);
      }
    }
    if (knows_no_second_cases) {
      for (enlace::v1::CaseStatus status : kStatuses) {
        for (const std::string& d : kDepartments) {
          for (const std::string& m : kMonths) e.Add({CaseCell(status, "later", d, m)}, 0);
        }
      }
    }
    return e;
  }
};

TEST_F(ReportAttackTest, AttackA_DepartmentTotalMinusVisibleMonthsRevealsNothing) {
  AddArrivals(10, "mfa", "SV-SS", "2018-01-01", 28);
  AddArrivals(3, "mfa", "SV-SS", "2018-02-10", 1);  // hidden from all but mfa
  AddArrivals(8, "mfa", "SV-SS", "2018-03-01", 28);
  AddArrivals(7, "mfa", "SV-LI", "2018-01-01", 28);
  AddArrivals(6, "mfa", "SV-LI", "2018-02-01", 28);

  // The attack as it worked: SV-SS over the quarter (21) minus its visible
  // months (10 + 8).
  ProgrammeReport quarter = Report("iom", "2018-01-01", "2018-03-31");
  EXPECT_THAT(Months(quarter), ElementsAre("2018-01 SV-LI=7", "2018-01 SV-SS=10", "2018-02 SV-LI=6",
                                           "2018-02 SV-SS=x", "2018-03 SV-SS=8"));
  EXPECT_THAT(Departments(quarter), ElementsAre("SV-LI=13", "SV-SS=x"));

  for (const std::string viewer : {"iom", "undp", ""}) {
    Equations e = Attack(viewer);
    EXPECT_EQ(e.Recover(Returnees("SV-SS", "2018-02")), std::nullopt) << viewer;
    // The shown cells are known exactly (the attacker's arithmetic works).
    EXPECT_EQ(e.Recover(Returnees("SV-SS", "2018-01")), 10) << viewer;
    EXPECT_EQ(e.Recover(Returnees("SV-LI", "2018-02")), 6) << viewer;
  }
  // The ministry, which submitted them, sees every month.
  EXPECT_THAT(Departments(Report("mfa", "2018-01-01", "2018-03-31")),
              ElementsAre("SV-LI=13", "SV-SS=21"));
  EXPECT_EQ(Attack("mfa").Recover(Returnees("SV-SS", "2018-02")), 3);
}

TEST_F(ReportAttackTest, AttackB_PeriodsDifferingByDaysAreRefusedAndByMonthsRevealNothing) {
  AddArrivals(20, "mfa", "SV-SS", "2018-01-01", 31);
  AddArrivals(2, "mfa", "SV-SS", "2018-02-10", 1);  // hidden: on February 10
  AddArrivals(20, "mfa", "SV-SS", "2018-03-01", 31);
  // iom's own cases in January and March; undp's 2 on February 10.
  FirstCases(10, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-SS", Micros("2018-01-20T10:00:00"));
  FirstCases(2, "undp", enlace::v1::CASE_STATUS_OPEN, "SV-SS", Micros("2018-02-10T10:00:00"));
  FirstCases(10, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-SS", Micros("2018-03-20T10:00:00"));

  // The attack as it worked: up to February 10 minus up to February 9, and
  // the like. Every such period is refused, naming the field.
  struct Refused {
    const char* from;
    const char* to;
    const char* message;
  };
  const Refused kRefused[] = {
      {"2018-01-01", "2018-02-10", "period_to: reports cover whole months; use 2018-02-28"},
      {"2018-01-01", "2018-02-09", "period_to: reports cover whole months; use 2018-02-28"},
      {"2018-02-10", "2018-02-10", "period_from: reports cover whole months; use 2018-02-01"},
      {"2018-02-11", "", "period_from: reports cover whole months; use 2018-02-01"},
      {"", "2018-02-09", "period_to: reports cover whole months; use 2018-02-28"},
  };
  for (const Refused& r : kRefused) {
    EXPECT_THAT(Try("iom", r.from, r.to), StatusIs(absl::StatusCode::kInvalidArgument, r.message))
        << r.from << ".." << r.to;
  }

  // By whole months: the quarter minus January minus March.
  ProgrammeReport quarter = Report("iom", "2018-01-01", "2018-03-31");
  EXPECT_THAT(Departments(quarter), ElementsAre("SV-SS=x"));
  EXPECT_THAT(Cases(quarter), ElementsAre("CASE_STATUS_OPEN=x"));
  EXPECT_EQ(Show(quarter.returnees_served()), "x");
  EXPECT_THAT(Cases(Report("iom", "2018-01-01", "2018-01-31")), ElementsAre("CASE_STATUS_OPEN=10"));
  EXPECT_THAT(Cases(Report("iom", "2018-03-01", "2018-03-31")), ElementsAre("CASE_STATUS_OPEN=10"));

  Equations e = Attack("iom");
  EXPECT_EQ(e.Recover(Returnees("SV-SS", "2018-02")), std::nullopt);
  EXPECT_EQ(e.Recover(CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-other", "SV-SS", "2018-02")),
            std::nullopt);
  EXPECT_EQ(e.Recover(CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-other", "SV-SS", "2018-01")),
            10);
  // undp owns February's cases: it knows them, and they are all the report
  // tells it about February beyond iom's.
  EXPECT_EQ(Attack("undp").Recover(
                CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-other", "SV-SS", "2018-02")),
            2);
}

TEST_F(ReportAttackTest, AttackC_AddingOwnRecordsToAHiddenCellNeverUnhidesIt) {
  const int64_t march = Micros("2018-03-10T09:00:00");
  for (int64_t c : FirstCases(2, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-SS", march)) {
    AddInitiative(c, "iom", march);
  }
  auto seen_by_undp = [&] { return Report("undp", "2018-03-01", "2018-03-31"); };
  ProgrammeReport before = seen_by_undp();
  EXPECT_THAT(Cases(before), ElementsAre("CASE_STATUS_OPEN=x"));
  EXPECT_EQ(Show(before.initiatives()), "x");
  EXPECT_EQ(Show(before.returnees_served()), "x");

  // The attacker: what is shown minus what it added itself is iom's part.
  auto recovered = [](const enlace::v1::CountCell& cell, int64_t own) -> std::optional<int64_t> {
    std::optional<int64_t> shown = Value(cell);
    if (!shown) return std::nullopt;
    return *shown - own;
  };
  // undp adds 3 of its own to each cell (5 in all: the old rule showed 5),
  // then 100 more.
  int64_t own = 0;
  for (int added : {3, 100}) {
    for (int64_t c : FirstCases(added, "undp", enlace::v1::CASE_STATUS_OPEN, "SV-SS", march)) {
      AddInitiative(c, "undp", march);
    }
    own += added;
    ProgrammeReport after = seen_by_undp();
    ASSERT_EQ(after.cases_by_status_size(), 1);
    EXPECT_EQ(recovered(after.cases_by_status(0).cases(), own), std::nullopt) << own;
    EXPECT_EQ(recovered(after.initiatives(), own), std::nullopt) << own;
    EXPECT_EQ(recovered(after.returnees_served(), own), std::nullopt) << own;
    EXPECT_EQ(Attack("undp").Recover(
                  CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-other", "SV-SS", "2018-03")),
              std::nullopt)
        << own;
  }
  // iom's view of the same cells: 103 records of others, shown.
  ProgrammeReport iom = Report("iom", "2018-03-01", "2018-03-31");
  EXPECT_THAT(Cases(iom), ElementsAre("CASE_STATUS_OPEN=105"));
  EXPECT_EQ(Show(iom.initiatives()), "105");
}

TEST_F(ReportAttackTest, AttackC_RecordingServicesOnAnotherAgencysCaseNeverUnhidesIt) {
  // undp's case, with 2 training sessions recorded by undp.
  const int64_t march = Micros("2018-03-02T09:00:00");
  int64_t undp_case = FirstCases(1, "undp", enlace::v1::CASE_STATUS_OPEN, "SV-SS", march).front();
  AddService(undp_case, enlace::v1::NEED_TRAINING, "2018-03-05", "undp");
  AddService(undp_case, enlace::v1::NEED_TRAINING, "2018-03-06", "undp");
  EXPECT_THAT(Services(Report("iom", "2018-03-01", "2018-03-31")), ElementsAre("NEED_TRAINING=x"));
  // iom, holding an accepted referral for training, records 5 more on that
  // case. Counted as undp's (the case's owner) they would make 7 records of
  // others: shown, and 7 - 5 = undp's 2.
  AddReferral(undp_case, "undp", "iom", enlace::v1::REFERRAL_STATUS_ACCEPTED, march);
  for (int k = 0; k < 5; ++k) {
    AddService(undp_case, enlace::v1::NEED_TRAINING, "2018-03-07", "iom");
  }
  ProgrammeReport r = Report("iom", "2018-03-01", "2018-03-31");
  ASSERT_EQ(r.services_by_type_size(), 1);
  EXPECT_EQ(Value(r.services_by_type(0).services()), std::nullopt);
  EXPECT_THAT(Services(Report("iom")), ElementsAre("NEED_TRAINING=x"));
  // undp owns the case: all 7 are its own.
  EXPECT_THAT(Services(Report("undp", "2018-03-01", "2018-03-31")), ElementsAre("NEED_TRAINING=7"));
}

TEST_F(ReportAttackTest, AttackD_ServedMinusWomenRevealsNothing) {
  const int64_t march = Micros("2018-03-12T09:00:00");
  FirstCases(10, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-SS", march, kFemale);
  FirstCases(2, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-SS", march, kMale);  // hidden
  FirstCases(6, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-LI", march, kFemale);
  FirstCases(7, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-LI", march, kMale);

  for (const std::string viewer : {"undp", ""}) {
    ProgrammeReport r = Report(viewer, "2018-03-01", "2018-03-31");
    EXPECT_EQ(Show(r.women_served()), "16") << viewer;
    // 25 shown would give SV-SS's 2 men as 25 - 16 - 7 (LI's men).
    EXPECT_EQ(Show(r.returnees_served()), "x") << viewer;
    EXPECT_EQ(r.women_share(), 0) << viewer;
    ProgrammeReport li = Report(viewer, "2018-03-01", "2018-03-31", "SV-LI");
    EXPECT_EQ(Show(li.returnees_served()), "13") << viewer;
    EXPECT_EQ(Show(li.women_served()), "6") << viewer;

    Equations e = Attack(viewer);
    EXPECT_EQ(e.Recover(CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-other", "SV-SS", "2018-03")),
              std::nullopt)
        << viewer;
    EXPECT_EQ(e.Recover(CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-other", "SV-LI", "2018-03")),
              7)
        << viewer;
  }
  // iom opened every case: all its own.
  ProgrammeReport iom = Report("iom", "2018-03-01", "2018-03-31");
  EXPECT_EQ(Show(iom.returnees_served()), "25");
  EXPECT_EQ(Show(iom.women_served()), "16");
  EXPECT_DOUBLE_EQ(iom.women_share(), 16.0 / 25.0);
}

TEST_F(ReportAttackTest, AttackD_CaseStatusesAgainstServedRevealNothing) {
  // One case per returnee, so served = the sum of the statuses: an attacker
  // who knows that sets served against the visible statuses.
  const int64_t march = Micros("2018-03-12T09:00:00");
  FirstCases(6, "iom", enlace::v1::CASE_STATUS_IN_PROGRESS, "SV-SS", march, kMale);
  FirstCases(2, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-SS", march, kMale);  // hidden
  FirstCases(5, "iom", enlace::v1::CASE_STATUS_CLOSED, "SV-SS", march, kFemale);

  for (const std::string viewer : {"undp", ""}) {
    ProgrammeReport r = Report(viewer, "2018-03-01", "2018-03-31");
    EXPECT_THAT(Cases(r), ElementsAre("CASE_STATUS_OPEN=x", "CASE_STATUS_IN_PROGRESS=6",
                                      "CASE_STATUS_CLOSED=5"))
        << viewer;
    // 13 shown would give OPEN as 13 - 6 - 5.
    EXPECT_EQ(Show(r.returnees_served()), "x") << viewer;
    EXPECT_EQ(Show(r.women_served()), "5") << viewer;
    Equations e = Attack(viewer, /*knows_no_second_cases=*/true);
    EXPECT_EQ(e.Recover(CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-other", "SV-SS", "2018-03")),
              std::nullopt)
        << viewer;
  }
}

TEST_F(ReportAttackTest, AttackE_DepartmentFilterAgainstAllDepartmentsRevealsNothing) {
  const int64_t march = Micros("2018-03-12T09:00:00");
  for (int64_t c : FirstCases(10, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-SS", march)) {
    AddInitiative(c, "iom", march);
  }
  for (int64_t c : FirstCases(2, "undp", enlace::v1::CASE_STATUS_OPEN, "SV-LI", march)) {
    AddInitiative(c, "undp", march);
  }
  // The attack as it worked: all departments minus SV-SS = SV-LI.
  ProgrammeReport all = Report("iom", "2018-03-01", "2018-03-31");
  ProgrammeReport ss = Report("iom", "2018-03-01", "2018-03-31", "SV-SS");
  ProgrammeReport li = Report("iom", "2018-03-01", "2018-03-31", "SV-LI");
  EXPECT_THAT(Cases(all), ElementsAre("CASE_STATUS_OPEN=x"));
  EXPECT_EQ(Show(all.initiatives()), "x");
  EXPECT_EQ(Show(all.returnees_served()), "x");
  EXPECT_THAT(Cases(ss), ElementsAre("CASE_STATUS_OPEN=10"));
  EXPECT_EQ(Show(ss.initiatives()), "10");
  EXPECT_EQ(Show(ss.returnees_served()), "10");
  EXPECT_THAT(Cases(li), ElementsAre("CASE_STATUS_OPEN=x"));
  EXPECT_EQ(Show(li.initiatives()), "x");

  Equations e = Attack("iom");
  EXPECT_EQ(e.Recover(InitiativeCell("SV-LI", "2018-03")), std::nullopt);
  EXPECT_EQ(e.Recover(CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-other", "SV-LI", "2018-03")),
            std::nullopt);
  EXPECT_EQ(e.Recover(InitiativeCell("SV-SS", "2018-03")), 10);
}

TEST_F(ReportAttackTest, AttackF_EveryIndicatorAtOnceOverEveryPeriodRevealsNoHiddenCell) {
  // All of the above in one database, each viewer attacking with every
  // report: every grid cell hidden from a viewer stays unknown to it.
  AddArrivals(12, "mfa", "SV-SS", "2018-01-01", 28);
  AddArrivals(4, "mfa", "SV-SS", "2018-02-03", 1);
  AddArrivals(9, "mfa", "SV-LI", "2018-02-01", 28);
  AddArrivals(1, "mfa", "SV-LI", "2018-04-30", 1);
  const int64_t jan = Micros("2018-01-31T23:59:59");
  const int64_t feb = Micros("2018-02-01T00:00:00");
  for (int64_t c : FirstCases(7, "iom", enlace::v1::CASE_STATUS_OPEN, "SV-SS", jan, kFemale)) {
    AddInitiative(c, "iom", feb);
  }
  FirstCases(3, "undp", enlace::v1::CASE_STATUS_OPEN, "SV-SS", jan, kFemale);
  FirstCases(5, "undp", enlace::v1::CASE_STATUS_CLOSED, "SV-LI", feb, kMale);
  FirstCases(1, "unhcr", enlace::v1::CASE_STATUS_CLOSED, "SV-LI", feb, kMale);
  for (int64_t c : FirstCases(6, "unhcr", enlace::v1::CASE_STATUS_IN_PROGRESS, "SV-LI", feb)) {
    AddInitiative(c, "unhcr", feb);
  }
  FirstCases(2, "unhcr", enlace::v1::CASE_STATUS_IN_PROGRESS, "SV-SS",
             Micros("2018-03-05T00:00:00"), kFemale);

  // Grid cells and who they are hidden from (records of others 1..4):
  //   returnees SV-SS 2018-02 (4 of mfa's), SV-LI 2018-04 (1): all but mfa;
  //   OPEN first-woman SV-SS 2018-01 (iom 7 + undp 3): iom;
  //   CLOSED first-other SV-LI 2018-02 (undp 5 + unhcr 1): undp;
  //   IN_PROGRESS first-woman SV-SS 2018-03 (unhcr 2): all but unhcr.
  struct Hidden {
    const char* viewer;
    std::string cell;
  };
  const std::string open_women_jan =
      CaseCell(enlace::v1::CASE_STATUS_OPEN, "first-woman", "SV-SS", "2018-01");
  const std::string closed_men_feb =
      CaseCell(enlace::v1::CASE_STATUS_CLOSED, "first-other", "SV-LI", "2018-02");
  const std::string unhcr_women_mar =
      CaseCell(enlace::v1::CASE_STATUS_IN_PROGRESS, "first-woman", "SV-SS", "2018-03");
  const Hidden kHidden[] = {
      {"iom", Returnees("SV-SS", "2018-02")},
      {"iom", Returnees("SV-LI", "2018-04")},
      {"iom", open_women_jan},
      {"iom", unhcr_women_mar},
      {"undp", Returnees("SV-SS", "2018-02")},
      {"undp", closed_men_feb},
      {"undp", unhcr_women_mar},
      {"unhcr", Returnees("SV-LI", "2018-04")},
      {"", Returnees("SV-SS", "2018-02")},
      {"", unhcr_women_mar},
  };
  std::map<std::string, Equations> learnt;
  for (const Hidden& h : kHidden) {
    if (!learnt.count(h.viewer)) learnt.emplace(h.viewer, Attack(h.viewer));
    EXPECT_EQ(learnt.at(h.viewer).Recover(h.cell), std::nullopt)
        << (*h.viewer ? h.viewer : "admin") << " recovers " << h.cell;
  }
  // Cells with none or 5 or more records of others are learnt exactly.
  EXPECT_EQ(learnt.at("undp").Recover(open_women_jan), 10);  // 7 of iom's
  EXPECT_EQ(learnt.at("unhcr").Recover(closed_men_feb), 6);  // 5 of undp's
  EXPECT_EQ(learnt.at("unhcr").Recover(unhcr_women_mar), 2);  // its own
  EXPECT_EQ(learnt.at("iom").Recover(InitiativeCell("SV-SS", "2018-02")), 7);
  EXPECT_EQ(learnt.at("").Recover(Returnees("SV-LI", "2018-02")), 9);
}

}  // namespace
}  // namespace enlace::db
