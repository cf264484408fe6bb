// Streams under churn, over mTLS with a real MariaDB (finding 8 of the
// review: the feed could deadlock itself when a stream ended from inside
// the poller's round, e.g. when the work pool was full). Hundreds of
// watchers open, catch up from old tokens through the database, and cancel,
// while referrals change and the work pool is saturated; afterwards events
// still flow to a new watcher and the server shuts down promptly. Run under
// ThreadSanitizer in CI as well.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/watcher.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::Watcher;
using ::testing::SizeIs;

class StreamsTest : public ServerFixture {
 protected:
  void Configure(server::ServerConfig& config) override {
    // A tiny pool and queue, and a tiny in-memory feed window: catch-ups go
    // to the database through a pool that is often full.
    config.worker_threads = 2;
    config.work_queue = 2;
    config.feed_window = 8;
  }
  grpc::Status Refer(const std::string& case_id, v1::Referral* referral) {
    return ReferAsIom(case_id, "undp", referral, v1::NEED_TRAINING);
  }
};

TEST_F(StreamsTest, WatchersChurnWhileReferralsChangeAndThePoolIsFull) {
  std::string old_token;
  {
    Watcher first(Referrals(undp_cert_), "");
    old_token = first.start_token();
    if (old_token.empty()) {
      grpc::Status refused = first.WaitForEnd(absl::Seconds(5));
      ADD_FAILURE() << refused.error_code() << ": " << refused.error_message();
    }
  }
  ASSERT_FALSE(old_token.empty());
  std::vector<std::string> cases;
  for (int i = 0; i < 4; ++i)
    cases.push_back(OpenIomCase("churn-" + std::to_string(i), {"iom", "undp"}).case_.case_id());
  // History to catch up on, beyond the feed's in-memory window.
  for (int i = 0; i < 20; ++i) {
    v1::Referral referral;
    ASSERT_TRUE(Refer(cases[i % cases.size()], &referral).ok());
  }

  std::atomic<bool> stop{false};
  std::atomic<int> changes{0}, opened{0}, events{0}, busy{0};
  // Referral changes all along.
  std::thread changer([&] {
    for (int i = 0; !stop; ++i) {
      v1::Referral referral;
      if (Refer(cases[i % cases.size()], &referral).ok()) ++changes;
    }
  });
  // The work pool kept full by unary calls from two identities.
  std::vector<std::thread> flooders;
  for (int t = 0; t < 8; ++t) {
    flooders.emplace_back([&, t] {
      auto stub = Arrivals(t % 2 == 0 ? iom_cert_ : undp_cert_);
      while (!stop) {
        v1::ListArrivalsResponse listed;
        grpc::Status status = stub->ListArrivals(Context().get(), {}, &listed);
        if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++busy;
      }
    });
  }
  // Watchers that stay, and watchers that come and go.
  std::vector<std::unique_ptr<Watcher>> staying;
  for (int i = 0; i < 100; ++i) {
    staying.push_back(std::make_unique<Watcher>(Referrals(i % 2 ? undp_cert_ : iom_cert_), ""));
  }
  std::vector<std::thread> churners;
  for (int t = 0; t < 6; ++t) {
    churners.emplace_back([&, t] {
      std::mt19937 random(t);
      while (!stop) {
        // Half catch up from the old token (database path), half from now.
        Watcher watcher(Referrals(t % 2 ? undp_cert_ : iom_cert_), random() % 2 ? old_token : "");
        ++opened;
        events += static_cast<int>(
            watcher.WaitFor(1 + random() % 3, absl::Milliseconds(random() % 40)).size());
      }  // cancelled here
    });
  }
  // Churn until enough watches have come and gone, for at least 6 s.
  absl::Time churn_until = absl::Now() + absl::Seconds(6);
  absl::Time give_up = churn_until + absl::Seconds(30);
  while (absl::Now() < churn_until || (opened < 300 && absl::Now() < give_up)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop = true;
  for (std::thread& t : churners) t.join();
  for (std::thread& t : flooders) t.join();
  changer.join();
  std::cerr << "churn: " << opened << " watches opened, " << events << " events read, " << changes
            << " referrals made, " << busy << " calls refused as busy\n";
  EXPECT_GE(opened.load(), 300);
  EXPECT_GT(busy.load(), 0) << "the work pool was never full";
  EXPECT_GT(changes.load(), 0);

  // Events still flow: to a watcher that stayed (unless the pool refused its
  // catch-up, it is open) and to a new one.
  Watcher fresh(Referrals(undp_cert_), "");
  ASSERT_FALSE(fresh.start_token().empty());
  v1::Referral last;
  ASSERT_TRUE(Refer(cases[0], &last).ok());
  std::vector<v1::ReferralEvent> seen = fresh.WaitFor(1);
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].referral().referral_id(), last.referral_id());

  // Shutdown completes, open streams or not.
  absl::Notification down;
  std::thread stopper([&] {
    server_.reset();
    down.Notify();
  });
  if (!down.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    std::cerr << "shutdown hung with streams open\n";
    std::_Exit(1);
  }
  stopper.join();
  for (auto& w : staying) {
    grpc::Status ended = w->WaitForEnd(absl::Seconds(10));
    EXPECT_NE(ended.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
}

}  // namespace
}  // namespace enlace
