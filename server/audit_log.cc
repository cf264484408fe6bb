// AuditLog: group-committed appends to the audit chain (see audit_log.h).
#include "server/audit_log.h"

namespace enlace::server {

AuditLog::AuditLog(db::AuditStore* store, size_t max_batch, size_t max_queue)
    : store_(store),
      // One writer: appends serialize on the chain head anyway. A lane per
      // identity, an event costing a row plus a row per record id it names:
      // one caller's large events cannot make everyone else's wait.
      committer_(1, max_batch, max_queue, [this](std::vector<Pending>& batch) { Commit(batch); },
                 kMaxBatchCost) {}

void AuditLog::Append(db::AuditRecord record, Done done) {
  // The callback is kept outside the queued item so it can still be told if
  // queuing fails.
  auto shared_done = std::make_shared<Done>(std::move(done));
  std::string lane = record.principal;
  uint64_t cost = 1 + record.record_ids.size();
  if (!committer_.TrySubmit(Pending{std::move(record),
                                    [shared_done](absl::Status s) { (*shared_done)(std::move(s)); }},
                            lane, cost)) {
    (*shared_done)(absl::ResourceExhaustedError("audit queue is full"));
  }
}

void AuditLog::Commit(std::vector<Pending>& batch) {
  std::vector<db::AuditRecord> records;
  records.reserve(batch.size());
  for (Pending& p : batch) records.push_back(std::move(p.record));
  absl::Status status = store_->Append(&records);
  for (Pending& p : batch) p.done(status);
}

}  // namespace enlace::server
