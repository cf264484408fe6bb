// ReportStore on MySQL 8 / MariaDB 10.11 (schema: db/migrations/0001 and
// 0003). Each indicator is one GROUP BY query over its grid (report_cells.h:
// key, department, calendar month) that returns, per grid cell, the number
// of records and how many of them the viewer owns (COUNT(*) and
// SUM(owner = ?)), with every value bound as a parameter; AggregateReport()
// then sums the grid cells into the report and decides what the viewer
// sees. All the queries of a report read one consistent snapshot of the
// database (one REPEATABLE READ, READ ONLY transaction).
#ifndef ENLACE_DB_MYSQL_REPORT_STORE_H_
#define ENLACE_DB_MYSQL_REPORT_STORE_H_

#include "db/mysql_pool.h"
#include "db/report_store.h"

namespace enlace::db {

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
