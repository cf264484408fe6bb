// FakeReportStore: the programme report counted from FakeCaseStore's
// records (see fake_report_store.h), cell by cell as db/mysql_report_grid.cc
// assigns records to the grid and db/mysql_report_store.cc filters it.
#include "tests/testing/fakes/fake_report_store.h"

#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "db/report_cells.h"
#include "google/protobuf/util/time_util.h"

namespace enlace::testing {
namespace {

using google::protobuf::util::TimeUtil;

// "YYYY-MM" (UTC) of a timestamp.
std::string MonthOf(const google::protobuf::Timestamp& t) {
  absl::Time time = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
  return absl::FormatTime("%Y-%m", time, absl::UTCTimeZone());
}

struct Filters {
  std::string from_month, to_month, department, viewer;
  bool Keeps(const std::string& department_code, const std::string& month) const {
    if (!from_month.empty() && month < from_month) return false;
    if (!to_month.empty() && month > to_month) return false;
    return department.empty() || department_code == department;
  }
};

absl::StatusOr<Filters> MakeFilters(const db::ReportQuery& query) {
  if (absl::Status s = db::ValidateReportPeriod(query.period_from, query.period_to, query.interval);
      !s.ok()) {
    return s;
  }
  Filters f;
  absl::CivilDay day;
  if (!query.period_from.empty()) {
    if (!absl::ParseCivilTime(query.period_from, &day)) {
      return absl::InvalidArgumentError("period_from: must be a real day YYYY-MM-DD");
    }
    f.from_month = absl::FormatCivilTime(absl::CivilMonth(day)).substr(0, 7);
  }
  if (!query.period_to.empty()) {
    if (!absl::ParseCivilTime(query.period_to, &day)) {
      return absl::InvalidArgumentError("period_to: must be a real day YYYY-MM-DD");
    }
    f.to_month = absl::FormatCivilTime(absl::CivilMonth(day)).substr(0, 7);
  }
  f.department = query.department_code;
  f.viewer = query.viewer_agency;
  return f;
}

// A grid cell as counted here: its records, the viewer's, and the amount
// its records carry.
struct FakeCell {
  db::GridCount count;
  int64_t amount = 0;
};

// Adds one record (carrying `amount`) to the cell `key` of `cells`, owned by
// the viewer or not.
template <typename Key>
void Count(std::map<Key, FakeCell>* cells, const Key& key, bool owned, int64_t amount = 0) {
  FakeCell& cell = (*cells)[key];
  cell.count.total += 1;
  if (owned) cell.count.owned += 1;
  cell.amount += amount;
}

enlace::v1::AgeBand BandOf(const std::string& birth_date, const std::string& arrival_date) {
  absl::CivilDay birth;
  absl::CivilDay arrival;
  if (!absl::ParseCivilTime(birth_date, &birth) || !absl::ParseCivilTime(arrival_date, &arrival)) {
    return enlace::v1::AGE_BAND_UNSPECIFIED;
  }
  return db::AgeBandOn(birth, arrival);
}

}  // namespace

void FakeReportStore::FailCalls(absl::Status status) {
  absl::MutexLock lock(&mu_);
  error_ = std::move(status);
}

absl::StatusOr<enlace::v1::ProgrammeReport> FakeReportStore::Compute(const db::ReportQuery& query) {
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return error_;
  }
  absl::StatusOr<Filters> filters = MakeFilters(query);
  if (!filters.ok()) return filters.status();
  const Filters& f = *filters;
  const bool admin = f.viewer.empty();
  auto owns = [&](const std::string& owner) { return !admin && owner == f.viewer; };

