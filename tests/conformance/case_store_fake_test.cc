// The CaseStore conformance suite (case_store_conformance.h) against the
// in-memory fake (tests/testing/fakes/fake_case_store.h). Layer: unit.
#include <memory>

#include "tests/conformance/case_store_conformance.h"
#include "tests/testing/fakes/fake_audit_store.h"
#include "tests/testing/fakes/fake_case_store.h"

namespace enlace::conformance {
namespace {

class FakeUnderTest : public CaseStoreUnderTest {
 public:
  db::CaseStore* store() override { return &store_; }
  db::AuditStore* audit() override { return &audit_; }
  std::string AddArrival(const enlace::v1::Arrival& arrival,
                         const std::string& submitter) override {
    return store_.AddArrival(arrival, submitter);
  }
  void ChangeConsent(const std::string& arrival_id, const std::string& /*submitter*/,
                     const enlace::v1::Consent& consent) override {
    absl::StatusOr<std::vector<std::string>> withdrawn = store_.ChangeConsent(arrival_id, consent);
    ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  }
  void BreakAudit() override { audit_.FailAppends(absl::InternalError("audit chain unwritable")); }

 private:
  testing::FakeAuditStore audit_;
  testing::FakeCaseStore store_{&audit_};
};

INSTANTIATE_TEST_SUITE_P(Fake, CaseStoreConformanceTest,
                         ::testing::Values(CaseStoreImpl{
                             "fake", [] { return std::make_unique<FakeUnderTest>(); }}),
                         CaseStoreImplName);

}  // namespace
}  // namespace enlace::conformance
