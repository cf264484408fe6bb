// Tests of page tokens and page sizes (server/page_token.h): tokens round
// trip, are bound to their query, and anything else a client might send is
// INVALID_ARGUMENT naming the field.
#include "server/page_token.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace enlace::server {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::HasSubstr;

std::string Fingerprint() {
  return QueryFingerprint({"spiffe://enlace/agency/iom", "SV-SS", "", "2024-01-01", ""});
}

TEST(PageTokenTest, RoundTrips) {
  const std::string fp = Fingerprint();
  for (int64_t position :
       {int64_t{0}, int64_t{1}, int64_t{255}, int64_t{256}, int64_t{1} << 32,
        int64_t{1234567890123}, std::numeric_limits<int64_t>::max() - 1,
        std::numeric_limits<int64_t>::max()}) {
    SCOPED_TRACE(position);
    const std::string token = EncodePageToken(position, fp);
    EXPECT_FALSE(token.empty());
    absl::StatusOr<int64_t> decoded = DecodePageToken(token, fp);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, position);
  }
}

TEST(PageTokenTest, TokenIsUrlSafeText) {
  const std::string token = EncodePageToken(std::numeric_limits<int64_t>::max(), Fingerprint());
  for (char c : token) {
    EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
        << token;
  }
}

TEST(PageTokenTest, EmptyTokenIsTheFirstPage) {
  absl::StatusOr<int64_t> decoded = DecodePageToken("", Fingerprint());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, 0);
}

TEST(PageTokenTest, TokenOfAnotherQueryIsRefused) {
  const std::string token = EncodePageToken(42, Fingerprint());
  // Another caller, and another filter.
  for (const std::string& other :
       {QueryFingerprint({"spiffe://enlace/agency/unhcr", "SV-SS", "", "2024-01-01", ""}),
        QueryFingerprint({"spiffe://enlace/agency/iom", "SV-SM", "", "2024-01-01", ""}),
        QueryFingerprint(
            {"spiffe://enlace/agency/iom", "SV-SS", "", "2024-01-01", "2024-12-31"})}) {
    EXPECT_THAT(DecodePageToken(token, other),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  }
}

TEST(PageTokenTest, MalformedTokensAreRefused) {
  const std::string fp = Fingerprint();
  const std::string good = EncodePageToken(42, fp);
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(good, &raw));
  ASSERT_EQ(raw.size(), 2u + 8u + fp.size());

  std::string other_version = raw;
  other_version[1] = '2';
  std::string flipped_fingerprint = raw;
  flipped_fingerprint.back() ^= 1;
  std::string negative = raw;
  negative[2] = '\x80';  // the top bit of the position: not an int64 we issue

  const std::vector<std::string> tokens = {
      "garbage!",                                          // not base64url
      "%%%%",                                              // not base64url
      "a",                                                 // impossible length
      "djE",                                               // "v1" only
      good.substr(0, good.size() - 1),                     // truncated by a character
      good.substr(0, good.size() / 2),                     // truncated by half
      good + "AAAA",                                       // three bytes too many
      absl::WebSafeBase64Escape(raw.substr(0, raw.size() - 1)),  // one byte short
      absl::WebSafeBase64Escape(raw + "x"),                // one byte long
      absl::WebSafeBase64Escape(std::string(22, '\0')),    // right length, wrong version
      absl::WebSafeBase64Escape(other_version),            // "v2"
      absl::WebSafeBase64Escape(flipped_fingerprint),      // fingerprint off by a bit
      absl::WebSafeBase64Escape(negative),                 // position > INT64_MAX
  };
  for (const std::string& token : tokens) {
    SCOPED_TRACE(token);
    EXPECT_THAT(DecodePageToken(token, fp),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  }
}

TEST(QueryFingerprintTest, IsDeterministicAndShort) {
  EXPECT_EQ(Fingerprint(), Fingerprint());
  EXPECT_FALSE(Fingerprint().empty());
  EXPECT_LE(Fingerprint().size(), 32u);
}

TEST(QueryFingerprintTest, DiffersWhenPartsShift) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {QueryFingerprint({"ab", "c"}), QueryFingerprint({"a", "bc"})},
      {QueryFingerprint({"a", "b"}), QueryFingerprint({"b", "a"})},
      {QueryFingerprint({"ab"}), QueryFingerprint({"a", "b"})},
      {QueryFingerprint({"a", ""}), QueryFingerprint({"a"})},
      {QueryFingerprint({""}), QueryFingerprint({})},
      {QueryFingerprint({"", ""}), QueryFingerprint({""})},
      {QueryFingerprint({"a;b"}), QueryFingerprint({"a", "b"})},
      {QueryFingerprint({"1:a;"}), QueryFingerprint({"a", ""})},
      {QueryFingerprint({"x", "1:y;"}), QueryFingerprint({"x", "y", ""})},
  };
  for (size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_NE(pairs[i].first, pairs[i].second) << "pair " << i;
  }
}

TEST(EffectivePageSizeTest, ZeroMeansFifty) {
  absl::StatusOr<int> size = EffectivePageSize(0);
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, 50);
}

TEST(EffectivePageSizeTest, OneToFiveHundredAsGiven) {
  for (int32_t requested : {1, 2, 50, 499, 500}) {
    absl::StatusOr<int> size = EffectivePageSize(requested);
    ASSERT_TRUE(size.ok()) << requested << ": " << size.status();
    EXPECT_EQ(*size, requested);
  }
}

TEST(EffectivePageSizeTest, OutOfRangeIsRefused) {
  for (int32_t requested : {-1, -50, 501, 100000, std::numeric_limits<int32_t>::min(),
                            std::numeric_limits<int32_t>::max()}) {
    SCOPED_TRACE(requested);
    EXPECT_THAT(EffectivePageSize(requested),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
  }
}

}  // namespace
}  // namespace enlace::server
