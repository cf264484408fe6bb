// Unit tests of server/referral_feed.h over an in-memory feed
// (tests/testing/fakes/fake_feed_store.h): consent decides what a stream is
// handed and what it may still write; a subscriber may end its stream from
// inside its callback (the deadlock of the review), may die while
// subscribed, and many may come and go while the feed advances. No test
// sleeps: polls are made by the test (the poller waits an hour).
#include "server/referral_feed.h"

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fakes/fake_feed_store.h"

namespace enlace::server {
namespace {

using ::enlace::testing::FakeFeedStore;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint32_t kReintegration = 1u << enlace::v1::PURPOSE_REINTEGRATION;
constexpr uint32_t kStatistics = 1u << enlace::v1::PURPOSE_STATISTICS;

std::vector<std::string> Ids(const ReferralFeed::Batch& batch) {
  std::vector<std::string> ids;
  for (const ReferralFeed::Pending& p : batch.events) ids.push_back(p.event.referral.referral_id());
  return ids;
}

class ReferralFeedTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(feed_->Start().ok()); }
  void Poll() {
    absl::StatusOr<int> read = feed_->PollOnce();
    ASSERT_TRUE(read.ok()) << read.status();
  }

  FakeFeedStore store_;
  std::unique_ptr<ReferralFeed> feed_ =
      std::make_unique<ReferralFeed>(&store_, absl::Hours(1), /*window=*/100);
};

TEST_F(ReferralFeedTest, HandsAStreamOnlyItsAgencysEventsTheConsentAllows) {
  store_.SetConsent(1, {"iom", "undp"}, kReintegration);
  store_.SetConsent(2, {"iom", "undp"}, kStatistics);  // named, but only to be counted
  store_.SetConsent(3, {"iom"}, kReintegration);  // undp not named
  store_.AppendReferralEvent(1, "iom", "undp", "allowed");
  store_.AppendReferralEvent(2, "iom", "undp", "statistics-only");
  store_.AppendReferralEvent(3, "iom", "undp", "not-named");
  store_.AppendReferralEvent(1, "iom", "unhcr", "another-receiver");
  Poll();
  ReferralFeed::Batch batch = feed_->Collect(0, "undp", 64);
  EXPECT_THAT(Ids(batch), ElementsAre("allowed"));
  EXPECT_EQ(batch.cursor, feed_->head());  // skipped events are passed, not revisited
  EXPECT_FALSE(batch.needs_database);
}

TEST_F(ReferralFeedTest, EventsAfterAWithdrawalNeverReachTheWithdrawnAgency) {
  store_.SetConsent(1, {"iom", "undp"}, kReintegration);
  store_.AppendReferralEvent(1, "iom", "undp", "before");
  store_.SetConsent(1, {"undp"}, kReintegration);  // iom withdrawn
  store_.AppendReferralEvent(1, "iom", "undp", "after", enlace::v1::REFERRAL_EVENT_TYPE_COMPLETED);
  Poll();
  // Checked at delivery: the consent in force now withholds both.
  EXPECT_THAT(Ids(feed_->Collect(0, "iom", 64)), IsEmpty());
  EXPECT_THAT(Ids(feed_->Collect(0, "undp", 64)), ElementsAre("before", "after"));
}

TEST_F(ReferralFeedTest, AnEventHandedOutIsRecheckedBeforeItIsWritten) {
  store_.SetConsent(1, {"iom", "undp"}, kReintegration);
  store_.AppendReferralEvent(1, "iom", "undp", "r1");
  Poll();
  ReferralFeed::Batch batch = feed_->Collect(0, "iom", 64);
  ASSERT_THAT(Ids(batch), ElementsAre("r1"));
  EXPECT_EQ(feed_->Recheck("iom", batch.events[0]), ReferralFeed::Verdict::kDeliver);
  // The withdrawal is read while the event waits for its write.
  store_.SetConsent(1, {"undp"}, kReintegration);
  Poll();
  EXPECT_EQ(feed_->Recheck("iom", batch.events[0]), ReferralFeed::Verdict::kWithhold);
  EXPECT_EQ(feed_->Recheck("undp", feed_->Collect(0, "undp", 64).events[0]),
            ReferralFeed::Verdict::kDeliver);
}

