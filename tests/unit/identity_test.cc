// Tests of Enlace SPIFFE IDs (auth/identity.h): what ParseSpiffeId accepts,
// everything close to it that it must refuse, and printing back.
#include "auth/identity.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace enlace::auth {
namespace {

using ::enlace::testing::StatusIs;

TEST(ParseSpiffeIdTest, AcceptsAgency) {
  absl::StatusOr<Principal> principal = ParseSpiffeId("spiffe://enlace/agency/iom");
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->kind, PrincipalKind::kAgency);
  EXPECT_TRUE(principal->is_agency());
  EXPECT_FALSE(principal->is_admin());
  EXPECT_EQ(principal->name, "iom");
}

TEST(ParseSpiffeIdTest, AcceptsAdmin) {
  absl::StatusOr<Principal> principal = ParseSpiffeId("spiffe://enlace/admin/ana");
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->kind, PrincipalKind::kAdmin);
  EXPECT_TRUE(principal->is_admin());
  EXPECT_FALSE(principal->is_agency());
  EXPECT_EQ(principal->name, "ana");
}

TEST(ParseSpiffeIdTest, AcceptsTheWholeNameAlphabet) {
  // [a-z][a-z0-9_-]{0,31}: one letter, and the longest, 32 characters.
  const std::string longest = "a" + std::string(21, 'z') + "0123456789";
  ASSERT_EQ(longest.size(), 32u);
  for (const std::string& name : {std::string("a"), std::string("un-hcr_2"), longest}) {
    SCOPED_TRACE(name);
    absl::StatusOr<Principal> principal = ParseSpiffeId("spiffe://enlace/agency/" + name);
    ASSERT_TRUE(principal.ok()) << principal.status();
    EXPECT_EQ(principal->name, name);
  }
}

// Each of these is refused with InvalidArgument.
class ParseSpiffeIdRefusesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseSpiffeIdRefusesTest, InvalidArgument) {
  EXPECT_THAT(ParseSpiffeId(GetParam()), StatusIs(absl::StatusCode::kInvalidArgument));
}

INSTANTIATE_TEST_SUITE_P(
    NearMisses, ParseSpiffeIdRefusesTest,
    ::testing::Values(
        // Another trust domain, or one that merely starts like ours.
        "spiffe://other/agency/iom", "spiffe://enlace.evil/agency/iom",
        "spiffe://enlacex/agency/iom",
        // Another path or a deeper one.
        "spiffe://enlace/user/iom", "spiffe://enlace/agency/iom/x", "spiffe://enlace/admin/ana/x",
        "spiffe://enlace//agency/iom", "spiffe://enlace/agency", "spiffe://enlace/admin",
        // Upper case anywhere.
        "spiffe://enlace/agency/IOM", "spiffe://enlace/agency/Iom", "SPIFFE://enlace/agency/iom",
        "spiffe://ENLACE/agency/iom", "spiffe://enlace/Agency/iom",
        // Empty name, trailing slash.
        "spiffe://enlace/agency/", "spiffe://enlace/admin/", "spiffe://enlace/agency/iom/",
        // 33 characters.
        "spiffe://enlace/agency/" + std::string(33, 'a'),
        "spiffe://enlace/admin/" + std::string(33, 'a'),
        // Names must start with a letter.
        "spiffe://enlace/agency/1om", "spiffe://enlace/agency/-iom", "spiffe://enlace/agency/_iom",
        // Queries, fragments, other characters.
        "spiffe://enlace/agency/iom?x=1", "spiffe://enlace/agency/iom#x",
        "spiffe://enlace/agency/i.om", "spiffe://enlace/agency/i om", "spiffe://enlace/agency/iom ",
        " spiffe://enlace/agency/iom", std::string("spiffe://enlace/agency/iom\0x", 28),
        // Another scheme, or nothing.
        "http://enlace/agency/iom", "https://enlace/agency/iom", "enlace/agency/iom", ""));

TEST(PrincipalTest, SpiffeIdRoundTrips) {
  for (const char* id : {"spiffe://enlace/agency/iom", "spiffe://enlace/agency/unhcr",
                         "spiffe://enlace/admin/ana", "spiffe://enlace/admin/a-b_9"}) {
    SCOPED_TRACE(id);
    absl::StatusOr<Principal> principal = ParseSpiffeId(id);
    ASSERT_TRUE(principal.ok()) << principal.status();
    EXPECT_EQ(principal->SpiffeId(), id);
    absl::StatusOr<Principal> again = ParseSpiffeId(principal->SpiffeId());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, *principal);
  }
}

TEST(PrincipalTest, SpiffeIdOfBuiltPrincipals) {
  EXPECT_EQ((Principal{PrincipalKind::kAgency, "mfa"}).SpiffeId(), "spiffe://enlace/agency/mfa");
  EXPECT_EQ((Principal{PrincipalKind::kAdmin, "ana"}).SpiffeId(), "spiffe://enlace/admin/ana");
}

TEST(PrincipalTest, PolicyName) {
  EXPECT_EQ((Principal{PrincipalKind::kAgency, "iom"}).PolicyName(), "agency:iom");
  EXPECT_EQ((Principal{PrincipalKind::kAdmin, "ana"}).PolicyName(), "admin:ana");
}

TEST(PrincipalTest, EqualityComparesKindAndName) {
  EXPECT_EQ((Principal{PrincipalKind::kAgency, "iom"}), (Principal{PrincipalKind::kAgency, "iom"}));
  EXPECT_FALSE((Principal{PrincipalKind::kAgency, "ana"}) ==
               (Principal{PrincipalKind::kAdmin, "ana"}));
  EXPECT_FALSE((Principal{PrincipalKind::kAgency, "iom"}) ==
               (Principal{PrincipalKind::kAgency, "undp"}));
}

TEST(IsValidNameTest, Boundaries) {
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_TRUE(IsValidName(std::string(32, 'a')));
  EXPECT_FALSE(IsValidName(std::string(33, 'a')));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("9a"));
  EXPECT_FALSE(IsValidName("aB"));
  EXPECT_FALSE(IsValidName("a/b"));
  EXPECT_FALSE(IsValidName("*"));
}

}  // namespace
}  // namespace enlace::auth
