// The ReportStore conformance suite (report_store_conformance.h) against the
// in-memory fake (tests/testing/fakes/fake_report_store.h) over
// FakeCaseStore's records. Layer: unit.
#include <memory>

#include "tests/conformance/report_store_conformance.h"
#include "tests/testing/fakes/fake_case_store.h"
#include "tests/testing/fakes/fake_report_store.h"

namespace enlace::conformance {
namespace {

class FakeUnderTest : public ReportStoreUnderTest {
 public:
  db::ReportStore* store() override { return &store_; }
  db::CaseStore* cases() override { return &cases_; }
  std::string AddArrival(const enlace::v1::Arrival& arrival,
                         const std::string& submitter) override {
    return cases_.AddArrival(arrival, submitter);
  }

 private:
  testing::FakeCaseStore cases_;
  testing::FakeReportStore store_{&cases_};
};

INSTANTIATE_TEST_SUITE_P(Fake, ReportStoreConformanceTest,
                         ::testing::Values(ReportStoreImpl{
                             "fake", [] { return std::make_unique<FakeUnderTest>(); }}),
                         ReportStoreImplName);

}  // namespace
}  // namespace enlace::conformance
