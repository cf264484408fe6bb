// MysqlReportStore: the programme report from the pre-aggregated grid
// cells (mysql_report_grid.h), released by the rule of report_cells.h (see
// mysql_report_store.h and report_store.h).
#include "db/mysql_report_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "db/report_cells.h"

namespace enlace::db {
namespace {

using enlace::v1::ProgrammeReport;

using Query = ReportStatement;

// The query's filters, checked and converted once.
struct Filters {
  std::string from_month;  // "YYYY-MM", empty: open
  std::string to_month;  // "YYYY-MM", empty: open
  std::string department;  // empty: all
  std::string viewer;  // empty: owns nothing
};

absl::StatusOr<Filters> MakeFilters(const ReportQuery& query) {
  // Whole months only: a period never cuts a grid cell in two, so it is a
  // range of grid months.
  if (absl::Status s = ValidateReportPeriod(query.period_from, query.period_to, query.interval);
      !s.ok()) {
    return s;
  }
  Filters filters;
  absl::CivilDay day;
  if (!query.period_from.empty()) {
    if (!absl::ParseCivilTime(query.period_from, &day)) {
      return absl::InvalidArgumentError("period_from: must be a real day YYYY-MM-DD");
    }
    filters.from_month = absl::FormatCivilTime(absl::CivilMonth(day)).substr(0, 7);
  }
  if (!query.period_to.empty()) {
    if (!absl::ParseCivilTime(query.period_to, &day)) {
      return absl::InvalidArgumentError("period_to: must be a real day YYYY-MM-DD");
    }
    filters.to_month = absl::FormatCivilTime(absl::CivilMonth(day)).substr(0, 7);
  }
  filters.department = query.department_code;
  filters.viewer = query.viewer_agency;
  return filters;
}

// One grid query: per cell of `keys`, the records and those the viewer owns
// (`owned`, a condition with the viewer bound `owner_params` times), then
// the sum of `sum_column` if not empty, from the cells of `table` in the
// query's months and department. `keys_in_order` are the same columns in
// the order of the table's primary key, so that the groups are read in
// index order (no temporary table, no sort).
Query GridQuery(const Filters& f, absl::string_view table, absl::string_view keys,
                absl::string_view keys_in_order, absl::string_view owned, int owner_params,
                absl::string_view sum_column = "") {
  Query q;
  q.sql = absl::StrCat("SELECT ", keys, ", SUM(records), SUM(CASE WHEN ", owned,
                       " THEN records ELSE 0 END)",
                       sum_column.empty() ? "" : absl::StrCat(", SUM(", sum_column, ")"), " FROM ",
                       table, " WHERE 1 = 1");
  for (int i = 0; i < owner_params; ++i) q.params.emplace_back(f.viewer);
  if (!f.from_month.empty()) {
    absl::StrAppend(&q.sql, " AND grid_month >= ?");
    q.params.emplace_back(f.from_month);
  }
  if (!f.to_month.empty()) {
    absl::StrAppend(&q.sql, " AND grid_month <= ?");
    q.params.emplace_back(f.to_month);
  }
  if (!f.department.empty()) {
    absl::StrAppend(&q.sql, " AND department_code = ?");
    q.params.emplace_back(f.department);
  }
  // Cells whose records all moved on (a referral's or a case's status)
  // stay at 0: they are not part of the grid.
  absl::StrAppend(&q.sql, " GROUP BY ", keys_in_order, " HAVING SUM(records) > 0");
  return q;
}

// The viewer's part of the grid cell in columns `total_column` and
// `total_column` + 1 of `row`. An administrator (no viewer agency) owns
// nothing, even if some owner column were empty.
GridCount CountAt(const Filters& f, sql::ResultSet& row, int total_column) {
  return GridCount{row.getInt64(total_column),
                   f.viewer.empty() ? 0 : row.getInt64(total_column + 1)};
}

// Runs `q` and calls `row` for each result row.
void ForEachRow(MysqlConnection& c, const Query& q,
                const std::function<void(sql::ResultSet&)>& row) {
  sql::PreparedStatement* statement = c.Prepare(q.sql);
  unsigned index = 1;
  for (const std::string& param : q.params) statement->setString(index++, param);
  std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
  while (rows->next()) row(*rows);
}

// Each indicator's grid (report_cells.h) from its cells
// (mysql_report_grid.h): one GROUP BY over a range of the cell table's
// primary key.

Query ReturneesQuery(const Filters& f) {
  return GridQuery(f, "report_returnee_cells", "department_code, grid_month, sex, age_band",
                   "grid_month, department_code, sex, age_band", "submitted_by = ?", 1);
}

void ReturneesGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  Query q = ReturneesQuery(f);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ReportGrid::Returnees cell;
    cell.department = row.getString(1);
    cell.month = row.getString(2);
    cell.sex = static_cast<enlace::v1::Sex>(row.getInt(3));
    cell.age_band = static_cast<enlace::v1::AgeBand>(row.getInt(4));
    cell.count = CountAt(f, row, 5);
    grid->returnees.push_back(std::move(cell));
  });
}

