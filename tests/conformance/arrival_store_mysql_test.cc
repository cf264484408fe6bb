// The ArrivalStore conformance suite (arrival_store_conformance.h) against
// MysqlArrivalStore on the test MariaDB (a database of its own per test),
// its events going to the same database's MysqlAuditStore. Layer: db.
#include <memory>

#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"
#include "tests/conformance/arrival_store_conformance.h"
#include "tests/testing/test_database.h"

namespace enlace::conformance {
namespace {

class MysqlUnderTest : public ArrivalStoreUnderTest {
 public:
  db::ArrivalStore* store() override { return &store_; }
  db::AuditStore* audit() override { return &audit_; }
  void BreakAudit(bool broken) override {
    database_->Execute(broken ? "RENAME TABLE audit_events TO audit_events_away"
                              : "RENAME TABLE audit_events_away TO audit_events");
  }

 private:
  std::unique_ptr<testing::TestDatabase> database_ = testing::TestDatabase::Create();
  db::MysqlAuditStore audit_{&database_->pool()};
  db::MysqlArrivalStore store_{&database_->pool()};
};

INSTANTIATE_TEST_SUITE_P(Mysql, ArrivalStoreConformanceTest,
                         ::testing::Values(ArrivalStoreImpl{
                             "mysql", [] { return std::make_unique<MysqlUnderTest>(); }}),
                         ArrivalStoreImplName);

}  // namespace
}  // namespace enlace::conformance
