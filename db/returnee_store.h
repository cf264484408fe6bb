// What the returnee's rights over their data need from storage: every
// record held about one returnee, whichever agency holds it and whatever
// the consent now lets each agency see (ExportReturneeData), and the erasure
// of who the returnee is from all of them (EraseReturnee). Privileged, so
// the interface takes the submitter and answers only for arrivals it
// recorded. MysqlReturneeStore (mysql_returnee_store.h) implements it;
// there is no fake: it spans every table, and tests/db and tests/e2e test
// it against the real database.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef ENLACE_DB_RETURNEE_STORE_H_
#define ENLACE_DB_RETURNEE_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "db/arrival_store.h"
#include "db/audit_chain.h"
#include "enlace/v1/cases.pb.h"
#include "enlace/v1/referrals.pb.h"
#include "enlace/v1/returnee_data.pb.h"

namespace enlace::db {

// The records of one returnee beyond the arrival and its versions, each
// with every field (owner-only fields included).
struct HeldRecords {
  // Every consent version, oldest first; the last is in force.
  std::vector<enlace::v1::ConsentVersion> consent_history;
  std::vector<enlace::v1::Case> cases;  // with their services, in opening order
  std::vector<enlace::v1::Referral> referrals;  // no returnee summary, in creation order
  std::vector<enlace::v1::Initiative> initiatives;  // in registration order
  // The ministry's decisions about who the returnee is, oldest first.
  std::vector<enlace::v1::PersonDecision> person_decisions;
  // The other arrivals of the same person (the same person_id) that the
  // submitter recorded, in recording order.
  std::vector<std::string> linked_arrival_ids;
};

// What an erasure found and did.
struct Erasure {
  int64_t erased_at_us = 0;  // when the named arrival was (first) erased
  // The named arrival and every one in linked_arrival_ids were erased
  // before: this call changed nothing.
  bool already_erased = false;
  // The other arrivals of the same person (the same person_id) that the
  // submitter recorded, in recording order: each is erased now, by this
  // call or before it.
  std::vector<std::string> linked_arrival_ids;
};

// How long an arrival's records are kept: whole years from the day it was
// recorded, by the purposes its consent names now, the longest of them; or
// `none` years when it names none (never given, or withdrawn). The server's
// --retention_years (server/retention.h).
struct RetentionYears {
  int reintegration = 10;
  int protection = 15;
  int statistics = 5;
  int none = 5;
};

class ReturneeStore {
 public:
  virtual ~ReturneeStore() = default;

  // Everything held about the returnee of `arrival_id`, read in one
  // transaction, if `submitter` recorded that arrival; NOT_FOUND otherwise.
  // Names the person's other arrivals (linked_arrival_ids), whose records
  // are read by asking about each of them.
  virtual absl::StatusOr<HeldRecords> HeldAbout(const std::string& arrival_id,
                                                const Viewer& submitter) = 0;

  // Erases who the returnee of `arrival_id` is, if `submitter` recorded the
  // arrival (NOT_FOUND otherwise), in one transaction with `audit` (null: no
  // event, store tests only; it is appended naming the linked arrivals too).
  // An erasure is of the person: what follows is done to the arrival and to
  // every other arrival of the same person (linked: the same person_id)
  // that `submitter` recorded and that is not erased yet:
  //   - the arrival and each of its versions: given and family names,
  //     document number and municipality become "", and the birth date the
  //     arrival date's day and month in the year that keeps the whole years
  //     of age on arrival (so the age band, the sex, the department and the
  //     dates the programme counts by do not move); a version's correction
  //     reason becomes "";
  //   - the guardian's name of the consent in force and of every consent
  //     version becomes "" (a guardian was named; not who);
  //   - every agency's case (summary, psychosocial notes, municipality), its
  //     services' notes, its initiatives' names and municipalities, its
  //     referrals' reasons, decline reasons and outcomes, in the tables and in
  //     the referral feed's stored events, become "";
  //   - the reason of every decision that the arrival is, or is not, one
  //     person with another (person_decisions) becomes ""; the decision
  //     and the person_id stay;
  //   - the content hash behind ALREADY_RECORDED becomes
  //     ErasedContentHash(): a resend is ALREADY_RECORDED, never recorded
  //     anew.
  // Then records when, by whom and `reason`. Counts, statuses, amounts,
  // needs, consent agencies and purposes, ids and the audit log stay.
  // Idempotent: an arrival erased before is left as it is, and `audit` is
  // appended all the same (already_erased when every one of them was).
  virtual absl::StatusOr<Erasure> Erase(const std::string& arrival_id, const std::string& reason,
                                        const Viewer& submitter, AuditRecord* audit) = 0;

  // Retention: erases, as Erase does (by "retention", the reason naming the
  // rule), up to `limit` arrivals not erased yet whose retention date under
  // `years` is before `now`, oldest first, in one transaction with `audit`
  // (naming each of them; null: no event, store tests only). Returns how
  // many it erased: fewer than `limit` when no more are due. Safe to run
  // from several replicas at once: rows are locked, an erased one is
  // skipped.
  virtual absl::StatusOr<int> EraseExpired(const RetentionYears& years, absl::Time now, int limit,
                                           AuditRecord* audit) = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_RETURNEE_STORE_H_
