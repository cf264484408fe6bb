// MysqlReportStore: the programme report as SQL aggregates (see
// mysql_report_store.h and report_store.h).
#include "db/mysql_report_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <functional>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

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
  std::string from_date;             // YYYY-MM-DD, empty: open
  std::string to_date;               // YYYY-MM-DD, empty: open
  std::optional<int64_t> from_us;    // inclusive: from_date 00:00 UTC
  std::optional<int64_t> before_us;  // exclusive: the day after to_date, 00:00 UTC
  std::string department;            // empty: all
  std::string viewer;                // empty: owns nothing
};

// `text` as a day, if it is a real YYYY-MM-DD day spelled canonically
// ("2018-02-30" and "2018-2-3" are refused, not normalized).
std::optional<absl::CivilDay> ParseDay(const std::string& text) {
  absl::CivilDay day;
  if (text.size() != 10 || !absl::ParseCivilTime(text, &day)) return std::nullopt;
  if (absl::FormatCivilTime(day) != text) return std::nullopt;
  return day;
}

absl::StatusOr<Filters> MakeFilters(const ReportQuery& query) {
  Filters filters;
  std::optional<absl::CivilDay> from;
  std::optional<absl::CivilDay> to;
  if (!query.period_from.empty()) {
    from = ParseDay(query.period_from);
    if (!from) return absl::InvalidArgumentError("period_from: must be a real YYYY-MM-DD day");
    filters.from_date = query.period_from;
    filters.from_us = absl::ToUnixMicros(absl::FromCivil(*from, absl::UTCTimeZone()));
  }
  if (!query.period_to.empty()) {
    to = ParseDay(query.period_to);
    if (!to) return absl::InvalidArgumentError("period_to: must be a real YYYY-MM-DD day");
    filters.to_date = query.period_to;
    filters.before_us = absl::ToUnixMicros(absl::FromCivil(*to + 1, absl::UTCTimeZone()));
  }
  if (from && to && *from > *to) {
    return absl::InvalidArgumentError("period_from: must not be after period_to");
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

// The owned count in `column` of `row`. An administrator (no viewer agency)
// owns nothing, even if some owner column were empty.
int64_t Owned(const Filters& f, sql::ResultSet& row, int column) {
  return f.viewer.empty() ? 0 : row.getInt64(column);
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

// Each indicator: a query whose rows end with (total, owned), and what to
// do with a row whose total is not 0. The viewer is the first placeholder.

void ReturneesByDepartment(MysqlConnection& c, const Filters& f, ProgrammeReport* report) {
  Query q{"SELECT a.department_code, COUNT(*), SUM(a.submitted_by = ?) FROM arrivals a "
          "WHERE 1 = 1",
          {f.viewer}};
  WhereDate(f, "a.arrival_date", &q);
  WhereDepartment(f, "a.department_code", &q);
  q.sql += " GROUP BY a.department_code ORDER BY a.department_code";
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ProgrammeReport::DepartmentCount* out = report->add_returnees_by_department();
    out->set_department_code(row.getString(1));
    *out->mutable_returnees() = ReportCell(row.getInt64(2), Owned(f, row, 3));
  });
}

void ReturneesByMonth(MysqlConnection& c, const Filters& f, ProgrammeReport* report) {
  Query q{"SELECT DATE_FORMAT(a.arrival_date, '%Y-%m') AS arrival_month, a.department_code, "
          "COUNT(*), SUM(a.submitted_by = ?) FROM arrivals a WHERE 1 = 1",
          {f.viewer}};
  WhereDate(f, "a.arrival_date", &q);
  WhereDepartment(f, "a.department_code", &q);
  q.sql += " GROUP BY arrival_month, a.department_code ORDER BY arrival_month, a.department_code";
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ProgrammeReport::MonthCount* out = report->add_returnees_by_month();
    out->set_month(row.getString(1));
    out->set_department_code(row.getString(2));
    *out->mutable_returnees() = ReportCell(row.getInt64(3), Owned(f, row, 4));
  });
}

void CasesByStatus(MysqlConnection& c, const Filters& f, ProgrammeReport* report) {
  Query q{"SELECT c.status, COUNT(*), SUM(c.owner_agency = ?) FROM cases c WHERE 1 = 1",
          {f.viewer}};
  WhereInstant(f, "c.created_at_us", &q);
  WhereDepartment(f, "c.department_code", &q);
  q.sql += " GROUP BY c.status ORDER BY c.status";
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ProgrammeReport::CaseStatusCount* out = report->add_cases_by_status();
    out->set_status(static_cast<enlace::v1::CaseStatus>(row.getInt(1)));
    *out->mutable_cases() = ReportCell(row.getInt64(2), Owned(f, row, 3));
  });
}

