// SharingAgreementBook: which flows the agreements in memory allow on a day,
// and which agencies a refresh finds lost a flow (what ends their open
// feeds). The store is an in-test fake behind db::AgreementStore; the MySQL
// store and the SQL form of the rule are tested end to end
// (tests/e2e/sharing_agreements_e2e_test.cc).
#include "server/sharing_agreements.h"

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "enlace/v1/admin.pb.h"
#include "enlace/v1/arrivals.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enlace::server {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr uint32_t kReintegration = 1u << enlace::v1::PURPOSE_REINTEGRATION;
constexpr uint32_t kProtection = 1u << enlace::v1::PURPOSE_PROTECTION;

class FakeAgreementStore final : public db::AgreementStore {
 public:
  std::vector<db::SharingAgreementRecord> agreements;
  absl::Status fail;  // when set, every read fails with it

  absl::StatusOr<db::SharingAgreementRecord> Register(const db::SharingAgreementRecord& a,
                                                      db::AuditRecord*) override {
    agreements.push_back(a);
    return a;
  }
  absl::StatusOr<std::vector<db::SharingAgreementRecord>> List(const db::AgreementQuery&) override {
    return agreements;
  }
  absl::StatusOr<std::vector<db::SharingAgreementRecord>> NotEndedOnOrAfter(
      absl::string_view date) override {
    if (!fail.ok()) return fail;
    std::vector<db::SharingAgreementRecord> out;
    for (const db::SharingAgreementRecord& a : agreements) {
      if (a.ended_at_us == 0 && a.valid_until >= date) out.push_back(a);
    }
    return out;
  }
  absl::StatusOr<db::SharingAgreementRecord> End(const std::string& id, const std::string&,
                                                 const std::string&, db::AuditRecord*) override {
    for (db::SharingAgreementRecord& a : agreements) {
      if (a.agreement_id == id) {
        a.ended_at_us = 1;
        return a;
      }
    }
    return absl::NotFoundError(id);
  }
};

db::SharingAgreementRecord Agreement(const std::string& id, const std::string& low,
                                     const std::string& high, uint32_t purposes,
                                     const std::string& from, const std::string& until) {
  db::SharingAgreementRecord a;
  a.agreement_id = id;
  a.party_low = low;
  a.party_high = high;
  a.purposes_mask = purposes;
  a.valid_from = from;
  a.valid_until = until;
  return a;
}

absl::Time On(int y, int m, int d, int hour = 12) {
  return absl::FromCivil(absl::CivilHour(y, m, d, hour), absl::UTCTimeZone());
}

TEST(SharingAgreementBookTest, AllowsAFlowOnlyUnderAnAgreementInForceCoveringThePurpose) {
  FakeAgreementStore store;
  store.agreements = {Agreement("a", "iom", "mfa", kReintegration, "2026-01-01", "2026-06-30"),
                      Agreement("b", "mfa", "undp", kProtection, "2026-03-01", "2026-12-31")};
  SharingAgreementBook book(&store);
  ASSERT_TRUE(book.Refresh(On(2026, 4, 1)).ok());
  const absl::Time april = On(2026, 4, 1);
  EXPECT_TRUE(book.Allows("mfa", "iom", kReintegration, april));  // either order
  EXPECT_TRUE(book.Allows("iom", "mfa", kReintegration | kProtection, april));
  EXPECT_FALSE(book.Allows("iom", "mfa", kProtection, april));  // not covered
  EXPECT_FALSE(book.Allows("iom", "undp", kReintegration, april));  // no agreement
  EXPECT_TRUE(book.Allows("undp", "undp", kReintegration, april));  // itself
  EXPECT_TRUE(book.Allows("undp", "mfa", kProtection, april));
  EXPECT_FALSE(book.Allows("undp", "mfa", kProtection, On(2026, 2, 28, 23)));  // not yet
  // valid_until is inclusive, in UTC days.
  EXPECT_TRUE(book.Allows("iom", "mfa", kReintegration, On(2026, 6, 30, 23)));
  EXPECT_FALSE(book.Allows("iom", "mfa", kReintegration, On(2026, 7, 1, 0)));
  EXPECT_FALSE(book.Allows("iom", "mfa", 0, april));  // no purpose at all
}

