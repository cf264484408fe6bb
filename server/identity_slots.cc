// IdentitySlots: per-identity running and waiting limits (see identity_slots.h).
#include "server/identity_slots.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace enlace::server {

IdentitySlots::IdentitySlots(int running, int waiting, std::string limit_name)
    : running_limit_(running), waiting_limit_(waiting), limit_name_(std::move(limit_name)) {}

absl::Status IdentitySlots::Acquire(const std::string& identity, std::function<void()> start) {
  {
    absl::MutexLock lock(&mu_);
    Usage& usage = usage_[identity];
    if (running_limit_ > 0 && usage.running >= running_limit_) {
      if (static_cast<int>(usage.waiting.size()) >= waiting_limit_) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "limit reached: at most ", running_limit_, " at once (", limit_name_, ") and ",
            waiting_limit_, " waiting per identity; retry when some have finished"));
      }
      usage.waiting.push_back(std::move(start));
      return absl::OkStatus();
    }
    ++usage.running;
  }
  start();
  return absl::OkStatus();
}

void IdentitySlots::Release(const std::string& identity) {
  std::function<void()> next;
  {
    absl::MutexLock lock(&mu_);
    auto it = usage_.find(identity);
    if (it == usage_.end()) return;
    Usage& usage = it->second;
    if (!usage.waiting.empty()) {
      // The slot passes straight to the oldest waiter: still one running.
      next = std::move(usage.waiting.front());
      usage.waiting.pop_front();
    } else if (--usage.running <= 0) {
      usage_.erase(it);
    }
  }
  if (next) next();
}

int IdentitySlots::running(const std::string& identity) const {
  absl::MutexLock lock(&mu_);
  auto it = usage_.find(identity);
  return it == usage_.end() ? 0 : it->second.running;
}

int IdentitySlots::waiting(const std::string& identity) const {
  absl::MutexLock lock(&mu_);
  auto it = usage_.find(identity);
  return it == usage_.end() ? 0 : static_cast<int>(it->second.waiting.size());
}

}  // namespace enlace::server
