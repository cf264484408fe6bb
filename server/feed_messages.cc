// FeedMessages (see feed_messages.h).
#include "server/feed_messages.h"

#include <algorithm>

#include "google/protobuf/util/time_util.h"

namespace enlace::server {

FeedMessages::FeedMessages(const PageTokens* tokens, size_t feed_window)
    : tokens_(tokens), capacity_(std::clamp<size_t>(feed_window, 1, kMaxCapacity)) {}

std::shared_ptr<const enlace::v1::ReferralEvent> FeedMessages::Get(const db::FeedEvent& event,
                                                                   const std::string& fingerprint) {
  Key key{event.seq, fingerprint};
  {
    absl::MutexLock lock(&mu_);
    auto it = messages_.find(key);
    if (it != messages_.end()) return it->second;
  }
  // Built outside the lock: signing the token is the costly part.
  auto message = std::make_shared<enlace::v1::ReferralEvent>();
  message->set_type(event.type);
  *message->mutable_referral() = event.referral;
  message->set_resume_token(tokens_->Encode(event.seq, fingerprint));
  *message->mutable_committed_at() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(event.committed_at_us);
  absl::MutexLock lock(&mu_);
  auto [it, added] = messages_.try_emplace(std::move(key), std::move(message));
  if (added) {
    order_.push_back(it->first);
    if (order_.size() > capacity_) {
      messages_.erase(order_.front());
      order_.pop_front();
    }
  }
  return it->second;  // a concurrent Get's, if it got there first: the same content
}

size_t FeedMessages::size() const {
  absl::MutexLock lock(&mu_);
  return messages_.size();
}

}  // namespace enlace::server
