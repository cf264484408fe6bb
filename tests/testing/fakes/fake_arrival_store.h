// An in-memory db::ArrivalStore for unit tests, with the same observable
// contract as MysqlArrivalStore, checked by the same suite
// (tests/conformance/arrival_store_conformance.h): visibility by consent
// (db/visibility.h, Reach::kArrivalRecord; anything else NOT_FOUND),
// idempotency by (submitter, external_id) and content hash, batches all or
// nothing with their audit events, keyset pages in recording order, consent
// versions. And what a test needs to drive the code above it: batches that
// fail, or wait until the test releases them, and a log of every batch.
//
//   FakeAuditStore audit;
//   FakeArrivalStore store(&audit);        // batch and consent events go to `audit`
//   store.HoldBatches();                   // RecordBatch now waits...
//   ... submit to an IngestBatcher ...
//   store.AwaitBatches(1);                 // ...until one has entered
//   store.ReleaseBatches();                // let it (and later ones) commit
//
// Where it simplifies: no referrals (UpdateConsent withdraws none: that is
// the case store's; the MySQL suite covers it), no consent history readable
// through the interface (kept, see consent_history()), no programme report
// cells (a correction moves none). Municipality filters compare as MySQL's utf8mb4_unicode_ci does
// for the gazetteer's names (ignoring case and the accents of Spanish); the database folds more.
//
// Thread safety: safe for concurrent use.
#ifndef ENLACE_TESTS_TESTING_FAKES_FAKE_ARRIVAL_STORE_H_
#define ENLACE_TESTS_TESTING_FAKES_FAKE_ARRIVAL_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/arrival_store.h"
#include "db/audit_store.h"

namespace enlace::testing {

class FakeArrivalStore : public db::ArrivalStore {
 public:
  // Events go to `audit` (which must outlive the store), appended while the
  // change is applied: an append that fails fails the change, which then
  // leaves nothing. Null: the store keeps a chain of its own (audit()).
  explicit FakeArrivalStore(db::AuditStore* audit = nullptr);
  ~FakeArrivalStore() override;

  absl::StatusOr<std::vector<db::RecordResult>> RecordBatch(
      absl::Span<const db::NewArrival> batch) override;
  absl::StatusOr<enlace::v1::Arrival> Get(const std::string& arrival_id,
                                          const db::Viewer& viewer) override;
  absl::StatusOr<db::ArrivalPage> List(const db::ArrivalFilter& filter, const db::Viewer& viewer,
                                       int64_t after, int limit) override;
  absl::StatusOr<enlace::v1::Arrival> UpdateConsent(const std::string& arrival_id,
                                                    const enlace::v1::Consent& consent,
                                                    const db::Viewer& submitter,
                                                    db::AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::Arrival> RecordObjection(const std::string& arrival_id,
                                                      enlace::v1::Purpose purpose,
                                                      const db::Viewer& submitter,
                                                      db::AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::Arrival> Correct(const db::ArrivalCorrection& correction,
                                              const db::Viewer& submitter,
                                              db::AuditRecord* audit) override;
  absl::StatusOr<std::vector<db::ArrivalVersionRecord>> Versions(const std::string& arrival_id,
                                                                 const db::Viewer& viewer) override;

  // The audit store events go to.
  db::AuditStore* audit() const { return audit_; }

  // Every RecordBatch fails with `status` and stores nothing (OK: works again).
  void FailBatches(absl::Status status) ABSL_LOCKS_EXCLUDED(control_mu_);

  // From now on each RecordBatch, once entered (and logged in batches()),
  // waits until released. ReleaseBatches() lets every waiting and later
  // batch through (until the next HoldBatches()); ReleaseOneBatch() lets
  // the oldest waiting batch through, waiting for one to arrive if needed.
  void HoldBatches() ABSL_LOCKS_EXCLUDED(control_mu_);
  void ReleaseBatches() ABSL_LOCKS_EXCLUDED(control_mu_);
  void ReleaseOneBatch() ABSL_LOCKS_EXCLUDED(control_mu_);
  // Waits until `n` RecordBatch calls have entered since construction.
  void AwaitBatches(size_t n) ABSL_LOCKS_EXCLUDED(control_mu_);

  // One RecordBatch call as it entered: the (submitter, external_id) of its
  // records in order, and the thread that made it.
  struct BatchLog {
    std::vector<std::pair<std::string, std::string>> keys;
    std::thread::id thread;
  };
  std::vector<BatchLog> batches() const ABSL_LOCKS_EXCLUDED(control_mu_);

  // How many arrivals are stored.
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  // The consents arrival `arrival_id` had, oldest first (the first one is
  // the consent given at arrival).
  std::vector<enlace::v1::Consent> consent_history(const std::string& arrival_id) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Stored {
    int64_t seq = 0;
    enlace::v1::Arrival arrival;  // normalised as MySQL returns it
    std::string content_hash;
    std::vector<enlace::v1::Consent> history;  // every consent, the current last
    std::vector<db::ArrivalVersionRecord> versions;  // once corrected: every version
  };

  bool VisibleLocked(const Stored& stored, const db::Viewer& viewer) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The arrival `submitter` recorded (NOT_FOUND otherwise), for a change.
  absl::StatusOr<Stored*> OwnArrivalLocked(const std::string& arrival_id,
                                           const db::Viewer& submitter)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends the change's `audit` event (none when null), as a MySQL store
  // does in the change's transaction.
  absl::Status AppendAuditLocked(db::AuditRecord* audit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<db::AuditStore> own_audit_;  // when none was given
  db::AuditStore* const audit_;

  mutable absl::Mutex mu_;
  std::vector<Stored> arrivals_ ABSL_GUARDED_BY(mu_);  // seq = index + 1
  std::map<std::string, size_t> by_id_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, size_t> by_key_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex control_mu_;
  absl::Status batch_error_ ABSL_GUARDED_BY(control_mu_);
  bool holding_ ABSL_GUARDED_BY(control_mu_) = false;
  uint64_t entered_ ABSL_GUARDED_BY(control_mu_) = 0;  // batches that entered while holding
  uint64_t released_ ABSL_GUARDED_BY(control_mu_) = 0;  // of those, how many may go on
  std::vector<BatchLog> log_ ABSL_GUARDED_BY(control_mu_);
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_FAKES_FAKE_ARRIVAL_STORE_H_
