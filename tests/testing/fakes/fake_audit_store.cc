// FakeAuditStore: the audit hash chain in memory (see fake_audit_store.h).
#include "tests/testing/fakes/fake_audit_store.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/audit_chain.h"

namespace enlace::testing {
namespace {

// The ingest methods, whose events ListForRecord does not list (as
// MysqlAuditStore does not index them: db/audit_store.h).
bool IsIngest(const std::string& method) {
  return method == "/enlace.v1.ArrivalService/RecordArrivals" ||
         method == "/enlace.v1.ArrivalService/RecordArrival";
}

bool Matches(const db::AuditRecord& r, const db::AuditQuery& q) {
  if (r.seq <= q.after_seq) return false;
  if (!q.principal.empty() && r.principal != q.principal) return false;
  if (!q.method.empty() && r.method != q.method) return false;
  if (q.decision != 0 && r.decision != q.decision) return false;
  if (!q.actor.empty() && r.actor != q.actor) return false;
  if (q.from_us != 0 && r.at_us < q.from_us) return false;
  if (q.to_us != 0 && r.at_us >= q.to_us) return false;
  return true;
}

}  // namespace

absl::Status FakeAuditStore::Append(std::vector<db::AuditRecord>* records) {
  absl::MutexLock lock(&mu_);
  if (!append_error_.ok()) {
    ++failed_appends_;
    return append_error_;
  }
  if (head_hash_.empty()) head_hash_ = db::GenesisHash();
  // Work on copies so that nothing of a failed append is visible (none can
  // fail past this point, but the contract is all or nothing).
  std::vector<db::AuditRecord> appended = *records;
  int64_t seq = head_seq_;
  std::string hash = head_hash_;
  for (db::AuditRecord& record : appended) {
    record.seq = ++seq;
    record.prev_hash = hash;
    record.hash = db::ChainHash(hash, record);
    hash = record.hash;
  }
  for (db::AuditRecord stored : appended) {
    // Kept as MySQL keeps them: space-separated, so an empty id is none.
    stored.record_ids =
        absl::StrSplit(absl::StrJoin(stored.record_ids, " "), ' ', absl::SkipEmpty());
    events_.push_back(std::move(stored));
  }
  head_seq_ = seq;
  head_hash_ = hash;
  *records = std::move(appended);
  return absl::OkStatus();
}

absl::StatusOr<db::AuditPage> FakeAuditStore::List(const db::AuditQuery& query) {
  absl::MutexLock lock(&mu_);
  db::AuditPage page;
  for (const db::AuditRecord& record : events_) {
    if (!Matches(record, query)) continue;
    if (static_cast<int>(page.records.size()) == query.limit) {
      page.more = true;
      break;
    }
    page.records.push_back(record);
  }
  return page;
}

absl::StatusOr<std::vector<db::AuditRecord>> FakeAuditStore::ListForRecord(
    const std::string& record_id, int64_t after_seq, int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<db::AuditRecord> out;
  for (const db::AuditRecord& record : events_) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (record.seq <= after_seq || IsIngest(record.method)) continue;
    if (std::find(record.record_ids.begin(), record.record_ids.end(), record_id) ==
        record.record_ids.end()) {
      continue;
    }
    out.push_back(record);
  }
  return out;
}

absl::StatusOr<db::ChainReport> FakeAuditStore::Verify() {
  absl::MutexLock lock(&mu_);
  db::ChainVerifier verifier;
  for (const db::AuditRecord& record : events_) {
    if (!verifier.Add(record)) break;
  }
  verifier.Finish(head_seq_, head_hash_.empty() ? db::GenesisHash() : head_hash_);
  return db::ChainReport{verifier.intact(), verifier.checked(), verifier.first_broken_sequence()};
}

void FakeAuditStore::FailAppends(absl::Status status) {
  absl::MutexLock lock(&mu_);
  append_error_ = std::move(status);
}

int FakeAuditStore::failed_appends() const {
  absl::MutexLock lock(&mu_);
  return failed_appends_;
}

std::vector<db::AuditRecord> FakeAuditStore::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

void FakeAuditStore::Tamper(int64_t seq, const std::function<void(db::AuditRecord*)>& change) {
  absl::MutexLock lock(&mu_);
  for (db::AuditRecord& record : events_) {
    if (record.seq == seq) {
      change(&record);
      return;
    }
  }
  std::cerr << "FakeAuditStore::Tamper: no event " << seq << "\n";
  std::abort();
}

void FakeAuditStore::Delete(int64_t seq) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(events_.begin(), events_.end(),
                         [seq](const db::AuditRecord& r) { return r.seq == seq; });
  if (it == events_.end()) {
    std::cerr << "FakeAuditStore::Delete: no event " << seq << "\n";
    std::abort();
  }
  events_.erase(it);
}

}  // namespace enlace::testing
