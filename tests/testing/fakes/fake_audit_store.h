// An in-memory db::AuditStore for unit tests: the same hash chain
// (db/audit_chain.h) and the same observable contract as MysqlAuditStore,
// checked by the same suite (tests/conformance/audit_store_conformance.h),
// plus what a test needs to drive the code above it: appends that fail on
// demand, and tampering that Verify() must find.
//
//   FakeAuditStore audit;
//   audit.FailAppends(absl::UnavailableError("disk gone"));  // every Append fails
//   ... a call's answer must now be UNAVAILABLE ...
//   audit.FailAppends(absl::OkStatus());                     // works again
//
// Where it simplifies: no record index table (ListForRecord scans the
// events, with the same rule as the index: ingest events are not listed
// there, see db/audit_store.h), so there is no index to tamper with; the
// chain head is kept beside the events as MySQL keeps its row, but cannot
// be moved back. Verify() checks every event at once, not page by page.
//
// Thread safety: safe for concurrent use.
#ifndef ENLACE_TESTS_TESTING_FAKES_FAKE_AUDIT_STORE_H_
#define ENLACE_TESTS_TESTING_FAKES_FAKE_AUDIT_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/audit_store.h"

namespace enlace::testing {

class FakeAuditStore : public db::AuditStore {
 public:
  absl::Status Append(std::vector<db::AuditRecord>* records) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<db::AuditPage> List(const db::AuditQuery& query) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<db::AuditRecord>> ListForRecord(const std::string& record_id,
                                                             int64_t after_seq, int limit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<db::ChainReport> Verify() override ABSL_LOCKS_EXCLUDED(mu_);

  // Every Append fails with `status`, appending nothing (OK: appends work
  // again). Appends that return the error are counted in failed_appends().
  void FailAppends(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  int failed_appends() const ABSL_LOCKS_EXCLUDED(mu_);

  // Every event, in sequence order (a copy).
  std::vector<db::AuditRecord> events() const ABSL_LOCKS_EXCLUDED(mu_);

  // Tampering, as an administrator with direct access could: changes the
  // stored event `seq` in place (hashes untouched), or removes it.
  // REQUIRES: an event with that seq exists.
  void Tamper(int64_t seq, const std::function<void(db::AuditRecord*)>& change)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Delete(int64_t seq) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<db::AuditRecord> events_ ABSL_GUARDED_BY(mu_);  // in seq order
  // The chain head a writer keeps beside the events (as audit_chain_head).
  int64_t head_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::string head_hash_ ABSL_GUARDED_BY(mu_);
  absl::Status append_error_ ABSL_GUARDED_BY(mu_);
  int failed_appends_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_FAKES_FAKE_AUDIT_STORE_H_