TEST_F(ReferralFeedTest, AnEventOlderThanTheWindowIsReadAgain) {
  store_.SetConsent(1, {"iom", "undp"}, kReintegration);
  store_.AppendReferralEvent(1, "iom", "undp", "r1");
  Poll();
  ReferralFeed::Batch batch = feed_->Collect(0, "iom", 64);
  ASSERT_THAT(Ids(batch), ElementsAre("r1"));
  // 150 more events push everything checked so far out of the 100-event window.
  for (int i = 0; i < 150; ++i) store_.AppendReferralEvent(2, "unhcr", "undp", "other");
  Poll();
  EXPECT_EQ(feed_->Recheck("iom", batch.events[0]), ReferralFeed::Verdict::kReread);
  ReferralFeed::Batch behind = feed_->Collect(0, "iom", 64);
  EXPECT_TRUE(behind.needs_database);
  EXPECT_GT(behind.database_up_to, 0);
}

// The deadlock of the review: a subscriber that ends its stream (and so
// unsubscribes) from inside its callback must not wait on the feed.
class Unsubscriber : public ReferralFeed::Subscriber {
 public:
  explicit Unsubscriber(ReferralFeed* feed) : feed_(feed) {}
  void OnFeedAdvanced() override {
    feed_->Unsubscribe(id);
    ++calls;
  }
  ReferralFeed* feed_;
  std::atomic<uint64_t> id{0};  // set by the test after Subscribe, read by the poller
  std::atomic<int> calls{0};
};

TEST_F(ReferralFeedTest, ASubscriberMayUnsubscribeFromItsOwnCallback) {
  auto subscriber = std::make_shared<Unsubscriber>(feed_.get());
  subscriber->id = feed_->Subscribe(subscriber);
  store_.SetConsent(1, {"iom"}, kReintegration);
  absl::Notification polled;
  std::thread poller([&] {
    Poll();
    polled.Notify();
  });
  if (!polled.WaitForNotificationWithTimeout(absl::Seconds(20))) {
    std::cerr << "PollOnce deadlocked: a subscriber's Unsubscribe waits on the feed\n";
    std::_Exit(1);  // the stuck thread cannot be joined
  }
  poller.join();
  EXPECT_EQ(subscriber->calls, 1);
  store_.SetConsent(1, {"iom"}, kReintegration);
  Poll();
  EXPECT_EQ(subscriber->calls, 1);  // unsubscribed: not told again
}

class Counter : public ReferralFeed::Subscriber {
 public:
  void OnFeedAdvanced() override { ++calls; }
  std::atomic<int> calls{0};
};

TEST_F(ReferralFeedTest, ASubscriberThatDiedIsNotCalled) {
  auto alive = std::make_shared<Counter>();
  feed_->Subscribe(alive);
  {
    auto gone = std::make_shared<Counter>();
    feed_->Subscribe(gone);  // never unsubscribed: it just dies
  }
  store_.SetConsent(1, {"iom"}, kReintegration);
  Poll();  // would crash calling into freed memory if held strongly or raw
  EXPECT_EQ(alive->calls, 1);
}

