// Keeps the authorization policy in step with its file, without a restart.
// A changed file is parsed; if it is valid it replaces the current policy, if
// not the error is reported and the previous policy stays in force.
#ifndef ENLACE_AUTH_POLICY_WATCHER_H_
#define ENLACE_AUTH_POLICY_WATCHER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "auth/policy.h"

namespace enlace::auth {

class PolicyWatcher {
 public:
  using Logger = std::function<void(absl::string_view message)>;

  // Loads the policy at `path`; fails if it cannot be read or is invalid
  // (a server must not start with a broken policy). When `poll_interval` is
  // positive a background thread calls ReloadIfChanged() that often.
  static absl::StatusOr<std::unique_ptr<PolicyWatcher>> Start(
      std::string path, std::vector<std::string> known_methods, absl::Duration poll_interval,
      Logger log);

  ~PolicyWatcher();
  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

  // The policy in force. Cheap; thread-safe. Callers keep the snapshot for
  // the duration of one decision.
  std::shared_ptr<const Policy> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // Re-reads the file. Returns OK when it is unchanged or was reloaded, and
  // the error (also logged) when the new content is unreadable or invalid.
  absl::Status ReloadIfChanged() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  PolicyWatcher(std::string path, std::vector<std::string> known_methods, Logger log);

  const std::string path_;
  const std::vector<std::string> known_methods_;
  const Logger log_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Policy> current_ ABSL_GUARDED_BY(mu_);
  std::string current_text_ ABSL_GUARDED_BY(mu_);
  // The last refused file content or read error, so each is logged once.
  std::string last_rejected_text_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace enlace::auth

#endif  // ENLACE_AUTH_POLICY_WATCHER_H_
