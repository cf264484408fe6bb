// RevocationList: revoked serials from the database, failing closed (see
// revocation.h).
#include "server/revocation.h"

#include "absl/strings/str_cat.h"

namespace enlace::server {

RevocationList::RevocationList(db::RegistryStore* store, absl::Duration max_staleness)
    : store_(store), max_staleness_(max_staleness) {}

absl::Status RevocationList::Check(absl::string_view serial, absl::Time now) const {
  absl::ReaderMutexLock lock(&mu_);
  if (now - refreshed_at_ > max_staleness_) {
    return absl::UnavailableError(
        "revocation state could not be read recently; refusing calls until it can");
  }
  if (revoked_.contains(serial)) {
    return absl::UnauthenticatedError(
        absl::StrCat("the client certificate (serial ", serial, ") has been revoked"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RevocationList::Refresh(
    absl::Time now, std::vector<db::RevokedSerial>* all) {
  absl::StatusOr<std::vector<db::RevokedSerial>> revoked = store_->ListRevoked();
  if (!revoked.ok()) return revoked.status();
  absl::flat_hash_set<std::string> serials;
  serials.reserve(revoked->size());
  for (const db::RevokedSerial& r : *revoked) serials.insert(r.serial);
  std::vector<std::string> newly;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& serial : serials) {
      if (!revoked_.contains(serial)) newly.push_back(serial);
    }
    revoked_ = std::move(serials);
    refreshed_at_ = now;
  }
  if (all != nullptr) *all = *std::move(revoked);
  return newly;
}

}  // namespace enlace::server
