// AuditStore on MySQL 8 / MariaDB 10.11. Appends lock the single row of
// `audit_chain_head`, so appends from any number of threads or server
// processes form one gap-free chain.
#ifndef ENLACE_DB_MYSQL_AUDIT_STORE_H_
#define ENLACE_DB_MYSQL_AUDIT_STORE_H_

#include "db/audit_store.h"
#include "db/mysql_pool.h"

namespace enlace::db {

class MysqlAuditStore final : public AuditStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlAuditStore(MysqlPool* pool) : pool_(pool) {}

  absl::Status Append(std::vector<AuditRecord>* records) override;
  absl::StatusOr<AuditPage> List(const AuditQuery& query) override;
  absl::StatusOr<std::vector<AuditRecord>> ListForRecord(const std::string& record_id,
                                                         int64_t after_seq, int limit) override;
  absl::StatusOr<ChainReport> Verify() override;

 private:
  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_AUDIT_STORE_H_
