// Polls the policy file and swaps in valid new versions (see policy_watcher.h).
#include "auth/policy_watcher.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace enlace::auth {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(
        absl::StrCat("policy file ", path, " is missing or not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read policy file ", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading policy file ", path));
  return text;
}

}  // namespace

PolicyWatcher::PolicyWatcher(std::string path, std::vector<std::string> known_methods, Logger log)
    : path_(std::move(path)), known_methods_(std::move(known_methods)), log_(std::move(log)) {}

absl::StatusOr<std::unique_ptr<PolicyWatcher>> PolicyWatcher::Start(
    std::string path, std::vector<std::string> known_methods, absl::Duration poll_interval,
    Logger log) {
  std::unique_ptr<PolicyWatcher> watcher(
      new PolicyWatcher(std::move(path), std::move(known_methods), std::move(log)));
  absl::StatusOr<std::string> text = ReadWholeFile(watcher->path_);
  if (!text.ok()) return text.status();
  absl::StatusOr<Policy> policy = Policy::Parse(*text, watcher->known_methods_);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy ", watcher->path_, ": ", policy.status().message()));
  }
  {
    absl::MutexLock lock(&watcher->mu_);
    watcher->current_ = std::make_shared<const Policy>(*std::move(policy));
    watcher->current_text_ = *std::move(text);
  }
  if (poll_interval > absl::ZeroDuration()) {
    PolicyWatcher* self = watcher.get();
    watcher->poller_ = std::thread([self, poll_interval] {
      while (!self->stop_.WaitForNotificationWithTimeout(poll_interval)) {
        self->ReloadIfChanged().IgnoreError();  // already logged
      }
    });
  }
  return watcher;
}

PolicyWatcher::~PolicyWatcher() {
  stop_.Notify();
  if (poller_.joinable()) poller_.join();
}

std::shared_ptr<const Policy> PolicyWatcher::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::Status PolicyWatcher::ReloadIfChanged() {
  absl::StatusOr<std::string> text = ReadWholeFile(path_);
  absl::MutexLock lock(&mu_);
  if (!text.ok()) {
    // Log a given problem once, not at every poll.
    std::string problem(text.status().message());
    if (problem != last_rejected_text_) {
      log_(absl::StrCat("policy: ", problem, "; keeping the previous policy"));
      last_rejected_text_ = problem;
    }
    return text.status();
  }
  if (*text == current_text_) return absl::OkStatus();
  absl::StatusOr<Policy> policy = Policy::Parse(*text, known_methods_);
  if (!policy.ok()) {
    // Log a given broken version once, not at every poll.
    if (*text != last_rejected_text_) {
      log_(absl::StrCat("policy ", path_, " rejected: ", policy.status().message(),
                        "; keeping the previous policy"));
      last_rejected_text_ = *text;
    }
    return policy.status();
  }
  current_ = std::make_shared<const Policy>(*std::move(policy));
  current_text_ = *std::move(text);
  log_(absl::StrCat("policy ", path_, " reloaded: ", current_->rule_count(), " rules"));
  return absl::OkStatus();
}

}  // namespace enlace::auth