  // Keys as the cell tables' (department, month, ...).
  using Returnee = std::tuple<std::string, std::string, int, int>;  // + sex, band
  using CaseKey = std::tuple<std::string, std::string, int, int, int, int>;  // + status, role,
                                                                             // sex, band
  using ReferralKey = std::tuple<std::string, std::string, std::string, std::string, int>;
  using ServiceKey = std::tuple<std::string, std::string, int, bool>;  // + service, completed
  using InitiativeKey = std::tuple<std::string, std::string, int, bool>;  // + status, woman-led
  std::map<Returnee, FakeCell> returnees;
  std::map<CaseKey, FakeCell> cases;
  std::map<ReferralKey, FakeCell> referrals;
  std::map<ServiceKey, FakeCell> services;
  std::map<InitiativeKey, FakeCell> initiatives;
  {
    absl::MutexLock lock(&cases_->mu_);
    for (const FakeCaseStore::ArrivalRow& a : cases_->arrivals_) {
      std::string month = a.arrival_date.substr(0, 7);
      if (f.Keeps(a.department_code, month)) {
        Count(&returnees,
              {a.department_code, month, static_cast<int>(a.returnee.sex()),
               static_cast<int>(BandOf(a.birth_date, a.arrival_date))},
              owns(a.submitted_by));
      }
    }
    std::map<int64_t, int64_t> first_case;  // arrival seq -> its first case's seq
    for (const FakeCaseStore::CaseRow& c : cases_->cases_) first_case.emplace(c.arrival_seq, c.seq);
    for (const FakeCaseStore::CaseRow& c : cases_->cases_) {
      std::string month = MonthOf(c.value.created_at());
      if (!f.Keeps(c.value.department_code(), month)) continue;
      db::CaseRole role = db::CaseRole::kLater;
      int sex = 0;
      int band = 0;
      if (first_case[c.arrival_seq] == c.seq) {
        const FakeCaseStore::ArrivalRow& a = cases_->arrivals_[c.arrival_seq - 1];
        role = a.returnee.sex() == enlace::v1::SEX_FEMALE ? db::CaseRole::kFirstFemale
                                                          : db::CaseRole::kFirstOther;
        sex = a.returnee.sex();
        band = BandOf(a.birth_date, a.arrival_date);
      }
      Count(&cases,
            {c.value.department_code(), month, static_cast<int>(c.value.status()),
             static_cast<int>(role), sex, band},
            owns(c.value.owner_agency()));
    }
    for (const FakeCaseStore::ReferralRow& r : cases_->referrals_) {
      const FakeCaseStore::CaseRow& c = cases_->cases_[r.case_seq - 1];
      std::string month = MonthOf(r.value.created_at());
      if (!f.Keeps(c.value.department_code(), month)) continue;
      Count(&referrals,
            {c.value.department_code(), month, r.value.from_agency(), r.value.to_agency(),
             static_cast<int>(r.value.status())},
            owns(r.value.from_agency()));
    }
    for (const FakeCaseStore::ServiceRow& s : cases_->services_) {
      const FakeCaseStore::CaseRow& c = cases_->cases_[s.case_seq - 1];
      std::string month = s.value.delivered_on().substr(0, 7);
      if (!f.Keeps(c.value.department_code(), month)) continue;
      bool completed =
          s.value.service() == enlace::v1::NEED_TRAINING && s.value.training_completed();
      Count(&services,
            {c.value.department_code(), month, static_cast<int>(s.value.service()), completed},
            owns(c.value.owner_agency()) || owns(s.value.recorded_by()),
            s.value.amount_usd_cents());
    }
    for (const FakeCaseStore::InitiativeRow& i : cases_->initiatives_) {
      std::string month = MonthOf(i.value.registered_at());
      if (!f.Keeps(i.value.department_code(), month)) continue;
      Count(&initiatives,
            {i.value.department_code(), month, static_cast<int>(i.value.status()),
             i.value.woman_led()},
            owns(i.value.owner_agency()), i.value.jobs_created());
    }
  }

  db::ReportGrid grid;
  for (const auto& [key, cell] : returnees) {
    db::ReportGrid::Returnees out;
    out.department = std::get<0>(key);
    out.month = std::get<1>(key);
    out.sex = static_cast<enlace::v1::Sex>(std::get<2>(key));
    out.age_band = static_cast<enlace::v1::AgeBand>(std::get<3>(key));
    out.count = cell.count;
    grid.returnees.push_back(std::move(out));
  }
  for (const auto& [key, cell] : cases) {
    db::ReportGrid::Cases out;
    out.department = std::get<0>(key);
    out.month = std::get<1>(key);
    out.status = static_cast<enlace::v1::CaseStatus>(std::get<2>(key));
    out.role = static_cast<db::CaseRole>(std::get<3>(key));
    out.sex = static_cast<enlace::v1::Sex>(std::get<4>(key));
    out.age_band = static_cast<enlace::v1::AgeBand>(std::get<5>(key));
    out.count = cell.count;
    grid.cases.push_back(std::move(out));
  }
  for (const auto& [key, cell] : referrals) {
    db::ReportGrid::Referrals out;
    out.department = std::get<0>(key);
    out.month = std::get<1>(key);
    out.from_agency = std::get<2>(key);
    out.to_agency = std::get<3>(key);
    out.status = static_cast<enlace::v1::ReferralStatus>(std::get<4>(key));
    out.count = cell.count;
    grid.referrals.push_back(std::move(out));
  }
  for (const auto& [key, cell] : services) {
    db::ReportGrid::Services out;
    out.department = std::get<0>(key);
    out.month = std::get<1>(key);
    out.service = static_cast<enlace::v1::Need>(std::get<2>(key));
    out.training_completed = std::get<3>(key);
    out.count = cell.count;
    out.amount_usd_cents = cell.amount;
    grid.services.push_back(std::move(out));
  }
  for (const auto& [key, cell] : initiatives) {
    db::ReportGrid::Initiatives out;
    out.department = std::get<0>(key);
    out.month = std::get<1>(key);
    out.status = static_cast<enlace::v1::InitiativeStatus>(std::get<2>(key));
    out.woman_led = std::get<3>(key);
    out.count = cell.count;
    out.jobs_created = cell.amount;
    grid.initiatives.push_back(std::move(out));
  }

  enlace::v1::ProgrammeReport report;
  db::AggregateReport(grid, query.interval, &report);
  report.set_period_from(query.period_from);
  report.set_period_to(query.period_to);
  report.set_department_code(query.department_code);
  return report;
}

}  // namespace enlace::testing
