// Where arrivals live. ArrivalStore is the boundary between the services and
// the database; MysqlArrivalStore (mysql_arrival_store.h) implements it.
//
// Record-level visibility is part of the contract, so that no caller can
// forget it: a Viewer sees an arrival when it submitted it, or when the
// arrival's current consent names it. Anything else is NOT_FOUND, exactly as
// for an arrival that does not exist.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef ENLACE_DB_ARRIVAL_STORE_H_
#define ENLACE_DB_ARRIVAL_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "db/audit_chain.h"
#include "enlace/v1/arrivals.pb.h"

namespace enlace::db {

// The agency on whose behalf a read or change is made.
struct Viewer {
  std::string agency;
};

// A validated arrival to record, and who submits it.
struct NewArrival {
  enlace::v1::Arrival arrival;  // server-assigned fields empty
  std::string submitted_by;  // agency code
  // The call's audit event (who, which method, when, from where), shared by
  // every arrival of that call: the batch commits one event per call naming
  // every arrival of it that it answers with. Null: no event (store tests
  // only).
  std::shared_ptr<const AuditRecord> audit = nullptr;
};

// The fate of one NewArrival in a batch.
struct RecordResult {
  // OK, or ALREADY_EXISTS when the same external_id was recorded with other
  // content, or the error that failed the whole batch.
  absl::Status status;
  enlace::v1::Outcome outcome =
      enlace::v1::OUTCOME_UNSPECIFIED;  // CREATED, ALREADY_RECORDED or REJECTED
  std::string arrival_id;  // set for CREATED and ALREADY_RECORDED
  int64_t audit_seq = 0;  // the audit event committed with the batch (0: none)
};

struct ArrivalFilter {
  std::string department_code;  // empty: any
  std::string municipality;  // empty: any; matched ignoring case and accents
  std::string arrival_date_from;  // YYYY-MM-DD inclusive, empty: open
  std::string arrival_date_to;  // YYYY-MM-DD inclusive, empty: open
};

struct ArrivalPage {
  std::vector<enlace::v1::Arrival> arrivals;
  int64_t last_position = 0;  // keyset position of the last arrival returned
  bool more = false;  // true when arrivals exist after last_position
};

// SHA-256 of an arrival's submitted content: every field but the server's,
// with repeated fields in a canonical order, so a resend with reordered needs
// or consent agencies counts as the same content.
std::string ArrivalContentHash(const enlace::v1::Arrival& arrival);

// The content hash of an erased arrival (ReturneeStore::Erase): 32 zero
// bytes, which no content hashes to and which tells nothing of what the
// content was. A resend of an erased arrival's external_id, whatever its
// content, is ALREADY_RECORDED (the record was made, then erased) and
// stores nothing: a retrying client neither fails nor brings the returnee
// back.
const std::string& ErasedContentHash();

// A correction of an arrival's content (CorrectArrival).
struct ArrivalCorrection {
  std::string arrival_id;
  // The whole corrected content (the stored arrival with the named fields
  // replaced, validated); its consent and server-assigned fields are ignored.
  enlace::v1::Arrival content;
  // The version `content` was made from: the store refuses with ABORTED when
  // the arrival is at another version by then (corrected concurrently).
  int expected_version = 0;
  std::string reason;  // why; kept with the new version
};

// One version of an arrival, as ListArrivalVersions shows it.
struct ArrivalVersionRecord {
  int version = 0;
  enlace::v1::Arrival content;  // no consent
  std::string reason;  // "" for version 1
  std::string corrected_by;  // agency code
  int64_t corrected_at_us = 0;
};

class ArrivalStore {
 public:
  virtual ~ArrivalStore() = default;

  // Records `batch` in one transaction, all or nothing: either every result
  // is final (CREATED, ALREADY_RECORDED, or ALREADY_EXISTS for conflicting
  // content) and committed together with the batch's audit events, or the
  // call returns an error and nothing was stored. Duplicates inside the
  // batch resolve as if sent one after another. Results are in the order of
  // `batch`.
  virtual absl::StatusOr<std::vector<RecordResult>> RecordBatch(
      absl::Span<const NewArrival> batch) = 0;

  // The arrival, if `viewer` may see it; NOT_FOUND otherwise.
  virtual absl::StatusOr<enlace::v1::Arrival> Get(const std::string& arrival_id,
                                                  const Viewer& viewer) = 0;

  // Arrivals visible to `viewer` that match `filter`, in recording order,
  // after keyset position `after` (0: from the start), at most `limit`.
  virtual absl::StatusOr<ArrivalPage> List(const ArrivalFilter& filter, const Viewer& viewer,
                                           int64_t after, int limit) = 0;

  // Replaces the consent of an arrival that `submitter` recorded (NOT_FOUND
  // otherwise; FAILED_PRECONDITION, checked under the row's lock, once the
  // arrival was erased: ReturneeStore::Erase), keeping the previous
  // version, withdrawing the referrals it no longer allows, and appending
  // `audit` (naming them) in the same transaction (null: no event, store
  // tests only). Returns the updated arrival.
  virtual absl::StatusOr<enlace::v1::Arrival> UpdateConsent(const std::string& arrival_id,
                                                            const enlace::v1::Consent& consent,
                                                            const Viewer& submitter,
                                                            AuditRecord* audit) = 0;

  // The returnee's objection to `purpose`, on an arrival `submitter`
  // recorded (NOT_FOUND otherwise; FAILED_PRECONDITION once erased): in one
  // transaction, a new consent version without that purpose, with every
  // effect of UpdateConsent, and the purpose kept as objected to, so that a
  // later UpdateConsent giving it back is FAILED_PRECONDITION naming
  // `purposes`. An objection is the person's: every other arrival of the
  // same person (linked: the same person_id) that `submitter` recorded and
  // that is not erased gets it too, in the same transaction, and the event
  // names them. A repeat changes nothing (its event is still appended).
  // (A store that keeps no links, as the fake, has one arrival per person.)
  virtual absl::StatusOr<enlace::v1::Arrival> RecordObjection(const std::string& arrival_id,
                                                              enlace::v1::Purpose purpose,
                                                              const Viewer& submitter,
                                                              AuditRecord* audit) = 0;

  // Replaces the content of an arrival that `submitter` recorded (NOT_FOUND
  // otherwise; FAILED_PRECONDITION once erased, as UpdateConsent) with
  // `correction.content`, as version expected_version + 1
  // (ABORTED if the arrival is no longer at expected_version), keeping every
  // earlier version and the report's counts right, and appending `audit` in
  // the same transaction (null: no event, store tests only). The consent,
  // external_id and the content hash behind ALREADY_RECORDED do not change.
  // Returns the corrected arrival.
  virtual absl::StatusOr<enlace::v1::Arrival> Correct(const ArrivalCorrection& correction,
                                                      const Viewer& submitter,
                                                      AuditRecord* audit) = 0;

  // Every version of the arrival, oldest first (the last is the current
  // content), if `viewer` may see the arrival; NOT_FOUND otherwise.
  virtual absl::StatusOr<std::vector<ArrivalVersionRecord>> Versions(const std::string& arrival_id,
                                                                     const Viewer& viewer) = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_ARRIVAL_STORE_H_
