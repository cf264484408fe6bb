// The AuditStore conformance suite (audit_store_conformance.h) against
// MysqlAuditStore on the test MariaDB (a database of its own per test).
// Layer: db.
#include <memory>

#include "absl/strings/str_cat.h"
#include "db/mysql_audit_store.h"
#include "tests/conformance/audit_store_conformance.h"
#include "tests/testing/test_database.h"

namespace enlace::conformance {
namespace {

class MysqlUnderTest : public AuditStoreUnderTest {
 public:
  db::AuditStore* store() override { return &store_; }
  // Values written by the test itself (a fixed principal, a number): no input.
  void ChangePrincipal(int64_t seq, const std::string& principal) override {
    database_->Execute(
        absl::StrCat("UPDATE audit_events SET principal = '", principal, "' WHERE seq = ", seq));
  }
  void DeleteEvent(int64_t seq) override {
    database_->Execute(absl::StrCat("DELETE FROM audit_events WHERE seq = ", seq));
    database_->Execute(absl::StrCat("DELETE FROM audit_event_records WHERE audit_seq = ", seq));
  }

 private:
  std::unique_ptr<testing::TestDatabase> database_ = testing::TestDatabase::Create();
  db::MysqlAuditStore store_{&database_->pool()};
};

INSTANTIATE_TEST_SUITE_P(Mysql, AuditStoreConformanceTest,
                         ::testing::Values(AuditStoreImpl{
                             "mysql", [] { return std::make_unique<MysqlUnderTest>(); }}),
                         AuditStoreImplName);

}  // namespace
}  // namespace enlace::conformance
