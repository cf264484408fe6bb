// ArrivalStore on MySQL 8 / MariaDB 10.11 (schema: db/migrations/).
// Batches become multi-row INSERTs in one transaction; statement shapes are
// bounded (rows are written in chunks of 256, 64, 16, 4 and 1) so that every
// connection prepares a handful of statements once and reuses them.
#ifndef ENLACE_DB_MYSQL_ARRIVAL_STORE_H_
#define ENLACE_DB_MYSQL_ARRIVAL_STORE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "db/arrival_store.h"
#include "db/mysql_pool.h"

namespace sql {
class ResultSet;
}  // namespace sql

namespace enlace::db {

// The query List() runs, and how it binds it (`rows`: the page size plus
// one). Exposed so that a test can EXPLAIN it (tests/db/query_plan_test.cc).
std::string ArrivalListSql(const ArrivalFilter& filter);
void BindArrivalList(sql::PreparedStatement* statement, const ArrivalFilter& filter,
                     const Viewer& viewer, int64_t after, int rows);

// The multi-row INSERT of `rows` new arrivals RecordBatch() runs, and the
// binding of one row's placeholders from *p on (it advances *p). Exposed for
// the bare loader of scripts/bench.sh, which writes the same rows.
std::string ArrivalInsertSql(size_t rows);
void BindArrivalInsertRow(sql::PreparedStatement* insert, unsigned* p,
                          const enlace::v1::Arrival& arrival, const std::string& arrival_id,
                          const std::string& submitted_by, const std::string& content_hash,
                          int64_t recorded_at_us);

// Reads a consent from the columns consent_agencies (the agency codes,
// comma-separated, or NULL), consent_purposes_mask, consent_given_at_us,
// consent_guardian_name, consent_guardian_relationship and objected_purposes_mask of `row`: the
// names `arrivals` gives them, which a consent_versions query aliases to.
void ReadConsentColumns(sql::ResultSet& row, enlace::v1::Consent* consent);

// For other stores that read arrivals as this one does: the columns every
// read selects from `arrivals a` (and its consent agencies), the condition
// that `a` is visible to a viewer (two placeholders: the viewer's agency,
// twice), and the arrival a row of those columns holds.
absl::string_view ArrivalColumnsSql();
const std::string& ArrivalVisibleToViewerSql();
enlace::v1::Arrival ReadArrivalRow(sql::ResultSet& row);

// An objection is the person's (RecordObjection): gives every arrival of
// person `person_id` that `submitter` recorded, and that is not erased, the
// objections any of them holds and `objections` (1 << Purpose each, 0:
// none more), each as RecordObjection does to one (a new
// consent version, the feed's consent event, the referrals it no longer
// allows withdrawn), inside the caller's transaction, which holds
// LockPersonLinks(). Appends to *changed the ids of the arrivals it changed
// and of the referrals it withdrew.
absl::Status SpreadObjections(MysqlConnection& c, const std::string& person_id,
                              const std::string& submitter, uint32_t objections, int64_t now_us,
                              std::vector<std::string>* changed);

class MysqlArrivalStore final : public ArrivalStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlArrivalStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<std::vector<RecordResult>> RecordBatch(
      absl::Span<const NewArrival> batch) override;
  absl::StatusOr<enlace::v1::Arrival> Get(const std::string& arrival_id,
                                          const Viewer& viewer) override;
  absl::StatusOr<ArrivalPage> List(const ArrivalFilter& filter, const Viewer& viewer, int64_t after,
                                   int limit) override;
  absl::StatusOr<enlace::v1::Arrival> UpdateConsent(const std::string& arrival_id,
                                                    const enlace::v1::Consent& consent,
                                                    const Viewer& submitter,
                                                    AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::Arrival> RecordObjection(const std::string& arrival_id,
                                                      enlace::v1::Purpose purpose,
                                                      const Viewer& submitter,
                                                      AuditRecord* audit) override;
  absl::StatusOr<enlace::v1::Arrival> Correct(const ArrivalCorrection& correction,
                                              const Viewer& submitter, AuditRecord* audit) override;
  absl::StatusOr<std::vector<ArrivalVersionRecord>> Versions(const std::string& arrival_id,
                                                             const Viewer& viewer) override;

 private:
  // UpdateConsent (`replacement`, no objection) and RecordObjection (no
  // replacement: the consent in force less `objection`) in one transaction.
  absl::StatusOr<enlace::v1::Arrival> ChangeConsent(const std::string& arrival_id,
                                                    const enlace::v1::Consent* replacement,
                                                    enlace::v1::Purpose objection,
                                                    const Viewer& submitter, AuditRecord* audit);

  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_ARRIVAL_STORE_H_
