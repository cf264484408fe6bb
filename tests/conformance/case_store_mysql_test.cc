// The CaseStore conformance suite (case_store_conformance.h) against
// MysqlCaseStore on the test MariaDB (a database of its own per test), its
// arrivals recorded and their consent changed by MysqlArrivalStore, its
// events in MysqlAuditStore. Layer: db.
#include <memory>

#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_case_store.h"
#include "tests/conformance/case_store_conformance.h"
#include "tests/testing/test_database.h"

namespace enlace::conformance {
namespace {

class MysqlUnderTest : public CaseStoreUnderTest {
 public:
  db::CaseStore* store() override { return &store_; }
  db::AuditStore* audit() override { return &audit_; }
  std::string AddArrival(const enlace::v1::Arrival& arrival,
                         const std::string& submitter) override {
    db::NewArrival item{arrival, submitter};
    absl::StatusOr<std::vector<db::RecordResult>> results = arrivals_.RecordBatch({&item, 1});
    EXPECT_TRUE(results.ok()) << results.status();
    if (!results.ok() || results->size() != 1) return "";
    EXPECT_EQ((*results)[0].outcome, enlace::v1::OUTCOME_CREATED);
    return (*results)[0].arrival_id;
  }
  void ChangeConsent(const std::string& arrival_id, const std::string& submitter,
                     const enlace::v1::Consent& consent) override {
    absl::StatusOr<enlace::v1::Arrival> updated =
        arrivals_.UpdateConsent(arrival_id, consent, db::Viewer{submitter}, nullptr);
    ASSERT_TRUE(updated.ok()) << updated.status();
  }
  // The chain head's table gone: every append fails in its transaction.
  void BreakAudit() override {
    database_->Execute("RENAME TABLE audit_chain_head TO audit_chain_head_gone");
  }

 private:
  std::unique_ptr<testing::TestDatabase> database_ = testing::TestDatabase::Create();
  db::MysqlArrivalStore arrivals_{&database_->pool()};
  db::MysqlAuditStore audit_{&database_->pool()};
  db::MysqlCaseStore store_{&database_->pool()};
};

INSTANTIATE_TEST_SUITE_P(Mysql, CaseStoreConformanceTest,
                         ::testing::Values(CaseStoreImpl{
                             "mysql", [] { return std::make_unique<MysqlUnderTest>(); }}),
                         CaseStoreImplName);

}  // namespace
}  // namespace enlace::conformance
