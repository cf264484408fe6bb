// MysqlReportStore: the programme report as SQL aggregates per grid cell,
// released by the rule of report_cells.h (see mysql_report_store.h and
// report_store.h).
#include "db/mysql_report_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "db/report_cells.h"

namespace enlace::db {
namespace {

using enlace::v1::ProgrammeReport;

// One SQL statement built from fixed fragments, and its bound values in
// placeholder order.
struct Query {
  std::string sql;
  std::vector<std::variant<std::string, int64_t>> params;
};

// The query's filters, checked and converted once.
struct Filters {
  std::string from_date;             // YYYY-MM-DD (a first of the month), empty: open
  std::string to_date;               // YYYY-MM-DD (a last of the month), empty: open
  std::optional<int64_t> from_us;    // inclusive: from_date 00:00 UTC
  std::optional<int64_t> before_us;  // exclusive: the day after to_date, 00:00 UTC
  std::string department;            // empty: all
  std::string viewer;                // empty: owns nothing
};

absl::StatusOr<Filters> MakeFilters(const ReportQuery& query) {
  // Whole months only: a period never cuts a grid cell in two.
  if (absl::Status s = ValidateReportPeriod(query.period_from, query.period_to); !s.ok()) {
    return s;
  }
  Filters filters;
  absl::CivilDay day;
  if (!query.period_from.empty()) {
    if (!absl::ParseCivilTime(query.period_from, &day)) {
      return absl::InvalidArgumentError("period_from: must be a real day YYYY-MM-DD");
    }
    filters.from_date = query.period_from;
    filters.from_us = absl::ToUnixMicros(absl::FromCivil(day, absl::UTCTimeZone()));
  }
  if (!query.period_to.empty()) {
    if (!absl::ParseCivilTime(query.period_to, &day)) {
      return absl::InvalidArgumentError("period_to: must be a real day YYYY-MM-DD");
    }
    filters.to_date = query.period_to;
    filters.before_us = absl::ToUnixMicros(absl::FromCivil(day + 1, absl::UTCTimeZone()));
  }
  filters.department = query.department_code;
  filters.viewer = query.viewer_agency;
  return filters;
}

// The conditions below append " AND ..." with placeholders and their values.
void WhereDate(const Filters& f, absl::string_view column, Query* q) {
  if (!f.from_date.empty()) {
    absl::StrAppend(&q->sql, " AND ", column, " >= ?");
    q->params.emplace_back(f.from_date);
  }
  if (!f.to_date.empty()) {
    absl::StrAppend(&q->sql, " AND ", column, " <= ?");
    q->params.emplace_back(f.to_date);
  }
}

void WhereInstant(const Filters& f, absl::string_view column, Query* q) {
  if (f.from_us) {
    absl::StrAppend(&q->sql, " AND ", column, " >= ?");
    q->params.emplace_back(*f.from_us);
  }
  if (f.before_us) {
    absl::StrAppend(&q->sql, " AND ", column, " < ?");
    q->params.emplace_back(*f.before_us);
  }
}

void WhereDepartment(const Filters& f, absl::string_view column, Query* q) {
  if (f.department.empty()) return;
  absl::StrAppend(&q->sql, " AND ", column, " = ?");
  q->params.emplace_back(f.department);
}

// The grid month "YYYY-MM" of a DATE column.
std::string MonthOfDate(absl::string_view column) {
  return absl::StrCat("DATE_FORMAT(", column, ", '%Y-%m')");
}

// The grid month "YYYY-MM" (UTC) of a column of microseconds since the
// epoch, in integer arithmetic (no session time zone, no decimal rounding):
// the day is the floor of us / 86400000000.
std::string MonthOfInstant(absl::string_view column) {
  return absl::StrCat("DATE_FORMAT(DATE '1970-01-01' + INTERVAL (", column,
                      " DIV 86400000000 - (", column, " < 0 AND ", column,
                      " MOD 86400000000 <> 0)) DAY, '%Y-%m')");
}

// Every grid query selects, per grid cell, its key columns then COUNT(*)
// and the number the viewer owns. The inner SELECT yields one row per record
// with its key and an `owned` flag; the outer one groups by the whole key.
Query GridQuery(absl::string_view keys, absl::string_view inner_select,
                std::vector<std::variant<std::string, int64_t>> params) {
  return Query{absl::StrCat("SELECT ", keys, ", COUNT(*), SUM(g.owned) FROM (", inner_select),
               std::move(params)};
}

void CloseGridQuery(absl::string_view keys, Query* q) {
  absl::StrAppend(&q->sql, ") g GROUP BY ", keys);
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
  for (const auto& param : q.params) {
    if (const std::string* text = std::get_if<std::string>(&param)) {
      statement->setString(index++, *text);
    } else {
      statement->setInt64(index++, std::get<int64_t>(param));
    }
  }
  std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
  while (rows->next()) row(*rows);
}

// Each indicator's grid (report_cells.h): one GROUP BY query.

void ReturneesGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  constexpr char kKeys[] = "g.department_code, g.grid_month";
  Query q = GridQuery(kKeys,
                      absl::StrCat("SELECT a.department_code, ", MonthOfDate("a.arrival_date"),
                                   " AS grid_month, a.submitted_by = ? AS owned "
                                   "FROM arrivals a WHERE 1 = 1"),
                      {f.viewer});
  WhereDate(f, "a.arrival_date", &q);
  WhereDepartment(f, "a.department_code", &q);
  CloseGridQuery(kKeys, &q);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    grid->returnees.push_back({row.getString(1), row.getString(2), CountAt(f, row, 3)});
  });
}

void CasesGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  // A case is its returnee's first when no case of the same arrival was
  // created before it (ties: the lower seq). Whether it is first does not
  // depend on the filters: the subquery looks at every case.
  // The roles are the CaseRole numbers, written into the SQL as integer
  // literals (constants of the code; every value from the request is bound).
  constexpr char kKeys[] = "g.status, g.case_role, g.department_code, g.grid_month";
  Query q = GridQuery(
      kKeys,
      absl::StrCat(
          "SELECT c.status, CASE WHEN EXISTS (SELECT 1 FROM cases e "
          "WHERE e.arrival_seq = c.arrival_seq AND (e.created_at_us < c.created_at_us "
          "OR (e.created_at_us = c.created_at_us AND e.seq < c.seq))) THEN ",
          static_cast<int>(CaseRole::kLater), " WHEN a.sex = ? THEN ",
          static_cast<int>(CaseRole::kFirstFemale), " ELSE ",
          static_cast<int>(CaseRole::kFirstOther), " END AS case_role, c.department_code, ",
          MonthOfInstant("c.created_at_us"),
          " AS grid_month, c.owner_agency = ? AS owned "
          "FROM cases c JOIN arrivals a ON a.seq = c.arrival_seq WHERE 1 = 1"),
      {int64_t{enlace::v1::SEX_FEMALE}, f.viewer});
  WhereInstant(f, "c.created_at_us", &q);
  WhereDepartment(f, "c.department_code", &q);
  CloseGridQuery(kKeys, &q);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ReportGrid::Cases cell;
    cell.status = static_cast<enlace::v1::CaseStatus>(row.getInt(1));
    cell.role = static_cast<CaseRole>(row.getInt(2));
    cell.department = row.getString(3);
    cell.month = row.getString(4);
    cell.count = CountAt(f, row, 5);
    grid->cases.push_back(std::move(cell));
  });
}

void ReferralsGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  // The department is the referred case's.
  constexpr char kKeys[] = "g.from_agency, g.to_agency, g.status, g.department_code, g.grid_month";
  Query q = GridQuery(kKeys,
                      absl::StrCat("SELECT r.from_agency, r.to_agency, r.status, "
                                   "c.department_code, ",
                                   MonthOfInstant("r.created_at_us"),
                                   " AS grid_month, r.from_agency = ? AS owned "
                                   "FROM referrals r JOIN cases c ON c.seq = r.case_seq "
                                   "WHERE 1 = 1"),
                      {f.viewer});
  WhereInstant(f, "r.created_at_us", &q);
  WhereDepartment(f, "c.department_code", &q);
  CloseGridQuery(kKeys, &q);
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

void ServicesGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  // A service record is the viewer's when it owns the case or recorded the
  // service itself: records another agency can add to a cell must count as
  // that agency's own, or adding them would unhide the cell.
  constexpr char kKeys[] = "g.service, g.department_code, g.grid_month";
  Query q = GridQuery(kKeys,
                      absl::StrCat("SELECT s.service, c.department_code, ",
                                   MonthOfDate("s.delivered_on"),
                                   " AS grid_month, (c.owner_agency = ? OR s.recorded_by = ?) "
                                   "AS owned FROM case_services s "
                                   "JOIN cases c ON c.seq = s.case_seq WHERE 1 = 1"),
                      {f.viewer, f.viewer});
  WhereDate(f, "s.delivered_on", &q);
  WhereDepartment(f, "c.department_code", &q);
  CloseGridQuery(kKeys, &q);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ReportGrid::Services cell;
    cell.service = static_cast<enlace::v1::Need>(row.getInt(1));
    cell.department = row.getString(2);
    cell.month = row.getString(3);
    cell.count = CountAt(f, row, 4);
    grid->services.push_back(std::move(cell));
  });
}

void InitiativesGrid(MysqlConnection& c, const Filters& f, ReportGrid* grid) {
  constexpr char kKeys[] = "g.department_code, g.grid_month";
  Query q = GridQuery(kKeys,
                      absl::StrCat("SELECT i.department_code, ",
                                   MonthOfInstant("i.registered_at_us"),
                                   " AS grid_month, i.owner_agency = ? AS owned "
                                   "FROM initiatives i WHERE 1 = 1"),
                      {f.viewer});
  WhereInstant(f, "i.registered_at_us", &q);
  WhereDepartment(f, "i.department_code", &q);
  CloseGridQuery(kKeys, &q);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    grid->initiatives.push_back({row.getString(1), row.getString(2), CountAt(f, row, 3)});
  });
}

}  // namespace

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
  AggregateReport(grid, &report);
  report.set_period_from(query.period_from);
  report.set_period_to(query.period_to);
  report.set_department_code(query.department_code);
  report.set_initiatives_target(kInitiativesTarget);
  return report;
}

}  // namespace enlace::db
