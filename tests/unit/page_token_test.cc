// Tests of page and resume tokens and page sizes (server/page_token.h,
// server/token_keys.h): tokens round trip, are bound to their query and
// caller, cannot be fabricated or altered, survive key rotation while their
// key is held, and anything else a client might send is INVALID_ARGUMENT
// naming the field.
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
#include "server/token_keys.h"
#include "tests/testing/status_matchers.h"

namespace enlace::server {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::HasSubstr;

std::string Fingerprint() {
  return QueryFingerprint({"spiffe://enlace/agency/iom", "SV-SS", "", "2024-01-01", ""});
}

constexpr char kKeyFile[] =
    "# test keys\n"
    "k2 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n"
    "k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";

std::unique_ptr<TokenKeys> Keys(const std::string& text = kKeyFile) {
  absl::StatusOr<std::unique_ptr<TokenKeys>> keys = TokenKeys::Parse(text);
  EXPECT_TRUE(keys.ok()) << keys.status();
  return keys.ok() ? *std::move(keys) : TokenKeys::Ephemeral();
}

class PageTokenTest : public ::testing::Test {
 protected:
  std::unique_ptr<TokenKeys> keys_ = Keys();
  PageTokens tokens_{keys_.get()};
};

TEST_F(PageTokenTest, RoundTrips) {
  const std::string fp = Fingerprint();
  for (int64_t position : {int64_t{0}, int64_t{1}, int64_t{255}, int64_t{256}, int64_t{1} << 32,
                           int64_t{1234567890123}, std::numeric_limits<int64_t>::max() - 1,
                           std::numeric_limits<int64_t>::max()}) {
    SCOPED_TRACE(position);
    const std::string token = tokens_.Encode(position, fp);
    EXPECT_FALSE(token.empty());
    absl::StatusOr<int64_t> decoded = tokens_.Decode(token, fp);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, position);
  }
}

TEST_F(PageTokenTest, KeyTokensRoundTrip) {
  const std::string fp = Fingerprint();
  for (const std::string& key :
       std::vector<std::string>{"", "1a2b", "iom", std::string(200, 'x')}) {
    absl::StatusOr<std::string> decoded = tokens_.DecodeKey(tokens_.EncodeKey(key, fp), fp);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, key);
  }
}

TEST_F(PageTokenTest, TokenIsUrlSafeText) {
  const std::string token = tokens_.Encode(std::numeric_limits<int64_t>::max(), Fingerprint());
  for (char c : token) {
    EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
        << token;
  }
}

TEST_F(PageTokenTest, EmptyTokenIsTheFirstPage) {
  absl::StatusOr<int64_t> decoded = tokens_.Decode("", Fingerprint());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, 0);
}

