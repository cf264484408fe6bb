// ReferralFeed: one poller, an in-memory window, pull-based streams (see
// referral_feed.h).
#include "server/referral_feed.h"

#include "server/log.h"

namespace enlace::server {

ReferralFeed::ReferralFeed(db::CaseStore* store, absl::Duration poll_interval, size_t window)
    : store_(store), poll_interval_(poll_interval), window_(window) {}

ReferralFeed::~ReferralFeed() {
  stop_.Notify();
  Wake();
  if (poller_.joinable()) poller_.join();
}

absl::Status ReferralFeed::Start() {
  absl::StatusOr<int64_t> head = store_->FeedHead();
  if (!head.ok()) return head.status();
  {
    absl::MutexLock lock(&mu_);
    head_ = *head;
    window_start_ = *head + 1;
  }
  poller_ = std::thread([this] { RunPoller(); });
  return absl::OkStatus();
}

void ReferralFeed::Wake() {
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

int64_t ReferralFeed::head() const {
  absl::MutexLock lock(&mu_);
  return head_;
}

ReferralFeed::Batch ReferralFeed::Collect(int64_t cursor, const std::string& agency,
                                          size_t max_events) const {
  Batch batch;
  absl::MutexLock lock(&mu_);
  batch.cursor = cursor;
  if (cursor >= head_) return batch;
  if (cursor < window_start_ - 1) {
    batch.needs_database = true;
    batch.database_up_to = window_start_ - 1;
    return batch;
  }
  // events_ holds window_start_..head_ contiguously.
  size_t index = static_cast<size_t>(cursor - window_start_ + 1);
  for (; index < events_.size(); ++index) {
    const db::FeedEvent& event = events_[index];
    if (event.from_agency == agency || event.to_agency == agency) {
      if (batch.events.size() == max_events) break;
      batch.events.push_back(event);
    }
    batch.cursor = event.seq;
  }
  return batch;
}

void ReferralFeed::Subscribe(Subscriber* subscriber) {
  absl::MutexLock lock(&subscribers_mu_);
  subscribers_.insert(subscriber);
}

void ReferralFeed::Unsubscribe(Subscriber* subscriber) {
  // Taking the lock waits out a notification round in progress.
  absl::MutexLock lock(&subscribers_mu_);
  subscribers_.erase(subscriber);
}

absl::StatusOr<int> ReferralFeed::PollOnce() {
  int64_t after;
  {
    absl::MutexLock lock(&mu_);
    after = head_;
  }
  absl::StatusOr<std::vector<db::FeedEvent>> fresh = store_->ReadFeed(after, 0, "", 1000);
  if (!fresh.ok()) return fresh.status();
  if (fresh->empty()) return 0;
  {
    absl::MutexLock lock(&mu_);
    for (db::FeedEvent& event : *fresh) {
      head_ = event.seq;
      events_.push_back(std::move(event));
    }
    while (events_.size() > window_) {
      events_.pop_front();
      window_start_ = events_.front().seq;
    }
  }
  absl::MutexLock lock(&subscribers_mu_);
  for (Subscriber* subscriber : subscribers_) subscriber->OnFeedAdvanced();
  return static_cast<int>(fresh->size());
}

void ReferralFeed::RunPoller() {
  bool warned = false;
  while (!stop_.HasBeenNotified()) {
    {
      absl::MutexLock lock(&wake_mu_);
      wake_mu_.AwaitWithTimeout(absl::Condition(&wake_), poll_interval_);
      wake_ = false;
    }
    if (stop_.HasBeenNotified()) return;
    absl::StatusOr<int> read = PollOnce();
    if (!read.ok() && !warned) {
      Log("referral feed not polled: ", read.status().message());
      warned = true;
    } else if (read.ok()) {
      warned = false;
      // A full read means more are waiting: go again at once.
      if (*read == 1000) Wake();
    }
  }
}

}  // namespace enlace::server
