// The ArrivalStore conformance suite (arrival_store_conformance.h) against
// the in-memory fake (tests/testing/fakes/fake_arrival_store.h), its events
// going to a FakeAuditStore. Layer: unit.
#include <memory>

#include "tests/conformance/arrival_store_conformance.h"
#include "tests/testing/fakes/fake_arrival_store.h"
#include "tests/testing/fakes/fake_audit_store.h"

namespace enlace::conformance {
namespace {

class FakeUnderTest : public ArrivalStoreUnderTest {
 public:
  db::ArrivalStore* store() override { return &store_; }
  db::AuditStore* audit() override { return &audit_; }
  void BreakAudit(bool broken) override {
    audit_.FailAppends(broken ? absl::InternalError("audit_events is gone") : absl::OkStatus());
  }

 private:
  testing::FakeAuditStore audit_;
  testing::FakeArrivalStore store_{&audit_};
};

INSTANTIATE_TEST_SUITE_P(Fake, ArrivalStoreConformanceTest,
                         ::testing::Values(ArrivalStoreImpl{
                             "fake", [] { return std::make_unique<FakeUnderTest>(); }}),
                         ArrivalStoreImplName);

}  // namespace
}  // namespace enlace::conformance
