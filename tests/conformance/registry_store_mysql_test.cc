// The RegistryStore conformance suite (registry_store_conformance.h) against
// MysqlRegistryStore on the test MariaDB (a database of its own per test),
// its events in MysqlAuditStore. Layer: db.
#include <memory>

#include "db/mysql_audit_store.h"
#include "db/mysql_registry_store.h"
#include "tests/conformance/registry_store_conformance.h"
#include "tests/testing/test_database.h"

namespace enlace::conformance {
namespace {

class MysqlUnderTest : public RegistryStoreUnderTest {
 public:
  db::RegistryStore* store() override { return &store_; }
  db::AuditStore* audit() override { return &audit_; }
  // The chain head's table gone: every append fails in its transaction.
  void BreakAudit() override {
    database_->Execute("RENAME TABLE audit_chain_head TO audit_chain_head_gone");
  }

 private:
  std::unique_ptr<testing::TestDatabase> database_ = testing::TestDatabase::Create();
  db::MysqlAuditStore audit_{&database_->pool()};
  db::MysqlRegistryStore store_{&database_->pool()};
};

INSTANTIATE_TEST_SUITE_P(Mysql, RegistryStoreConformanceTest,
                         ::testing::Values(RegistryStoreImpl{
                             "mysql", [] { return std::make_unique<MysqlUnderTest>(); }}),
                         RegistryStoreImplName);

}  // namespace
}  // namespace enlace::conformance
