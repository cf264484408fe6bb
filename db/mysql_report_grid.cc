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
  // An amount the cell sums over its records besides counting them: the
  // cell table's column, and its value in the record's row (nullptr: none).
  const char* sum_column = nullptr;
  const char* sum_value = nullptr;
};

std::string MonthOfDateSql(absl::string_view column) {
  return absl::StrCat("DATE_FORMAT(", column, ", '%Y-%m')");
}

// The AgeBand (report_cells.h, AgeBandOn) of the arrival `a` on its
// arrival date. TIMESTAMPDIFF(YEAR, ...) counts whole years as AgeBandOn
// does; the enum's numbers are constants of the code.
std::string AgeBandSql() {
  std::string age = "TIMESTAMPDIFF(YEAR, a.birth_date, a.arrival_date)";
  auto band = [](enlace::v1::AgeBand b) { return absl::StrCat(static_cast<int>(b)); };
  return absl::StrCat(
      "CASE WHEN a.arrival_date < a.birth_date THEN ", band(enlace::v1::AGE_BAND_UNSPECIFIED),
      " WHEN ", age, " < 15 THEN ", band(enlace::v1::AGE_BAND_0_14), " WHEN ", age, " < 18 THEN ",
      band(enlace::v1::AGE_BAND_15_17), " WHEN ", age, " < 25 THEN ",
      band(enlace::v1::AGE_BAND_18_24), " WHEN ", age, " < 30 THEN ",
      band(enlace::v1::AGE_BAND_25_29), " WHEN ", age, " < 60 THEN ",
      band(enlace::v1::AGE_BAND_30_59), " ELSE ", band(enlace::v1::AGE_BAND_60_PLUS), " END");
}

const GridSpec& SpecOf(ReportGridTable table) {
  static const GridSpec* const kSpecs = [] {
    // Role numbers, enum values and the sex code are constants of the code,
    // written as integer literals; nothing from a request is ever part of
    // this SQL.
    std::string later =
        "EXISTS (SELECT 1 FROM cases e WHERE e.arrival_seq = c.arrival_seq AND e.seq < c.seq)";
    std::string role =
        absl::StrCat("CASE WHEN ", later, " THEN ", static_cast<int>(CaseRole::kLater),
                     " WHEN a.sex = ", int{enlace::v1::SEX_FEMALE}, " THEN ",
                     static_cast<int>(CaseRole::kFirstFemale), " ELSE ",
                     static_cast<int>(CaseRole::kFirstOther), " END");
    // Only a first case carries the returnee's sex and band (report_cells.h).
    std::string first_sex = absl::StrCat("CASE WHEN ", later, " THEN 0 ELSE a.sex END");
    std::string first_band =
        absl::StrCat("CASE WHEN ", later, " THEN 0 ELSE ", AgeBandSql(), " END");
    std::string completed = absl::StrCat("CASE WHEN s.service = ", int{enlace::v1::NEED_TRAINING},
                                         " AND s.training_completed <> 0 THEN 1 ELSE 0 END");
    return new GridSpec[5]{
        {"report_returnee_cells", "grid_month, department_code, sex, age_band, submitted_by",
         absl::StrCat(MonthOfDateSql("a.arrival_date"),
                      " AS grid_month, a.department_code AS department_code, a.sex AS sex, ",
                      AgeBandSql(), " AS age_band, a.submitted_by AS submitted_by"),
         "arrivals a", "a.seq"},
        {"report_case_cells",
         "grid_month, department_code, status, case_role, sex, age_band, owner_agency",
         absl::StrCat(MonthOfInstantSql("c.created_at_us"),
                      " AS grid_month, c.department_code AS department_code, c.status AS status, ",
                      role, " AS case_role, ", first_sex, " AS sex, ", first_band,
                      " AS age_band, c.owner_agency AS owner_agency"),
         "cases c JOIN arrivals a ON a.seq = c.arrival_seq", "c.seq"},
        {"report_referral_cells", "grid_month, department_code, from_agency, to_agency, status",
         absl::StrCat(MonthOfInstantSql("r.created_at_us"),
                      " AS grid_month, c.department_code AS department_code, "
                      "r.from_agency AS from_agency, r.to_agency AS to_agency, r.status AS status"),
         "referrals r JOIN cases c ON c.seq = r.case_seq", "r.seq"},
        {"report_service_cells",
         "grid_month, department_code, service, training_completed, case_owner, recorded_by",
         absl::StrCat(MonthOfDateSql("s.delivered_on"),
                      " AS grid_month, c.department_code AS department_code, "
                      "s.service AS service, ",
                      completed,
                      " AS training_completed, c.owner_agency AS case_owner, "
                      "s.recorded_by AS recorded_by"),
         "case_services s JOIN cases c ON c.seq = s.case_seq", "s.seq", "amount_usd_cents",
         "s.amount_usd_cents"},
        {"report_initiative_cells", "grid_month, department_code, status, woman_led, owner_agency",
         absl::StrCat(MonthOfInstantSql("i.registered_at_us"),
                      " AS grid_month, i.department_code AS department_code, i.status AS status, "
                      "CASE WHEN i.woman_led <> 0 THEN 1 ELSE 0 END AS woman_led, "
                      "i.owner_agency AS owner_agency"),
         "initiatives i", "i.seq", "jobs_created", "i.jobs_created"},
    };
  }();
  return kSpecs[static_cast<int>(table)];
}

constexpr ReportGridTable kAllTables[] = {ReportGridTable::kReturnees, ReportGridTable::kCases,
                                          ReportGridTable::kReferrals, ReportGridTable::kServices,
                                          ReportGridTable::kInitiatives};

// INSERT INTO table SELECT cells of the records matching `where`, each
// counted (and its amount summed) with `sign` (+1 or -1), added to existing
// cells.
std::string AddCellsSql(const GridSpec& spec, int sign, absl::string_view where) {
  const char* minus = sign < 0 ? "-" : "";
  std::string sum_insert;
  std::string sum_select;
  std::string sum_inner;
  std::string sum_update;
  if (spec.sum_column != nullptr) {
    sum_insert = absl::StrCat(", ", spec.sum_column);
    sum_select = absl::StrCat(", ", minus, "SUM(g.grid_amount)");
    sum_inner = absl::StrCat(", ", spec.sum_value, " AS grid_amount");
    sum_update = absl::StrCat(", ", spec.sum_column, " = ", spec.table, ".", spec.sum_column,
                              " + VALUES(", spec.sum_column, ")");
  }
  return absl::StrCat(
      "INSERT INTO ", spec.table, " (", spec.columns, ", records", sum_insert, ") SELECT ",
      spec.columns, ", ", minus, "COUNT(*)", sum_select, " FROM (SELECT ", spec.cell, sum_inner,
      " FROM ", spec.from, where, ") g GROUP BY ", spec.columns,
      " ON DUPLICATE KEY UPDATE records = ", spec.table, ".records + VALUES(records)", sum_update);
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
  ForEachStatementChunk(seqs.size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* add =
        c.Prepare(AddCellsSql(spec, sign, absl::StrCat(" WHERE ", spec.seq, " IN ", InList(size))));
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
      c.Execute(AddCellsSql(spec, +1, ""));
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
