// The conformance suite of db::CaseStore (db/case_store.h): the promises of
// the interface's header, line by line, run against each implementation by
// a factory. The fake (tests/testing/fakes/fake_case_store.h) is held to
// exactly what MysqlCaseStore does, so that unit tests built on the fake
// meet the behaviour production has: visibility by consent and by who owns
// or receives what (NOT_FOUND, with the message of a missing record),
// PERMISSION_DENIED for visible but not allowed, etags, the referral
// lifecycle and its races, keyset pages, the feed, and the audit event
// committed with each change or the change not made.
//
// An implementation joins with one file that includes this header and
// instantiates the suite with its factory:
//
//   INSTANTIATE_TEST_SUITE_P(Fake, CaseStoreConformanceTest,
//                            ::testing::Values(CaseStoreImpl{"fake", [] { ... }}),
//                            CaseStoreImplName);
//
// (case_store_fake_test.cc, unit; case_store_mysql_test.cc, db).
#ifndef ENLACE_TESTS_CONFORMANCE_CASE_STORE_CONFORMANCE_H_
#define ENLACE_TESTS_CONFORMANCE_CASE_STORE_CONFORMANCE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/audit_store.h"
#include "db/case_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/case_requests.h"
#include "tests/testing/status_matchers.h"

namespace enlace::conformance {

// One case store under test, with what the store reads but does not write
// (arrivals and their consent: the arrival store's) and the audit store its
// events go to.
class CaseStoreUnderTest {
 public:
  virtual ~CaseStoreUnderTest() = default;
  virtual db::CaseStore* store() = 0;
  virtual db::AuditStore* audit() = 0;
  // Records `arrival` as submitted by `submitter`; returns its id.
  virtual std::string AddArrival(const enlace::v1::Arrival& arrival,
                                 const std::string& submitter) = 0;
  // Replaces the arrival's consent, as ArrivalStore::UpdateConsent does.
  virtual void ChangeConsent(const std::string& arrival_id, const std::string& submitter,
                             const enlace::v1::Consent& consent) = 0;
  // From now on every audit append fails, as the database's would when the
  // chain cannot be written: INTERNAL.
  virtual void BreakAudit() = 0;
};

struct CaseStoreImpl {
  std::string name;
  std::function<std::unique_ptr<CaseStoreUnderTest>()> make;
};

// gtest prints a parameter by its name.
inline void PrintTo(const CaseStoreImpl& impl, std::ostream* os) { *os << impl.name; }

inline std::string CaseStoreImplName(const ::testing::TestParamInfo<CaseStoreImpl>& info) {
  return info.param.name;
}

class CaseStoreConformanceTest : public ::testing::TestWithParam<CaseStoreImpl> {
 protected:
  static constexpr char kMfa[] = "mfa";
  static constexpr char kIom[] = "iom";
  static constexpr char kUnhcr[] = "unhcr";
  static constexpr char kUndp[] = "undp";

  void SetUp() override { under_test_ = GetParam().make(); }
  db::CaseStore& store() { return *under_test_->store(); }

  static enlace::v1::Consent ConsentFor(std::vector<std::string> agencies,
                                        std::vector<enlace::v1::Purpose> purposes = {
                                            enlace::v1::PURPOSE_REINTEGRATION}) {
    enlace::v1::Consent consent;
    for (const std::string& a : agencies) consent.add_agencies(a);
    for (enlace::v1::Purpose p : purposes) consent.add_purposes(p);
    consent.mutable_given_at()->set_seconds(1516000000);
    return consent;
  }

  // An arrival submitted by mfa whose consent names `agencies` for
  // `purposes`; returns its id.
  std::string AddArrival(
      std::vector<std::string> agencies,
      std::vector<enlace::v1::Purpose> purposes = {enlace::v1::PURPOSE_REINTEGRATION},
      const std::string& municipality = "Guazapa") {
    enlace::v1::Arrival a;
    a.set_external_id(absl::StrCat("ext-", ++arrivals_));
    a.set_arrival_date("2018-01-15");
    a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
    a.set_origin_country("US");
    a.mutable_person()->set_given_name("José");
    a.mutable_person()->set_family_name("Peña");
    a.mutable_person()->set_birth_date("1990-03-02");
    a.mutable_person()->set_sex(enlace::v1::SEX_MALE);
    a.mutable_destination()->set_department_code("SV-SS");
    a.mutable_destination()->set_municipality(municipality);
    a.add_needs(enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT);
    a.add_needs(enlace::v1::NEED_TRAINING);
    *a.mutable_consent() = ConsentFor(std::move(agencies), std::move(purposes));
    return under_test_->AddArrival(a, kMfa);
  }

  static db::AuditRecord Event(const std::string& method, std::vector<std::string> ids = {}) {
    db::AuditRecord r;
    r.at_us = 1800000000000000;
    r.principal = "spiffe://enlace/agency/test";
    r.method = method;
    r.decision = 1;
    r.record_ids = std::move(ids);
    r.detail = "conformance";
    r.peer = "ipv4:127.0.0.1:5000";
    return r;
  }

  enlace::v1::Case Open(const std::string& arrival_id, const std::string& agency,
                        const std::string& summary = "first visit") {
    absl::StatusOr<enlace::v1::Case> opened =
        store().OpenCase(arrival_id, summary, db::Viewer{agency}, nullptr);
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.ok() ? *opened : enlace::v1::Case{};
  }
  enlace::v1::Referral Refer(const std::string& case_id, const std::string& from,
                             const std::string& to,
                             enlace::v1::Need service = enlace::v1::NEED_TRAINING) {
    absl::StatusOr<enlace::v1::Referral> created =
        store().CreateReferral(case_id, to, service, "needs a course", db::Viewer{from}, nullptr);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : enlace::v1::Referral{};
  }
  absl::StatusOr<enlace::v1::Referral> Move(const std::string& referral_id,
                                            const std::string& agency,
                                            enlace::v1::ReferralStatus to,
                                            const std::string& text = "",
                                            const std::string& etag = "",
                                            db::AuditRecord* audit = nullptr) {
    return store().TransitionReferral(db::Transition{referral_id, to, text, etag},
                                      db::Viewer{agency}, audit);
  }
  std::vector<db::FeedEvent> Feed(int64_t after = 0, const std::string& agency = "",
                                  int64_t up_to = 0, int limit = 1000) {
    absl::StatusOr<std::vector<db::FeedEvent>> events =
        store().ReadFeed(after, up_to, agency, limit);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<db::FeedEvent>{};
  }
  int64_t Head() {
    absl::StatusOr<int64_t> head = store().FeedHead();
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? *head : -1;
  }
  std::vector<db::AuditRecord> AuditEvents() {
    db::AuditQuery query;
    query.limit = 1000;
    absl::StatusOr<db::AuditPage> page = under_test_->audit()->List(query);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->records : std::vector<db::AuditRecord>{};
  }
  std::vector<std::string> CaseIds(const std::string& agency,
                                   db::CaseFilter filter = db::CaseFilter{}) {
    absl::StatusOr<db::CasePage> page = store().ListCases(filter, db::Viewer{agency}, 0, 1000);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const enlace::v1::Case& c : page->cases) ids.push_back(c.case_id());
    }
    return ids;
  }
  std::vector<std::string> ReferralIds(const std::string& agency, enlace::v1::Box box,
                                       std::vector<enlace::v1::ReferralStatus> statuses = {}) {
    db::ReferralFilter filter;
    filter.box = box;
    filter.statuses = std::move(statuses);
    absl::StatusOr<db::ReferralPage> page =
        store().ListReferrals(filter, db::Viewer{agency}, 0, 1000);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const enlace::v1::Referral& r : page->referrals) ids.push_back(r.referral_id());
    }
    return ids;
  }
  // The case as `agency` reads it; its status if it may not.
  absl::StatusOr<enlace::v1::Case> Read(const std::string& case_id, const std::string& agency) {
    return store().GetCase(case_id, db::Viewer{agency});
  }

  std::unique_ptr<CaseStoreUnderTest> under_test_;
  int arrivals_ = 0;
};

using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using StatusCode = absl::StatusCode;

// --- Cases -------------------------------------------------------------------

