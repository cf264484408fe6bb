// The pre-aggregated report grid: which cell each record belongs to, moving
// records between cells, and rebuilding the cells from the records (see
// mysql_report_grid.h).
#include "db/mysql_report_grid.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "db/report_cells.h"
#include "enlace/v1/arrivals.pb.h"

namespace enlace::db {
namespace {

// One grid table and the cell of a record as SQL over the record's row.
struct GridSpec {
  const char* table;
  const char* columns;  // the cell's key columns, also the aliases of `cell`
  std::string cell;  // "expr AS column, ..." in the order of `columns`
  const char* from;  // the record's table (and what its cell needs)
  const char* seq;  // the record's seq column
};

std::string MonthOfDateSql(absl::string_view column) {
  return absl::StrCat("DATE_FORMAT(", column, ", '%Y-%m')");
}

const GridSpec& SpecOf(ReportGridTable table) {
  static const GridSpec* const kSpecs = [] {
    // Role numbers and the sex code are constants of the code, written as
    // integer literals; nothing from a request is ever part of this SQL.
    std::string role = absl::StrCat(
        "CASE WHEN EXISTS (SELECT 1 FROM cases e WHERE e.arrival_seq = c.arrival_seq "
        "AND e.seq < c.seq) THEN ",
        static_cast<int>(CaseRole::kLater), " WHEN a.sex = ", int{enlace::v1::SEX_FEMALE}, " THEN ",
        static_cast<int>(CaseRole::kFirstFemale), " ELSE ", static_cast<int>(CaseRole::kFirstOther),
        " END");
    return new GridSpec[5]{
        {"report_returnee_cells", "grid_month, department_code, submitted_by",
         absl::StrCat(MonthOfDateSql("a.arrival_date"),
                      " AS grid_month, a.department_code AS department_code, "
                      "a.submitted_by AS submitted_by"),
         "arrivals a", "a.seq"},
        {"report_case_cells", "grid_month, department_code, status, case_role, owner_agency",
         absl::StrCat(MonthOfInstantSql("c.created_at_us"),
                      " AS grid_month, c.department_code AS department_code, c.status AS status, ",
                      role, " AS case_role, c.owner_agency AS owner_agency"),
         "cases c JOIN arrivals a ON a.seq = c.arrival_seq", "c.seq"},
        {"report_referral_cells", "grid_month, department_code, from_agency, to_agency, status",
         absl::StrCat(MonthOfInstantSql("r.created_at_us"),
                      " AS grid_month, c.department_code AS department_code, "
                      "r.from_agency AS from_agency, r.to_agency AS to_agency, r.status AS status"),
         "referrals r JOIN cases c ON c.seq = r.case_seq", "r.seq"},
        {"report_service_cells", "grid_month, department_code, service, case_owner, recorded_by",
         absl::StrCat(MonthOfDateSql("s.delivered_on"),
                      " AS grid_month, c.department_code AS department_code, "
                      "s.service AS service, c.owner_agency AS case_owner, "
                      "s.recorded_by AS recorded_by"),
         "case_services s JOIN cases c ON c.seq = s.case_seq", "s.seq"},
        {"report_initiative_cells", "grid_month, department_code, owner_agency",
         absl::StrCat(MonthOfInstantSql("i.registered_at_us"),
                      " AS grid_month, i.department_code AS department_code, "
                      "i.owner_agency AS owner_agency"),
         "initiatives i", "i.seq"},
    };
  }();
  return kSpecs[static_cast<int>(table)];
}

constexpr ReportGridTable kAllTables[] = {ReportGridTable::kReturnees, ReportGridTable::kCases,
                                          ReportGridTable::kReferrals, ReportGridTable::kServices,
                                          ReportGridTable::kInitiatives};

// INSERT INTO table SELECT cells of the records matching `where`, each
// counted `count` ("COUNT(*)" or "-COUNT(*)"), added to existing cells.
std::string AddCellsSql(const GridSpec& spec, absl::string_view count, absl::string_view where) {
  return absl::StrCat(
      "INSERT INTO ", spec.table, " (", spec.columns, ", records) SELECT ", spec.columns, ", ",
      count, " FROM (SELECT ", spec.cell, " FROM ", spec.from, where, ") g GROUP BY ", spec.columns,
      " ON DUPLICATE KEY UPDATE records = ", spec.table, ".records + VALUES(records)");
}

}  // namespace

std::string MonthOfInstantSql(absl::string_view column) {
  // The day is the floor of us / 86400000000 (DIV truncates towards zero).
  return absl::StrCat("DATE_FORMAT(DATE '1970-01-01' + INTERVAL (", column, " DIV 86400000000 - (",
                      column, " < 0 AND ", column, " MOD 86400000000 <> 0)) DAY, '%Y-%m')");
}

void CountInGrid(MysqlConnection& c, ReportGridTable table, absl::Span<const int64_t> seqs,
                 int sign) {
  const GridSpec& spec = SpecOf(table);
  const char* count = sign < 0 ? "-COUNT(*)" : "COUNT(*)";
  ForEachStatementChunk(seqs.size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* add = c.Prepare(
        AddCellsSql(spec, count, absl::StrCat(" WHERE ", spec.seq, " IN ", InList(size))));
    for (size_t k = 0; k < size; ++k) {
      add->setInt64(static_cast<unsigned>(k + 1), seqs[offset + k]);
    }
    add->executeUpdate();
  });
}

absl::Status RecountReportGrid(MysqlPool& pool) {
  return pool.InTransaction([](MysqlConnection& c) -> absl::Status {
    for (ReportGridTable table : kAllTables) {
      const GridSpec& spec = SpecOf(table);
      c.Execute(absl::StrCat("DELETE FROM ", spec.table));
      c.Execute(AddCellsSql(spec, "COUNT(*)", ""));
    }
    sql::PreparedStatement* mark =
        c.Prepare("UPDATE report_grid_state SET recounted_at_us = ? WHERE id = 1");
    mark->setInt64(1, absl::ToUnixMicros(absl::Now()));
    mark->executeUpdate();
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> ReportGridNeedsRecount(MysqlPool& pool) {
  bool needed = true;
  absl::Status status = pool.Run([&](MysqlConnection& c) {
    std::unique_ptr<sql::ResultSet> row(
        c.Prepare("SELECT recounted_at_us IS NULL FROM report_grid_state WHERE id = 1")
            ->executeQuery());
    needed = !row->next() || row->getBoolean(1);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return needed;
}

}  // namespace enlace::db
