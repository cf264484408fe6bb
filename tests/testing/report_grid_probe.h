// The differencing argument of docs/report-suppression.md as a test helper
// over the pure aggregation (db/report_cells.h): every report an attacker can
// ask for (every range of `months`, open ends included, every department of
// `departments`, each interval) is computed from a grid; then each hidden
// grid cell is given every other value it could hold while hidden (1 to 4
// records of others, and other amounts), and no report may change. Then
// nothing computed from any set of reports, however combined, depends on
// (reveals) the value of a hidden cell.
//
//   EXPECT_EQ(ProbeHiddenCells(grid, {"", "2018-01", "2018-02"}, {"", "SV-SS"},
//                              {enlace::v1::REPORT_INTERVAL_MONTH}),
//             3);  // the hidden cells probed; a changed report is a test failure
#ifndef ENLACE_TESTS_TESTING_REPORT_GRID_PROBE_H_
#define ENLACE_TESTS_TESTING_REPORT_GRID_PROBE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "db/report_cells.h"
#include "gtest/gtest.h"

namespace enlace::testing {

// The grid cells of `grid` in months [first, last] ("" = open) and
// `department` ("" = all): what the store's filters select.
inline db::ReportGrid SelectGrid(const db::ReportGrid& grid, const std::string& first,
                                 const std::string& last, const std::string& department) {
  auto in = [&](const std::string& month, const std::string& dept) {
    return (first.empty() || month >= first) && (last.empty() || month <= last) &&
           (department.empty() || dept == department);
  };
  db::ReportGrid out;
  for (const auto& c : grid.returnees) {
    if (in(c.month, c.department)) out.returnees.push_back(c);
  }
  for (const auto& c : grid.cases) {
    if (in(c.month, c.department)) out.cases.push_back(c);
  }
  for (const auto& c : grid.referrals) {
    if (in(c.month, c.department)) out.referrals.push_back(c);
  }
  for (const auto& c : grid.services) {
    if (in(c.month, c.department)) out.services.push_back(c);
  }
  for (const auto& c : grid.initiatives) {
    if (in(c.month, c.department)) out.initiatives.push_back(c);
  }
  return out;
}

// Every report over the ranges of `months`, the `departments` and the
// `intervals`, serialized.
inline std::vector<std::string> EveryReport(
    const db::ReportGrid& grid, const std::vector<std::string>& months,
    const std::vector<std::string>& departments,
    const std::vector<enlace::v1::ReportInterval>& intervals) {
  std::vector<std::string> out;
  for (const std::string& first : months) {
    for (const std::string& last : months) {
      if (!first.empty() && !last.empty() && first > last) continue;
      for (const std::string& department : departments) {
        db::ReportGrid selected = SelectGrid(grid, first, last, department);
        for (enlace::v1::ReportInterval interval : intervals) {
          enlace::v1::ProgrammeReport report;
          db::AggregateReport(selected, interval, &report);
          out.push_back(report.SerializeAsString());
        }
      }
    }
  }
  return out;
}

// Gives each hidden cell of `grid` every other hidden value (and its amount,
// where the cell carries one, another value) and fails the test when some
// report of EveryReport changes. Returns the number of hidden cells probed.
inline int ProbeHiddenCells(const db::ReportGrid& grid, const std::vector<std::string>& months,
                            const std::vector<std::string>& departments,
                            const std::vector<enlace::v1::ReportInterval>& intervals) {
  const std::vector<std::string> reports = EveryReport(grid, months, departments, intervals);
  db::ReportGrid probe = grid;
  struct Cell {
    db::GridCount* count;
    int64_t* amount;  // null: the cell carries none
  };
  std::vector<Cell> cells;
  for (auto& c : probe.returnees) cells.push_back({&c.count, nullptr});
  for (auto& c : probe.cases) cells.push_back({&c.count, nullptr});
  for (auto& c : probe.referrals) cells.push_back({&c.count, nullptr});
  for (auto& c : probe.services) cells.push_back({&c.count, &c.amount_usd_cents});
  for (auto& c : probe.initiatives) cells.push_back({&c.count, &c.jobs_created});
  int hidden = 0;
  for (size_t index = 0; index < cells.size(); ++index) {
    Cell& cell = cells[index];
    if (!db::IsHidden(*cell.count)) continue;
    ++hidden;
    const db::GridCount original = *cell.count;
    const int64_t original_amount = cell.amount == nullptr ? 0 : *cell.amount;
    for (int64_t others = 1; others <= 4; ++others) {
      cell.count->total = original.owned + others;
      if (cell.amount != nullptr) *cell.amount = original_amount + 1234 * others;
      if (cell.count->total == original.total && cell.amount == nullptr) continue;
      EXPECT_EQ(EveryReport(probe, months, departments, intervals), reports)
          << "grid cell #" << index + 1 << " with " << others
          << " records of others changes some report: its value can be recovered";
    }
    *cell.count = original;
    if (cell.amount != nullptr) *cell.amount = original_amount;
  }
  return hidden;
}

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_REPORT_GRID_PROBE_H_
