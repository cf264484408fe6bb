// AuditLog: group-committed appends to the audit chain, identical feed
// deliveries folded into one event (see audit_log.h).
#include "server/audit_log.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "db/audit_chain.h"
#include "google/protobuf/util/time_util.h"

namespace enlace::server {

enlace::v1::AuditEvent AuditEventOf(const db::AuditRecord& record) {
  enlace::v1::AuditEvent event;
  event.set_sequence(record.seq);
  *event.mutable_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(record.at_us);
  event.set_principal(record.principal);
  event.set_method(record.method);
  event.set_decision(static_cast<enlace::v1::Decision>(record.decision));
  event.set_status_code(record.status_code);
  for (const std::string& id : record.record_ids) event.add_record_ids(id);
  event.set_detail(record.detail);
  event.set_peer(record.peer);
  event.set_actor(record.actor);
  event.set_hash(db::ToHex(record.hash));
  event.set_previous_hash(db::ToHex(record.prev_hash));
  return event;
}

AuditLog::AuditLog(db::AuditStore* store, size_t max_batch, size_t max_queue)
    : store_(store),
      // Only Commit submits to it, at most one task per batch committed.
      helper_(1, 1024),
      // One writer: appends serialize on the chain head anyway. A lane per
      // identity, an event costing a row plus a row per record id it names:
      // one caller's large events cannot make everyone else's wait.
      committer_(
          1, max_batch, max_queue, [this](std::vector<Pending>& batch) { Commit(batch); },
          kMaxBatchCost) {}

bool AuditLog::Submit(Pending pending) {
  std::string lane = pending.record.principal;
  uint64_t cost = 1 + pending.record.record_ids.size();
  return committer_.TrySubmit(std::move(pending), lane, cost);
}

void AuditLog::Append(db::AuditRecord record, Done done) {
  // The callback is kept outside the queued item so it can still be told if
  // queuing fails.
  auto shared_done = std::make_shared<Done>(std::move(done));
  if (!Submit(Pending{std::move(record),
                      [shared_done](absl::Status s) { (*shared_done)(std::move(s)); }, nullptr})) {
    (*shared_done)(absl::ResourceExhaustedError("audit queue is full"));
  }
}

void AuditLog::AppendDelivery(db::AuditRecord record, Done done) {
  // Everything but the time and the peer decides what may be folded (they
  // are set aside for the key, not copied with the whole record: this runs
  // once per stream of a fan-out).
  const int64_t at_us = std::exchange(record.at_us, 0);
  std::string peer = std::exchange(record.peer, std::string());
  std::string key = db::CanonicalContent(record);
  record.at_us = at_us;
  record.peer = std::move(peer);
  auto delivery = std::make_shared<Delivery>();
  {
    absl::MutexLock lock(&deliveries_mu_);
    auto it = open_deliveries_.find(key);
    if (it != open_deliveries_.end() && !it->second->closed) {
      Delivery& joined = *it->second;
      joined.dones.push_back(std::move(done));
      joined.peers.push_back(std::move(record.peer));
      joined.earliest_us = std::min(joined.earliest_us, record.at_us);
      return;
    }
    delivery->key = key;
    delivery->earliest_us = record.at_us;
    open_deliveries_[key] = delivery;
  }
  auto shared_done = std::make_shared<Done>(std::move(done));
  if (Submit(Pending{std::move(record),
                     [shared_done](absl::Status s) { (*shared_done)(std::move(s)); }, delivery})) {
    return;
  }
  // Not queued: neither it nor any delivery that joined it will be written.
  std::vector<Done> joined;
  {
    absl::MutexLock lock(&deliveries_mu_);
    delivery->closed = true;
    auto it = open_deliveries_.find(key);
    if (it != open_deliveries_.end() && it->second == delivery) open_deliveries_.erase(it);
    joined = std::move(delivery->dones);
  }
  absl::Status full = absl::ResourceExhaustedError("audit queue is full");
  (*shared_done)(full);
  for (Done& d : joined) d(full);
}

void AuditLog::Commit(std::vector<Pending>& batch) {
  std::vector<db::AuditRecord> records;
  records.reserve(batch.size());
  std::vector<std::vector<Done>> joined(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending& p = batch[i];
    if (p.delivery != nullptr) {
      std::vector<std::string> peers;
      int64_t earliest_us = 0;
      {
        // Closed: from here on an identical delivery starts a new event, so
        // what joined can be taken out and counted without the lock.
        absl::MutexLock lock(&deliveries_mu_);
        Delivery& d = *p.delivery;
        d.closed = true;
        auto it = open_deliveries_.find(d.key);
        if (it != open_deliveries_.end() && it->second == p.delivery) open_deliveries_.erase(it);
        joined[i] = std::move(d.dones);
        peers = std::move(d.peers);
        earliest_us = d.earliest_us;
      }
      if (!joined[i].empty()) {
        absl::flat_hash_set<std::string> distinct(peers.begin(), peers.end());
        distinct.insert(p.record.peer);
        p.record.at_us = std::min(p.record.at_us, earliest_us);
        absl::StrAppend(&p.record.detail, " streams=", joined[i].size() + 1,
                        " connections=", distinct.size());
      }
    }
    records.push_back(std::move(p.record));
  }
  absl::Status status = store_->Append(&records);
  if (!batch.empty()) {
    absl::Time oldest = batch.front().queued_at;
    for (const Pending& p : batch) oldest = std::min(oldest, p.queued_at);
    last_commit_lag_us_.store(absl::ToInt64Microseconds(absl::Now() - oldest),
                              std::memory_order_relaxed);
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(status);
    RunDones(std::move(joined[i]), status);
  }
}

void AuditLog::RunDones(std::vector<Done> dones, const absl::Status& status) {
  // Each done is another stream's: they may run in any order, at once.
  std::shared_ptr<std::vector<Done>> theirs;
  if (dones.size() >= kHelpFrom) {
    const size_t half = dones.size() / 2;
    theirs = std::make_shared<std::vector<Done>>(
        std::make_move_iterator(dones.begin() + static_cast<std::ptrdiff_t>(half)),
        std::make_move_iterator(dones.end()));
    dones.resize(half);
    if (helper_.TrySubmit([theirs, status] {
          for (Done& d : *theirs) d(status);
        })) {
      theirs = nullptr;  // the helper runs them
    }
  }
  for (Done& d : dones) d(status);
  if (theirs != nullptr) {
    for (Done& d : *theirs) d(status);  // not queued (shutting down): here
  }
}

}  // namespace enlace::server
