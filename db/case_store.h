// Where the multi-agency workflow lives: reintegration cases, services
// delivered, economic initiatives, referrals, and the referral feed.
// MysqlCaseStore (mysql_case_store.h) implements it.
//
// Record-level rules are part of the contract, enforced in the queries, so
// no caller can forget them. "The consent allows A" is db/visibility.h's
// rule (names A, with a purpose that allows that kind of record). For an
// agency A:
//   - A sees a case it owns while the consent allows A the case, with every
//     field; A sees another agency's case while a referral of it is
//     addressed to A (not declined or withdrawn) and the consent allows A
//     the case, with owner-only fields cleared (psychosocial notes, others'
//     service notes); anything else is NOT_FOUND, as if it did not exist;
//   - A sees a referral it sent or received while the consent allows A the
//     referral; likewise initiatives, and feed events at delivery;
//   - who may change what (owner, receiver, sender) is checked after
//     visibility: visible but not allowed is PERMISSION_DENIED.
// Referral transitions are conditional updates under a row lock: of racing
// transitions exactly one wins, the others get FAILED_PRECONDITION (the
// status moved on) or ABORTED (a stale etag). Each committed change appends
// one event to the feed in the same transaction, in commit order.
// A change that returns an error changed nothing; one that returns OK
// returns the record as its own transaction left it, even if a change
// committed right after (a consent change) hides it from the caller.
//
// Every method that changes data takes `audit`, the call's audit event: it
// is appended (with the ids the change creates) in the change's own
// transaction, so a change never commits without its event, and on success
// *audit holds its seq. Null only in store tests.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef ENLACE_DB_CASE_STORE_H_
#define ENLACE_DB_CASE_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/arrival_store.h"
#include "db/audit_chain.h"
#include "db/visibility.h"
#include "enlace/v1/cases.pb.h"
#include "enlace/v1/referrals.pb.h"

namespace enlace::db {

struct CaseFilter {
  enlace::v1::CaseStatus status = enlace::v1::CASE_STATUS_UNSPECIFIED;  // any
  std::string municipality;  // any
};

struct CasePage {
  std::vector<enlace::v1::Case> cases;
  int64_t last_position = 0;
  bool more = false;
};

struct InitiativePage {
  // case_id and disbursed_usd_cents cleared unless the viewer owns it
  std::vector<enlace::v1::Initiative> initiatives;
  int64_t last_position = 0;
  bool more = false;
  int64_t total_count = 0;
};

struct ReferralFilter {
  enlace::v1::Box box = enlace::v1::BOX_INBOX;
  std::vector<enlace::v1::ReferralStatus> statuses;  // empty: any
};

struct ReferralPage {
  std::vector<enlace::v1::Referral> referrals;
  int64_t last_position = 0;
  bool more = false;
};

// A referral transition asked for by `actor`.
struct Transition {
  std::string referral_id;
  enlace::v1::ReferralStatus to = enlace::v1::REFERRAL_STATUS_UNSPECIFIED;
  std::string text;  // decline reason or outcome
  std::string etag;  // empty: unconditional
};

// One entry of the referral feed: a referral's change, or a change of the
// consent of an arrival (never delivered; it tells readers which consent
// holds from then on).
struct FeedEvent {
  int64_t seq = 0;
  enlace::v1::ReferralEventType type = enlace::v1::REFERRAL_EVENT_TYPE_UNSPECIFIED;
  std::string from_agency;
  std::string to_agency;
  int64_t committed_at_us = 0;
  enlace::v1::Referral referral;  // as right after the change, without the returnee
  int64_t arrival_seq = 0;  // the arrival the referral (or the consent) is about
  // Who recorded that arrival (for a referral change): the other party of
  // the agreement a delivery needs (db/visibility.h).
  std::string arrival_submitter;
  bool consent_change = false;
  // For a consent change, the new consent. For a referral change, the
  // arrival's consent when the event was read (at least as new as the event).
  ConsentState consent;
};

class CaseStore {
 public:
  virtual ~CaseStore() = default;

  // Cases -------------------------------------------------------------------

