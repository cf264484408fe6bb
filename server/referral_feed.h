// The live referral feed of one server: a poller reads new events from the
// database's ordered feed (db::CaseStore::ReadFeed) and keeps the most recent
// ones in memory; WatchReferrals streams pull from it. Because the feed comes
// from the database, changes made through any replica reach every watcher,
// and a watcher can resume from its last token after a restart.
//
// One poller serves every watch stream of the server, so 1,000 streams cost
// one query per poll interval, not 1,000; a commit on this server wakes the
// poller at once (Wake), others are seen within the poll interval.
//
// A stream that fell behind the in-memory window (or resumes from an old
// token) is told to read from the database up to the window's start, then
// continues from memory: the cursor only moves forward, so nothing is missed
// or delivered twice.
#ifndef ENLACE_SERVER_REFERRAL_FEED_H_
#define ENLACE_SERVER_REFERRAL_FEED_H_

#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "db/case_store.h"

namespace enlace::server {

class ReferralFeed {
 public:
  // Told when the feed has new events. Called on the poller thread with no
  // feed lock held; must not block, and must not Subscribe/Unsubscribe.
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    virtual void OnFeedAdvanced() = 0;
  };

  // What a stream at `cursor` may deliver next.
  struct Batch {
    std::vector<db::FeedEvent> events;  // the stream's agency's, oldest first
    int64_t cursor = 0;                 // the position after these events
    // When set, the events after the cursor are no longer in memory: read
    // them from the database up to `database_up_to` (inclusive), then
    // continue from that position.
    bool needs_database = false;
    int64_t database_up_to = 0;
  };

  // `store` must outlive the feed.
  ReferralFeed(db::CaseStore* store, absl::Duration poll_interval, size_t window = 20000);
  ~ReferralFeed();

  // Reads the feed's head (what "from now" means) and starts polling.
  absl::Status Start();

  // Polls now (a change was committed on this server).
  void Wake() ABSL_LOCKS_EXCLUDED(wake_mu_);

  // The position of the last event read from the database.
  int64_t head() const ABSL_LOCKS_EXCLUDED(mu_);

  Batch Collect(int64_t cursor, const std::string& agency, size_t max_events) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // After Unsubscribe returns, the subscriber is never called again.
  void Subscribe(Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(subscribers_mu_);
  void Unsubscribe(Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(subscribers_mu_);

  // One poll (exposed for tests). Returns how many new events were read.
  absl::StatusOr<int> PollOnce() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void RunPoller();

  db::CaseStore* const store_;
  const absl::Duration poll_interval_;
  const size_t window_;

  mutable absl::Mutex mu_;
  std::deque<db::FeedEvent> events_ ABSL_GUARDED_BY(mu_);
  int64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  // Events after window_start_ - 1 are all in events_.
  int64_t window_start_ ABSL_GUARDED_BY(mu_) = 1;

  absl::Mutex subscribers_mu_;
  absl::flat_hash_set<Subscriber*> subscribers_ ABSL_GUARDED_BY(subscribers_mu_);

  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_REFERRAL_FEED_H_
