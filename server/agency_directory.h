// The registered agencies, as validation needs them ("may this code appear in
// a consent?"). Cached in memory; a code not in the cache triggers a reload
// (at most once per `min_refresh`), so a newly onboarded agency is accepted
// without a restart.
#ifndef ENLACE_SERVER_AGENCY_DIRECTORY_H_
#define ENLACE_SERVER_AGENCY_DIRECTORY_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/registry_store.h"

namespace enlace::server {

class AgencyDirectory {
 public:
  // `store` must outlive the directory.
  explicit AgencyDirectory(db::RegistryStore* store, absl::Duration min_refresh = absl::Seconds(5));

  // True when `code` is a registered agency. May query the database; if it
  // cannot, answers from the cache.
  bool IsKnown(absl::string_view code) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  db::RegistryStore* const store_;
  const absl::Duration min_refresh_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> codes_ ABSL_GUARDED_BY(mu_);
  absl::Time loaded_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_AGENCY_DIRECTORY_H_