  // Opens `viewer.agency`'s case for an arrival whose consent names it.
  // NOT_FOUND: the arrival is not visible to it; FAILED_PRECONDITION: the
  // consent does not cover REINTEGRATION; ALREADY_EXISTS: it has a case for
  // this arrival already.
  virtual absl::StatusOr<enlace::v1::Case> OpenCase(const std::string& arrival_id,
                                                    const std::string& summary,
                                                    const Viewer& viewer, AuditRecord* audit) = 0;
  virtual absl::StatusOr<enlace::v1::Case> GetCase(const std::string& case_id,
                                                   const Viewer& viewer) = 0;
  // Cases visible to the viewer (owned or referred to it), in opening order.
  virtual absl::StatusOr<CasePage> ListCases(const CaseFilter& filter, const Viewer& viewer,
                                             int64_t after, int limit) = 0;
  // Owner only. Replaces status, summary and psychosocial notes if `etag`
  // is current (ABORTED otherwise).
  virtual absl::StatusOr<enlace::v1::Case> UpdateCase(const enlace::v1::Case& update,
                                                      const std::string& etag, const Viewer& viewer,
                                                      AuditRecord* audit) = 0;
  // The owner, or an agency holding an ACCEPTED referral for that service.
  // REQUIRES: `request` passed the server's field checks
  // (server/outcome_validation.h): the outcome fields fit the service. A
  // SEED_CAPITAL disbursement must name an initiative of the same case
  // (INVALID_ARGUMENT naming initiative_id otherwise); it adds to the
  // initiative's disbursed_usd_cents. The record returned has every field
  // (the caller recorded it).
  virtual absl::StatusOr<enlace::v1::ServiceRecord> RecordService(
      const enlace::v1::RecordServiceRequest& request, const Viewer& viewer,
      AuditRecord* audit) = 0;
  // Owner only. An empty municipality takes the case's; an unspecified
  // status is PLANNED.
  virtual absl::StatusOr<enlace::v1::Initiative> RegisterInitiative(
      const enlace::v1::RegisterInitiativeRequest& request, const Viewer& viewer,
      AuditRecord* audit) = 0;
  // Owner only (visible to others: PERMISSION_DENIED; otherwise NOT_FOUND).
  // Replaces status, jobs_created and woman_led if `etag` is current
  // (ABORTED otherwise); the initiative moves to its new report grid cell.
  virtual absl::StatusOr<enlace::v1::Initiative> UpdateInitiative(
      const enlace::v1::Initiative& update, const std::string& etag, const Viewer& viewer,
      AuditRecord* audit) = 0;
  // The initiatives of returnees whose consent allows the viewer
  // (Reach::kInitiative); case ids only to owners. total_count counts the
  // same set.
  virtual absl::StatusOr<InitiativePage> ListInitiatives(const std::string& municipality,
                                                         const Viewer& viewer, int64_t after,
                                                         int limit) = 0;
  // OK when the viewer owns the case (and sees it), NOT_FOUND otherwise.
  virtual absl::Status CheckCaseOwner(const std::string& case_id, const Viewer& viewer) = 0;

  // Referrals ---------------------------------------------------------------

  // Owner only. INVALID_ARGUMENT when `to_agency` is the owner itself;
  // FAILED_PRECONDITION when the consent does not let `to_agency` receive
  // the referral (names it, for a purpose that allows Reach::kReferral).
  virtual absl::StatusOr<enlace::v1::Referral> CreateReferral(
      const std::string& case_id, const std::string& to_agency, enlace::v1::Need service,
      const std::string& reason, const Viewer& viewer, AuditRecord* audit) = 0;
  virtual absl::StatusOr<enlace::v1::Referral> GetReferral(const std::string& referral_id,
                                                           const Viewer& viewer) = 0;
  virtual absl::StatusOr<ReferralPage> ListReferrals(const ReferralFilter& filter,
                                                     const Viewer& viewer, int64_t after,
                                                     int limit) = 0;
  // ACCEPTED, DECLINED and COMPLETED by the receiver; WITHDRAWN by the sender.
  virtual absl::StatusOr<enlace::v1::Referral> TransitionReferral(const Transition& transition,
                                                                  const Viewer& viewer,
                                                                  AuditRecord* audit) = 0;

  // The feed ----------------------------------------------------------------

  // Feed events after `after_seq`, up to `up_to_seq` inclusive (0: no bound),
  // oldest first, at most `limit`. With an empty `agency`: every event,
  // consent changes included. Otherwise only referral events sent or
  // received by `agency` that the arrival's current consent allows it
  // (Reach::kReferral), as checked when read.
  virtual absl::StatusOr<std::vector<FeedEvent>> ReadFeed(int64_t after_seq, int64_t up_to_seq,
                                                          const std::string& agency, int limit) = 0;
  // The seq of the last committed feed event (0 when none).
  virtual absl::StatusOr<int64_t> FeedHead() = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_CASE_STORE_H_
