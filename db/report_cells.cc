// The release rule of programme reports (see report_cells.h).
#include "db/report_cells.h"

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace enlace::db {

int64_t OthersIn(const GridCount& cell) {
  int64_t owned = cell.owned < 0 || cell.owned > cell.total ? 0 : cell.owned;
  return cell.total - owned;
}

bool IsHidden(const GridCount& cell) {
  int64_t others = OthersIn(cell);
  return others >= 1 && others < kMinimumShownCount;
}

void CellSum::Add(const GridCount& cell) {
  if (cell.total > 0) total_ += cell.total;
  hidden_ = hidden_ || IsHidden(cell);
}

void CellSum::Add(const CellSum& other) {
  total_ += other.total_;
  hidden_ = hidden_ || other.hidden_;
}

enlace::v1::CountCell CellSum::Release() const {
  enlace::v1::CountCell cell;
  if (hidden_) {
    cell.set_suppressed(true);
  } else {
    cell.set_count(total_);
  }
  return cell;
}

ServedRelease ReleaseServed(const CellSum& women, const CellSum& not_women) {
  CellSum served = women;
  served.Add(not_women);
  ServedRelease out;
  out.served = served.Release();
  out.women = women.Release();
  if (!out.served.suppressed() && !out.women.suppressed() && out.served.count() > 0) {
    out.women_share =
        static_cast<double>(out.women.count()) / static_cast<double>(out.served.count());
  }
  return out;
}

void AmountSum::Add(const GridCount& cell, int64_t amount) {
  records_.Add(cell);
  amount_ += amount;
}

enlace::v1::AmountCell AmountSum::Release() const {
  enlace::v1::AmountCell cell;
  if (records_.hidden()) {
    cell.set_suppressed(true);
  } else {
    cell.set_amount(amount_);
  }
  return cell;
}

enlace::v1::AgeBand AgeBandOn(absl::CivilDay birth, absl::CivilDay on) {
  if (on < birth) return enlace::v1::AGE_BAND_UNSPECIFIED;
  int64_t age = on.year() - birth.year();
  if (on.month() < birth.month() || (on.month() == birth.month() && on.day() < birth.day())) {
    --age;
  }
  if (age < 15) return enlace::v1::AGE_BAND_0_14;
  if (age < 18) return enlace::v1::AGE_BAND_15_17;
  if (age < 25) return enlace::v1::AGE_BAND_18_24;
  if (age < 30) return enlace::v1::AGE_BAND_25_29;
  if (age < 60) return enlace::v1::AGE_BAND_30_59;
  return enlace::v1::AGE_BAND_60_PLUS;
}

bool IsYouth(enlace::v1::AgeBand band) {
  return band == enlace::v1::AGE_BAND_15_17 || band == enlace::v1::AGE_BAND_18_24 ||
         band == enlace::v1::AGE_BAND_25_29;
}

bool IsChild(enlace::v1::AgeBand band) {
  return band == enlace::v1::AGE_BAND_0_14 || band == enlace::v1::AGE_BAND_15_17;
}

std::string IntervalBucket(absl::string_view month, enlace::v1::ReportInterval interval) {
  if (interval != enlace::v1::REPORT_INTERVAL_QUARTER || month.size() != 7) {
    return std::string(month);
  }
  int month_number = (month[5] - '0') * 10 + (month[6] - '0');
  return absl::StrCat(month.substr(0, 4), "-Q", (month_number - 1) / 3 + 1);
}

namespace {

using enlace::v1::ProgrammeReport;

// The figures of one row of ProgrammeReport.sites, as sums of grid cells.
struct SiteSums {
  CellSum returnees;
  CellSum female_children;
  CellSum female_adults;
  CellSum male_children;
  CellSum male_adults;
  CellSum returnees_youth;
  CellSum served_women;
  CellSum served_not_women;
  CellSum served_youth;
  CellSum training_completed;
  AmountSum seed_capital;
  CellSum initiatives;
  CellSum initiatives_woman_led;

  bool empty() const {
    return returnees.total() == 0 && served_women.total() == 0 && served_not_women.total() == 0 &&
           training_completed.total() == 0 && seed_capital.records().total() == 0 &&
           initiatives.total() == 0;
  }
};

void AddReturneeToSite(const ReportGrid::Returnees& cell, SiteSums* site) {
  site->returnees.Add(cell.count);
  bool child = IsChild(cell.age_band);
  bool adult = cell.age_band != enlace::v1::AGE_BAND_UNSPECIFIED && !child;
  if (cell.sex == enlace::v1::SEX_FEMALE) {
    if (child) site->female_children.Add(cell.count);
    if (adult) site->female_adults.Add(cell.count);
  } else if (cell.sex == enlace::v1::SEX_MALE) {
    if (child) site->male_children.Add(cell.count);
    if (adult) site->male_adults.Add(cell.count);
  }
  if (IsYouth(cell.age_band)) site->returnees_youth.Add(cell.count);
}

void ReleaseSites(const std::map<std::pair<std::string, std::string>, SiteSums>& sites,
                  ProgrammeReport* report) {
  report->clear_sites();
  for (const auto& [key, sums] : sites) {
    if (sums.empty()) continue;
    ProgrammeReport::SiteRow* row = report->add_sites();
    row->set_period(key.first);
    row->set_department_code(key.second);
    *row->mutable_returnees() = sums.returnees.Release();
    *row->mutable_returnees_female_children() = sums.female_children.Release();
    *row->mutable_returnees_female_adults() = sums.female_adults.Release();
    *row->mutable_returnees_male_children() = sums.male_children.Release();
    *row->mutable_returnees_male_adults() = sums.male_adults.Release();
    *row->mutable_returnees_youth() = sums.returnees_youth.Release();
    ServedRelease served = ReleaseServed(sums.served_women, sums.served_not_women);
    *row->mutable_served() = served.served;
    *row->mutable_served_women() = served.women;
    *row->mutable_served_youth() = sums.served_youth.Release();
    *row->mutable_training_completed() = sums.training_completed.Release();
    *row->mutable_seed_capital_disbursements() = sums.seed_capital.records().Release();
    *row->mutable_seed_capital_usd_cents() = sums.seed_capital.Release();
    *row->mutable_initiatives() = sums.initiatives.Release();
    *row->mutable_initiatives_woman_led() = sums.initiatives_woman_led.Release();
  }
}

// Returnees: by department (all months of the period), by month, by sex
// and age band, and into their sites.
void AggregateReturnees(const ReportGrid& grid, enlace::v1::ReportInterval interval,
                        std::map<std::pair<int, int>, CellSum>* people,
                        std::map<std::pair<std::string, std::string>, SiteSums>* sites,
                        ProgrammeReport* report) {
  std::map<std::string, CellSum> by_department;
  std::map<std::pair<std::string, std::string>, CellSum> by_month;
  for (const ReportGrid::Returnees& cell : grid.returnees) {
    by_department[cell.department].Add(cell.count);
    by_month[{cell.month, cell.department}].Add(cell.count);
    (*people)[{cell.sex, cell.age_band}].Add(cell.count);
    AddReturneeToSite(cell, &(*sites)[{IntervalBucket(cell.month, interval), cell.department}]);
  }
  report->clear_returnees_by_department();
  for (const auto& [department, sum] : by_department) {
    if (sum.total() == 0) continue;
    ProgrammeReport::DepartmentCount* out = report->add_returnees_by_department();
    out->set_department_code(department);
    *out->mutable_returnees() = sum.Release();
  }
  report->clear_returnees_by_month();
  for (const auto& [key, sum] : by_month) {
    if (sum.total() == 0) continue;
    ProgrammeReport::MonthCount* out = report->add_returnees_by_month();
    out->set_month(key.first);
    out->set_department_code(key.second);
    *out->mutable_returnees() = sum.Release();
  }
}

// Cases by status (every role, department and month); returnees served
// from the first cases of every status, overall, by sex and age band, as
// youth, and into their sites.
void AggregateCases(const ReportGrid& grid, enlace::v1::ReportInterval interval,
                    std::map<std::pair<int, int>, CellSum>* served_people,
                    std::map<std::pair<std::string, std::string>, SiteSums>* sites,
                    ProgrammeReport* report) {
  std::map<int, CellSum> by_status;
  CellSum women;
  CellSum not_women;
  CellSum youth;
  for (const ReportGrid::Cases& cell : grid.cases) {
    by_status[cell.status].Add(cell.count);
    if (cell.role == CaseRole::kLater) continue;
    SiteSums& site = (*sites)[{IntervalBucket(cell.month, interval), cell.department}];
    (*served_people)[{cell.sex, cell.age_band}].Add(cell.count);
    if (cell.role == CaseRole::kFirstFemale) {
      women.Add(cell.count);
      site.served_women.Add(cell.count);
    } else {
      not_women.Add(cell.count);
      site.served_not_women.Add(cell.count);
    }
    if (IsYouth(cell.age_band)) {
      youth.Add(cell.count);
      site.served_youth.Add(cell.count);
    }
  }
  report->clear_cases_by_status();
  for (const auto& [status, sum] : by_status) {
    if (sum.total() == 0) continue;
    ProgrammeReport::CaseStatusCount* out = report->add_cases_by_status();
    out->set_status(static_cast<enlace::v1::CaseStatus>(status));
    *out->mutable_cases() = sum.Release();
  }
  ServedRelease served = ReleaseServed(women, not_women);
  *report->mutable_returnees_served() = served.served;
  *report->mutable_women_served() = served.women;
  report->set_women_share(served.women_share);
  *report->mutable_youth_served() = youth.Release();
}

void AggregatePeople(const std::map<std::pair<int, int>, CellSum>& returnees,
                     const std::map<std::pair<int, int>, CellSum>& served,
                     ProgrammeReport* report) {
  std::map<std::pair<int, int>, std::pair<CellSum, CellSum>> people;
  for (const auto& [key, sum] : returnees) people[key].first.Add(sum);
  for (const auto& [key, sum] : served) people[key].second.Add(sum);
  report->clear_people();
  for (const auto& [key, sums] : people) {
    if (sums.first.total() == 0 && sums.second.total() == 0) continue;
    ProgrammeReport::PeopleCount* out = report->add_people();
    out->set_sex(static_cast<enlace::v1::Sex>(key.first));
    out->set_age_band(static_cast<enlace::v1::AgeBand>(key.second));
    *out->mutable_returnees() = sums.first.Release();
    *out->mutable_served() = sums.second.Release();
  }
}

void AggregateReferrals(const ReportGrid& grid, ProgrammeReport* report) {
  std::map<std::tuple<std::string, std::string, int>, CellSum> by_pair;
  for (const ReportGrid::Referrals& cell : grid.referrals) {
    by_pair[{cell.from_agency, cell.to_agency, cell.status}].Add(cell.count);
  }
  report->clear_referrals();
  for (const auto& [key, sum] : by_pair) {
    if (sum.total() == 0) continue;
    ProgrammeReport::ReferralCount* out = report->add_referrals();
    out->set_from_agency(std::get<0>(key));
    out->set_to_agency(std::get<1>(key));
    out->set_status(static_cast<enlace::v1::ReferralStatus>(std::get<2>(key)));
    *out->mutable_referrals() = sum.Release();
  }
}

// Services by type; seed capital disbursed and trainings completed, overall
// and into their sites.
void AggregateServices(const ReportGrid& grid, enlace::v1::ReportInterval interval,
                       std::map<std::pair<std::string, std::string>, SiteSums>* sites,
                       ProgrammeReport* report) {
  std::map<int, CellSum> by_service;
  AmountSum seed_capital;
  CellSum training_completed;
  for (const ReportGrid::Services& cell : grid.services) {
    by_service[cell.service].Add(cell.count);
    bool seed = cell.service == enlace::v1::NEED_SEED_CAPITAL;
    bool completed = cell.service == enlace::v1::NEED_TRAINING && cell.training_completed;
    if (!seed && !completed) continue;
    SiteSums& site = (*sites)[{IntervalBucket(cell.month, interval), cell.department}];
    if (seed) {
      seed_capital.Add(cell.count, cell.amount_usd_cents);
      site.seed_capital.Add(cell.count, cell.amount_usd_cents);
    } else {
      training_completed.Add(cell.count);
      site.training_completed.Add(cell.count);
    }
  }
  report->clear_services_by_type();
  for (const auto& [service, sum] : by_service) {
    if (sum.total() == 0) continue;
    ProgrammeReport::ServiceCount* out = report->add_services_by_type();
    out->set_service(static_cast<enlace::v1::Need>(service));
    *out->mutable_services() = sum.Release();
  }
  *report->mutable_seed_capital_disbursements() = seed_capital.records().Release();
  *report->mutable_seed_capital_usd_cents() = seed_capital.Release();
  *report->mutable_training_completed() = training_completed.Release();
}

// Initiatives: in all, by status (woman-led, jobs), woman-led, jobs, and
// into their sites.
void AggregateInitiatives(const ReportGrid& grid, enlace::v1::ReportInterval interval,
                          std::map<std::pair<std::string, std::string>, SiteSums>* sites,
                          ProgrammeReport* report) {
  struct StatusSums {
    CellSum initiatives;
    CellSum woman_led;
    AmountSum jobs;
  };
  std::map<int, StatusSums> by_status;
  CellSum initiatives;
  CellSum woman_led;
  AmountSum jobs;
  for (const ReportGrid::Initiatives& cell : grid.initiatives) {
    StatusSums& status = by_status[cell.status];
    SiteSums& site = (*sites)[{IntervalBucket(cell.month, interval), cell.department}];
    initiatives.Add(cell.count);
    status.initiatives.Add(cell.count);
    site.initiatives.Add(cell.count);
    jobs.Add(cell.count, cell.jobs_created);
    status.jobs.Add(cell.count, cell.jobs_created);
    if (cell.woman_led) {
      woman_led.Add(cell.count);
      status.woman_led.Add(cell.count);
      site.initiatives_woman_led.Add(cell.count);
    }
  }
  *report->mutable_initiatives() = initiatives.Release();
  *report->mutable_initiatives_woman_led() = woman_led.Release();
  *report->mutable_jobs_created() = jobs.Release();
  report->clear_initiatives_by_status();
  for (const auto& [status, sums] : by_status) {
    if (sums.initiatives.total() == 0) continue;
    ProgrammeReport::InitiativeStatusCount* out = report->add_initiatives_by_status();
    out->set_status(static_cast<enlace::v1::InitiativeStatus>(status));
    *out->mutable_initiatives() = sums.initiatives.Release();
    *out->mutable_woman_led() = sums.woman_led.Release();
    *out->mutable_jobs_created() = sums.jobs.Release();
  }
}

}  // namespace

void AggregateReport(const ReportGrid& grid, enlace::v1::ReportInterval interval,
                     ProgrammeReport* report) {
  std::map<std::pair<int, int>, CellSum> returnee_people;
  std::map<std::pair<int, int>, CellSum> served_people;
  std::map<std::pair<std::string, std::string>, SiteSums> sites;
  AggregateReturnees(grid, interval, &returnee_people, &sites, report);
  AggregateCases(grid, interval, &served_people, &sites, report);
  AggregatePeople(returnee_people, served_people, report);
  AggregateReferrals(grid, report);
  AggregateServices(grid, interval, &sites, report);
  AggregateInitiatives(grid, interval, &sites, report);
  ReleaseSites(sites, report);
  report->set_interval(interval == enlace::v1::REPORT_INTERVAL_QUARTER
                           ? enlace::v1::REPORT_INTERVAL_QUARTER
                           : enlace::v1::REPORT_INTERVAL_MONTH);
}

namespace {

// `text` as a day, if it is a real YYYY-MM-DD day spelled canonically
// ("2018-02-30" and "2018-2-3" are refused, not normalized).
std::optional<absl::CivilDay> ParseDay(absl::string_view text) {
  absl::CivilDay day;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !absl::ParseCivilTime(text, &day)) {
    return std::nullopt;
  }
  if (absl::FormatCivilTime(day) != text) return std::nullopt;
  return day;
}

}  // namespace

