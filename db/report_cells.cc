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

void AggregateReport(const ReportGrid& grid, enlace::v1::ProgrammeReport* report) {
  using enlace::v1::ProgrammeReport;

  // Returnees: by department (all months of the period) and by month.
  std::map<std::string, CellSum> by_department;
  std::map<std::pair<std::string, std::string>, CellSum> by_month;
  for (const ReportGrid::Returnees& cell : grid.returnees) {
    by_department[cell.department].Add(cell.count);
    by_month[{cell.month, cell.department}].Add(cell.count);
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

  // Cases by status (every role, department and month); returnees served
  // from the first cases of every status.
  std::map<int, CellSum> by_status;
  CellSum women;
  CellSum not_women;
  for (const ReportGrid::Cases& cell : grid.cases) {
    by_status[cell.status].Add(cell.count);
    if (cell.role == CaseRole::kFirstFemale) women.Add(cell.count);
    if (cell.role == CaseRole::kFirstOther) not_women.Add(cell.count);
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

  // Referrals by agency pair and status.
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

  // Services by type.
  std::map<int, CellSum> by_service;
  for (const ReportGrid::Services& cell : grid.services) {
    by_service[cell.service].Add(cell.count);
  }
  report->clear_services_by_type();
  for (const auto& [service, sum] : by_service) {
    if (sum.total() == 0) continue;
    ProgrammeReport::ServiceCount* out = report->add_services_by_type();
    out->set_service(static_cast<enlace::v1::Need>(service));
    *out->mutable_services() = sum.Release();
  }

  // Initiatives.
  CellSum initiatives;
  for (const ReportGrid::Initiatives& cell : grid.initiatives) initiatives.Add(cell.count);
  *report->mutable_initiatives() = initiatives.Release();
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

}  // namespace enlace::db
