// AgreementStore on MySQL 8 / MariaDB 10.11 (table `sharing_agreements`,
// db/migrations/0015_sharing_agreements.sql).
#ifndef ENLACE_DB_MYSQL_AGREEMENT_STORE_H_
#define ENLACE_DB_MYSQL_AGREEMENT_STORE_H_

#include "db/agreement_store.h"
#include "db/mysql_pool.h"

namespace enlace::db {

// Whether an agreement between `party_a` and `party_b` is in force today
// (UTC) and covers a purpose of `purposes_mask`; true when they are the same
// organisation. The check of one pair, in `conn`'s transaction (a write
// decided on it: a referral, a case); queries over many rows use
// AgreementInForceSql() (db/visibility.h), the same rule.
bool AgreementInForce(MysqlConnection& conn, absl::string_view party_a, absl::string_view party_b,
                      uint32_t purposes_mask);

class MysqlAgreementStore final : public AgreementStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlAgreementStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<SharingAgreementRecord> Register(const SharingAgreementRecord& agreement,
                                                  AuditRecord* audit) override;
  absl::StatusOr<std::vector<SharingAgreementRecord>> List(const AgreementQuery& query) override;
  absl::StatusOr<std::vector<SharingAgreementRecord>> NotEndedOnOrAfter(
      absl::string_view date) override;
  absl::StatusOr<SharingAgreementRecord> End(const std::string& agreement_id,
                                             const std::string& ended_by, const std::string& reason,
                                             AuditRecord* audit) override;

 private:
  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_AGREEMENT_STORE_H_
