// AgencyDirectory: cached registered agency codes (see agency_directory.h).
#include "server/agency_directory.h"

#include "absl/time/clock.h"

namespace enlace::server {

AgencyDirectory::AgencyDirectory(db::RegistryStore* store, absl::Duration min_refresh)
    : store_(store), min_refresh_(min_refresh) {}

bool AgencyDirectory::IsKnown(absl::string_view code) {
  absl::MutexLock lock(&mu_);
  if (codes_.contains(code)) return true;
  if (absl::Now() - loaded_at_ < min_refresh_) return false;
  // Agencies are few (tens): one query reads them all.
  absl::StatusOr<std::vector<db::AgencyRecord>> agencies = store_->ListAgencies("", 100000);
  if (!agencies.ok()) return false;
  codes_.clear();
  for (const db::AgencyRecord& agency : *agencies) codes_.insert(agency.code);
  loaded_at_ = absl::Now();
  return codes_.contains(code);
}

}  // namespace enlace::server
