// FeedMessages: the ReferralEvent messages that WatchReferrals streams
// write, built once per (feed event, caller fingerprint) and shared.
#ifndef ENLACE_SERVER_FEED_MESSAGES_H_
#define ENLACE_SERVER_FEED_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "db/case_store.h"
#include "enlace/v1/referrals.pb.h"
#include "server/page_token.h"

namespace enlace::server {

// The message of a feed event as the streams of one identity receive it
// (its resume token is bound to the identity's fingerprint), built once and
// shared: a change fanned out to 1,000 streams of an agency is copied and
// its token signed once, not 1,000 times, and each stream holds it until its
// write completes.
//
// Only events of the feed's in-memory window are asked for, so the cache
// keeps the most recent min(feed window, kMaxCapacity) messages (at least
// one): no more than the window can use, and a cache that is full after a
// window's worth of traffic rather than one that grows for minutes longer.
// A message evicted and asked for again (a stream far behind) is built
// again, with the same content. Thread-safe.
class FeedMessages {
 public:
  static constexpr size_t kMaxCapacity = 1024;

  // `tokens` must outlive this object.
  FeedMessages(const PageTokens* tokens, size_t feed_window);

  FeedMessages(const FeedMessages&) = delete;
  FeedMessages& operator=(const FeedMessages&) = delete;

  std::shared_ptr<const enlace::v1::ReferralEvent> Get(const db::FeedEvent& event,
                                                       const std::string& fingerprint)
      ABSL_LOCKS_EXCLUDED(mu_);

  size_t capacity() const { return capacity_; }
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Key = std::pair<int64_t, std::string>;  // feed seq, fingerprint

  const PageTokens* const tokens_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<const enlace::v1::ReferralEvent>> messages_
      ABSL_GUARDED_BY(mu_);
  std::deque<Key> order_ ABSL_GUARDED_BY(mu_);  // oldest first
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_FEED_MESSAGES_H_
