// ReferralFeed: one poller, an in-memory window with the consent in force,
// pull-based streams (see referral_feed.h).
#include "server/referral_feed.h"

#include "db/visibility.h"
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
    published_head_.store(head_, std::memory_order_release);
    window_start_ = *head + 1;
  }
  last_poll_us_.store(absl::ToUnixMicros(absl::Now()), std::memory_order_relaxed);
  poller_ = std::thread([this] { RunPoller(); });
  return absl::OkStatus();
}

void ReferralFeed::Wake() {
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

int64_t ReferralFeed::head() const { return published_head_.load(std::memory_order_acquire); }

const db::ConsentState& ReferralFeed::ConsentOf(int64_t arrival_seq,
                                                const db::ConsentState& fallback) const {
  auto it = consents_.find(arrival_seq);
  if (it == consents_.end() || it->second.state.version < fallback.version) return fallback;
  return it->second.state;
}

ReferralFeed::Batch ReferralFeed::Collect(int64_t cursor, const std::string& agency,
                                          size_t max_events) const {
  Batch batch;
  batch.cursor = cursor;
  // Read after the poller published a new head, which it does before it
  // tells the subscribers: one told finds what is new.
  if (cursor >= published_head_.load(std::memory_order_acquire)) return batch;
  absl::MutexLock lock(&mu_);
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
    if (!event.consent_change && (event.from_agency == agency || event.to_agency == agency)) {
      const db::ConsentState& consent = ConsentOf(event.arrival_seq, event.consent);
      if (db::ConsentAllows(db::Reach::kReferral, agency, consent)) {
        if (batch.events.size() == max_events) break;
        Pending& pending = batch.events.emplace_back(Pending{event, head_});
        pending.event.consent = consent;
      }
    }
    batch.cursor = event.seq;
  }
  return batch;
}

ReferralFeed::Verdict ReferralFeed::Recheck(const std::string& agency,
                                            const Pending& pending) const {
  absl::MutexLock lock(&mu_);
  // Every consent change after checked_at must still be in the window for
  // memory to be able to tell.
  if (pending.checked_at < window_start_ - 1) return Verdict::kReread;
  const db::ConsentState& consent = ConsentOf(pending.event.arrival_seq, pending.event.consent);
  return db::ConsentAllows(db::Reach::kReferral, agency, consent) ? Verdict::kDeliver
                                                                  : Verdict::kWithhold;
}

uint64_t ReferralFeed::Subscribe(const std::weak_ptr<Subscriber>& subscriber) {
  absl::MutexLock lock(&subscribers_mu_);
  uint64_t id = next_subscriber_++;
  subscribers_.emplace(id, subscriber);
  return id;
}

void ReferralFeed::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&subscribers_mu_);
  subscribers_.erase(id);
}

absl::StatusOr<int> ReferralFeed::PollOnce() {
  int64_t after;
  {
    absl::MutexLock lock(&mu_);
    after = head_;
  }
  absl::StatusOr<std::vector<db::FeedEvent>> fresh = store_->ReadFeed(after, 0, "", 1000);
  if (!fresh.ok()) return fresh.status();
  last_poll_us_.store(absl::ToUnixMicros(absl::Now()), std::memory_order_relaxed);
  if (fresh->empty()) return 0;
  {
    absl::MutexLock lock(&mu_);
    for (db::FeedEvent& event : *fresh) {
      if (event.seq <= head_) continue;  // a concurrent poll got there first
      KnownConsent& known = consents_[event.arrival_seq];
      ++known.refs;
      if (event.consent.version >= known.state.version) known.state = event.consent;
      head_ = event.seq;
      events_.push_back(std::move(event));
    }
    published_head_.store(head_, std::memory_order_release);
    while (events_.size() > window_) {
      auto it = consents_.find(events_.front().arrival_seq);
      if (it != consents_.end() && --it->second.refs <= 0) consents_.erase(it);
      events_.pop_front();
      window_start_ = events_.front().seq;
    }
  }
  TellSubscribers();
  return static_cast<int>(fresh->size());
}

void ReferralFeed::TellSubscribers() {
  std::vector<std::weak_ptr<Subscriber>> to_tell;
  {
    absl::MutexLock lock(&subscribers_mu_);
    to_tell.reserve(subscribers_.size());
    for (const auto& [id, subscriber] : subscribers_) to_tell.push_back(subscriber);
  }
  for (const std::weak_ptr<Subscriber>& weak : to_tell) {
    if (std::shared_ptr<Subscriber> subscriber = weak.lock()) subscriber->OnFeedAdvanced();
  }
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
