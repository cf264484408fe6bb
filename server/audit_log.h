// The server's side of the audit trail: every call, allowed or denied, is
// appended through AuditLog, and the call's response waits for the commit.
// Appends from concurrent calls are group-committed in one transaction,
// taken fairly from one lane per identity (server/group_commit.h), a batch
// holding at most kMaxBatchCost rows.
//
// Deliveries of the live feed fan out: one referral change reaches every
// WatchReferrals stream of an agency at once, 1,000 streams making 1,000
// events with the same content (3,000 rows with the record index). Those go
// through AppendDelivery, which folds identical deliveries still waiting in
// the queue into one event: "undp received referral R and case C at T on
// 1,000 streams over 10 connections" (docs/audit.md). Once that event is
// committed, its streams' callbacks (each starts its stream's write) run
// half on the writer and half on a helper thread, so a fan-out's writes
// take two cores, not one, and the writer is free for the next batch.
#ifndef ENLACE_SERVER_AUDIT_LOG_H_
#define ENLACE_SERVER_AUDIT_LOG_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "db/audit_store.h"
#include "enlace/v1/admin.pb.h"
#include "server/group_commit.h"
#include "server/work_pool.h"

namespace enlace::server {

// A committed audit record as the API shows it (ListAuditEvents, and the
// accesses of ExportReturneeData): hashes in hex.
enlace::v1::AuditEvent AuditEventOf(const db::AuditRecord& record);

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
  // exactly once, on the writer thread, with OK once the record is durable
  // or with the error that kept it from being written.
  void Append(db::AuditRecord record, Done done);

  // Like Append, for the delivery of feed events to one stream. While an
  // identical delivery (principal, method, decision, status, record ids and
  // detail) is queued and not yet being committed, this one joins it: one
  // event is written for all of them, at the earliest one's time and peer,
  // its detail ending " streams=N connections=K" (N deliveries, K distinct
  // peers) when N > 1; `done` runs with that event's outcome, on the writer
  // or the helper thread.
  void AppendDelivery(db::AuditRecord record, Done done);

  // For metrics: events queued and not yet being committed, and how long
  // the oldest event of the last batch committed waited, from Append to
  // durable (the commit lag).
  size_t queue_depth() const { return committer_.queued(); }
  absl::Duration last_commit_lag() const {
    return absl::Microseconds(last_commit_lag_us_.load(std::memory_order_relaxed));
  }

 private:
  // Identical deliveries waiting to be written as one event.
  struct Delivery {
    std::string key;
    std::vector<Done> dones;  // the first one's is Pending::done
    std::vector<std::string> peers;  // of the deliveries that joined
    int64_t earliest_us = 0;
    bool closed = false;  // taken for commit: no one joins
  };
  struct Pending {
    db::AuditRecord record;
    Done done;
    std::shared_ptr<Delivery> delivery;  // set by AppendDelivery
    absl::Time queued_at = absl::Now();
  };
  void Commit(std::vector<Pending>& batch);
  // Runs `dones` with `status`: the second half on the helper when there
  // are at least kHelpFrom.
  void RunDones(std::vector<Done> dones, const absl::Status& status);
  static constexpr size_t kHelpFrom = 64;
  bool Submit(Pending pending);

  db::AuditStore* const store_;
  std::atomic<int64_t> last_commit_lag_us_{0};
  absl::Mutex deliveries_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Delivery>> open_deliveries_
      ABSL_GUARDED_BY(deliveries_mu_);
  // Declared before committer_: destroyed after the writer is joined, it
  // runs what the writer's last batches handed it.
  WorkPool helper_;
  GroupCommitter<Pending> committer_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_AUDIT_LOG_H_
