// An in-memory referral feed behind the db::CaseStore interface, for unit
// tests of server/referral_feed.h. Only the feed is modelled (ReadFeed,
// FeedHead, and Append* to write it); every other CaseStore method answers
// UNIMPLEMENTED, so a test that strays outside the feed fails loudly.
// ReadFeed applies the same consent rule as the MySQL store
// (db/visibility.h) with the consent each arrival has now.
//
//   FakeFeedStore store;
//   store.SetConsent(7, {"iom", "undp"}, 1 << enlace::v1::PURPOSE_REINTEGRATION);
//   store.AppendReferralEvent(7, "iom", "undp", "r1");
//   ReferralFeed feed(&store, absl::Hours(1));
//
// Thread safety: safe for concurrent use.
#ifndef ENLACE_TESTS_TESTING_FAKES_FAKE_FEED_STORE_H_
#define ENLACE_TESTS_TESTING_FAKES_FAKE_FEED_STORE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/case_store.h"
#include "db/visibility.h"

namespace enlace::testing {

class FakeFeedStore : public db::CaseStore {
 public:
  // Sets the consent of `arrival_seq` (its version goes up by one) and
  // appends the consent change to the feed, as UpdateConsent does.
  void SetConsent(int64_t arrival_seq, std::vector<std::string> agencies, uint32_t purposes) {
    absl::MutexLock lock(&mu_);
    db::ConsentState& consent = consents_[arrival_seq];
    consent.version += 1;
    consent.agencies = std::move(agencies);
    consent.purposes_mask = purposes;
    db::FeedEvent& event = events_.emplace_back();
    event.seq = static_cast<int64_t>(events_.size());
    event.arrival_seq = arrival_seq;
    event.consent_change = true;
    event.consent = consent;
  }
  // Appends a referral event about `arrival_seq`; returns its seq.
  int64_t AppendReferralEvent(
      int64_t arrival_seq, const std::string& from, const std::string& to,
      const std::string& referral_id,
      enlace::v1::ReferralEventType type = enlace::v1::REFERRAL_EVENT_TYPE_CREATED) {
    absl::MutexLock lock(&mu_);
    db::FeedEvent& event = events_.emplace_back();
    event.seq = static_cast<int64_t>(events_.size());
    event.type = type;
    event.from_agency = from;
    event.to_agency = to;
    event.arrival_seq = arrival_seq;
    event.referral.set_referral_id(referral_id);
    event.referral.set_from_agency(from);
    event.referral.set_to_agency(to);
    return event.seq;
  }
  // Makes ReadFeed fail with `status` (OK: work again).
  void FailReads(absl::Status status) {
    absl::MutexLock lock(&mu_);
    read_error_ = std::move(status);
  }
  int reads() {
    absl::MutexLock lock(&mu_);
    return reads_;
  }

  absl::StatusOr<std::vector<db::FeedEvent>> ReadFeed(int64_t after_seq, int64_t up_to_seq,
                                                      const std::string& agency,
                                                      int limit) override {
    absl::MutexLock lock(&mu_);
    ++reads_;
    if (!read_error_.ok()) return read_error_;
    std::vector<db::FeedEvent> out;
    for (const db::FeedEvent& stored : events_) {
      if (static_cast<int>(out.size()) == limit) break;
      if (stored.seq <= after_seq || (up_to_seq > 0 && stored.seq > up_to_seq)) continue;
      db::FeedEvent event = stored;
      if (!event.consent_change) event.consent = consents_[event.arrival_seq];
      if (!agency.empty()) {
        if (event.consent_change) continue;
        if (event.from_agency != agency && event.to_agency != agency) continue;
        if (!db::ConsentAllows(db::Reach::kReferral, agency, event.consent)) continue;
      }
      out.push_back(std::move(event));
    }
    return out;
  }
  absl::StatusOr<int64_t> FeedHead() override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(events_.size());
  }

  // Not part of the feed.
  absl::StatusOr<enlace::v1::Case> OpenCase(const std::string&, const std::string&,
                                            const db::Viewer&, db::AuditRecord*) override {
    return Unimplemented();
  }
  absl::StatusOr<enlace::v1::Case> GetCase(const std::string&, const db::Viewer&) override {
    return Unimplemented();
  }
  absl::StatusOr<db::CasePage> ListCases(const db::CaseFilter&, const db::Viewer&, int64_t,
                                         int) override {
    return Unimplemented();
  }
  absl::StatusOr<enlace::v1::Case> UpdateCase(const enlace::v1::Case&, const std::string&,
                                              const db::Viewer&, db::AuditRecord*) override {
    return Unimplemented();
  }
  absl::StatusOr<enlace::v1::ServiceRecord> RecordService(const enlace::v1::RecordServiceRequest&,
                                                          const db::Viewer&,
                                                          db::AuditRecord*) override {
    return Unimplemented();
  }
  absl::StatusOr<enlace::v1::Initiative> RegisterInitiative(
      const enlace::v1::RegisterInitiativeRequest&, const db::Viewer&, db::AuditRecord*) override {
    return Unimplemented();
  }
  absl::StatusOr<enlace::v1::Initiative> UpdateInitiative(const enlace::v1::Initiative&,
                                                          const std::string&, const db::Viewer&,
                                                          db::AuditRecord*) override {
    return Unimplemented();
  }
  absl::StatusOr<db::InitiativePage> ListInitiatives(const std::string&, const db::Viewer&, int64_t,
                                                     int) override {
    return Unimplemented();
  }
  absl::Status CheckCaseOwner(const std::string&, const db::Viewer&) override {
    return Unimplemented();
  }
  absl::StatusOr<enlace::v1::Referral> CreateReferral(const std::string&, const std::string&,
                                                      enlace::v1::Need, const std::string&,
                                                      const db::Viewer&,
                                                      db::AuditRecord*) override {
    return Unimplemented();
  }
  absl::StatusOr<enlace::v1::Referral> GetReferral(const std::string&, const db::Viewer&) override {
    return Unimplemented();
  }
  absl::StatusOr<db::ReferralPage> ListReferrals(const db::ReferralFilter&, const db::Viewer&,
                                                 int64_t, int) override {
    return Unimplemented();
  }
  absl::StatusOr<enlace::v1::Referral> TransitionReferral(const db::Transition&, const db::Viewer&,
                                                          db::AuditRecord*) override {
    return Unimplemented();
  }

 private:
  static absl::Status Unimplemented() {
    return absl::UnimplementedError("FakeFeedStore models the referral feed only");
  }

  absl::Mutex mu_;
  std::vector<db::FeedEvent> events_ ABSL_GUARDED_BY(mu_);  // seq = index + 1
  std::map<int64_t, db::ConsentState> consents_ ABSL_GUARDED_BY(mu_);
  absl::Status read_error_ ABSL_GUARDED_BY(mu_);
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_FAKES_FAKE_FEED_STORE_H_
