// AuditStore on MySQL 8 / MariaDB 10.11. Appends lock the single row of
// `audit_chain_head`, so appends from any number of threads or server
// processes form one gap-free chain.
#ifndef ENLACE_DB_MYSQL_AUDIT_STORE_H_
#define ENLACE_DB_MYSQL_AUDIT_STORE_H_

#include <initializer_list>
#include <string>
#include <vector>
#include "db/audit_store.h"

#include "absl/strings/string_view.h"
#include "db/mysql_pool.h"

namespace enlace::db {

// The queries List() and ListForRecord() run, and how List() binds its
// (`rows`: the page size plus one; ListForRecord binds the record id, the
// keyset position and the limit). Exposed so that a test can EXPLAIN them
// (tests/db/query_plan_test.cc).
std::string AuditListSql(const AuditQuery& query);
void BindAuditList(sql::PreparedStatement* statement, const AuditQuery& query, int rows);
std::string AuditRecordListSql();

// Appends `records` to the chain on `c`, inside the caller's transaction
// (for the MySQL stores that commit a change together with its audit event):
// locks the chain head until that transaction ends, assigns seq, prev_hash
// and hash, and writes the record index. Lock the head last in a
// transaction: every writer takes it after the rows it changes.
// Throws sql::SQLException like any statement (the pool converts).
void AppendAuditEvents(MysqlConnection& c, std::vector<AuditRecord>* records);

// The audit event of one change, appended in the change's transaction:
//
//   ChangeAudit change(audit);  // the event the caller prepared
//   pool->InTransaction([&](MysqlConnection& c) {
//     ... the change ...
//     change.Append(c, {new_id});  // last: it locks the chain head
//   });
//   if (ok) change.Settle();  // *audit now has its seq and hashes
//
// Append works on a copy, so a retried transaction appends afresh.
class ChangeAudit {
 public:
  // `audit` may be null: a change without an event (store tests only).
  explicit ChangeAudit(AuditRecord* audit) : audit_(audit) {}
  // Appends the event naming `extra_ids` after its own record ids, each
  // id once: an extra id the event names already is not repeated.
  void Append(MysqlConnection& c, std::initializer_list<absl::string_view> extra_ids = {});
  void Append(MysqlConnection& c, const std::vector<std::string>& extra_ids);
  // After the transaction committed: the event as appended, into *audit.
  void Settle();

 private:
  AuditRecord* const audit_;
  std::vector<AuditRecord> pending_;
};

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
