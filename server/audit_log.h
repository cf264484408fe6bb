// The server's side of the audit trail: every call, allowed or denied, is
// appended through AuditLog, and the call's response waits for the commit.
// Appends from concurrent calls are group-committed in one transaction,
// taken fairly from one lane per identity (server/group_commit.h), a batch
// holding at most kMaxBatchCost rows.
#ifndef ENLACE_SERVER_AUDIT_LOG_H_
#define ENLACE_SERVER_AUDIT_LOG_H_

#include <functional>

#include "absl/status/status.h"
#include "db/audit_store.h"
#include "server/group_commit.h"

namespace enlace::server {

class AuditLog {
 public:
  using Done = std::function<void(absl::Status)>;

  // `store` must outlive this object.
  explicit AuditLog(db::AuditStore* store, size_t max_batch = 256, size_t max_queue = 100000);

  // Rows a batch writes at most (an event and one index row per record id),
  // unless it is a single event: bounds how long the commit in progress
  // holds up an event that just arrived.
  static constexpr uint64_t kMaxBatchCost = 256;

  // Queues `record` (its seq and hashes are assigned at commit). `done` runs
  // exactly once, on a writer thread, with OK once the record is durable or
  // with the error that kept it from being written.
  void Append(db::AuditRecord record, Done done);

 private:
  struct Pending {
    db::AuditRecord record;
    Done done;
  };
  void Commit(std::vector<Pending>& batch);

  db::AuditStore* const store_;
  GroupCommitter<Pending> committer_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_AUDIT_LOG_H_