// Many subscribers come and go, some ending from their callback, while the
// feed advances on other threads. Run under ThreadSanitizer in CI.
TEST_F(ReferralFeedTest, SubscribersChurnWhileTheFeedAdvances) {
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      store_.AppendReferralEvent(1 + i % 5, "iom", "undp", "r");
      Poll();
      ++rounds;
    }
  });
  std::vector<std::thread> churners;
  std::atomic<int> collected{0};
  for (int t = 0; t < 4; ++t) {
    churners.emplace_back([&] {
      const int rounds_at_start = rounds.load();
      for (int i = 0; i < 300; ++i) {
        auto subscriber = std::make_shared<Unsubscriber>(feed_.get());
        subscriber->id = feed_->Subscribe(subscriber);
        collected += static_cast<int>(feed_->Collect(0, "undp", 8).events.size());
        if (i % 2 == 0) feed_->Unsubscribe(subscriber->id);
        // Half-way, until the writer advanced the feed at least once since
        // this churner started: churn and advances overlap however the
        // threads are scheduled (on a loaded machine the churners could
        // otherwise finish before the writer's first round).
        if (i == 150) {
          while (rounds.load() == rounds_at_start) std::this_thread::yield();
        }
      }
    });
  }
  for (std::thread& t : churners) t.join();
  stop = true;
  writer.join();
  EXPECT_GT(rounds, 0);
  // The feed still serves after the churn.
  store_.SetConsent(9, {"undp"}, kReintegration);
  store_.AppendReferralEvent(9, "iom", "undp", "last");
  Poll();
  auto last = std::make_shared<Counter>();
  feed_->Subscribe(last);
  store_.AppendReferralEvent(9, "iom", "undp", "after-last");
  Poll();
  EXPECT_EQ(last->calls, 1);
}

TEST_F(ReferralFeedTest, AFailedReadKeepsTheHeadAndTheWindow) {
  store_.SetConsent(1, {"undp"}, kReintegration);
  store_.AppendReferralEvent(1, "iom", "undp", "r1");
  Poll();
  int64_t head = feed_->head();
  store_.FailReads(absl::UnavailableError("database down"));
  store_.AppendReferralEvent(1, "iom", "undp", "r2");
  EXPECT_FALSE(feed_->PollOnce().ok());
  EXPECT_EQ(feed_->head(), head);
  store_.FailReads(absl::OkStatus());
  Poll();
  EXPECT_THAT(Ids(feed_->Collect(0, "undp", 64)), ElementsAre("r1", "r2"));
}

// Start takes the feed's head as "now": what was there before is not in
// memory, and a stream from the beginning is sent to the database for it.
TEST(ReferralFeedStartTest, WhatCameBeforeStartIsReadFromTheDatabase) {
  FakeFeedStore store;
  store.SetConsent(1, {"iom", "undp"}, kReintegration);
  store.AppendReferralEvent(1, "iom", "undp", "before-1");
  store.AppendReferralEvent(1, "iom", "undp", "before-2");
  ReferralFeed feed(&store, absl::Hours(1), 100);
  ASSERT_TRUE(feed.Start().ok());
  EXPECT_EQ(feed.head(), 3);
  ReferralFeed::Batch from_start = feed.Collect(0, "undp", 64);
  EXPECT_TRUE(from_start.needs_database);
  EXPECT_EQ(from_start.database_up_to, 3);
  EXPECT_THAT(Ids(from_start), IsEmpty());
  // From "now": nothing until something new is read.
  ReferralFeed::Batch now = feed.Collect(3, "undp", 64);
  EXPECT_FALSE(now.needs_database);
  EXPECT_THAT(Ids(now), IsEmpty());
  store.AppendReferralEvent(1, "iom", "undp", "after");
  ASSERT_TRUE(feed.PollOnce().ok());
  EXPECT_THAT(Ids(feed.Collect(3, "undp", 64)), ElementsAre("after"));
}

