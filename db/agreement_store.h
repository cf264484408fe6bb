// Data-sharing agreements: the information-sharing protocols under which
// records flow between two organisations (docs/data-protection.md §10).
// MysqlAgreementStore (mysql_agreement_store.h) implements it; the rule that
// applies them to every read is in db/visibility.h, and the server keeps the
// ones in force in memory for its live feed (server/sharing_agreements.h).
//
// Thread safety: implementations are safe for concurrent use.
#ifndef ENLACE_DB_AGREEMENT_STORE_H_
#define ENLACE_DB_AGREEMENT_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/audit_chain.h"

namespace enlace::db {

struct SharingAgreementRecord {
  int64_t seq = 0;  // registration order; the list's keyset position
  std::string agreement_id;
  std::string party_low;  // the two agency codes, party_low < party_high
  std::string party_high;
  uint32_t purposes_mask = 0;  // 1 << enlace::v1::Purpose per purpose covered
  std::string valid_from;  // YYYY-MM-DD, inclusive
  std::string valid_until;  // YYYY-MM-DD, inclusive
  std::string reference;
  std::string registered_by;
  int64_t registered_at_us = 0;
  std::string ended_by;  // empty while not ended
  int64_t ended_at_us = 0;  // 0 while not ended
  std::string end_reason;

  // In force on `date` (YYYY-MM-DD, UTC): within its dates and not ended.
  bool InForceOn(absl::string_view date) const {
    return ended_at_us == 0 && valid_from <= date && date <= valid_until;
  }
};

struct AgreementQuery {
  std::string party;  // empty: any
  // Non-empty (YYYY-MM-DD): only those in force on that date.
  std::string in_force_on;
  int64_t after_seq = 0;  // keyset position
  int limit = 50;  // rows returned: up to limit + 1, to tell that more exist
};

class AgreementStore {
 public:
  virtual ~AgreementStore() = default;

  // Records `agreement` (its parties, purposes, dates, reference and
  // registered_by; the rest is assigned) and appends `audit`, naming the new
  // agreement's id, in the same transaction (null: no event, store tests
  // only). Returns it as recorded.
  virtual absl::StatusOr<SharingAgreementRecord> Register(const SharingAgreementRecord& agreement,
                                                          AuditRecord* audit) = 0;

  // Oldest registered first, from query.after_seq.
  virtual absl::StatusOr<std::vector<SharingAgreementRecord>> List(const AgreementQuery& query) = 0;

  // Every agreement not ended whose valid_until is on or after `date`: those
  // in force on that date and those that will be (what the server keeps).
  virtual absl::StatusOr<std::vector<SharingAgreementRecord>> NotEndedOnOrAfter(
      absl::string_view date) = 0;

  // Ends an agreement from now on. NOT_FOUND for an unknown id;
  // FAILED_PRECONDITION (and nothing changes) when it was ended already.
  virtual absl::StatusOr<SharingAgreementRecord> End(const std::string& agreement_id,
                                                     const std::string& ended_by,
                                                     const std::string& reason,
                                                     AuditRecord* audit) = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_AGREEMENT_STORE_H_
