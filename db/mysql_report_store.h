// ReportStore on MySQL 8 / MariaDB 10.11. Each indicator is one GROUP BY
// over its pre-aggregated grid cells (mysql_report_grid.h, migration 0007),
// a range of the cell table's primary key by month: per grid cell, the
// number of records and how many of them the viewer owns, with every value
// bound as a parameter. AggregateReport() then sums the grid cells into the
// report and decides what the viewer sees. The cost follows the number of
// cells in the period (departments x months x keys x agencies), not the
// number of records. All the queries of a report read one consistent
// snapshot (one REPEATABLE READ, READ ONLY transaction).
#ifndef ENLACE_DB_MYSQL_REPORT_STORE_H_
#define ENLACE_DB_MYSQL_REPORT_STORE_H_

#include <string>
#include <vector>

#include "db/mysql_pool.h"
#include "db/report_store.h"

namespace enlace::db {

// One statement of a report and its bound values in placeholder order.
struct ReportStatement {
  std::string sql;
  std::vector<std::string> params;
};

// The grid queries Compute() runs for `query` (returnees, cases, referrals,
// services, initiatives), or the INVALID_ARGUMENT Compute() would return.
// Exposed so that a test can EXPLAIN them (tests/db/query_plan_test.cc).
absl::StatusOr<std::vector<ReportStatement>> ReportGridStatements(const ReportQuery& query);

class MysqlReportStore final : public ReportStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlReportStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<enlace::v1::ProgrammeReport> Compute(const ReportQuery& query) override;

 private:
  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_REPORT_STORE_H_
