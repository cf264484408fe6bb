// The RegistryStore conformance suite (registry_store_conformance.h) against
// the in-memory fake (tests/testing/fakes/fake_registry_store.h). Layer: unit.
#include <memory>

#include "tests/conformance/registry_store_conformance.h"
#include "tests/testing/fakes/fake_audit_store.h"
#include "tests/testing/fakes/fake_registry_store.h"

namespace enlace::conformance {
namespace {

class FakeUnderTest : public RegistryStoreUnderTest {
 public:
  db::RegistryStore* store() override { return &store_; }
  db::AuditStore* audit() override { return &audit_; }
  void BreakAudit() override { audit_.FailAppends(absl::InternalError("audit chain unwritable")); }

 private:
  testing::FakeAuditStore audit_;
  testing::FakeRegistryStore store_{&audit_};
};

INSTANTIATE_TEST_SUITE_P(Fake, RegistryStoreConformanceTest,
                         ::testing::Values(RegistryStoreImpl{
                             "fake", [] { return std::make_unique<FakeUnderTest>(); }}),
                         RegistryStoreImplName);

}  // namespace
}  // namespace enlace::conformance