void Referrals(MysqlConnection& c, const Filters& f, ProgrammeReport* report) {
  Query q{"SELECT r.from_agency, r.to_agency, r.status, COUNT(*), SUM(r.from_agency = ?) "
          "FROM referrals r",
          {f.viewer}};
  // The department is the referred case's.
  if (!f.department.empty()) q.sql += " JOIN cases c ON c.seq = r.case_seq";
  q.sql += " WHERE 1 = 1";
  WhereInstant(f, "r.created_at_us", &q);
  WhereDepartment(f, "c.department_code", &q);
  q.sql +=
      " GROUP BY r.from_agency, r.to_agency, r.status"
      " ORDER BY r.from_agency, r.to_agency, r.status";
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ProgrammeReport::ReferralCount* out = report->add_referrals();
    out->set_from_agency(row.getString(1));
    out->set_to_agency(row.getString(2));
    out->set_status(static_cast<enlace::v1::ReferralStatus>(row.getInt(3)));
    *out->mutable_referrals() = ReportCell(row.getInt64(4), Owned(f, row, 5));
  });
}

void ServicesByType(MysqlConnection& c, const Filters& f, ProgrammeReport* report) {
  // A service record belongs to the owner of its case, whoever recorded it.
  Query q{"SELECT s.service, COUNT(*), SUM(c.owner_agency = ?) FROM case_services s "
          "JOIN cases c ON c.seq = s.case_seq WHERE 1 = 1",
          {f.viewer}};
  WhereDate(f, "s.delivered_on", &q);
  WhereDepartment(f, "c.department_code", &q);
  q.sql += " GROUP BY s.service ORDER BY s.service";
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    ProgrammeReport::ServiceCount* out = report->add_services_by_type();
    out->set_service(static_cast<enlace::v1::Need>(row.getInt(1)));
    *out->mutable_services() = ReportCell(row.getInt64(2), Owned(f, row, 3));
  });
}

void Initiatives(MysqlConnection& c, const Filters& f, ProgrammeReport* report) {
  Query q{"SELECT COUNT(*), COALESCE(SUM(i.owner_agency = ?), 0) FROM initiatives i "
          "WHERE 1 = 1",
          {f.viewer}};
  WhereInstant(f, "i.registered_at_us", &q);
  WhereDepartment(f, "i.department_code", &q);
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    *report->mutable_initiatives() = ReportCell(row.getInt64(1), Owned(f, row, 2));
  });
}

void ReturneesServed(MysqlConnection& c, const Filters& f, ProgrammeReport* report) {
  // One row per arrival with a counted case; `owned` is 1 when every counted
  // case of it is the viewer's.
  Query q{"SELECT COUNT(*), COALESCE(SUM(t.owned), 0), COALESCE(SUM(a.sex = ?), 0), "
          "COALESCE(SUM(a.sex = ? AND t.owned = 1), 0) "
          "FROM (SELECT c.arrival_seq, MIN(c.owner_agency = ?) AS owned FROM cases c "
          "WHERE 1 = 1",
          {int64_t{enlace::v1::SEX_FEMALE}, int64_t{enlace::v1::SEX_FEMALE}, f.viewer}};
  WhereInstant(f, "c.created_at_us", &q);
  WhereDepartment(f, "c.department_code", &q);
  q.sql += " GROUP BY c.arrival_seq) t JOIN arrivals a ON a.seq = t.arrival_seq";
  ForEachRow(c, q, [&](sql::ResultSet& row) {
    *report->mutable_returnees_served() = ReportCell(row.getInt64(1), Owned(f, row, 2));
    *report->mutable_women_served() = ReportCell(row.getInt64(3), Owned(f, row, 4));
  });
  report->set_women_share(WomenShare(report->women_served(), report->returnees_served()));
}

}  // namespace

absl::StatusOr<ProgrammeReport> MysqlReportStore::Compute(const ReportQuery& query) {
  absl::StatusOr<Filters> filters = MakeFilters(query);
  if (!filters.ok()) return filters.status();

  ProgrammeReport report;
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    report.Clear();  // a retried attempt starts over
    // Sessions run READ COMMITTED, where every statement reads its own
    // snapshot. This one transaction reads one snapshot for all the
    // indicators, so they agree with each other (served <= cases, ...).
    // SET TRANSACTION applies to the next transaction only.
    c.Execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    ReturneesByDepartment(c, *filters, &report);
    ReturneesByMonth(c, *filters, &report);
    CasesByStatus(c, *filters, &report);
    Referrals(c, *filters, &report);
    ServicesByType(c, *filters, &report);
    Initiatives(c, *filters, &report);
    ReturneesServed(c, *filters, &report);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;

  report.set_period_from(query.period_from);
  report.set_period_to(query.period_to);
  report.set_department_code(query.department_code);
  report.set_initiatives_target(kInitiativesTarget);
  return report;
}

}  // namespace enlace::db
