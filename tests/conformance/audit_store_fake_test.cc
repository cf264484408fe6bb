// The AuditStore conformance suite (audit_store_conformance.h) against the
// in-memory fake (tests/testing/fakes/fake_audit_store.h). Layer: unit.
#include <memory>

#include "tests/conformance/audit_store_conformance.h"
#include "tests/testing/fakes/fake_audit_store.h"

namespace enlace::conformance {
namespace {

class FakeUnderTest : public AuditStoreUnderTest {
 public:
  db::AuditStore* store() override { return &store_; }
  void ChangePrincipal(int64_t seq, const std::string& principal) override {
    store_.Tamper(seq, [&](db::AuditRecord* r) { r->principal = principal; });
  }
  void DeleteEvent(int64_t seq) override { store_.Delete(seq); }

 private:
  testing::FakeAuditStore store_;
};

INSTANTIATE_TEST_SUITE_P(Fake, AuditStoreConformanceTest,
                         ::testing::Values(AuditStoreImpl{
                             "fake", [] { return std::make_unique<FakeUnderTest>(); }}),
                         AuditStoreImplName);

}  // namespace
}  // namespace enlace::conformance