TEST_F(PageTokenTest, TokenOfAnotherQueryOrCallerIsRefused) {
  const std::string token = tokens_.Encode(42, Fingerprint());
  // Another caller, and another filter.
  for (const std::string& other :
       {QueryFingerprint({"spiffe://enlace/agency/unhcr", "SV-SS", "", "2024-01-01", ""}),
        QueryFingerprint({"spiffe://enlace/agency/iom", "SV-SM", "", "2024-01-01", ""}),
        QueryFingerprint(
            {"spiffe://enlace/agency/iom", "SV-SS", "", "2024-01-01", "2024-12-31"})}) {
    EXPECT_THAT(tokens_.Decode(token, other),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  }
}

// Finding: resume tokens could be built by anyone from public strings. A
// token laid out exactly as ours but signed with any other key, or with no
// key at all, is refused.
TEST_F(PageTokenTest, FabricatedTokensAreRefused) {
  const std::string fp = Fingerprint();
  // An attacker's own key ring, with the same key ids as ours.
  std::unique_ptr<TokenKeys> forger_keys = Keys(
      "k2 AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n"
      "k1 BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=\n");
  PageTokens forger(forger_keys.get());
  EXPECT_THAT(tokens_.Decode(forger.Encode(0, fp), fp, "resume_token"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("resume_token")));
  std::unique_ptr<TokenKeys> ephemeral = TokenKeys::Ephemeral();
  EXPECT_THAT(tokens_.Decode(PageTokens(ephemeral.get()).Encode(0, fp), fp),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  // The unkeyed layout of the tokens this server issued before they were signed.
  std::string old_layout = "v1";
  old_layout.append(8, '\0');
  old_layout += fp.substr(0, 12);
  EXPECT_THAT(tokens_.Decode(absl::WebSafeBase64Escape(old_layout), fp),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST_F(PageTokenTest, EveryBitFlipIsRefused) {
  const std::string fp = Fingerprint();
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(tokens_.Encode(42, fp), &raw));
  for (size_t byte = 0; byte < raw.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string altered = raw;
      altered[byte] ^= static_cast<char>(1 << bit);
      absl::StatusOr<int64_t> decoded = tokens_.Decode(absl::WebSafeBase64Escape(altered), fp);
      EXPECT_THAT(decoded, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")))
          << "byte " << byte << " bit " << bit;
    }
  }
}

TEST_F(PageTokenTest, MalformedTokensAreRefused) {
  const std::string fp = Fingerprint();
  const std::string good = tokens_.Encode(42, fp);
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(good, &raw));
  const std::vector<std::string> tokens = {
      "garbage!",  // not base64url
      "%%%%",  // not base64url
      "a",  // impossible length
      "UA",  // the kind byte only
      good.substr(0, good.size() - 1),  // truncated by a character
      good.substr(0, good.size() / 2),  // truncated by half
      good + "AAAA",  // three bytes too many
      absl::WebSafeBase64Escape(raw.substr(0, raw.size() - 1)),  // one byte short
      absl::WebSafeBase64Escape(raw + "x"),  // one byte long
      absl::WebSafeBase64Escape(std::string(30, '\0')),  // zeros
      tokens_.EncodeKey("42", fp),  // a key token, not a position
  };
  for (const std::string& token : tokens) {
    SCOPED_TRACE(token);
    EXPECT_THAT(tokens_.Decode(token, fp),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  }
}

TEST(TokenKeysTest, RotationKeepsOldTokensUntilTheirKeyIsDropped) {
  const std::string fp = Fingerprint();
  std::unique_ptr<TokenKeys> before = Keys("k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n");
  const std::string token = PageTokens(before.get()).Encode(7, fp);
  // k2 added in front: new tokens are signed by k2, k1's still verify.
  std::unique_ptr<TokenKeys> during = Keys();
  PageTokens rotating(during.get());
  absl::StatusOr<int64_t> decoded = rotating.Decode(token, fp);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, 7);
  const std::string fresh = rotating.Encode(8, fp);
  EXPECT_THAT(PageTokens(before.get()).Decode(fresh, fp),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no longer holds")));
  // k1 dropped: its tokens are refused, k2's still work.
  std::unique_ptr<TokenKeys> after = Keys("k2 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n");
  EXPECT_THAT(PageTokens(after.get()).Decode(token, fp),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no longer holds")));
  decoded = PageTokens(after.get()).Decode(fresh, fp);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, 8);
}

TEST(TokenKeysTest, BadKeyFilesAreRefusedNamingTheLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no key"},
      {"# only a comment\n", "no key"},
      {"k1\n", "line 1"},
      {"k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= extra\n", "line 1"},
      {"# c\nk1 c2hvcnQ=\n", "line 2: the secret must be base64 of at least 32 bytes"},
      {"k1 not*base64\n", "line 1"},
      {"bad/id AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n", "line 1: a key id"},
      {"k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
       "k1 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n",
       "line 2: key id k1 appears twice"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    EXPECT_THAT(TokenKeys::Parse(text).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)));
  }
}

TEST(QueryFingerprintTest, IsDeterministic) {
  EXPECT_EQ(Fingerprint(), Fingerprint());
  EXPECT_FALSE(Fingerprint().empty());
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
