// AgencyDirectory (server/agency_directory.h) over the in-memory registry
// (tests/testing/fakes/fake_registry_store.h, held to MysqlRegistryStore by
// its conformance suite): the founding agencies are known, a code the cache
// lacks reloads it (at most once per min_refresh), and a registry that
// cannot be read leaves the cache as it was: known codes stay known, nothing
// new is accepted. No clock is waited on: min_refresh is zero (reload on
// every miss) or an hour (no reload within the test).
#include "server/agency_directory.h"

#include "gtest/gtest.h"
#include "tests/testing/fakes/fake_registry_store.h"

namespace enlace::server {
namespace {

using ::enlace::testing::FakeRegistryStore;

TEST(AgencyDirectoryTest, KnowsTheRegisteredAgenciesAndNothingElse) {
  FakeRegistryStore registry;
  AgencyDirectory directory(&registry, absl::ZeroDuration());
  for (const char* code : {"mfa", "iom", "unhcr", "undp"})
    EXPECT_TRUE(directory.IsKnown(code)) << code;
  for (const char* code : {"fao", "IOM", "", "iom "}) EXPECT_FALSE(directory.IsKnown(code)) << code;
}

TEST(AgencyDirectoryTest, ANewlyRegisteredAgencyIsKnownAtTheNextReload) {
  FakeRegistryStore registry;
  AgencyDirectory directory(&registry, absl::ZeroDuration());
  EXPECT_FALSE(directory.IsKnown("fao"));
  ASSERT_TRUE(registry.RegisterAgency("fao", "Food and Agriculture Organization", nullptr).ok());
  EXPECT_TRUE(directory.IsKnown("fao"));  // the miss reloads
}

TEST(AgencyDirectoryTest, AMissDoesNotReloadBeforeMinRefresh) {
  FakeRegistryStore registry;
  AgencyDirectory directory(&registry, absl::Hours(1));
  EXPECT_TRUE(directory.IsKnown("iom"));  // the first load
  ASSERT_TRUE(registry.RegisterAgency("fao", "Food and Agriculture Organization", nullptr).ok());
  EXPECT_FALSE(directory.IsKnown("fao"));  // within the hour: the cache answers
  EXPECT_TRUE(directory.IsKnown("undp"));
}

TEST(AgencyDirectoryTest, AnUnreadableRegistryLeavesTheCacheAsItWas) {
  FakeRegistryStore registry;
  AgencyDirectory directory(&registry, absl::ZeroDuration());
  EXPECT_TRUE(directory.IsKnown("iom"));
  ASSERT_TRUE(registry.RegisterAgency("fao", "Food and Agriculture Organization", nullptr).ok());
  registry.FailCalls(absl::UnavailableError("database down"));
  EXPECT_TRUE(directory.IsKnown("iom"));  // cached
  EXPECT_FALSE(directory.IsKnown("fao"));  // registered, but the reload failed
  registry.FailCalls(absl::OkStatus());
  EXPECT_TRUE(directory.IsKnown("fao"));
}

TEST(AgencyDirectoryTest, NothingIsKnownBeforeTheRegistryCouldBeRead) {
  FakeRegistryStore registry;
  registry.FailCalls(absl::UnavailableError("database down"));
  AgencyDirectory directory(&registry, absl::ZeroDuration());
  EXPECT_FALSE(directory.IsKnown("iom"));
  registry.FailCalls(absl::OkStatus());
  EXPECT_TRUE(directory.IsKnown("iom"));
}

}  // namespace
}  // namespace enlace::server
