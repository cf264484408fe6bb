// Retention: how long each arrival's records are kept (enlace-server
// --retention_years), and the job that erases them once that time has passed
// (--retention_interval_seconds), the way EraseReturnee does
// (db/returnee_store.h, EraseExpired; docs/data-protection.md, section 9).
//
//   absl::StatusOr<db::RetentionYears> years =
//       ParseRetentionYears("reintegration=10,protection=15,statistics=5,none=5");
//   RetentionJob job(store, *years, absl::Hours(1));
//   job.Start();  // a pass now, then one every hour, until the job is destroyed
//
// Every replica runs the job: the store locks the rows it erases, so two
// passes at once erase each arrival once. Each batch it erases is one audit
// event by kRetentionPrincipal naming its arrivals.
//
// Thread safety: RunOnce may be called from any thread; Start once.
#ifndef ENLACE_SERVER_RETENTION_H_
#define ENLACE_SERVER_RETENTION_H_

#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "db/returnee_store.h"

namespace enlace::server {

// The principal of the retention job's audit events.
inline constexpr char kRetentionPrincipal[] = "spiffe://enlace/server/retention";

// "purpose=years,..." with purposes reintegration, protection, statistics
// and none (the consent names no purpose), each at most once, years a whole
// number from 1 to 100; the ones not given keep db::RetentionYears'
// defaults. INVALID_ARGUMENT naming the item otherwise.
absl::StatusOr<db::RetentionYears> ParseRetentionYears(absl::string_view spec);

class RetentionJob {
 public:
  // `store` must outlive the job. `interval` > 0.
  RetentionJob(db::ReturneeStore* store, db::RetentionYears years, absl::Duration interval);
  ~RetentionJob();
  RetentionJob(const RetentionJob&) = delete;
  RetentionJob& operator=(const RetentionJob&) = delete;

  // Starts the thread: a pass at once, then one every interval.
  void Start();

  // One pass: erases every arrival due at `now`, in batches. Returns how
  // many it erased, or the first error (what was erased before it stays).
  absl::StatusOr<int> RunOnce(absl::Time now);

 private:
  db::ReturneeStore* const store_;
  const db::RetentionYears years_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_RETENTION_H_