Query CasesQuery(const Filters& f) {
  return GridQuery(
      f, "report_case_cells", "status, case_role, department_code, grid_month, sex, age_band",
      "grid_month, department_code, status, case_role, sex, age_band", "owner_agency = ?", 1);
}

void CasesGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  Query q = CasesQuery(f);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ReportGrid::Cases cell;
    cell.status = static_cast<enlace::v1::CaseStatus>(row.getInt(1));
    cell.role = static_cast<CaseRole>(row.getInt(2));
    cell.department = row.getString(3);
    cell.month = row.getString(4);
    cell.sex = static_cast<enlace::v1::Sex>(row.getInt(5));
    cell.age_band = static_cast<enlace::v1::AgeBand>(row.getInt(6));
    cell.count = CountAt(f, row, 7);
    grid->cases.push_back(std::move(cell));
  });
}

Query ReferralsQuery(const Filters& f) {
  return GridQuery(
      f, "report_referral_cells", "from_agency, to_agency, status, department_code, grid_month",
      "grid_month, department_code, from_agency, to_agency, status", "from_agency = ?", 1);
}

void ReferralsGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  Query q = ReferralsQuery(f);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ReportGrid::Referrals cell;
    cell.from_agency = row.getString(1);
    cell.to_agency = row.getString(2);
    cell.status = static_cast<enlace::v1::ReferralStatus>(row.getInt(3));
    cell.department = row.getString(4);
    cell.month = row.getString(5);
    cell.count = CountAt(f, row, 6);
    grid->referrals.push_back(std::move(cell));
  });
}

// A service record is the viewer's when it owns the case or recorded the
// service itself: records another agency can add to a cell must count as
// that agency's own, or adding them would unhide the cell.
Query ServicesQuery(const Filters& f) {
  return GridQuery(f, "report_service_cells",
                   "service, training_completed, department_code, grid_month",
                   "grid_month, department_code, service, training_completed",
                   "(case_owner = ? OR recorded_by = ?)", 2, "amount_usd_cents");
}

void ServicesGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  Query q = ServicesQuery(f);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ReportGrid::Services cell;
    cell.service = static_cast<enlace::v1::Need>(row.getInt(1));
    cell.training_completed = row.getInt(2) != 0;
    cell.department = row.getString(3);
    cell.month = row.getString(4);
    cell.count = CountAt(f, row, 5);
    cell.amount_usd_cents = row.getInt64(7);
    grid->services.push_back(std::move(cell));
  });
}

Query InitiativesQuery(const Filters& f) {
  return GridQuery(f, "report_initiative_cells", "department_code, grid_month, status, woman_led",
                   "grid_month, department_code, status, woman_led", "owner_agency = ?", 1,
                   "jobs_created");
}

void InitiativesGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  Query q = InitiativesQuery(f);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ReportGrid::Initiatives cell;
    cell.department = row.getString(1);
    cell.month = row.getString(2);
    cell.status = static_cast<enlace::v1::InitiativeStatus>(row.getInt(3));
    cell.woman_led = row.getInt(4) != 0;
    cell.count = CountAt(f, row, 5);
    cell.jobs_created = row.getInt64(7);
    grid->initiatives.push_back(std::move(cell));
  });
}

}  // namespace

absl::StatusOr<std::vector<ReportStatement>> ReportGridStatements(const ReportQuery& query) {
  absl::StatusOr<Filters> filters = MakeFilters(query);
  if (!filters.ok()) return filters.status();
  return std::vector<ReportStatement>{ReturneesQuery(*filters), CasesQuery(*filters),
                                      ReferralsQuery(*filters), ServicesQuery(*filters),
                                      InitiativesQuery(*filters)};
}

absl::StatusOr<ProgrammeReport> MysqlReportStore::Compute(const ReportQuery& query) {
  absl::StatusOr<Filters> filters = MakeFilters(query);
  if (!filters.ok()) return filters.status();

  ReportGrid grid;
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    grid = ReportGrid{};  // a retried attempt starts over
    // Sessions run READ COMMITTED, where every statement reads its own
    // snapshot. This one transaction reads one snapshot for all the
    // indicators, so they agree with each other (served <= cases, ...).
    // SET TRANSACTION applies to the next transaction only.
    c.Execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    ReturneesGrid(c, *filters, &grid);
    CasesGrid(c, *filters, &grid);
    ReferralsGrid(c, *filters, &grid);
    ServicesGrid(c, *filters, &grid);
    InitiativesGrid(c, *filters, &grid);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;

  // Every number of the report from the grid, as the viewer may see it.
  ProgrammeReport report;
  AggregateReport(grid, query.interval, &report);
  report.set_period_from(query.period_from);
  report.set_period_to(query.period_to);
  report.set_department_code(query.department_code);
  return report;
}

}  // namespace enlace::db
