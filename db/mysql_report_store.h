// ReportStore on MySQL 8 / MariaDB 10.11 (schema: db/migrations/0001 and
// 0003). Each indicator is one GROUP BY query that returns, per cell, the
// number of records and how many of them the viewer owns (COUNT(*) and
// SUM(owner = ?)); ReportCell() then decides what the viewer sees. All the
// queries of a report read one consistent snapshot of the database.
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
