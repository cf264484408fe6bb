// PersonStore on MySQL 8 / MariaDB 10.11 (schema: db/migrations/
// 0014_persons.sql). Candidates come from two indexed lookups (document
// number; birth date and its swap) filtered by ArrivalStore's visibility
// condition; a link or unlink locks the named arrivals, writes its decisions,
// walks the links from them under lock and gives each resulting group one
// person_id, all in one transaction.
#ifndef ENLACE_DB_MYSQL_PERSON_STORE_H_
#define ENLACE_DB_MYSQL_PERSON_STORE_H_

#include <string>
#include <vector>

#include "db/mysql_pool.h"
#include "db/person_store.h"

namespace enlace::db {

class MysqlPersonStore final : public PersonStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlPersonStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<std::vector<CandidateArrival>> CandidatesFor(const enlace::v1::Arrival& subject,
                                                              const Viewer& viewer) override;
  absl::StatusOr<PersonGroup> Link(const std::vector<std::string>& arrival_ids,
                                   const std::string& reason, const Viewer& submitter,
                                   AuditRecord* audit) override;
  absl::StatusOr<std::vector<PersonGroup>> Unlink(const std::vector<std::string>& arrival_ids,
                                                  const std::string& reason,
                                                  const Viewer& submitter,
                                                  AuditRecord* audit) override;

 private:
  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_PERSON_STORE_H_
