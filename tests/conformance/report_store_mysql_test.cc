// The ReportStore conformance suite (report_store_conformance.h) against
// MysqlReportStore on the test MariaDB (a database of its own per test), its
// records made by MysqlArrivalStore and MysqlCaseStore, which keep the
// report's grid cells. Layer: db.
#include <memory>

#include "db/mysql_arrival_store.h"
#include "db/mysql_case_store.h"
#include "db/mysql_report_store.h"
#include "tests/conformance/report_store_conformance.h"
#include "tests/testing/test_database.h"

namespace enlace::conformance {
namespace {

class MysqlUnderTest : public ReportStoreUnderTest {
 public:
  db::ReportStore* store() override { return &store_; }
  db::CaseStore* cases() override { return &cases_; }
  std::string AddArrival(const enlace::v1::Arrival& arrival,
                         const std::string& submitter) override {
    db::NewArrival item{arrival, submitter};
    absl::StatusOr<std::vector<db::RecordResult>> results = arrivals_.RecordBatch({&item, 1});
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() && results->size() == 1 ? (*results)[0].arrival_id : "";
  }

 private:
  std::unique_ptr<testing::TestDatabase> database_ = testing::TestDatabase::Create();
  db::MysqlArrivalStore arrivals_{&database_->pool()};
  db::MysqlCaseStore cases_{&database_->pool()};
  db::MysqlReportStore store_{&database_->pool()};
};

INSTANTIATE_TEST_SUITE_P(Mysql, ReportStoreConformanceTest,
                         ::testing::Values(ReportStoreImpl{
                             "mysql", [] { return std::make_unique<MysqlUnderTest>(); }}),
                         ReportStoreImplName);

}  // namespace
}  // namespace enlace::conformance
