// The programme report as CSV with HXL hashtags (see report_csv.h).
#include "clients/cli/report_csv.h"

#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace enlace::cli {
namespace {

using Site = enlace::v1::ProgrammeReport::SiteRow;

std::string Count(const enlace::v1::CountCell& cell) {
  return cell.suppressed() ? "" : absl::StrCat(cell.count());
}

std::string Dollars(const enlace::v1::AmountCell& cell) {
  if (cell.suppressed()) return "";
  int64_t cents = cell.amount();
  int64_t rest = cents % 100;
  return absl::StrCat(cents / 100, ".", rest < 10 ? "0" : "", rest);
}

// The first and last days of a bucket "YYYY-MM" or "YYYY-Qn"; empty when
// the label is neither.
std::pair<std::string, std::string> Bounds(absl::string_view period) {
  absl::CivilMonth first;
  int months = 1;
  if (period.size() == 7 && period[5] == 'Q' && period[6] >= '1' && period[6] <= '4') {
    absl::CivilYear year;
    if (!absl::ParseCivilTime(period.substr(0, 4), &year)) return {};
    first = absl::CivilMonth(year) + absl::civil_diff_t{3} * (period[6] - '1');
    months = 3;
  } else if (!absl::ParseCivilTime(period, &first)) {
    return {};
  }
  absl::CivilDay start(first);
  absl::CivilDay end = absl::CivilDay(first + months) - 1;
  return {absl::FormatCivilTime(start), absl::FormatCivilTime(end)};
}

// RFC 4180: quoted when it holds a comma, a quote or a line break.
std::string Field(absl::string_view text) {
  if (text.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(text);
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

struct Column {
  const char* title;
  const char* hxl;
  std::function<std::string(const Site&)> value;
};

const std::vector<Column>& Columns() {
  static const auto* const kColumns = new std::vector<Column>{
      {"Period", "#date", [](const Site& s) { return s.period(); }},
      {"Start", "#date+start", [](const Site& s) { return Bounds(s.period()).first; }},
      {"End", "#date+end", [](const Site& s) { return Bounds(s.period()).second; }},
      {"P-code", "#adm1+code", [](const Site& s) { return s.department_pcode(); }},
      {"Department", "#adm1+name", [](const Site& s) { return s.department_name(); }},
      {"Returnees", "#affected+returnees+ind", [](const Site& s) { return Count(s.returnees()); }},
      {"Returnees: girls under 18", "#affected+returnees+ind+f+children",
       [](const Site& s) { return Count(s.returnees_female_children()); }},
      {"Returnees: women 18 and over", "#affected+returnees+ind+f+adults",
       [](const Site& s) { return Count(s.returnees_female_adults()); }},
      {"Returnees: boys under 18", "#affected+returnees+ind+m+children",
       [](const Site& s) { return Count(s.returnees_male_children()); }},
      {"Returnees: men 18 and over", "#affected+returnees+ind+m+adults",
       [](const Site& s) { return Count(s.returnees_male_adults()); }},
      {"Returnees: youth 15 to 29", "#affected+returnees+ind+youth",
       [](const Site& s) { return Count(s.returnees_youth()); }},
      {"Returnees reached", "#reached+ind", [](const Site& s) { return Count(s.served()); }},
      {"Women reached", "#reached+ind+f", [](const Site& s) { return Count(s.served_women()); }},
      {"Youth reached (15 to 29)", "#reached+ind+youth",
       [](const Site& s) { return Count(s.served_youth()); }},
      {"Trainings completed", "#reached+ind+training+completed",
       [](const Site& s) { return Count(s.training_completed()); }},
      {"Seed capital disbursements", "#output+seed_capital+num",
       [](const Site& s) { return Count(s.seed_capital_disbursements()); }},
      {"Seed capital (USD)", "#value+seed_capital+usd",
       [](const Site& s) { return Dollars(s.seed_capital_usd_cents()); }},
      {"Economic initiatives", "#output+initiatives+num",
       [](const Site& s) { return Count(s.initiatives()); }},
      {"Woman-led initiatives", "#output+initiatives+women_led+num",
       [](const Site& s) { return Count(s.initiatives_woman_led()); }},
  };
  return *kColumns;
}

}  // namespace

std::string ReportCsv(const enlace::v1::ProgrammeReport& report) {
  std::vector<std::string> titles;
  std::vector<std::string> tags;
  for (const Column& column : Columns()) {
    titles.push_back(Field(column.title));
    tags.push_back(Field(column.hxl));
  }
  std::string out =
      absl::StrCat(absl::StrJoin(titles, ","), "\r\n", absl::StrJoin(tags, ","), "\r\n");
  for (const Site& site : report.sites()) {
    std::vector<std::string> fields;
    for (const Column& column : Columns()) fields.push_back(Field(column.value(site)));
    absl::StrAppend(&out, absl::StrJoin(fields, ","), "\r\n");
  }
  return out;
}

int PrintReportCsv(const enlace::v1::ProgrammeReport& report) {
  std::cout << ReportCsv(report);
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace enlace::cli
