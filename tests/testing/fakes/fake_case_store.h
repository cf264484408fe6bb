// An in-memory db::CaseStore for unit tests, with the same observable
// contract as MysqlCaseStore, checked by the same suite
// (tests/conformance/case_store_conformance.h): record-level visibility by
// consent (db/visibility.h) and by who owns or receives what, anything else
// NOT_FOUND; PERMISSION_DENIED for visible but not allowed; etags; referral
// transitions of which exactly one of racing ones wins; the referral feed
// with consent changes; keyset pages; and each change's audit event
// appended with it, or the change not made.
//
// The arrivals a case is opened on live in the MySQL store's database; here
// the test hands them to the store (AddArrival, e.g. the arrival a
// FakeArrivalStore returned), and tells it of consent changes
// (ChangeConsent), which do on this side what ArrivalStore::UpdateConsent
// does: a consent-change event in the feed, and the PENDING referrals the
// new consent no longer allows withdrawn.
//
//   FakeAuditStore audit;
//   FakeCaseStore cases(&audit);
//   std::string arrival_id = cases.AddArrival(arrival, "iom");
//   absl::StatusOr<enlace::v1::Case> opened = cases.OpenCase(arrival_id, "", {"iom"}, &event);
//   cases.FailCalls(absl::UnavailableError("database down"));  // every call fails
//
// Where it simplifies: no programme report cells (FakeReportStore counts
// this store's records when asked), and municipality filters compare as utf8mb4_unicode_ci does for
// the gazetteer's names only (case and Spanish accents folded).
//
// Thread safety: safe for concurrent use.
#ifndef ENLACE_TESTS_TESTING_FAKES_FAKE_CASE_STORE_H_
#define ENLACE_TESTS_TESTING_FAKES_FAKE_CASE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "db/audit_store.h"
#include "db/case_store.h"

namespace enlace::testing {

class FakeCaseStore : public db::CaseStore {
 public:
  // Events go to `audit` (which must outlive the store), appended while the
  // change is applied: an append that fails fails the change, which then
  // leaves nothing. Null: the store keeps a chain of its own (audit()).
  explicit FakeCaseStore(db::AuditStore* audit = nullptr);
  ~FakeCaseStore() override;

  // The arrivals ----------------------------------------------------------

  // Makes an arrival known, as recorded by `submitted_by`: its id (a new one
  // when arrival.arrival_id() is empty), destination, person, needs and
  // consent (version arrival.consent_version(), 1 when 0). Returns its id.
  std::string AddArrival(const enlace::v1::Arrival& arrival, const std::string& submitted_by)
      ABSL_LOCKS_EXCLUDED(mu_);
  // What a consent change does to this store, as MysqlArrivalStore's
  // UpdateConsent does it in its transaction: the consent's version goes up
  // by one, a consent-change event enters the feed, then the PENDING
  // referrals of the arrival's cases whose sender or receiver the new
  // consent no longer allows (Reach::kReferral) are withdrawn, each with a
  // WITHDRAWN event. Returns their ids; NOT_FOUND for an unknown arrival.
  absl::StatusOr<std::vector<std::string>> ChangeConsent(const std::string& arrival_id,
                                                         const enlace::v1::Consent& consent)
      ABSL_LOCKS_EXCLUDED(mu_);

  // What a test needs ----------------------------------------------------

