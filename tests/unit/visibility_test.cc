// The visibility rule (db/visibility.h) as a table: for each kind of record,
// which purposes let a named agency reach it; an agency not named reaches
// nothing whatever the purposes. The SQL form is checked against MariaDB by
// the store and end-to-end tests; here, that it carries exactly one
// placeholder and the same purposes.
#include "db/visibility.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enlace::db {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t R = 1u << enlace::v1::PURPOSE_REINTEGRATION;
constexpr uint32_t P = 1u << enlace::v1::PURPOSE_PROTECTION;
constexpr uint32_t S = 1u << enlace::v1::PURPOSE_STATISTICS;

ConsentState Naming(std::vector<std::string> agencies, uint32_t purposes) {
  return ConsentState{1, std::move(agencies), purposes};
}

struct Row {
  Reach reach;
  uint32_t purposes;
  bool allowed;
};

TEST(VisibilityTest, PurposesDecideWhatANamedAgencyReaches) {
  const Row rows[] = {
      // The arrival's record: REINTEGRATION or PROTECTION.
      {Reach::kArrivalRecord, R, true},
      {Reach::kArrivalRecord, P, true},
      {Reach::kArrivalRecord, S, false},
      {Reach::kArrivalRecord, R | S, true},
      {Reach::kArrivalRecord, P | S, true},
      {Reach::kArrivalRecord, 0, false},
      // Cases, referrals, initiatives: REINTEGRATION only.
      {Reach::kCase, R, true},
      {Reach::kCase, P, false},
      {Reach::kCase, S, false},
      {Reach::kCase, P | S, false},
      {Reach::kReferral, R, true},
      {Reach::kReferral, P, false},
      {Reach::kReferral, S, false},
      {Reach::kReferral, R | P | S, true},
      {Reach::kInitiative, R, true},
      {Reach::kInitiative, P, false},
      {Reach::kInitiative, S, false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(testing::Message()
                 << "reach " << static_cast<int>(row.reach) << " purposes " << row.purposes);
    EXPECT_EQ(ConsentAllows(row.reach, "undp", Naming({"iom", "undp"}, row.purposes)), row.allowed);
    // Not named: never, whatever the purposes.
    EXPECT_FALSE(ConsentAllows(row.reach, "unhcr", Naming({"iom", "undp"}, row.purposes)));
  }
}

TEST(VisibilityTest, StatisticsAllowsNoRecordAtAll) {
  for (Reach reach : {Reach::kArrivalRecord, Reach::kCase, Reach::kReferral, Reach::kInitiative}) {
    EXPECT_EQ(PurposesAllowing(reach) & S, 0u);
  }
}

TEST(VisibilityTest, NobodyAndAnEmptyConsentReachNothing) {
  EXPECT_FALSE(ConsentAllows(Reach::kCase, "", Naming({""}, R)));
  EXPECT_FALSE(ConsentAllows(Reach::kCase, "iom", Naming({}, R)));
  EXPECT_FALSE(ConsentAllows(Reach::kCase, "io", Naming({"iom"}, R)));  // whole codes only
}

TEST(VisibilityTest, TheSqlFormHasOnePlaceholderAndTheSamePurposes) {
  for (Reach reach : {Reach::kArrivalRecord, Reach::kCase, Reach::kReferral, Reach::kInitiative}) {
    std::string sql =
        ConsentAllowsSql(reach, "c.arrival_seq", "a.consent_purposes_mask", "a.submitted_by");
    EXPECT_EQ(std::count(sql.begin(), sql.end(), '?'), 1) << sql;
    EXPECT_THAT(sql,
                HasSubstr(absl::StrCat("a.consent_purposes_mask & ", PurposesAllowing(reach))));
    EXPECT_THAT(sql, HasSubstr("v.arrival_seq = c.arrival_seq AND v.agency_code = ?"));
  }
}

TEST(VisibilityTest, PurposesMaskOfSetsOneBitPerPurpose) {
  EXPECT_EQ(PurposesMaskOf({enlace::v1::PURPOSE_REINTEGRATION, enlace::v1::PURPOSE_STATISTICS}),
            R | S);
  EXPECT_EQ(PurposesMaskOf({}), 0u);
}

}  // namespace
}  // namespace enlace::db