absl::Status ValidateReportPeriod(absl::string_view from, absl::string_view to) {
  std::optional<absl::CivilDay> first;
  std::optional<absl::CivilDay> last;
  if (!from.empty() && !(first = ParseDay(from))) {
    return absl::InvalidArgumentError("period_from: must be a real day YYYY-MM-DD");
  }
  if (!to.empty() && !(last = ParseDay(to))) {
    return absl::InvalidArgumentError("period_to: must be a real day YYYY-MM-DD");
  }
  if (first && first->day() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("period_from: reports cover whole months; use ",
                     absl::FormatCivilTime(absl::CivilDay(absl::CivilMonth(*first)))));
  }
  if (last && (*last + 1).day() != 1) {
    absl::CivilDay end_of_month = absl::CivilDay(absl::CivilMonth(*last) + 1) - 1;
    return absl::InvalidArgumentError(absl::StrCat("period_to: reports cover whole months; use ",
                                                   absl::FormatCivilTime(end_of_month)));
  }
  if (first && last && *first > *last) {
    return absl::InvalidArgumentError("period_from: must not be after period_to");
  }
  return absl::OkStatus();
}

absl::Status ValidateReportPeriod(absl::string_view from, absl::string_view to,
                                  enlace::v1::ReportInterval interval) {
  if (!enlace::v1::ReportInterval_IsValid(interval)) {
    return absl::InvalidArgumentError(absl::StrCat("interval: unknown value ", interval));
  }
  if (absl::Status s = ValidateReportPeriod(from, to); !s.ok()) return s;
  if (interval != enlace::v1::REPORT_INTERVAL_QUARTER) return absl::OkStatus();
  // Both days parsed above: whole months already.
  std::optional<absl::CivilDay> first = from.empty() ? std::nullopt : ParseDay(from);
  std::optional<absl::CivilDay> last = to.empty() ? std::nullopt : ParseDay(to);
  if (first && (first->month() - 1) % 3 != 0) {
    absl::CivilMonth start(first->year(), first->month() - (first->month() - 1) % 3);
    return absl::InvalidArgumentError(
        absl::StrCat("period_from: a quarterly report covers whole quarters; use ",
                     absl::FormatCivilTime(absl::CivilDay(start))));
  }
  if (last && last->month() % 3 != 0) {
    absl::CivilMonth end(last->year(), last->month() + (3 - last->month() % 3));
    return absl::InvalidArgumentError(
        absl::StrCat("period_to: a quarterly report covers whole quarters; use ",
                     absl::FormatCivilTime(absl::CivilDay(end + 1) - 1)));
  }
  return absl::OkStatus();
}

}  // namespace enlace::db
