// CaseStore on MySQL 8 / MariaDB 10.11 (schema: db/migrations/0003_*.sql).
#ifndef ENLACE_DB_MYSQL_CASE_STORE_H_
#define ENLACE_DB_MYSQL_CASE_STORE_H_

#include <string>

#include "db/case_store.h"
#include "db/mysql_pool.h"
#include "db/returnee_store.h"

namespace enlace::db {

// The query ListCases() runs, and how it binds it (`rows`: the page size
// plus one). Exposed so that a test can EXPLAIN it (tests/db/query_plan_test.cc).
std::string CaseListSql(const CaseFilter& filter);
void BindCaseList(sql::PreparedStatement* statement, const CaseFilter& filter, const Viewer& viewer,
                  int64_t after, int rows);
// Likewise for ListReferrals() and ListInitiatives() (`by_municipality`:
// the municipality filter is set).
std::string ReferralListSql(const ReferralFilter& filter);
void BindReferralList(sql::PreparedStatement* statement, const ReferralFilter& filter,
                      const Viewer& viewer, int64_t after, int rows);
std::string InitiativeListSql(bool by_municipality);
void BindInitiativeList(sql::PreparedStatement* statement, const std::string& municipality,
                        const Viewer& viewer, int64_t after, int rows);

// Privileged: the cases (with their services), referrals and initiatives of
// the arrival `arrival_seq`, every field of each, whatever the consent now
// allows anyone, into `out` (appended). Not part of CaseStore: only
// MysqlReturneeStore reads this way, once it has checked its caller. Runs
// on the caller's connection (inside its transaction); throws
// sql::SQLException like any statement (the pool converts).
void ReadRecordsOfArrival(MysqlConnection& c, int64_t arrival_seq, HeldRecords* out);

class MysqlCaseStore final : public CaseStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlCaseStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<enlace::v1::Case> OpenCase(const std::string& arrival_id,
                                            const std::string& summary, const Viewer& viewer,
                                            AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::Case> GetCase(const std::string& case_id,
                                           const Viewer& viewer) override;
  absl::StatusOr<CasePage> ListCases(const CaseFilter& filter, const Viewer& viewer, int64_t after,
                                     int limit) override;
  absl::StatusOr<enlace::v1::Case> UpdateCase(const enlace::v1::Case& update,
                                              const std::string& etag, const Viewer& viewer,
                                              AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::ServiceRecord> RecordService(
      const enlace::v1::RecordServiceRequest& request, const Viewer& viewer,
      AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::Initiative> RegisterInitiative(
      const enlace::v1::RegisterInitiativeRequest& request, const Viewer& viewer,
      AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::Initiative> UpdateInitiative(const enlace::v1::Initiative& update,
                                                          const std::string& etag,
                                                          const Viewer& viewer,
                                                          AuditRecord* audit) override;
  absl::StatusOr<InitiativePage> ListInitiatives(const std::string& municipality,
                                                 const Viewer& viewer, int64_t after,
                                                 int limit) override;
  absl::Status CheckCaseOwner(const std::string& case_id, const Viewer& viewer) override;
  absl::StatusOr<enlace::v1::Referral> CreateReferral(
      const std::string& case_id, const std::string& to_agency, enlace::v1::Need service,
      const std::string& reason, const Viewer& viewer, AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::Referral> GetReferral(const std::string& referral_id,
                                                   const Viewer& viewer) override;
  absl::StatusOr<ReferralPage> ListReferrals(const ReferralFilter& filter, const Viewer& viewer,
                                             int64_t after, int limit) override;
  absl::StatusOr<enlace::v1::Referral> TransitionReferral(const Transition& transition,
                                                          const Viewer& viewer,
                                                          AuditRecord* audit) override;
  absl::StatusOr<std::vector<FeedEvent>> ReadFeed(int64_t after_seq, int64_t up_to_seq,
                                                  const std::string& agency, int limit) override;
  absl::StatusOr<int64_t> FeedHead() override;

 private:
  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_CASE_STORE_H_
