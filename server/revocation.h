// Per-call revocation: the set of revoked certificate serials, read from the
// database (so every replica agrees) and refreshed in the background.
//
// The TLS layer's CRL check cannot carry revocation. Measured with gRPC 1.51
// and OpenSSL 3 (set_crl_directory): a missing CRL directory or CRL file lets
// a revoked certificate through with only an INFO log; a CRL file rewritten
// in place is not seen until restart; only the leaf is checked; and a
// revocation never closes a connection that is already open. So this is what
// revocation rests on (auth/crl.h keeps the CRLs as defence in depth). It
// fails closed:
// when the set could not be refreshed for longer than `max_staleness`, every
// call is refused with UNAVAILABLE rather than let through unchecked.
#ifndef ENLACE_SERVER_REVOCATION_H_
#define ENLACE_SERVER_REVOCATION_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/registry_store.h"

namespace enlace::server {

class RevocationList {
 public:
  // `store` must outlive the list. Nothing is loaded until Refresh().
  RevocationList(db::RegistryStore* store, absl::Duration max_staleness);

  // OK when `serial` is not revoked; UNAUTHENTICATED when it is; UNAVAILABLE
  // when the list is older than max_staleness (or was never loaded).
  // Thread-safe and cheap (a hash lookup under a reader lock).
  absl::Status Check(absl::string_view serial, absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);

  // Reads the revoked serials. On success returns the serials revoked since
  // the previous successful refresh (all of them the first time) and, through
  // `all`, the whole list (may be null).
  absl::StatusOr<std::vector<std::string>> Refresh(absl::Time now,
                                                   std::vector<db::RevokedSerial>* all)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  db::RegistryStore* const store_;
  const absl::Duration max_staleness_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> revoked_ ABSL_GUARDED_BY(mu_);
  absl::Time refreshed_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_REVOCATION_H_