// A stream collects at most max_events at a time, and its cursor resumes
// exactly after the last event handed out: nothing missed, nothing twice.
// Both parties of a referral get its events; no one else does.
TEST_F(ReferralFeedTest, CollectingInSmallBatchesMissesAndRepeatsNothing) {
  store_.SetConsent(1, {"iom", "undp", "unhcr"}, kReintegration);
  for (int i = 0; i < 7; ++i) {
    store_.AppendReferralEvent(1, i % 2 == 0 ? "iom" : "unhcr", "undp", absl::StrCat("r", i));
  }
  Poll();
  for (const std::string agency : {"undp", "iom"}) {
    std::vector<std::string> seen;
    int64_t cursor = 0;
    for (int rounds = 0; rounds < 20; ++rounds) {
      ReferralFeed::Batch batch = feed_->Collect(cursor, agency, 2);
      EXPECT_LE(batch.events.size(), 2u);
      for (const std::string& id : Ids(batch)) seen.push_back(id);
      if (batch.cursor == cursor) break;  // nothing more
      EXPECT_GT(batch.cursor, cursor);  // only forward
      cursor = batch.cursor;
    }
    EXPECT_EQ(cursor, feed_->head()) << agency;
    if (agency == "undp") {
      EXPECT_THAT(seen, ElementsAre("r0", "r1", "r2", "r3", "r4", "r5", "r6"));
    } else {
      EXPECT_THAT(seen, ElementsAre("r0", "r2", "r4", "r6"));  // its own, as sender
    }
  }
  EXPECT_THAT(Ids(feed_->Collect(0, "fao", 64)), IsEmpty());  // a party to none
}

// A stream that fell behind the window reads the database up to the
// window's start (the store applies the same consent rule), then memory
// from there: together, every event of its agency once, in order.
TEST_F(ReferralFeedTest, AStreamBehindTheWindowCatchesUpWithoutGapsOrRepeats) {
  store_.SetConsent(1, {"iom", "undp"}, kReintegration);
  store_.SetConsent(2, {"iom"}, kReintegration);  // undp not named
  std::vector<std::string> expected;
  for (int i = 0; i < 250; ++i) {
    std::string id = absl::StrCat("r", i);
    int64_t arrival = i % 3 == 0 ? 2 : 1;
    store_.AppendReferralEvent(arrival, "iom", "undp", id);
    if (arrival == 1) expected.push_back(id);
  }
  Poll();
  ReferralFeed::Batch behind = feed_->Collect(0, "undp", 64);
  ASSERT_TRUE(behind.needs_database);
  absl::StatusOr<std::vector<db::FeedEvent>> from_database =
      store_.ReadFeed(0, behind.database_up_to, "undp", 10000);
  ASSERT_TRUE(from_database.ok());
  std::vector<std::string> seen;
  for (const db::FeedEvent& e : *from_database) seen.push_back(e.referral.referral_id());
  int64_t cursor = behind.database_up_to;
  while (true) {
    ReferralFeed::Batch batch = feed_->Collect(cursor, "undp", 64);
    ASSERT_FALSE(batch.needs_database);
    for (const std::string& id : Ids(batch)) seen.push_back(id);
    if (batch.cursor == cursor) break;
    cursor = batch.cursor;
  }
  EXPECT_EQ(seen, expected);
}

// Wake() polls at once (the poller's interval here is an hour), and a read
// that comes back full polls again at once until the head is reached.
class HeadWatcher : public ReferralFeed::Subscriber {
 public:
  HeadWatcher(ReferralFeed* feed, int64_t target) : feed_(feed), target_(target) {}
  void OnFeedAdvanced() override {
    if (feed_->head() >= target_ && !reached.HasBeenNotified()) reached.Notify();
  }
  absl::Notification reached;

 private:
  ReferralFeed* const feed_;
  const int64_t target_;
};

TEST_F(ReferralFeedTest, WakePollsAtOnceAndAFullReadPollsAgain) {
  store_.SetConsent(1, {"iom", "undp"}, kReintegration);  // seq 1
  for (int i = 0; i < 1499; ++i) store_.AppendReferralEvent(1, "iom", "undp", "r");
  auto watcher = std::make_shared<HeadWatcher>(feed_.get(), 1500);
  feed_->Subscribe(watcher);
  EXPECT_EQ(store_.reads(), 0);  // Start reads the head only
  feed_->Wake();
  ASSERT_TRUE(watcher->reached.WaitForNotificationWithTimeout(absl::Seconds(60)))
      << "the poller did not reach the head after Wake()";
  EXPECT_EQ(feed_->head(), 1500);
  EXPECT_EQ(store_.reads(), 2);  // 1000 (full: again at once), then 500
}

}  // namespace
}  // namespace enlace::server