TEST(SharingAgreementBookTest, ARefreshNamesTheAgenciesThatLostAFlow) {
  FakeAgreementStore store;
  store.agreements = {
      Agreement("a", "iom", "mfa", kReintegration, "2026-01-01", "2026-06-30"),
      Agreement("b", "iom", "undp", kReintegration | kProtection, "2026-01-01", "2026-12-31"),
      Agreement("c", "mfa", "undp", kReintegration, "2026-01-01", "2026-12-31")};
  SharingAgreementBook book(&store);
  absl::StatusOr<std::vector<std::string>> lost = book.Refresh(On(2026, 4, 1));
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(*lost, IsEmpty());  // the first refresh has nothing to compare with
  EXPECT_EQ(book.LossesOf("iom"), 0u);

  // Nothing changed; a new agreement is a gain, not a loss.
  store.agreements.push_back(
      Agreement("d", "unhcr", "undp", kReintegration, "2026-01-01", "2026-12-31"));
  lost = book.Refresh(On(2026, 4, 2));
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(*lost, IsEmpty());

  // An end: both parties lose.
  ASSERT_TRUE(store.End("c", "ana", "superseded", nullptr).ok());
  lost = book.Refresh(On(2026, 4, 3));
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(*lost, UnorderedElementsAre("mfa", "undp"));
  EXPECT_EQ(book.LossesOf("undp"), 1u);
  EXPECT_EQ(book.LossesOf("unhcr"), 0u);
  EXPECT_FALSE(book.Allows("mfa", "undp", kReintegration, On(2026, 4, 3)));

  // A purpose less: the pair keeps flowing for the rest, but that is a loss.
  store.agreements[1].ended_at_us = 1;
  store.agreements.push_back(
      Agreement("e", "iom", "undp", kReintegration, "2026-01-01", "2026-12-31"));
  lost = book.Refresh(On(2026, 4, 4));
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(*lost, UnorderedElementsAre("iom", "undp"));
  EXPECT_EQ(book.LossesOf("undp"), 2u);

  // Expiry: the day after valid_until, with no change in the store.
  lost = book.Refresh(On(2026, 7, 1, 0));
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(*lost, UnorderedElementsAre("iom", "mfa"));
  EXPECT_EQ(book.LossesOf("iom"), 2u);
}

TEST(SharingAgreementBookTest, AFailedRefreshKeepsWhatWasRead) {
  FakeAgreementStore store;
  store.agreements = {Agreement("a", "iom", "mfa", kReintegration, "2026-01-01", "2026-06-30")};
  SharingAgreementBook book(&store);
  ASSERT_TRUE(book.Refresh(On(2026, 4, 1)).ok());
  store.fail = absl::UnavailableError("database down");
  EXPECT_EQ(book.Refresh(On(2026, 4, 2)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(book.Allows("iom", "mfa", kReintegration, On(2026, 4, 2)));
  // Its dates still count: it expires on time though the store is down.
  EXPECT_FALSE(book.Allows("iom", "mfa", kReintegration, On(2026, 7, 1)));
}

TEST(SharingAgreementBookTest, TheStatusIsJudgedOnTheUtcDay) {
  db::SharingAgreementRecord a =
      Agreement("a", "iom", "mfa", kReintegration, "2026-03-01", "2026-03-31");
  EXPECT_EQ(AgreementStatusOn(a, On(2026, 2, 28, 23)),
            enlace::v1::SHARING_AGREEMENT_STATUS_NOT_YET_IN_FORCE);
  EXPECT_EQ(AgreementStatusOn(a, On(2026, 3, 1, 0)), enlace::v1::SHARING_AGREEMENT_STATUS_IN_FORCE);
  EXPECT_EQ(AgreementStatusOn(a, On(2026, 3, 31, 23)),
            enlace::v1::SHARING_AGREEMENT_STATUS_IN_FORCE);
  EXPECT_EQ(AgreementStatusOn(a, On(2026, 4, 1, 0)), enlace::v1::SHARING_AGREEMENT_STATUS_EXPIRED);
  a.ended_at_us = 5;
  EXPECT_EQ(AgreementStatusOn(a, On(2026, 3, 15)), enlace::v1::SHARING_AGREEMENT_STATUS_ENDED);
  EXPECT_EQ(AgreementDay(On(2026, 3, 15, 23)), "2026-03-15");
}

}  // namespace
}  // namespace enlace::server
