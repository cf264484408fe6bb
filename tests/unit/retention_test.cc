// enlace-server --retention_years (server/retention.h, ParseRetentionYears):
// the defaults, what a spec changes, and each malformed item refused naming
// it.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/retention.h"
#include "tests/testing/status_matchers.h"

namespace enlace::server {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseRetentionYearsTest, AnEmptySpecKeepsTheDefaults) {
  absl::StatusOr<db::RetentionYears> years = ParseRetentionYears("");
  ASSERT_TRUE(years.ok()) << years.status();
  EXPECT_EQ(years->reintegration, 10);
  EXPECT_EQ(years->protection, 15);
  EXPECT_EQ(years->statistics, 5);
  EXPECT_EQ(years->none, 5);
}

TEST(ParseRetentionYearsTest, EachPurposeGivenReplacesItsDefaultOnly) {
  absl::StatusOr<db::RetentionYears> years =
      ParseRetentionYears(" statistics = 2 , none=1,reintegration=100");
  ASSERT_TRUE(years.ok()) << years.status();
  EXPECT_EQ(years->reintegration, 100);
  EXPECT_EQ(years->protection, 15);
  EXPECT_EQ(years->statistics, 2);
  EXPECT_EQ(years->none, 1);
}

TEST(ParseRetentionYearsTest, RefusesEachMalformedItemNamingIt) {
  struct Bad {
    const char* spec;
    const char* named;
  };
  const Bad cases[] = {
      {"health=3", "\"health=3\": unknown purpose"},
      {"statistics", "\"statistics\": the years must be"},
      {"statistics=", "\"statistics=\": the years must be"},
      {"statistics=0", "\"statistics=0\": the years must be"},
      {"statistics=101", "\"statistics=101\": the years must be"},
      {"statistics=-5", "\"statistics=-5\": the years must be"},
      {"statistics=2.5", "\"statistics=2.5\": the years must be"},
      {"statistics=2,statistics=3", "statistics is given twice"},
  };
  for (const Bad& bad : cases) {
    absl::StatusOr<db::RetentionYears> years = ParseRetentionYears(bad.spec);
    EXPECT_THAT(years.status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(bad.named)))
        << bad.spec;
    EXPECT_THAT(std::string(years.status().message()), HasSubstr("retention_years"));
  }
}

}  // namespace
}  // namespace enlace::server
