// PersonStore on MySQL 8 / MariaDB 10.11 (schema: db/migrations/
// 0014_persons.sql). Candidates come from two indexed lookups (document
// number; birth date and its swap) filtered by ArrivalStore's visibility
// condition; a link or unlink locks the named arrivals, writes its decisions,
// walks the links from them under lock and gives each resulting group one
// person_id, all in one transaction. Links and unlinks run one at a time
// (they take one lock row first): they are rare, and a walk over links that
// another transaction is changing would otherwise deadlock or go stale.
#ifndef ENLACE_DB_MYSQL_PERSON_STORE_H_
#define ENLACE_DB_MYSQL_PERSON_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "db/mysql_pool.h"
#include "db/person_store.h"

namespace enlace::db {

// The query CandidatesFor() runs for one rule (by document number, or by
// birth date and its swap), and its binding. Exposed so that a test can
// EXPLAIN it (tests/db/person_store_test.cc).
std::string PersonCandidatesSql(bool by_document);
void BindPersonCandidates(sql::PreparedStatement* statement, bool by_document,
                          const std::string& document_number, const std::string& birth_date,
                          const std::string& swapped_birth_date, int64_t subject_seq,
                          const std::string& subject_person, const Viewer& viewer);

// Takes the one lock every link and unlink takes first, so that they run
// one at a time; an erasure takes it too, so that the person it erases
// (every arrival linked to the one named) cannot change under it.
void LockPersonLinks(MysqlConnection& c);

class MysqlPersonStore final : public PersonStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlPersonStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<DuplicateCandidates> CandidatesFor(const std::string& arrival_id,
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
