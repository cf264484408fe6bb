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
// Consent is checked at delivery. The feed also carries every change of a
// returnee's consent, in commit order (db/mysql_referral_sql.h), and keeps
// the consent in force of each arrival its window refers to. Collect() hands
// a stream only events the consent allows its agency (db/visibility.h,
// Reach::kReferral) and Recheck() is asked again right before each write, so
// an event committed after a withdrawal never reaches the withdrawn agency,
// and one committed before it is not delivered once the withdrawal is known.
//
// A stream that fell behind the in-memory window (or resumes from an old
// token) is told to read from the database up to the window's start, where
// the same rule is applied by the query, then continues from memory: the
// cursor only moves forward, so nothing is missed or delivered twice.
//
// Subscribers are held weakly and called with no lock of the feed held, so a
// subscriber may end its stream (and unsubscribe) from inside its callback.
#ifndef ENLACE_SERVER_REFERRAL_FEED_H_
#define ENLACE_SERVER_REFERRAL_FEED_H_

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "db/case_store.h"

namespace enlace::server {

class ReferralFeed {
 public:
  // Told when the feed has new events. Called on the poller thread with no
  // feed lock held; must not block. It may call Unsubscribe.
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    virtual void OnFeedAdvanced() = 0;
  };

  // An event handed to a stream, and the feed position at which the consent
  // was last found to allow it (what Recheck starts from).
  struct Pending {
    db::FeedEvent event;  // its `consent` is the consent that allowed it
    int64_t checked_at = 0;
  };

  // What a stream at `cursor` may deliver next.
  struct Batch {
    std::vector<Pending> events;  // the stream's agency's, allowed, oldest first
    int64_t cursor = 0;  // the position after these events
    // When set, the events after the cursor are no longer in memory: read
    // them from the database up to `database_up_to` (inclusive), then
    // continue from that position.
    bool needs_database = false;
    int64_t database_up_to = 0;
  };

  enum class Verdict {
    kDeliver,  // the consent in force still allows it
    kWithhold,  // it no longer does: skip the event
    kReread,  // cannot tell from memory: read again from the database
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

  // When the poller last read the database's feed successfully (for the
  // feed lag metric); since Start, which reads the feed's head.
  absl::Time last_poll() const {
    return absl::FromUnixMicros(last_poll_us_.load(std::memory_order_relaxed));
  }

  // How many events the window keeps in memory at most.
  size_t window() const { return window_; }

  Batch Collect(int64_t cursor, const std::string& agency, size_t max_events) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Whether `pending` may still be written to `agency`'s stream now: by the
  // consent changes read since pending.checked_at.
  Verdict Recheck(const std::string& agency, const Pending& pending) const ABSL_LOCKS_EXCLUDED(mu_);

  // Returns an id for Unsubscribe. Calls may still reach a subscriber for a
  // moment after it unsubscribed (a round in progress); they must be harmless.
  uint64_t Subscribe(const std::weak_ptr<Subscriber>& subscriber)
      ABSL_LOCKS_EXCLUDED(subscribers_mu_);
  void Unsubscribe(uint64_t id) ABSL_LOCKS_EXCLUDED(subscribers_mu_);

  // Calls every subscriber's OnFeedAdvanced, as a poll that read events
  // does: for a change outside the feed that streams must look at (an
  // agreement that ended, server/sharing_agreements.h).
  void TellSubscribers() ABSL_LOCKS_EXCLUDED(subscribers_mu_);

  // One poll (exposed for tests). Returns how many new events were read.
  absl::StatusOr<int> PollOnce() ABSL_LOCKS_EXCLUDED(mu_, subscribers_mu_);

 private:
  struct KnownConsent {
    db::ConsentState state;
    int refs = 0;  // events of this arrival in the window
  };
  void RunPoller();
  // The consent in force for `arrival_seq` as far as the window tells, else `fallback`.
  const db::ConsentState& ConsentOf(int64_t arrival_seq, const db::ConsentState& fallback) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  db::CaseStore* const store_;
  const absl::Duration poll_interval_;
  const size_t window_;

  mutable absl::Mutex mu_;
  std::deque<db::FeedEvent> events_ ABSL_GUARDED_BY(mu_);
  int64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  // head_, readable without mu_: a stream with nothing new (every stream
  // after each of its writes) is answered without taking the lock.
  std::atomic<int64_t> published_head_{0};
  std::atomic<int64_t> last_poll_us_{0};
  // Events after window_start_ - 1 are all in events_.
  int64_t window_start_ ABSL_GUARDED_BY(mu_) = 1;
  // The newest consent seen of each arrival that events_ refers to.
  absl::flat_hash_map<int64_t, KnownConsent> consents_ ABSL_GUARDED_BY(mu_);

  absl::Mutex subscribers_mu_;
  uint64_t next_subscriber_ ABSL_GUARDED_BY(subscribers_mu_) = 1;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Subscriber>> subscribers_
      ABSL_GUARDED_BY(subscribers_mu_);

  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_REFERRAL_FEED_H_
