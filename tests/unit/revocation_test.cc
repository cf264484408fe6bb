// RevocationList against a fake RegistryStore: revoked serials are refused,
// newly revoked ones are reported once, and a list that cannot be refreshed
// fails closed after max_staleness. Time is passed in, never read.
#include "server/revocation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace enlace::server {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Only ListRevoked is used by RevocationList; the rest is not reachable here.
class FakeRegistryStore : public db::RegistryStore {
 public:
  std::vector<db::RevokedSerial> revoked;
  absl::Status next_error;

  absl::StatusOr<std::vector<db::RevokedSerial>> ListRevoked() override {
    if (!next_error.ok()) return next_error;
    return revoked;
  }
  absl::StatusOr<db::AgencyRecord> RegisterAgency(const std::string&, const std::string&,
                                                  db::AuditRecord*) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::vector<db::AgencyRecord>> ListAgencies(const std::string&, int) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<bool> AgencyExists(const std::string&) override {
    return absl::UnimplementedError("fake");
  }
  absl::Status AddCertificate(const db::CertificateRecord&, db::AuditRecord*) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<db::CertificateRecord> GetCertificate(const std::string&) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::vector<db::CertificateRecord>> ListCertificates(
      const db::CertificateQuery&) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<db::CertificateRecord> RevokeCertificate(const std::string&, const std::string&,
                                                          const std::string&,
                                                          db::AuditRecord*) override {
    return absl::UnimplementedError("fake");
  }
};

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

TEST(RevocationListTest, RefusesEverythingUntilFirstLoaded) {
  FakeRegistryStore store;
  RevocationList list(&store, absl::Seconds(5));
  EXPECT_THAT(list.Check("abc", kStart), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(RevocationListTest, RevokedSerialsAreUnauthenticatedOthersPass) {
  FakeRegistryStore store;
  store.revoked = {{"a1", 1}, {"b2", 2}};
  RevocationList list(&store, absl::Seconds(5));
  absl::StatusOr<std::vector<std::string>> newly = list.Refresh(kStart, nullptr);
  ASSERT_TRUE(newly.ok());
  EXPECT_THAT(*newly, UnorderedElementsAre("a1", "b2"));
  EXPECT_THAT(list.Check("a1", kStart), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(list.Check("c3", kStart).ok());
}

TEST(RevocationListTest, ReportsOnlyNewlyRevokedSerials) {
  FakeRegistryStore store;
  store.revoked = {{"a1", 1}};
  RevocationList list(&store, absl::Seconds(5));
  ASSERT_TRUE(list.Refresh(kStart, nullptr).ok());
  store.revoked.push_back({"c3", 3});
  std::vector<db::RevokedSerial> all;
  absl::StatusOr<std::vector<std::string>> newly = list.Refresh(kStart + absl::Seconds(1), &all);
  ASSERT_TRUE(newly.ok());
  EXPECT_THAT(*newly, ElementsAre("c3"));
  EXPECT_EQ(all.size(), 2u);
  newly = list.Refresh(kStart + absl::Seconds(2), nullptr);
  ASSERT_TRUE(newly.ok());
  EXPECT_THAT(*newly, IsEmpty());
}

TEST(RevocationListTest, FailsClosedWhenTheStateGoesStale) {
  FakeRegistryStore store;
  RevocationList list(&store, absl::Seconds(5));
  ASSERT_TRUE(list.Refresh(kStart, nullptr).ok());
  store.next_error = absl::UnavailableError("database down");
  EXPECT_THAT(list.Refresh(kStart + absl::Seconds(3), nullptr),
              StatusIs(absl::StatusCode::kUnavailable));
  // Still within max staleness: the last known state answers.
  EXPECT_TRUE(list.Check("c3", kStart + absl::Seconds(4)).ok());
  // Past it: nothing is let through, revoked or not.
  EXPECT_THAT(list.Check("c3", kStart + absl::Seconds(6)),
              StatusIs(absl::StatusCode::kUnavailable));
  store.next_error = absl::OkStatus();
  ASSERT_TRUE(list.Refresh(kStart + absl::Seconds(7), nullptr).ok());
  EXPECT_TRUE(list.Check("c3", kStart + absl::Seconds(7)).ok());
}

}  // namespace
}  // namespace enlace::server