TEST_P(CaseStoreConformanceTest, OpenCaseGivesTheOwnerItsCaseAndCommitsItsAuditEvent) {
  std::string arrival =
      AddArrival({kIom, kUnhcr}, {enlace::v1::PURPOSE_REINTEGRATION}, "San José Villanueva");
  db::AuditRecord event = Event("/enlace.v1.CaseService/OpenCase", {arrival});
  absl::StatusOr<enlace::v1::Case> opened =
      store().OpenCase(arrival, "first visit", db::Viewer{kIom}, &event);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_THAT(opened->case_id(), SizeIs(32));
  EXPECT_EQ(opened->arrival_id(), arrival);
  EXPECT_EQ(opened->owner_agency(), kIom);
  EXPECT_EQ(opened->status(), enlace::v1::CASE_STATUS_OPEN);
  EXPECT_EQ(opened->department_code(), "SV-SS");
  EXPECT_EQ(opened->municipality(), "San José Villanueva");
  EXPECT_EQ(opened->summary(), "first visit");
  EXPECT_EQ(opened->psychosocial_notes(), "");
  EXPECT_EQ(opened->etag(), "v1");
  EXPECT_THAT(opened->services(), IsEmpty());
  EXPECT_GT(opened->created_at().seconds(), 0);
  EXPECT_EQ(opened->created_at(), opened->updated_at());
  // The event, with the case's id added, is committed, and *audit says so.
  EXPECT_GT(event.seq, 0);
  EXPECT_THAT(event.record_ids, ElementsAre(arrival, opened->case_id()));
  std::vector<db::AuditRecord> events = AuditEvents();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].seq, event.seq);
  EXPECT_EQ(events[0].method, "/enlace.v1.CaseService/OpenCase");
  EXPECT_THAT(events[0].record_ids, ElementsAre(arrival, opened->case_id()));
  // Read back the same.
  absl::StatusOr<enlace::v1::Case> read = Read(opened->case_id(), kIom);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->SerializeAsString(), opened->SerializeAsString());
}

