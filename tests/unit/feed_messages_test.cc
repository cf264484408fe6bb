// Tests of FeedMessages (server/feed_messages.h): a feed event's message is
// built once per fingerprint and shared, carries the event and a resume
// token bound to that fingerprint, and the cache never holds more than
// min(feed window, kMaxCapacity) messages, evicting the oldest.
#include "server/feed_messages.h"

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/page_token.h"
#include "server/token_keys.h"

namespace enlace::server {
namespace {

db::FeedEvent Event(int64_t seq) {
  db::FeedEvent event;
  event.seq = seq;
  event.type = enlace::v1::REFERRAL_EVENT_TYPE_ACCEPTED;
  event.committed_at_us = 1'700'000'000'000'000 + seq;
  event.referral.set_referral_id("ref-" + std::to_string(seq));
  event.referral.set_to_agency("undp");
  return event;
}

class FeedMessagesTest : public ::testing::Test {
 protected:
  std::unique_ptr<TokenKeys> keys_ = TokenKeys::Ephemeral();
  PageTokens tokens_{keys_.get()};
};

TEST_F(FeedMessagesTest, CapacityIsTheFeedWindowBetweenOneAndTheMaximum) {
  EXPECT_EQ(FeedMessages(&tokens_, 200).capacity(), 200u);
  EXPECT_EQ(FeedMessages(&tokens_, 0).capacity(), 1u);
  EXPECT_EQ(FeedMessages(&tokens_, 20000).capacity(), FeedMessages::kMaxCapacity);
}

TEST_F(FeedMessagesTest, AMessageCarriesTheEventAndATokenBoundToItsFingerprint) {
  FeedMessages messages(&tokens_, 10);
  std::shared_ptr<const enlace::v1::ReferralEvent> message = messages.Get(Event(7), "fp-undp");
  EXPECT_EQ(message->type(), enlace::v1::REFERRAL_EVENT_TYPE_ACCEPTED);
  EXPECT_EQ(message->referral().referral_id(), "ref-7");
  EXPECT_EQ(message->committed_at().seconds(), 1'700'000'000);
  EXPECT_EQ(message->committed_at().nanos(), 7'000);
  absl::StatusOr<int64_t> position = tokens_.Decode(message->resume_token(), "fp-undp");
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, 7);
  EXPECT_FALSE(tokens_.Decode(message->resume_token(), "fp-iom").ok());
}

TEST_F(FeedMessagesTest, OneMessagePerEventAndFingerprintIsShared) {
  FeedMessages messages(&tokens_, 10);
  auto first = messages.Get(Event(1), "fp-undp");
  EXPECT_EQ(messages.Get(Event(1), "fp-undp").get(), first.get());
  auto other_identity = messages.Get(Event(1), "fp-iom");
  EXPECT_NE(other_identity.get(), first.get());
  EXPECT_NE(other_identity->resume_token(), first->resume_token());
  EXPECT_EQ(messages.size(), 2u);
}

TEST_F(FeedMessagesTest, NeverHoldsMoreThanItsCapacityAndEvictsTheOldest) {
  FeedMessages messages(&tokens_, 3);
  auto oldest = messages.Get(Event(1), "fp");
  messages.Get(Event(2), "fp");
  for (int64_t seq = 3; seq <= 50; ++seq) {
    messages.Get(Event(seq), "fp");
    EXPECT_LE(messages.size(), 3u) << "after event " << seq;
  }
  EXPECT_EQ(messages.size(), 3u);
  // The newest are still shared; an evicted one is built again, equal to
  // the first build (the stream that held it still holds its own copy).
  auto newest = messages.Get(Event(50), "fp");
  EXPECT_EQ(messages.Get(Event(50), "fp").get(), newest.get());
  auto rebuilt = messages.Get(Event(1), "fp");
  EXPECT_NE(rebuilt.get(), oldest.get());
  EXPECT_EQ(rebuilt->referral().referral_id(), oldest->referral().referral_id());
  EXPECT_EQ(messages.size(), 3u);
}

}  // namespace
}  // namespace enlace::server