  db::AuditStore* audit() const { return audit_; }
  // Every call of the interface fails with `status` and changes nothing
  // (OK: works again).
  void FailCalls(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // How many cases and referrals are stored.
  size_t case_count() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t referral_count() const ABSL_LOCKS_EXCLUDED(mu_);

  // db::CaseStore ---------------------------------------------------------

  absl::StatusOr<enlace::v1::Case> OpenCase(const std::string& arrival_id,
                                            const std::string& summary, const db::Viewer& viewer,
                                            db::AuditRecord* audit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<enlace::v1::Case> GetCase(const std::string& case_id,
                                           const db::Viewer& viewer) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<db::CasePage> ListCases(const db::CaseFilter& filter, const db::Viewer& viewer,
                                         int64_t after, int limit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<enlace::v1::Case> UpdateCase(const enlace::v1::Case& update,
                                              const std::string& etag, const db::Viewer& viewer,
                                              db::AuditRecord* audit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<enlace::v1::ServiceRecord> RecordService(
      const enlace::v1::RecordServiceRequest& request, const db::Viewer& viewer,
      db::AuditRecord* audit) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<enlace::v1::Initiative> RegisterInitiative(
      const enlace::v1::RegisterInitiativeRequest& request, const db::Viewer& viewer,
      db::AuditRecord* audit) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<enlace::v1::Initiative> UpdateInitiative(const enlace::v1::Initiative& update,
                                                          const std::string& etag,
                                                          const db::Viewer& viewer,
                                                          db::AuditRecord* audit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<db::InitiativePage> ListInitiatives(const std::string& municipality,
                                                     const db::Viewer& viewer, int64_t after,
                                                     int limit) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CheckCaseOwner(const std::string& case_id, const db::Viewer& viewer) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<enlace::v1::Referral> CreateReferral(
      const std::string& case_id, const std::string& to_agency, enlace::v1::Need service,
      const std::string& reason, const db::Viewer& viewer, db::AuditRecord* audit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<enlace::v1::Referral> GetReferral(const std::string& referral_id,
                                                   const db::Viewer& viewer) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<db::ReferralPage> ListReferrals(const db::ReferralFilter& filter,
                                                 const db::Viewer& viewer, int64_t after,
                                                 int limit) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<enlace::v1::Referral> TransitionReferral(const db::Transition& transition,
                                                          const db::Viewer& viewer,
                                                          db::AuditRecord* audit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<db::FeedEvent>> ReadFeed(int64_t after_seq, int64_t up_to_seq,
                                                      const std::string& agency, int limit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<int64_t> FeedHead() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class FakeReportStore;  // counts the records above, as the report grid does

  struct ArrivalRow {
    int64_t seq = 0;
    std::string arrival_id;
    std::string submitted_by;
    std::string department_code;
    std::string municipality;
    std::string arrival_date;  // YYYY-MM-DD
    std::string birth_date;  // YYYY-MM-DD
    enlace::v1::ReturneeSummary returnee;  // what a referral's parties see
    db::ConsentState consent;  // agencies in code order
  };
  struct CaseRow {
    int64_t seq = 0;
    int64_t arrival_seq = 0;
    int version = 1;
    enlace::v1::Case value;  // every field, no services, etag current
  };
  struct ServiceRow {
    int64_t case_seq = 0;
    enlace::v1::ServiceRecord value;  // notes included
  };
  struct InitiativeRow {
    int64_t seq = 0;
    int64_t case_seq = 0;
    int version = 1;
    enlace::v1::Initiative value;  // case_id and money disbursed included, etag current
  };
  struct ReferralRow {
    int64_t seq = 0;
    int64_t case_seq = 0;
    int version = 1;
    enlace::v1::Referral value;  // no returnee, etag current
  };

  // The rows (nullptr when missing or not visible to `viewer`).
  const ArrivalRow* ArrivalBySeq(int64_t seq) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  InitiativeRow* InitiativeById(const std::string& initiative_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  CaseRow* VisibleCase(const std::string& case_id, const db::Viewer& viewer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ReferralRow* VisibleReferral(const std::string& referral_id, const db::Viewer& viewer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ReceivesLive(const CaseRow& row, const std::string& agency) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  enlace::v1::Case CaseAsSeenBy(const CaseRow& row, const db::Viewer& viewer,
                                bool with_services) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  enlace::v1::Referral ReferralAsSeen(const ReferralRow& row) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends `audit` (plus `extra_ids`) to the audit store: the last step
  // before a change is applied, so that a failed append leaves nothing.
  absl::Status AppendAudit(db::AuditRecord* audit, const std::vector<std::string>& extra_ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AppendReferralEvent(const ReferralRow& row, enlace::v1::ReferralEventType type,
                           int64_t now_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<db::AuditStore> own_audit_;  // when none was given
  db::AuditStore* const audit_;

  mutable absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::vector<ArrivalRow> arrivals_ ABSL_GUARDED_BY(mu_);  // seq = index + 1
  std::map<std::string, size_t> arrival_by_id_ ABSL_GUARDED_BY(mu_);
  std::vector<CaseRow> cases_ ABSL_GUARDED_BY(mu_);  // seq = index + 1
  std::map<std::string, size_t> case_by_id_ ABSL_GUARDED_BY(mu_);
  std::vector<ServiceRow> services_ ABSL_GUARDED_BY(mu_);  // in recording order
  std::vector<InitiativeRow> initiatives_ ABSL_GUARDED_BY(mu_);  // seq = index + 1
  std::vector<ReferralRow> referrals_ ABSL_GUARDED_BY(mu_);  // seq = index + 1
  std::map<std::string, size_t> referral_by_id_ ABSL_GUARDED_BY(mu_);
  std::vector<db::FeedEvent> feed_ ABSL_GUARDED_BY(mu_);  // seq = index + 1; no consent on
                                                          // referral events (added when read)
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_FAKES_FAKE_CASE_STORE_H_
