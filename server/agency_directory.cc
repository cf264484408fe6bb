// AgencyDirectory: cached registered agency codes (see agency_directory.h).
#include "server/agency_directory.h"

#include "absl/time/clock.h"

namespace enlace::server {

AgencyDirectory::AgencyDirectory(db::ArrivalStore* store, absl::Duration min_refresh)
    : store_(store), min_refresh_(min_refresh) {}

bool AgencyDirectory::IsKnown(absl::string_view code) {
  absl::MutexLock lock(&mu_);
  if (codes_.contains(code)) return true;
  if (absl::Now() - loaded_at_ < min_refresh_) return false;
  absl::StatusOr<std::vector<std::string>> codes = store_->ListAgencyCodes();
  if (!codes.ok()) return false;
  codes_ = absl::flat_hash_set<std::string>(codes->begin(), codes->end());
  loaded_at_ = absl::Now();
  return codes_.contains(code);
}

}  // namespace enlace::server