TEST_P(CaseStoreConformanceTest, OpenCaseNeedsTheArrivalVisibleAndConsentForReintegration) {
  std::string arrival = AddArrival({kIom});
  std::string protection = AddArrival({kIom}, {enlace::v1::PURPOSE_PROTECTION});
  std::string statistics = AddArrival({kIom}, {enlace::v1::PURPOSE_STATISTICS});
  // Not named: NOT_FOUND, as for an id no arrival has; the submitter too.
  EXPECT_THAT(store().OpenCase(arrival, "", db::Viewer{kUndp}, nullptr),
              StatusIs(StatusCode::kNotFound, absl::StrCat("arrival ", arrival, " not found")));
  EXPECT_THAT(store().OpenCase(arrival, "", db::Viewer{kMfa}, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().OpenCase("0123456789abcdef0123456789abcdef", "", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kNotFound));
  // Named for a purpose that shows the arrival but allows no case.
  db::AuditRecord event = Event("/enlace.v1.CaseService/OpenCase", {protection});
  EXPECT_THAT(store().OpenCase(protection, "", db::Viewer{kIom}, &event),
              StatusIs(StatusCode::kFailedPrecondition));
  // STATISTICS does not even show it.
  EXPECT_THAT(store().OpenCase(statistics, "", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(CaseIds(kIom), IsEmpty());
  EXPECT_THAT(AuditEvents(), IsEmpty());
  EXPECT_EQ(event.seq, 0);
}

TEST_P(CaseStoreConformanceTest, OneCasePerAgencyAndArrival) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case first = Open(arrival, kIom);
  EXPECT_THAT(store().OpenCase(arrival, "again", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kAlreadyExists));
  enlace::v1::Case other = Open(arrival, kUnhcr);
  EXPECT_NE(other.case_id(), first.case_id());
  EXPECT_THAT(CaseIds(kIom), ElementsAre(first.case_id()));
  EXPECT_THAT(CaseIds(kUnhcr), ElementsAre(other.case_id()));
}

TEST_P(CaseStoreConformanceTest, ConcurrentOpeningsOfOneCaseOpenItOnce) {
  std::string arrival = AddArrival({kIom});
  constexpr int kThreads = 6;
  std::atomic<int> opened{0}, exists{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<enlace::v1::Case> c =
          store().OpenCase(arrival, "race", db::Viewer{kIom}, nullptr);
      if (c.ok()) {
        ++opened;
      } else if (absl::IsAlreadyExists(c.status())) {
        ++exists;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(opened.load(), 1);
  EXPECT_EQ(exists.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_THAT(CaseIds(kIom), SizeIs(1));
}

TEST_P(CaseStoreConformanceTest, HiddenCasesAreNotFoundWithTheMessageOfAMissingOne) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  const std::string missing = "0123456789abcdef0123456789abcdef";
  absl::Status hidden = Read(c.case_id(), kUnhcr).status();  // named, but no referral
  absl::Status absent = Read(missing, kUnhcr).status();
  EXPECT_THAT(hidden,
              StatusIs(StatusCode::kNotFound, absl::StrCat("case ", c.case_id(), " not found")));
  EXPECT_THAT(absent,
              StatusIs(StatusCode::kNotFound, absl::StrCat("case ", missing, " not found")));
  EXPECT_THAT(Read(c.case_id(), kUndp), StatusIs(StatusCode::kNotFound));  // not named
  EXPECT_THAT(Read(c.case_id(), kMfa), StatusIs(StatusCode::kNotFound));  // the submitter
  // Every call that names the case answers the same.
  EXPECT_THAT(store().CheckCaseOwner(c.case_id(), db::Viewer{kUnhcr}),
              StatusIs(StatusCode::kNotFound));
  enlace::v1::Case update = c;
  update.set_summary("x");
  EXPECT_THAT(store().UpdateCase(update, "v1", db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().RecordService(::enlace::testing::ServiceRequest(
                                        c.case_id(), enlace::v1::NEED_TRAINING, "2024-03-01", ""),
                                    db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(
      store().RegisterInitiative(::enlace::testing::InitiativeRequest(c.case_id(), "x", "y", ""),
                                 db::Viewer{kUnhcr}, nullptr),
      StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().CreateReferral(c.case_id(), kIom, enlace::v1::NEED_TRAINING, "",
                                     db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(CaseIds(kUnhcr), IsEmpty());
}

TEST_P(CaseStoreConformanceTest, AReceiverSeesTheCaseWhileItsReferralIsLiveWithoutOwnerOnlyFields) {
  std::string arrival = AddArrival({kIom, kUnhcr, kUndp});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Case update = c;
  update.set_psychosocial_notes("owner only");
  ASSERT_TRUE(store().UpdateCase(update, "v1", db::Viewer{kIom}, nullptr).ok());
  ASSERT_TRUE(store()
                  .RecordService(::enlace::testing::ServiceRequest(
                                     c.case_id(), enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT,
                                     "2024-03-01", "iom's note"),
                                 db::Viewer{kIom}, nullptr)
                  .ok());
  enlace::v1::Referral to_unhcr = Refer(c.case_id(), kIom, kUnhcr);
  enlace::v1::Referral to_undp = Refer(c.case_id(), kIom, kUndp);

  // PENDING: the receiver sees the case, without the psychosocial notes nor
  // the owner's service notes.
  absl::StatusOr<enlace::v1::Case> seen = Read(c.case_id(), kUnhcr);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->owner_agency(), kIom);
  EXPECT_EQ(seen->psychosocial_notes(), "");
  ASSERT_THAT(seen->services(), SizeIs(1));
  EXPECT_EQ(seen->services(0).notes(), "");
  EXPECT_EQ(seen->services(0).recorded_by(), kIom);
  absl::StatusOr<enlace::v1::Case> owner = Read(c.case_id(), kIom);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner->psychosocial_notes(), "owner only");
  EXPECT_EQ(owner->services(0).notes(), "iom's note");
  EXPECT_THAT(CaseIds(kUnhcr), ElementsAre(c.case_id()));

  // ACCEPTED, then COMPLETED: still seen; the receiver's own notes are its.
  ASSERT_TRUE(Move(to_unhcr.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED).ok());
  ASSERT_TRUE(
      store()
          .RecordService(::enlace::testing::ServiceRequest(c.case_id(), enlace::v1::NEED_TRAINING,
                                                           "2024-03-02", "unhcr's note"),
                         db::Viewer{kUnhcr}, nullptr)
          .ok());
  ASSERT_TRUE(
      Move(to_unhcr.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_COMPLETED, "done").ok());
  seen = Read(c.case_id(), kUnhcr);
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_THAT(seen->services(), SizeIs(2));
  EXPECT_EQ(seen->services(0).notes(), "");
  EXPECT_EQ(seen->services(1).notes(), "unhcr's note");
  owner = Read(c.case_id(), kIom);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner->services(1).notes(), "unhcr's note");
  // undp, another receiver, sees neither agency's notes.
  seen = Read(c.case_id(), kUndp);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->services(0).notes(), "");
  EXPECT_EQ(seen->services(1).notes(), "");

  // DECLINED (or WITHDRAWN): no longer.
  ASSERT_TRUE(
      Move(to_undp.referral_id(), kUndp, enlace::v1::REFERRAL_STATUS_DECLINED, "full").ok());
  EXPECT_THAT(Read(c.case_id(), kUndp), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(CaseIds(kUndp), IsEmpty());
  EXPECT_THAT(CaseIds(kUnhcr), ElementsAre(c.case_id()));
}

TEST_P(CaseStoreConformanceTest, AConsentThatNoLongerAllowsTheOwnerHidesItsCaseFromIt) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  ASSERT_TRUE(store()
                  .RegisterInitiative(
                      ::enlace::testing::InitiativeRequest(c.case_id(), "Bakery", "food", ""),
                      db::Viewer{kIom}, nullptr)
                  .ok());
  // Still named, for PROTECTION only: no case.
  under_test_->ChangeConsent(arrival, kMfa,
                             ConsentFor({kIom, kUnhcr}, {enlace::v1::PURPOSE_PROTECTION}));
  EXPECT_THAT(Read(c.case_id(), kIom), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().CheckCaseOwner(c.case_id(), db::Viewer{kIom}),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(CaseIds(kIom), IsEmpty());
  absl::StatusOr<db::InitiativePage> initiatives =
      store().ListInitiatives("", db::Viewer{kIom}, 0, 10);
  ASSERT_TRUE(initiatives.ok());
  EXPECT_THAT(initiatives->initiatives, IsEmpty());
  EXPECT_EQ(initiatives->total_count, 0);
  // Given back: the case is there again, unchanged.
  under_test_->ChangeConsent(arrival, kMfa, ConsentFor({kIom}));
  absl::StatusOr<enlace::v1::Case> again = Read(c.case_id(), kIom);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->etag(), "v1");
  EXPECT_TRUE(store().CheckCaseOwner(c.case_id(), db::Viewer{kIom}).ok());
}

TEST_P(CaseStoreConformanceTest, ListCasesShowsOwnedAndReferredInOpeningOrderWithFilters) {
  std::string a1 = AddArrival({kIom, kUnhcr}, {enlace::v1::PURPOSE_REINTEGRATION}, "Guazapa");
  std::string a2 = AddArrival({kIom, kUnhcr}, {enlace::v1::PURPOSE_REINTEGRATION}, "Santa Tecla");
  std::string a3 =
      AddArrival({kIom, kUnhcr}, {enlace::v1::PURPOSE_REINTEGRATION}, "San José Villanueva");
  enlace::v1::Case iom1 = Open(a1, kIom);
  enlace::v1::Case unhcr2 = Open(a2, kUnhcr);
  enlace::v1::Case iom3 = Open(a3, kIom);
  enlace::v1::Case iom2 = Open(a2, kIom);
  Refer(unhcr2.case_id(), kUnhcr, kIom);
  // A case referred twice to the same agency is listed once.
  Refer(unhcr2.case_id(), kUnhcr, kIom, enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT);
  EXPECT_THAT(CaseIds(kIom),
              ElementsAre(iom1.case_id(), unhcr2.case_id(), iom3.case_id(), iom2.case_id()));
  EXPECT_THAT(CaseIds(kUnhcr), ElementsAre(unhcr2.case_id()));
  // Listed cases come without services; a referred one without owner-only fields.
  absl::StatusOr<db::CasePage> page = store().ListCases({}, db::Viewer{kIom}, 0, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->cases[1].owner_agency(), kUnhcr);

  enlace::v1::Case update = iom3;
  update.set_status(enlace::v1::CASE_STATUS_CLOSED);
  ASSERT_TRUE(store().UpdateCase(update, "v1", db::Viewer{kIom}, nullptr).ok());
  db::CaseFilter closed;
  closed.status = enlace::v1::CASE_STATUS_CLOSED;
  EXPECT_THAT(CaseIds(kIom, closed), ElementsAre(iom3.case_id()));
  db::CaseFilter open;
  open.status = enlace::v1::CASE_STATUS_OPEN;
  EXPECT_THAT(CaseIds(kIom, open), ElementsAre(iom1.case_id(), unhcr2.case_id(), iom2.case_id()));
  // Municipalities compare ignoring case and accents, as the database's collation does.
  db::CaseFilter place;
  place.municipality = "SANTA TECLA";
  EXPECT_THAT(CaseIds(kIom, place), ElementsAre(unhcr2.case_id(), iom2.case_id()));
  place.municipality = "san jose villanueva";
  EXPECT_THAT(CaseIds(kIom, place), ElementsAre(iom3.case_id()));
  place.municipality = "Santa";
  EXPECT_THAT(CaseIds(kIom, place), IsEmpty());
}

TEST_P(CaseStoreConformanceTest, ListCasesPagesByKeysetWithoutSkipsOrRepeats) {
  std::vector<std::string> opened;
  for (int i = 0; i < 5; ++i) opened.push_back(Open(AddArrival({kIom}), kIom).case_id());
  std::vector<std::string> seen;
  std::vector<bool> more;
  int64_t after = 0;
  for (int pages = 0; pages < 10; ++pages) {
    absl::StatusOr<db::CasePage> page = store().ListCases({}, db::Viewer{kIom}, after, 2);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const enlace::v1::Case& c : page->cases) seen.push_back(c.case_id());
    more.push_back(page->more);
    if (!page->more) break;
    EXPECT_GT(page->last_position, after);
    after = page->last_position;
    // A case opened between pages comes after the position: on a later page.
    if (pages == 0) opened.push_back(Open(AddArrival({kIom}), kIom).case_id());
  }
  EXPECT_THAT(seen, ElementsAreArray(opened));
  EXPECT_THAT(more, ElementsAre(true, true, false));
  absl::StatusOr<db::CasePage> empty = store().ListCases({}, db::Viewer{kUndp}, 0, 2);
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(empty->cases, IsEmpty());
  EXPECT_FALSE(empty->more);
}

TEST_P(CaseStoreConformanceTest, UpdateCaseIsTheOwnersWithTheCurrentEtag) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  Refer(c.case_id(), kIom, kUnhcr);
  enlace::v1::Case update;
  update.set_case_id(c.case_id());
  update.set_status(enlace::v1::CASE_STATUS_IN_PROGRESS);
  update.set_summary("second visit");
  update.set_psychosocial_notes("doing better");
  update.set_owner_agency("unhcr");  // not a field an update changes
  size_t events_before = AuditEvents().size();
  // The receiver sees the case but may not change it.
  EXPECT_THAT(store().UpdateCase(update, "v1", db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(store().UpdateCase(update, "v7", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kAborted));
  EXPECT_THAT(store().UpdateCase(update, "", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kAborted));
  db::AuditRecord event = Event("/enlace.v1.CaseService/UpdateCase", {c.case_id()});
  absl::StatusOr<enlace::v1::Case> updated =
      store().UpdateCase(update, "v1", db::Viewer{kIom}, &event);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->status(), enlace::v1::CASE_STATUS_IN_PROGRESS);
  EXPECT_EQ(updated->summary(), "second visit");
  EXPECT_EQ(updated->psychosocial_notes(), "doing better");
  EXPECT_EQ(updated->owner_agency(), kIom);
  EXPECT_EQ(updated->arrival_id(), arrival);
  EXPECT_EQ(updated->etag(), "v2");
  EXPECT_EQ(updated->created_at(), c.created_at());
  EXPECT_GE(google::protobuf::util::TimeUtil::TimestampToMicroseconds(updated->updated_at()),
            google::protobuf::util::TimeUtil::TimestampToMicroseconds(c.updated_at()));
  EXPECT_GT(event.seq, 0);
  EXPECT_THAT(event.record_ids, ElementsAre(c.case_id()));  // nothing added
  EXPECT_THAT(AuditEvents(), SizeIs(events_before + 1));
  // The old etag is stale now.
  EXPECT_THAT(store().UpdateCase(update, "v1", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kAborted));
  absl::StatusOr<enlace::v1::Case> read = Read(c.case_id(), kUnhcr);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->summary(), "second visit");
  EXPECT_EQ(read->psychosocial_notes(), "");
}

TEST_P(CaseStoreConformanceTest, ServicesAreRecordedByTheOwnerOrAnAcceptedReceiverOfThatService) {
  std::string arrival = AddArrival({kIom, kUnhcr, kUndp});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Referral training = Refer(c.case_id(), kIom, kUnhcr, enlace::v1::NEED_TRAINING);
  // Pending: not yet.
  EXPECT_THAT(store().RecordService(::enlace::testing::ServiceRequest(
                                        c.case_id(), enlace::v1::NEED_TRAINING, "2024-03-01", ""),
                                    db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kPermissionDenied));
  ASSERT_TRUE(Move(training.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED).ok());
  // Accepted, but for another service.
  EXPECT_THAT(store().RecordService(::enlace::testing::ServiceRequest(
                                        c.case_id(), enlace::v1::NEED_EMPLOYMENT, "2024-03-01", ""),
                                    db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kPermissionDenied));
  // undp: named by the consent, no referral: the case is not visible to it.
  EXPECT_THAT(store().RecordService(::enlace::testing::ServiceRequest(
                                        c.case_id(), enlace::v1::NEED_TRAINING, "2024-03-01", ""),
                                    db::Viewer{kUndp}, nullptr),
              StatusIs(StatusCode::kNotFound));
  db::AuditRecord event = Event("/enlace.v1.CaseService/RecordService", {c.case_id()});
  absl::StatusOr<enlace::v1::ServiceRecord> recorded =
      store().RecordService(::enlace::testing::ServiceRequest(
                                c.case_id(), enlace::v1::NEED_TRAINING, "2024-03-01", "week one"),
                            db::Viewer{kUnhcr}, &event);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_THAT(recorded->service_id(), SizeIs(32));
  EXPECT_EQ(recorded->case_id(), c.case_id());
  EXPECT_EQ(recorded->service(), enlace::v1::NEED_TRAINING);
  EXPECT_EQ(recorded->delivered_on(), "2024-03-01");
  EXPECT_EQ(recorded->notes(), "week one");
  EXPECT_EQ(recorded->recorded_by(), kUnhcr);
  EXPECT_GT(recorded->recorded_at().seconds(), 0);
  EXPECT_THAT(event.record_ids, ElementsAre(c.case_id(), recorded->service_id()));
  EXPECT_GT(event.seq, 0);
  // The owner records any service.
  ASSERT_TRUE(store()
                  .RecordService(::enlace::testing::ServiceRequest(
                                     c.case_id(), enlace::v1::NEED_EMPLOYMENT, "2024-03-05", ""),
                                 db::Viewer{kIom}, nullptr)
                  .ok());
  absl::StatusOr<enlace::v1::Case> read = Read(c.case_id(), kIom);
  ASSERT_TRUE(read.ok());
  ASSERT_THAT(read->services(), SizeIs(2));
  EXPECT_EQ(read->services(0).SerializeAsString(), recorded->SerializeAsString());
  EXPECT_EQ(read->services(1).service(), enlace::v1::NEED_EMPLOYMENT);
  EXPECT_EQ(read->services(1).delivered_on(), "2024-03-05");
  // Completed: the accepted referral is gone, and with it the right.
  ASSERT_TRUE(Move(training.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_COMPLETED).ok());
  EXPECT_THAT(store().RecordService(::enlace::testing::ServiceRequest(
                                        c.case_id(), enlace::v1::NEED_TRAINING, "2024-03-09", ""),
                                    db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kPermissionDenied));
}

TEST_P(CaseStoreConformanceTest, InitiativesAreTheOwnersAndListedToAgenciesTheConsentAllows) {
  std::string a1 = AddArrival({kIom, kUnhcr}, {enlace::v1::PURPOSE_REINTEGRATION}, "Guazapa");
  std::string a2 = AddArrival({kIom}, {enlace::v1::PURPOSE_REINTEGRATION}, "Santa Tecla");
  enlace::v1::Case c1 = Open(a1, kIom);
  enlace::v1::Case c2 = Open(a2, kIom);
  Refer(c1.case_id(), kIom, kUnhcr);
  EXPECT_THAT(store().RegisterInitiative(
                  ::enlace::testing::InitiativeRequest(c1.case_id(), "Bakery", "food", ""),
                  db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(store().RegisterInitiative(
                  ::enlace::testing::InitiativeRequest(c1.case_id(), "Bakery", "food", ""),
                  db::Viewer{kUndp}, nullptr),
              StatusIs(StatusCode::kNotFound));
  db::AuditRecord event = Event("/enlace.v1.CaseService/RegisterInitiative", {c1.case_id()});
  absl::StatusOr<enlace::v1::Initiative> bakery = store().RegisterInitiative(
      ::enlace::testing::InitiativeRequest(c1.case_id(), "Bakery", "food", ""), db::Viewer{kIom},
      &event);
  ASSERT_TRUE(bakery.ok()) << bakery.status();
  EXPECT_THAT(bakery->initiative_id(), SizeIs(32));
  EXPECT_EQ(bakery->case_id(), c1.case_id());
  EXPECT_EQ(bakery->name(), "Bakery");
  EXPECT_EQ(bakery->sector(), "food");
  EXPECT_EQ(bakery->municipality(), "Guazapa");  // the case's
  EXPECT_EQ(bakery->department_code(), "SV-SS");
  EXPECT_EQ(bakery->owner_agency(), kIom);
  EXPECT_THAT(event.record_ids, ElementsAre(c1.case_id(), bakery->initiative_id()));
  absl::StatusOr<enlace::v1::Initiative> workshop = store().RegisterInitiative(
      ::enlace::testing::InitiativeRequest(c1.case_id(), "Workshop", "crafts", "Apopa"),
      db::Viewer{kIom}, nullptr);
  ASSERT_TRUE(workshop.ok());
  EXPECT_EQ(workshop->municipality(), "Apopa");
  absl::StatusOr<enlace::v1::Initiative> shop = store().RegisterInitiative(
      ::enlace::testing::InitiativeRequest(c2.case_id(), "Shop", "retail", ""), db::Viewer{kIom},
      nullptr);
  ASSERT_TRUE(shop.ok());

  // The owner: all three, with case ids, paged.
  absl::StatusOr<db::InitiativePage> page = store().ListInitiatives("", db::Viewer{kIom}, 0, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->initiatives, SizeIs(2));
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->total_count, 3);
  EXPECT_EQ(page->initiatives[0].SerializeAsString(), bakery->SerializeAsString());
  EXPECT_EQ(page->initiatives[1].initiative_id(), workshop->initiative_id());
  absl::StatusOr<db::InitiativePage> rest =
      store().ListInitiatives("", db::Viewer{kIom}, page->last_position, 2);
  ASSERT_TRUE(rest.ok());
  ASSERT_THAT(rest->initiatives, SizeIs(1));
  EXPECT_FALSE(rest->more);
  EXPECT_EQ(rest->total_count, 3);
  EXPECT_EQ(rest->initiatives[0].initiative_id(), shop->initiative_id());
  // unhcr: only the returnee whose consent names it, without the case id.
  page = store().ListInitiatives("", db::Viewer{kUnhcr}, 0, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_THAT(page->initiatives, SizeIs(2));
  EXPECT_EQ(page->total_count, 2);
  EXPECT_EQ(page->initiatives[0].case_id(), "");
  EXPECT_EQ(page->initiatives[0].name(), "Bakery");
  // By municipality, ignoring case and accents.
  page = store().ListInitiatives("GUAZAPA", db::Viewer{kIom}, 0, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_THAT(page->initiatives, SizeIs(1));
  EXPECT_EQ(page->total_count, 1);
  EXPECT_EQ(page->initiatives[0].initiative_id(), bakery->initiative_id());
  // undp: nothing at all.
  page = store().ListInitiatives("", db::Viewer{kUndp}, 0, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->initiatives, IsEmpty());
  EXPECT_EQ(page->total_count, 0);
}

TEST_P(CaseStoreConformanceTest, CheckCaseOwnerIsOkOnlyForTheOwner) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  Refer(c.case_id(), kIom, kUnhcr);
  EXPECT_TRUE(store().CheckCaseOwner(c.case_id(), db::Viewer{kIom}).ok());
  EXPECT_THAT(store().CheckCaseOwner(c.case_id(), db::Viewer{kUnhcr}),
              StatusIs(StatusCode::kNotFound, absl::StrCat("case ", c.case_id(), " not found")));
  EXPECT_THAT(store().CheckCaseOwner(c.case_id(), db::Viewer{kUndp}),
              StatusIs(StatusCode::kNotFound));
}

// --- Referrals -----------------------------------------------------------------

TEST_P(CaseStoreConformanceTest, CreateReferralStartsPendingWithTheReturneeAndOneFeedEvent) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  db::AuditRecord event = Event("/enlace.v1.ReferralService/CreateReferral", {c.case_id()});
  absl::StatusOr<enlace::v1::Referral> r = store().CreateReferral(
      c.case_id(), kUnhcr, enlace::v1::NEED_TRAINING, "needs a course", db::Viewer{kIom}, &event);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->referral_id(), SizeIs(32));
  EXPECT_EQ(r->case_id(), c.case_id());
  EXPECT_EQ(r->from_agency(), kIom);
  EXPECT_EQ(r->to_agency(), kUnhcr);
  EXPECT_EQ(r->service(), enlace::v1::NEED_TRAINING);
  EXPECT_EQ(r->reason(), "needs a course");
  EXPECT_EQ(r->status(), enlace::v1::REFERRAL_STATUS_PENDING);
  EXPECT_EQ(r->etag(), "v1");
  EXPECT_EQ(r->decline_reason(), "");
  EXPECT_EQ(r->outcome(), "");
  EXPECT_EQ(r->created_at(), r->updated_at());
  EXPECT_EQ(r->returnee().given_name(), "José");
  EXPECT_EQ(r->returnee().family_name(), "Peña");
  EXPECT_EQ(r->returnee().sex(), enlace::v1::SEX_MALE);
  EXPECT_EQ(r->returnee().municipality(), "Guazapa");
  EXPECT_THAT(r->returnee().needs(),
              ElementsAre(enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT, enlace::v1::NEED_TRAINING));
  EXPECT_THAT(event.record_ids, ElementsAre(c.case_id(), r->referral_id()));
  EXPECT_GT(event.seq, 0);
  // Both parties read the same referral.
  for (const char* agency : {kIom, kUnhcr}) {
    absl::StatusOr<enlace::v1::Referral> read =
        store().GetReferral(r->referral_id(), db::Viewer{agency});
    ASSERT_TRUE(read.ok()) << agency << ": " << read.status();
    EXPECT_EQ(read->SerializeAsString(), r->SerializeAsString());
  }
  // One CREATED event, the referral as created, without the returnee.
  std::vector<db::FeedEvent> feed = Feed();
  ASSERT_THAT(feed, SizeIs(1));
  EXPECT_EQ(feed[0].seq, 1);
  EXPECT_EQ(Head(), 1);
  EXPECT_EQ(feed[0].type, enlace::v1::REFERRAL_EVENT_TYPE_CREATED);
  EXPECT_EQ(feed[0].from_agency, kIom);
  EXPECT_EQ(feed[0].to_agency, kUnhcr);
  EXPECT_FALSE(feed[0].consent_change);
  EXPECT_GT(feed[0].committed_at_us, 0);
  EXPECT_GT(feed[0].arrival_seq, 0);
  enlace::v1::Referral without_returnee = *r;
  without_returnee.clear_returnee();
  EXPECT_EQ(feed[0].referral.SerializeAsString(), without_returnee.SerializeAsString());
  EXPECT_EQ(feed[0].consent.version, 1);
  EXPECT_THAT(feed[0].consent.agencies, ElementsAre(kIom, kUnhcr));
  EXPECT_EQ(feed[0].consent.purposes_mask, 1u << enlace::v1::PURPOSE_REINTEGRATION);
}

TEST_P(CaseStoreConformanceTest, CreateReferralRefusalsHaveTheirCodesAndChangeNothing) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  Refer(c.case_id(), kIom, kUnhcr);
  const int64_t head = Head();
  const size_t events = AuditEvents().size();
  // To the owner itself: INVALID_ARGUMENT (docs/api.md).
  EXPECT_THAT(store().CreateReferral(c.case_id(), kIom, enlace::v1::NEED_TRAINING, "",
                                     db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  // To an agency the consent does not name (registered or not).
  EXPECT_THAT(store().CreateReferral(c.case_id(), kUndp, enlace::v1::NEED_TRAINING, "",
                                     db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().CreateReferral(c.case_id(), "fao", enlace::v1::NEED_TRAINING, "",
                                     db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
  // By the receiver of a live referral: it sees the case, may not refer it.
  EXPECT_THAT(store().CreateReferral(c.case_id(), kIom, enlace::v1::NEED_TRAINING, "",
                                     db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kPermissionDenied));
  // By an agency that does not see the case.
  EXPECT_THAT(store().CreateReferral(c.case_id(), kUnhcr, enlace::v1::NEED_TRAINING, "",
                                     db::Viewer{kUndp}, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(Head(), head);
  EXPECT_THAT(AuditEvents(), SizeIs(events));
  EXPECT_THAT(ReferralIds(kIom, enlace::v1::BOX_OUTBOX), SizeIs(1));
}

TEST_P(CaseStoreConformanceTest, AReferralIsSeenByItsTwoPartiesWhileTheConsentAllowsThem) {
  std::string arrival = AddArrival({kIom, kUnhcr, kUndp});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Referral r = Refer(c.case_id(), kIom, kUnhcr);
  const std::string missing = "0123456789abcdef0123456789abcdef";
  // undp is named by the consent, but no party.
  EXPECT_THAT(
      store().GetReferral(r.referral_id(), db::Viewer{kUndp}),
      StatusIs(StatusCode::kNotFound, absl::StrCat("referral ", r.referral_id(), " not found")));
  EXPECT_THAT(store().GetReferral(missing, db::Viewer{kUndp}),
              StatusIs(StatusCode::kNotFound, absl::StrCat("referral ", missing, " not found")));
  EXPECT_THAT(Move(r.referral_id(), kUndp, enlace::v1::REFERRAL_STATUS_ACCEPTED),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(ReferralIds(kUndp, enlace::v1::BOX_INBOX), IsEmpty());
  // Accepted (so that a consent change does not withdraw it), then the
  // consent drops unhcr: the receiver no longer sees it, the sender does.
  ASSERT_TRUE(Move(r.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED).ok());
  under_test_->ChangeConsent(arrival, kMfa, ConsentFor({kIom, kUndp}));
  EXPECT_THAT(store().GetReferral(r.referral_id(), db::Viewer{kUnhcr}),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(ReferralIds(kUnhcr, enlace::v1::BOX_INBOX), IsEmpty());
  EXPECT_THAT(Read(c.case_id(), kUnhcr), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(Move(r.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_COMPLETED),
              StatusIs(StatusCode::kNotFound));
  absl::StatusOr<enlace::v1::Referral> sender =
      store().GetReferral(r.referral_id(), db::Viewer{kIom});
  ASSERT_TRUE(sender.ok()) << sender.status();
  EXPECT_EQ(sender->status(), enlace::v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_THAT(ReferralIds(kIom, enlace::v1::BOX_OUTBOX), ElementsAre(r.referral_id()));
}

TEST_P(CaseStoreConformanceTest, ListReferralsByBoxAndStatusInCreationOrderPaged) {
  std::string a1 = AddArrival({kIom, kUnhcr, kUndp});
  std::string a2 = AddArrival({kIom, kUnhcr, kUndp});
  enlace::v1::Case iom1 = Open(a1, kIom);
  enlace::v1::Case unhcr2 = Open(a2, kUnhcr);
  enlace::v1::Referral r1 = Refer(iom1.case_id(), kIom, kUnhcr);
  enlace::v1::Referral r2 = Refer(unhcr2.case_id(), kUnhcr, kIom);
  enlace::v1::Referral r3 = Refer(iom1.case_id(), kIom, kUndp);
  enlace::v1::Referral r4 = Refer(iom1.case_id(), kIom, kUnhcr, enlace::v1::NEED_EMPLOYMENT);
  ASSERT_TRUE(Move(r4.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_DECLINED, "no").ok());
  EXPECT_THAT(ReferralIds(kIom, enlace::v1::BOX_OUTBOX),
              ElementsAre(r1.referral_id(), r3.referral_id(), r4.referral_id()));
  EXPECT_THAT(ReferralIds(kIom, enlace::v1::BOX_INBOX), ElementsAre(r2.referral_id()));
  EXPECT_THAT(ReferralIds(kUnhcr, enlace::v1::BOX_INBOX),
              ElementsAre(r1.referral_id(), r4.referral_id()));
  EXPECT_THAT(ReferralIds(kUnhcr, enlace::v1::BOX_INBOX, {enlace::v1::REFERRAL_STATUS_DECLINED}),
              ElementsAre(r4.referral_id()));
  EXPECT_THAT(
      ReferralIds(kIom, enlace::v1::BOX_OUTBOX,
                  {enlace::v1::REFERRAL_STATUS_PENDING, enlace::v1::REFERRAL_STATUS_ACCEPTED}),
      ElementsAre(r1.referral_id(), r3.referral_id()));
  EXPECT_THAT(ReferralIds(kUndp, enlace::v1::BOX_OUTBOX), IsEmpty());
  // Listed referrals carry the returnee, like GetReferral's.
  db::ReferralFilter outbox;
  outbox.box = enlace::v1::BOX_OUTBOX;
  absl::StatusOr<db::ReferralPage> page = store().ListReferrals(outbox, db::Viewer{kIom}, 0, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->referrals, SizeIs(2));
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->referrals[0].SerializeAsString(), r1.SerializeAsString());
  absl::StatusOr<db::ReferralPage> rest =
      store().ListReferrals(outbox, db::Viewer{kIom}, page->last_position, 2);
  ASSERT_TRUE(rest.ok());
  ASSERT_THAT(rest->referrals, SizeIs(1));
  EXPECT_FALSE(rest->more);
  EXPECT_EQ(rest->referrals[0].referral_id(), r4.referral_id());
  EXPECT_EQ(rest->referrals[0].decline_reason(), "no");
}

TEST_P(CaseStoreConformanceTest, TransitionsFollowTheLifecycleEachWithItsEventAndAuditRecord) {
  std::string arrival = AddArrival({kIom, kUnhcr, kUndp});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Referral completed = Refer(c.case_id(), kIom, kUnhcr);
  enlace::v1::Referral declined = Refer(c.case_id(), kIom, kUndp);
  enlace::v1::Referral withdrawn = Refer(c.case_id(), kIom, kUnhcr, enlace::v1::NEED_EMPLOYMENT);
  const int64_t head = Head();

  db::AuditRecord event =
      Event("/enlace.v1.ReferralService/AcceptReferral", {completed.referral_id()});
  absl::StatusOr<enlace::v1::Referral> r =
      Move(completed.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", "v1", &event);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status(), enlace::v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(r->etag(), "v2");
  EXPECT_EQ(r->created_at(), completed.created_at());
  EXPECT_EQ(r->returnee().given_name(), "José");
  EXPECT_GT(event.seq, 0);
  EXPECT_THAT(event.record_ids, ElementsAre(completed.referral_id(), c.case_id()));
  r = Move(completed.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_COMPLETED, "placed");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), "placed");
  EXPECT_EQ(r->decline_reason(), "");
  EXPECT_EQ(r->etag(), "v3");
  r = Move(declined.referral_id(), kUndp, enlace::v1::REFERRAL_STATUS_DECLINED, "no places");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->decline_reason(), "no places");
  EXPECT_EQ(r->outcome(), "");
  ASSERT_TRUE(Move(withdrawn.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED).ok());
  r = Move(withdrawn.referral_id(), kIom, enlace::v1::REFERRAL_STATUS_WITHDRAWN);
  ASSERT_TRUE(r.ok()) << r.status();

  // From a final status nothing moves: FAILED_PRECONDITION, nothing written.
  for (const auto& [id, agency] :
       std::vector<std::pair<std::string, std::string>>{{completed.referral_id(), kUnhcr},
                                                        {declined.referral_id(), kUndp},
                                                        {withdrawn.referral_id(), kUnhcr}}) {
    for (enlace::v1::ReferralStatus to :
         {enlace::v1::REFERRAL_STATUS_ACCEPTED, enlace::v1::REFERRAL_STATUS_DECLINED,
          enlace::v1::REFERRAL_STATUS_COMPLETED, enlace::v1::REFERRAL_STATUS_PENDING}) {
      EXPECT_THAT(Move(id, agency, to), StatusIs(StatusCode::kFailedPrecondition))
          << id << " " << to;
    }
    EXPECT_THAT(Move(id, kIom, enlace::v1::REFERRAL_STATUS_WITHDRAWN),
                StatusIs(StatusCode::kFailedPrecondition));
  }
  // PENDING cannot be completed.
  enlace::v1::Referral pending = Refer(c.case_id(), kIom, kUndp, enlace::v1::NEED_EMPLOYMENT);
  EXPECT_THAT(Move(pending.referral_id(), kUndp, enlace::v1::REFERRAL_STATUS_COMPLETED),
              StatusIs(StatusCode::kFailedPrecondition));

  std::vector<db::FeedEvent> feed = Feed(head);
  std::vector<enlace::v1::ReferralEventType> types;
  for (const db::FeedEvent& e : feed) types.push_back(e.type);
  EXPECT_THAT(types, ElementsAre(enlace::v1::REFERRAL_EVENT_TYPE_ACCEPTED,
                                 enlace::v1::REFERRAL_EVENT_TYPE_COMPLETED,
                                 enlace::v1::REFERRAL_EVENT_TYPE_DECLINED,
                                 enlace::v1::REFERRAL_EVENT_TYPE_ACCEPTED,
                                 enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN,
                                 enlace::v1::REFERRAL_EVENT_TYPE_CREATED));
  ASSERT_THAT(feed, SizeIs(6));
  EXPECT_EQ(feed[1].referral.outcome(), "placed");
  EXPECT_EQ(feed[1].referral.etag(), "v3");
  EXPECT_EQ(feed[1].referral.status(), enlace::v1::REFERRAL_STATUS_COMPLETED);
  EXPECT_FALSE(feed[1].referral.has_returnee());
}

TEST_P(CaseStoreConformanceTest, OnlyTheRightPartyMovesAReferral) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Referral r = Refer(c.case_id(), kIom, kUnhcr);
  const int64_t head = Head();
  for (enlace::v1::ReferralStatus to :
       {enlace::v1::REFERRAL_STATUS_ACCEPTED, enlace::v1::REFERRAL_STATUS_DECLINED,
        enlace::v1::REFERRAL_STATUS_COMPLETED}) {
    EXPECT_THAT(Move(r.referral_id(), kIom, to), StatusIs(StatusCode::kPermissionDenied));
  }
  EXPECT_THAT(Move(r.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_WITHDRAWN),
              StatusIs(StatusCode::kPermissionDenied));
  // The party is checked before the etag and the status.
  EXPECT_THAT(Move(r.referral_id(), kIom, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", "v9"),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_EQ(Head(), head);
  absl::StatusOr<enlace::v1::Referral> read =
      store().GetReferral(r.referral_id(), db::Viewer{kIom});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status(), enlace::v1::REFERRAL_STATUS_PENDING);
  EXPECT_EQ(read->etag(), "v1");
}

TEST_P(CaseStoreConformanceTest, AStaleEtagIsAbortedAndAnEmptyOneIsUnconditional) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Referral r = Refer(c.case_id(), kIom, kUnhcr);
  ASSERT_TRUE(Move(r.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", "v1").ok());
  // Read at v1, now v2: ABORTED, even for a move that would be allowed.
  EXPECT_THAT(Move(r.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_COMPLETED, "x", "v1"),
              StatusIs(StatusCode::kAborted));
  // The etag is checked before the status: a stale etag on a move that is no
  // longer possible is ABORTED too.
  EXPECT_THAT(Move(r.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", "v1"),
              StatusIs(StatusCode::kAborted));
  absl::StatusOr<enlace::v1::Referral> done =
      Move(r.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_COMPLETED, "placed");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->etag(), "v3");
}

TEST_P(CaseStoreConformanceTest, OfRacingTransitionsExactlyOneWins) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  for (bool with_etag : {true, false}) {
    enlace::v1::Referral r = Refer(c.case_id(), kIom, kUnhcr);
    const int64_t head = Head();
    constexpr int kThreads = 8;
    std::atomic<int> won{0}, lost{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        // Half accept, half decline: all read it at v1.
        enlace::v1::ReferralStatus to = i % 2 == 0 ? enlace::v1::REFERRAL_STATUS_ACCEPTED
                                                   : enlace::v1::REFERRAL_STATUS_DECLINED;
        absl::StatusOr<enlace::v1::Referral> moved =
            Move(r.referral_id(), kUnhcr, to, "race", with_etag ? "v1" : "");
        if (moved.ok()) {
          ++won;
        } else if (absl::IsFailedPrecondition(moved.status()) || absl::IsAborted(moved.status())) {
          ++lost;
        } else {
          ++other;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(won.load(), 1) << "with etag: " << with_etag;
    EXPECT_EQ(lost.load(), kThreads - 1);
    EXPECT_EQ(other.load(), 0);
    EXPECT_THAT(Feed(head), SizeIs(1));
    absl::StatusOr<enlace::v1::Referral> read =
        store().GetReferral(r.referral_id(), db::Viewer{kIom});
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->etag(), "v2");
  }
}

TEST_P(CaseStoreConformanceTest, AConsentChangeWithdrawsThePendingReferralsItNoLongerAllows) {
  std::string arrival = AddArrival({kIom, kUnhcr, kUndp});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Referral to_undp = Refer(c.case_id(), kIom, kUndp);
  enlace::v1::Referral accepted_by_undp =
      Refer(c.case_id(), kIom, kUndp, enlace::v1::NEED_EMPLOYMENT);
  enlace::v1::Referral to_unhcr = Refer(c.case_id(), kIom, kUnhcr);
  ASSERT_TRUE(
      Move(accepted_by_undp.referral_id(), kUndp, enlace::v1::REFERRAL_STATUS_ACCEPTED).ok());
  const int64_t head = Head();
  under_test_->ChangeConsent(arrival, kMfa, ConsentFor({kUnhcr, kIom}));
  // The sender sees its pending referral to undp withdrawn; the accepted one stays.
  absl::StatusOr<enlace::v1::Referral> read =
      store().GetReferral(to_undp.referral_id(), db::Viewer{kIom});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->status(), enlace::v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_EQ(read->etag(), "v2");
  read = store().GetReferral(accepted_by_undp.referral_id(), db::Viewer{kIom});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status(), enlace::v1::REFERRAL_STATUS_ACCEPTED);
  read = store().GetReferral(to_unhcr.referral_id(), db::Viewer{kUnhcr});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status(), enlace::v1::REFERRAL_STATUS_PENDING);
  // The feed: the consent change first, then the withdrawal.
  std::vector<db::FeedEvent> feed = Feed(head);
  ASSERT_THAT(feed, SizeIs(2));
  EXPECT_TRUE(feed[0].consent_change);
  EXPECT_EQ(feed[0].type, enlace::v1::REFERRAL_EVENT_TYPE_UNSPECIFIED);
  EXPECT_EQ(feed[0].seq, head + 1);
  EXPECT_EQ(feed[0].consent.version, 2);
  EXPECT_THAT(feed[0].consent.agencies, ElementsAre(kIom, kUnhcr));
  EXPECT_EQ(feed[0].consent.purposes_mask, 1u << enlace::v1::PURPOSE_REINTEGRATION);
  EXPECT_EQ(feed[0].from_agency, "");
  EXPECT_EQ(feed[0].to_agency, "");
  EXPECT_EQ(feed[1].type, enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN);
  EXPECT_EQ(feed[1].referral.referral_id(), to_undp.referral_id());
  EXPECT_EQ(feed[1].arrival_seq, feed[0].arrival_seq);
  EXPECT_EQ(feed[1].seq, head + 2);
}

// --- The feed ----------------------------------------------------------------------

TEST_P(CaseStoreConformanceTest, TheFeedIsGapFreeBoundedAndLimited) {
  EXPECT_EQ(Head(), 0);
  EXPECT_THAT(Feed(), IsEmpty());
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  for (int i = 0; i < 5; ++i) Refer(c.case_id(), kIom, kUnhcr);
  EXPECT_EQ(Head(), 5);
  std::vector<int64_t> seqs;
  for (const db::FeedEvent& e : Feed()) seqs.push_back(e.seq);
  EXPECT_THAT(seqs, ElementsAre(1, 2, 3, 4, 5));
  seqs.clear();
  for (const db::FeedEvent& e : Feed(/*after=*/1, "", /*up_to=*/4)) seqs.push_back(e.seq);
  EXPECT_THAT(seqs, ElementsAre(2, 3, 4));
  seqs.clear();
  for (const db::FeedEvent& e : Feed(/*after=*/1, "", /*up_to=*/0, /*limit=*/2))
    seqs.push_back(e.seq);
  EXPECT_THAT(seqs, ElementsAre(2, 3));
  EXPECT_THAT(Feed(/*after=*/5), IsEmpty());
}

TEST_P(CaseStoreConformanceTest, AnAgencysFeedIsItsReferralEventsThatTheCurrentConsentAllows) {
  std::string a1 = AddArrival({kIom, kUnhcr, kUndp});
  std::string a2 = AddArrival({kIom, kUndp});
  enlace::v1::Case c1 = Open(a1, kIom);
  enlace::v1::Case c2 = Open(a2, kIom);
  enlace::v1::Referral r1 = Refer(c1.case_id(), kIom, kUnhcr);  // seq 1
  enlace::v1::Referral r2 = Refer(c1.case_id(), kIom, kUndp);  // seq 2
  enlace::v1::Referral r3 = Refer(c2.case_id(), kIom, kUndp);  // seq 3
  ASSERT_TRUE(Move(r1.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED).ok());  // seq 4
  ASSERT_TRUE(Move(r2.referral_id(), kUndp, enlace::v1::REFERRAL_STATUS_ACCEPTED).ok());  // seq 5
  auto seqs = [&](const std::string& agency) {
    std::vector<int64_t> out;
    for (const db::FeedEvent& e : Feed(0, agency)) out.push_back(e.seq);
    return out;
  };
  EXPECT_THAT(seqs(kIom), ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(seqs(kUnhcr), ElementsAre(1, 4));
  EXPECT_THAT(seqs(kUndp), ElementsAre(2, 3, 5));
  EXPECT_THAT(seqs(kMfa), IsEmpty());
  // The consent of a1 now leaves undp out: its a1 events are no longer
  // delivered, even those from before the change; the consent change (seq 6)
  // is in the full feed only.
  under_test_->ChangeConsent(a1, kMfa, ConsentFor({kIom, kUnhcr}));
  EXPECT_THAT(seqs(kUndp), ElementsAre(3));
  EXPECT_THAT(seqs(kIom), ElementsAre(1, 2, 3, 4, 5));
  std::vector<db::FeedEvent> all = Feed();
  ASSERT_THAT(all, SizeIs(6));
  EXPECT_TRUE(all[5].consent_change);
  // Every referral event carries its arrival's consent as it is now.
  EXPECT_EQ(all[0].consent.version, 2);
  EXPECT_THAT(all[0].consent.agencies, ElementsAre(kIom, kUnhcr));
  EXPECT_EQ(all[2].consent.version, 1);
  EXPECT_THAT(all[2].consent.agencies, ElementsAre(kIom, kUndp));
  EXPECT_EQ(all[0].arrival_seq, all[5].arrival_seq);
  EXPECT_NE(all[2].arrival_seq, all[0].arrival_seq);
  (void)r3;
}

// --- The audit event ---------------------------------------------------------------

TEST_P(CaseStoreConformanceTest, OutcomesAreRecordedWithTheirServiceAndInitiative) {
  std::string arrival = AddArrival({kIom, kUnhcr, kUndp});
  std::string other_arrival = AddArrival({kIom, kUnhcr, kUndp});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Case other = Open(other_arrival, kIom);
  enlace::v1::RegisterInitiativeRequest request =
      ::enlace::testing::InitiativeRequest(c.case_id(), "Pupusería", "food", "");
  request.set_status(enlace::v1::INITIATIVE_STATUS_ACTIVE);
  request.set_jobs_created(2);
  request.set_woman_led(true);
  absl::StatusOr<enlace::v1::Initiative> shop =
      store().RegisterInitiative(request, db::Viewer{kIom}, nullptr);
  ASSERT_TRUE(shop.ok()) << shop.status();
  EXPECT_EQ(shop->status(), enlace::v1::INITIATIVE_STATUS_ACTIVE);
  EXPECT_EQ(shop->jobs_created(), 2);
  EXPECT_TRUE(shop->woman_led());
  EXPECT_EQ(shop->etag(), "v1");
  EXPECT_EQ(shop->disbursed_usd_cents(), 0);
  absl::StatusOr<enlace::v1::Initiative> other_shop = store().RegisterInitiative(
      ::enlace::testing::InitiativeRequest(other.case_id(), "Taller", "repair", ""),
      db::Viewer{kIom}, nullptr);
  ASSERT_TRUE(other_shop.ok());

  // Seed capital goes to an initiative of the same case only.
  enlace::v1::RecordServiceRequest seed = ::enlace::testing::ServiceRequest(
      c.case_id(), enlace::v1::NEED_SEED_CAPITAL, "2024-03-01", "first tranche");
  seed.set_amount_usd_cents(125000);
  seed.set_initiative_id(other_shop->initiative_id());
  EXPECT_THAT(store().RecordService(seed, db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kInvalidArgument, ::testing::StartsWith("initiative_id:")));
  seed.set_initiative_id("0123456789abcdef0123456789abcdef");
  EXPECT_THAT(store().RecordService(seed, db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kInvalidArgument, ::testing::StartsWith("initiative_id:")));
  seed.set_initiative_id(shop->initiative_id());
  db::AuditRecord event = Event("/enlace.v1.CaseService/RecordService", {c.case_id()});
  absl::StatusOr<enlace::v1::ServiceRecord> first =
      store().RecordService(seed, db::Viewer{kIom}, &event);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->amount_usd_cents(), 125000);
  EXPECT_EQ(first->initiative_id(), shop->initiative_id());
  EXPECT_THAT(event.record_ids,
              ElementsAre(c.case_id(), first->service_id(), shop->initiative_id()));
  seed.set_amount_usd_cents(50050);
  ASSERT_TRUE(store().RecordService(seed, db::Viewer{kIom}, nullptr).ok());
  enlace::v1::RecordServiceRequest training =
      ::enlace::testing::ServiceRequest(c.case_id(), enlace::v1::NEED_TRAINING, "2024-03-02", "");
  training.set_training_hours(12.75);
  training.set_training_completed(true);
  ASSERT_TRUE(store().RecordService(training, db::Viewer{kIom}, nullptr).ok());

  // The owner reads every outcome; the sum disbursed is the initiative's.
  absl::StatusOr<enlace::v1::Case> read = Read(c.case_id(), kIom);
  ASSERT_TRUE(read.ok());
  ASSERT_THAT(read->services(), SizeIs(3));
  EXPECT_EQ(read->services(0).SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(read->services(1).amount_usd_cents(), 50050);
  EXPECT_DOUBLE_EQ(read->services(2).training_hours(), 12.75);
  EXPECT_TRUE(read->services(2).training_completed());
  absl::StatusOr<db::InitiativePage> mine = store().ListInitiatives("", db::Viewer{kIom}, 0, 10);
  ASSERT_TRUE(mine.ok());
  ASSERT_THAT(mine->initiatives, SizeIs(2));
  EXPECT_EQ(mine->initiatives[0].disbursed_usd_cents(), 175050);
  EXPECT_EQ(mine->initiatives[1].disbursed_usd_cents(), 0);

  // Another agency sees the initiative's outcomes, not the money; a
  // receiver of the case sees the training, not the amounts.
  absl::StatusOr<db::InitiativePage> theirs =
      store().ListInitiatives("", db::Viewer{kUnhcr}, 0, 10);
  ASSERT_TRUE(theirs.ok());
  ASSERT_THAT(theirs->initiatives, SizeIs(2));
  EXPECT_EQ(theirs->initiatives[0].disbursed_usd_cents(), 0);
  EXPECT_EQ(theirs->initiatives[0].jobs_created(), 2);
  EXPECT_TRUE(theirs->initiatives[0].woman_led());
  enlace::v1::Referral referral = Refer(c.case_id(), kIom, kUnhcr);
  absl::StatusOr<enlace::v1::Case> received = Read(c.case_id(), kUnhcr);
  ASSERT_TRUE(received.ok()) << received.status();
  ASSERT_THAT(received->services(), SizeIs(3));
  EXPECT_EQ(received->services(0).amount_usd_cents(), 0);
  EXPECT_EQ(received->services(0).notes(), "");
  EXPECT_EQ(received->services(0).initiative_id(), shop->initiative_id());
  EXPECT_DOUBLE_EQ(received->services(2).training_hours(), 12.75);
  (void)referral;
}

TEST_P(CaseStoreConformanceTest, UpdateInitiativeIsTheOwnersWithTheCurrentEtag) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  absl::StatusOr<enlace::v1::Initiative> shop = store().RegisterInitiative(
      ::enlace::testing::InitiativeRequest(c.case_id(), "Bakery", "food", ""), db::Viewer{kIom},
      nullptr);
  ASSERT_TRUE(shop.ok());
  EXPECT_EQ(shop->status(), enlace::v1::INITIATIVE_STATUS_PLANNED);
  enlace::v1::Initiative update = *shop;
  update.set_status(enlace::v1::INITIATIVE_STATUS_ACTIVE);
  update.set_jobs_created(4);
  update.set_woman_led(true);
  update.set_name("ignored");
  // Visible to unhcr (the consent names it), but not its own.
  EXPECT_THAT(store().UpdateInitiative(update, "v1", db::Viewer{kUnhcr}, nullptr),
              StatusIs(StatusCode::kPermissionDenied));
  // Not visible to undp: as if it did not exist.
  EXPECT_THAT(store().UpdateInitiative(update, "v1", db::Viewer{kUndp}, nullptr),
              StatusIs(StatusCode::kNotFound));
  enlace::v1::Initiative missing = update;
  missing.set_initiative_id("0123456789abcdef0123456789abcdef");
  EXPECT_THAT(store().UpdateInitiative(missing, "v1", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().UpdateInitiative(update, "v7", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kAborted, ::testing::HasSubstr("etag")));
  db::AuditRecord event = Event("/enlace.v1.CaseService/UpdateInitiative", {shop->initiative_id()});
  absl::StatusOr<enlace::v1::Initiative> updated =
      store().UpdateInitiative(update, "v1", db::Viewer{kIom}, &event);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->status(), enlace::v1::INITIATIVE_STATUS_ACTIVE);
  EXPECT_EQ(updated->jobs_created(), 4);
  EXPECT_TRUE(updated->woman_led());
  EXPECT_EQ(updated->name(), "Bakery");
  EXPECT_EQ(updated->etag(), "v2");
  EXPECT_GT(event.seq, 0);
  EXPECT_THAT(store().UpdateInitiative(update, "v1", db::Viewer{kIom}, nullptr),
              StatusIs(StatusCode::kAborted));
  absl::StatusOr<db::InitiativePage> page = store().ListInitiatives("", db::Viewer{kIom}, 0, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_THAT(page->initiatives, SizeIs(1));
  EXPECT_EQ(page->initiatives[0].SerializeAsString(), updated->SerializeAsString());
}

TEST_P(CaseStoreConformanceTest, AChangeWhoseAuditEventCannotBeWrittenIsNotMade) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  std::string other = AddArrival({kIom, kUnhcr});
  enlace::v1::Case c = Open(arrival, kIom);
  enlace::v1::Referral r = Refer(c.case_id(), kIom, kUnhcr);
  absl::StatusOr<enlace::v1::Initiative> shop = store().RegisterInitiative(
      ::enlace::testing::InitiativeRequest(c.case_id(), "Kiosk", "retail", ""), db::Viewer{kIom},
      nullptr);
  ASSERT_TRUE(shop.ok());
  const int64_t head = Head();
  under_test_->BreakAudit();
  auto event = [](const char* method) { return Event(method); };
  db::AuditRecord e1 = event("/enlace.v1.CaseService/OpenCase");
  EXPECT_THAT(store().OpenCase(other, "", db::Viewer{kIom}, &e1), StatusIs(StatusCode::kInternal));
  enlace::v1::Case update = c;
  update.set_summary("changed");
  db::AuditRecord e2 = event("/enlace.v1.CaseService/UpdateCase");
  EXPECT_THAT(store().UpdateCase(update, "v1", db::Viewer{kIom}, &e2),
              StatusIs(StatusCode::kInternal));
  db::AuditRecord e3 = event("/enlace.v1.CaseService/RecordService");
  EXPECT_THAT(store().RecordService(::enlace::testing::ServiceRequest(
                                        c.case_id(), enlace::v1::NEED_TRAINING, "2024-03-01", ""),
                                    db::Viewer{kIom}, &e3),
              StatusIs(StatusCode::kInternal));
  db::AuditRecord e4 = event("/enlace.v1.CaseService/RegisterInitiative");
  EXPECT_THAT(store().RegisterInitiative(
                  ::enlace::testing::InitiativeRequest(c.case_id(), "Bakery", "food", ""),
                  db::Viewer{kIom}, &e4),
              StatusIs(StatusCode::kInternal));
  db::AuditRecord e5 = event("/enlace.v1.ReferralService/CreateReferral");
  EXPECT_THAT(store().CreateReferral(c.case_id(), kUnhcr, enlace::v1::NEED_TRAINING, "",
                                     db::Viewer{kIom}, &e5),
              StatusIs(StatusCode::kInternal));
  db::AuditRecord e6 = event("/enlace.v1.ReferralService/AcceptReferral");
  EXPECT_THAT(Move(r.referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", "", &e6),
              StatusIs(StatusCode::kInternal));
  enlace::v1::Initiative active = *shop;
  active.set_status(enlace::v1::INITIATIVE_STATUS_ACTIVE);
  db::AuditRecord e7 = event("/enlace.v1.CaseService/UpdateInitiative");
  EXPECT_THAT(store().UpdateInitiative(active, "v1", db::Viewer{kIom}, &e7),
              StatusIs(StatusCode::kInternal));
  for (const db::AuditRecord* e : {&e1, &e2, &e3, &e4, &e5, &e6, &e7}) EXPECT_EQ(e->seq, 0);
  // Nothing of it is there.
  EXPECT_EQ(Head(), head);
  EXPECT_THAT(CaseIds(kIom), ElementsAre(c.case_id()));
  absl::StatusOr<enlace::v1::Case> read = Read(c.case_id(), kIom);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->etag(), "v1");
  EXPECT_EQ(read->summary(), c.summary());
  EXPECT_THAT(read->services(), IsEmpty());
  absl::StatusOr<db::InitiativePage> initiatives =
      store().ListInitiatives("", db::Viewer{kIom}, 0, 10);
  ASSERT_TRUE(initiatives.ok());
  ASSERT_EQ(initiatives->total_count, 1);  // the kiosk only, unchanged
  EXPECT_EQ(initiatives->initiatives[0].etag(), "v1");
  EXPECT_EQ(initiatives->initiatives[0].status(), enlace::v1::INITIATIVE_STATUS_PLANNED);
  EXPECT_THAT(ReferralIds(kIom, enlace::v1::BOX_OUTBOX), ElementsAre(r.referral_id()));
  absl::StatusOr<enlace::v1::Referral> referral =
      store().GetReferral(r.referral_id(), db::Viewer{kIom});
  ASSERT_TRUE(referral.ok());
  EXPECT_EQ(referral->status(), enlace::v1::REFERRAL_STATUS_PENDING);
  // Changes without an event (store tests only) are still made.
  EXPECT_TRUE(store().OpenCase(other, "", db::Viewer{kIom}, nullptr).ok());
}

TEST_P(CaseStoreConformanceTest, EveryChangeAppendsExactlyOneEventInCallOrder) {
  std::string arrival = AddArrival({kIom, kUnhcr});
  db::AuditRecord open = Event("/enlace.v1.CaseService/OpenCase", {arrival});
  absl::StatusOr<enlace::v1::Case> c = store().OpenCase(arrival, "", db::Viewer{kIom}, &open);
  ASSERT_TRUE(c.ok());
  db::AuditRecord refer = Event("/enlace.v1.ReferralService/CreateReferral", {c->case_id()});
  absl::StatusOr<enlace::v1::Referral> r = store().CreateReferral(
      c->case_id(), kUnhcr, enlace::v1::NEED_TRAINING, "", db::Viewer{kIom}, &refer);
  ASSERT_TRUE(r.ok());
  db::AuditRecord accept = Event("/enlace.v1.ReferralService/AcceptReferral", {r->referral_id()});
  ASSERT_TRUE(
      Move(r->referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", "", &accept).ok());
  // Refused calls append nothing.
  db::AuditRecord refused = Event("/enlace.v1.ReferralService/AcceptReferral", {r->referral_id()});
  EXPECT_THAT(
      Move(r->referral_id(), kUnhcr, enlace::v1::REFERRAL_STATUS_ACCEPTED, "", "", &refused),
      StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(refused.seq, 0);
  std::vector<db::AuditRecord> events = AuditEvents();
  ASSERT_THAT(events, SizeIs(3));
  EXPECT_EQ(events[0].seq, open.seq);
  EXPECT_EQ(events[1].seq, refer.seq);
  EXPECT_EQ(events[2].seq, accept.seq);
  EXPECT_LT(open.seq, refer.seq);
  EXPECT_LT(refer.seq, accept.seq);
  EXPECT_THAT(events[1].record_ids, ElementsAre(c->case_id(), r->referral_id()));
  EXPECT_THAT(events[2].record_ids, ElementsAre(r->referral_id(), c->case_id()));
  EXPECT_EQ(events[2].method, "/enlace.v1.ReferralService/AcceptReferral");
  absl::StatusOr<db::ChainReport> chain = under_test_->audit()->Verify();
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(chain->intact);
  EXPECT_EQ(chain->checked, 3);
}

}  // namespace enlace::conformance

#endif  // ENLACE_TESTS_CONFORMANCE_CASE_STORE_CONFORMANCE_H_
