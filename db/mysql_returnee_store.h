// ReturneeStore on MySQL 8 / MariaDB 10.11: reads the arrival's consent
// history here and its cases, services, referrals and initiatives through
// mysql_case_store.h's ReadRecordsOfArrival, all in one transaction; erases
// with one UPDATE per table (and per stored version or feed event that needs
// its own value), all in one transaction.
#ifndef ENLACE_DB_MYSQL_RETURNEE_STORE_H_
#define ENLACE_DB_MYSQL_RETURNEE_STORE_H_

#include <string>

#include "absl/time/civil_time.h"
#include "db/mysql_pool.h"
#include "db/returnee_store.h"

namespace enlace::db {

// The birth date an erasure keeps: `arrival`'s month and day in the year
// that keeps the whole years of age on `arrival` (29 February becomes 28
// February in a common year). Exposed for its unit test.
absl::CivilDay ErasedBirthDate(absl::CivilDay birth, absl::CivilDay arrival);

class MysqlReturneeStore final : public ReturneeStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlReturneeStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<HeldRecords> HeldAbout(const std::string& arrival_id,
                                        const Viewer& submitter) override;
  absl::StatusOr<Erasure> Erase(const std::string& arrival_id, const std::string& reason,
                                const Viewer& submitter, AuditRecord* audit) override;
  absl::StatusOr<int> EraseExpired(const RetentionYears& years, absl::Time now, int limit,
                                   AuditRecord* audit) override;

 private:
  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_RETURNEE_STORE_H_
