// IdentitySlots (server/identity_slots.h): per-identity running and waiting
// limits. Closures stand in for calls; nothing sleeps.
#include "server/identity_slots.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace enlace::server {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(IdentitySlotsTest, RunsAtOnceWhileASlotIsFree) {
  IdentitySlots slots(2, 0, "max_calls_per_identity");
  int started = 0;
  EXPECT_TRUE(slots.Acquire("iom", [&] { ++started; }).ok());
  EXPECT_TRUE(slots.Acquire("iom", [&] { ++started; }).ok());
  EXPECT_EQ(started, 2);
  EXPECT_EQ(slots.running("iom"), 2);
}

TEST(IdentitySlotsTest, OverBothLimitsIsRefusedNamingTheLimitAndNeverRuns) {
  IdentitySlots slots(1, 1, "max_calls_per_identity");
  std::vector<int> started;
  ASSERT_TRUE(slots.Acquire("iom", [&] { started.push_back(1); }).ok());
  ASSERT_TRUE(slots.Acquire("iom", [&] { started.push_back(2); }).ok());  // waits
  EXPECT_THAT(slots.Acquire("iom", [&] { started.push_back(3); }),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_calls_per_identity")));
  EXPECT_THAT(started, ElementsAre(1));
  EXPECT_EQ(slots.waiting("iom"), 1);
  slots.Release("iom");  // the slot passes to the waiter
  EXPECT_THAT(started, ElementsAre(1, 2));
  EXPECT_EQ(slots.running("iom"), 1);
  EXPECT_EQ(slots.waiting("iom"), 0);
  slots.Release("iom");
  EXPECT_EQ(slots.running("iom"), 0);
}

TEST(IdentitySlotsTest, WaitersRunInTheOrderTheyCame) {
  IdentitySlots slots(1, 10, "max_calls_per_identity");
  std::vector<int> started;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(slots.Acquire("iom", [&, i] { started.push_back(i); }).ok());
  }
  for (int i = 0; i < 5; ++i) slots.Release("iom");
  EXPECT_THAT(started, ElementsAre(0, 1, 2, 3, 4));
}

TEST(IdentitySlotsTest, IdentitiesDoNotShareSlots) {
  IdentitySlots slots(1, 0, "max_streams_per_identity");
  ASSERT_TRUE(slots.Acquire("iom", [] {}).ok());
  EXPECT_THAT(slots.Acquire("iom", [] {}), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(slots.Acquire("undp", [] {}).ok());
}

TEST(IdentitySlotsTest, ZeroMeansNoLimit) {
  IdentitySlots slots(0, 0, "max_calls_per_identity");
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(slots.Acquire("iom", [] {}).ok());
  EXPECT_EQ(slots.running("iom"), 1000);
}

TEST(IdentitySlotsTest, ConcurrentCallersNeverExceedTheLimit) {
  constexpr int kLimit = 3;
  IdentitySlots slots(kLimit, 1000, "max_calls_per_identity");
  std::atomic<int> running{0}, most{0}, finished{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(slots
                        .Acquire("iom",
                                 [&] {
                                   int now = ++running;
                                   int seen = most.load();
                                   while (now > seen && !most.compare_exchange_weak(seen, now)) {
                                   }
                                   --running;
                                   ++finished;
                                   slots.Release("iom");
                                 })
                        .ok());
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(finished.load(), 800);
  EXPECT_LE(most.load(), kLimit);
  EXPECT_EQ(slots.running("iom"), 0);
}

}  // namespace
}  // namespace enlace::server
