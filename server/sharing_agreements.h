// The data-sharing agreements a server holds in memory, for what it decides
// without the database: whether the live referral feed may deliver an event
// (server/referral_service.cc), and which open feeds must end because an
// agreement of their agency ended or expired. Reads and referrals check the
// agreements in SQL (db/visibility.h) against the same table, by the same
// UTC day.
//
// Refresh() reads the agreements not ended and not yet past (a handful: one
// or two per pair of organisations) and compares what is in force today
// with what was at the previous refresh. An agency that lost a flow (a pair
// or a purpose it had) has its loss count raised: a watch remembers the
// count it started with and ends when it changes. The server refreshes every
// second (with the revocation state) and at once after its own Register/End,
// so an end on another replica, or a valid_until passing midnight UTC, ends
// the feeds within about a second.
//
// Thread safety: safe for concurrent use.
#ifndef ENLACE_SERVER_SHARING_AGREEMENTS_H_
#define ENLACE_SERVER_SHARING_AGREEMENTS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/agreement_store.h"

namespace enlace::server {

// `now` as the YYYY-MM-DD day (UTC) that agreements' dates are judged by.
std::string AgreementDay(absl::Time now);

// The agreement's status on `now`'s day, as the API reports it.
int AgreementStatusOn(const db::SharingAgreementRecord& agreement, absl::Time now);

class SharingAgreementBook {
 public:
  // `store` must outlive the book.
  explicit SharingAgreementBook(db::AgreementStore* store) : store_(store) {}

  // Reads the agreements again and judges them on `now`'s day. Returns the
  // agencies that lost a flow since the previous refresh (none on the
  // first). On error the agreements read before stay.
  // Refreshes run one at a time, each reading after the one before
  // applied, so an older read never replaces a newer one.
  absl::StatusOr<std::vector<std::string>> Refresh(absl::Time now)
      ABSL_LOCKS_EXCLUDED(refresh_mu_, mu_);

  // Whether records may flow between `party_a` and `party_b` for a purpose
  // in `purposes_mask` (1 << Purpose) on `now`'s day: the same organisation,
  // or an agreement in force that covers one.
  bool Allows(absl::string_view party_a, absl::string_view party_b, uint32_t purposes_mask,
              absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);

  // How many refreshes found that `agency` lost a flow.
  uint64_t LossesOf(absl::string_view agency) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Pair = std::pair<std::string, std::string>;  // (low, high)
  using PurposesByPair = absl::flat_hash_map<Pair, uint32_t>;
  // The purposes in force on `day` per pair.
  static PurposesByPair InForceOn(const std::vector<db::SharingAgreementRecord>& agreements,
                                  absl::string_view day);

  db::AgreementStore* const store_;
  absl::Mutex refresh_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::vector<db::SharingAgreementRecord> agreements_ ABSL_GUARDED_BY(mu_);
  PurposesByPair in_force_ ABSL_GUARDED_BY(mu_);  // at the last refresh
  bool refreshed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, uint64_t> losses_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_SHARING_AGREEMENTS_H_
