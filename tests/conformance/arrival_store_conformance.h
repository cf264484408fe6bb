// The conformance suite of db::ArrivalStore (db/arrival_store.h): what every
// implementation promises (idempotent all-or-nothing batches with their
// audit events, visibility by consent, keyset pages, consent versions), run
// against each implementation by a factory. The fake
// (tests/testing/fakes/fake_arrival_store.h) is held to exactly what the
// MySQL store does, so unit tests built on it meet production's behaviour.
//
// An implementation joins with one file that includes this header and
// instantiates the suite with its factory (arrival_store_fake_test.cc, unit;
// arrival_store_mysql_test.cc, db):
//
//   INSTANTIATE_TEST_SUITE_P(Fake, ArrivalStoreConformanceTest,
//                            ::testing::Values(ArrivalStoreImpl{"fake", [] { ... }}),
//                            ArrivalStoreImplName);
#ifndef ENLACE_TESTS_CONFORMANCE_ARRIVAL_STORE_CONFORMANCE_H_
#define ENLACE_TESTS_CONFORMANCE_ARRIVAL_STORE_CONFORMANCE_H_

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/arrival_store.h"
#include "db/audit_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace enlace::conformance {

// One arrival store under test, the audit store its events go to, and the
// fault only its owner can cause.
class ArrivalStoreUnderTest {
 public:
  virtual ~ArrivalStoreUnderTest() = default;
  virtual db::ArrivalStore* store() = 0;
  virtual db::AuditStore* audit() = 0;
  // While `broken`, the audit events cannot be written (MySQL: the table is
  // gone; the fake: its audit store fails).
  virtual void BreakAudit(bool broken) = 0;
};

struct ArrivalStoreImpl {
  std::string name;
  std::function<std::unique_ptr<ArrivalStoreUnderTest>()> make;
};

// Names the parameter in test output (the implementation's name).
inline void PrintTo(const ArrivalStoreImpl& impl, std::ostream* os) { *os << impl.name; }

inline std::string ArrivalStoreImplName(const ::testing::TestParamInfo<ArrivalStoreImpl>& info) {
  return info.param.name;
}

class ArrivalStoreConformanceTest : public ::testing::TestWithParam<ArrivalStoreImpl> {
 protected:
  void SetUp() override { under_test_ = GetParam().make(); }
  db::ArrivalStore& store() { return *under_test_->store(); }

  // A valid arrival whose consent names `agencies` for `purposes`.
  static enlace::v1::Arrival MakeArrival(const std::string& external_id,
                                         std::vector<std::string> agencies = {"iom"},
                                         std::vector<enlace::v1::Purpose> purposes = {
                                             enlace::v1::PURPOSE_REINTEGRATION}) {
    enlace::v1::Arrival a;
    a.set_external_id(external_id);
    a.set_arrival_date("2018-01-15");
    a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
    a.set_origin_country("US");
    a.mutable_person()->set_given_name("José");
    a.mutable_person()->set_family_name("Peña");
    a.mutable_person()->set_birth_date("1990-03-02");
    a.mutable_person()->set_sex(enlace::v1::SEX_MALE);
    a.mutable_person()->set_document_number("A123");
    a.mutable_destination()->set_department_code("SV-SS");
    a.mutable_destination()->set_municipality("Guazapa");
    a.add_needs(enlace::v1::NEED_TRAINING);
    a.add_needs(enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT);
    for (const std::string& agency : agencies) a.mutable_consent()->add_agencies(agency);
    for (enlace::v1::Purpose p : purposes) a.mutable_consent()->add_purposes(p);
    a.mutable_consent()->mutable_given_at()->set_seconds(1516000000);
    return a;
  }
  static db::AuditRecord CallEvent(const std::string& principal, const std::string& method) {
    db::AuditRecord r;
    r.at_us = 1800000000000000;
    r.principal = principal;
    r.method = method;
    r.decision = 1;
    r.peer = "ipv4:127.0.0.1:5000";
    return r;
  }
  std::vector<db::RecordResult> Record(std::vector<db::NewArrival> batch) {
    absl::StatusOr<std::vector<db::RecordResult>> results = store().RecordBatch(batch);
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? *results : std::vector<db::RecordResult>(batch.size());
  }
  std::string RecordOne(const enlace::v1::Arrival& arrival, const std::string& submitter = "mfa") {
    return Record({{arrival, submitter}})[0].arrival_id;
  }
  // The external ids of a page (or of every page, following last_position).
  std::vector<std::string> ExternalIds(const db::ArrivalPage& page) {
    std::vector<std::string> ids;
    for (const enlace::v1::Arrival& a : page.arrivals) ids.push_back(a.external_id());
    return ids;
  }
  std::vector<std::string> ListAll(const db::ArrivalFilter& filter, const std::string& agency) {
    absl::StatusOr<db::ArrivalPage> page = store().List(filter, db::Viewer{agency}, 0, 1000);
    EXPECT_TRUE(page.ok()) << page.status();
    EXPECT_FALSE(page.ok() && page->more);
    return page.ok() ? ExternalIds(*page) : std::vector<std::string>{};
  }
  std::vector<db::AuditRecord> Events() {
    db::AuditQuery query;
    query.limit = 1000;
    absl::StatusOr<db::AuditPage> page = under_test_->audit()->List(query);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->records : std::vector<db::AuditRecord>{};
  }
  static enlace::v1::Consent ConsentFor(std::vector<std::string> agencies,
                                        std::vector<enlace::v1::Purpose> purposes) {
    enlace::v1::Consent consent;
    for (const std::string& a : agencies) consent.add_agencies(a);
    for (enlace::v1::Purpose p : purposes) consent.add_purposes(p);
    consent.mutable_given_at()->set_seconds(1520000000);
    return consent;
  }

  static constexpr char kRecordArrivals[] = "/enlace.v1.ArrivalService/RecordArrivals";
  static constexpr char kCorrectArrival[] = "/enlace.v1.ArrivalService/CorrectArrival";
  static constexpr char kUpdateConsent[] = "/enlace.v1.ArrivalService/UpdateConsent";

  std::unique_ptr<ArrivalStoreUnderTest> under_test_;
};

using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST_P(ArrivalStoreConformanceTest, ABatchCreatesAndItsResendIsAlreadyRecordedWithTheSameIds) {
  std::vector<db::NewArrival> batch;
  for (int i = 0; i < 40; ++i) batch.push_back({MakeArrival(absl::StrCat("e-", i)), "mfa"});
  std::vector<db::RecordResult> first = Record(batch);
  ASSERT_THAT(first, SizeIs(40));
  std::set<std::string> ids;
  for (const db::RecordResult& r : first) {
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.outcome, enlace::v1::OUTCOME_CREATED);
    EXPECT_EQ(r.arrival_id.size(), 32u);
    EXPECT_EQ(r.audit_seq, 0);  // no call event given
    ids.insert(r.arrival_id);
  }
  EXPECT_THAT(ids, SizeIs(40));
  // The same content with its repeated fields in another order is the same.
  std::swap(*batch[7].arrival.mutable_needs()->Mutable(0),
            *batch[7].arrival.mutable_needs()->Mutable(1));
  batch[8].arrival.mutable_consent()->add_agencies("undp");
  batch[9].arrival.mutable_consent()->add_agencies("undp");
  std::vector<db::RecordResult> second = Record(batch);
  for (int i = 0; i < 40; ++i) {
    if (i == 8 || i == 9) continue;
    EXPECT_TRUE(second[i].status.ok()) << i;
    EXPECT_EQ(second[i].outcome, enlace::v1::OUTCOME_ALREADY_RECORDED) << i;
    EXPECT_EQ(second[i].arrival_id, first[i].arrival_id) << i;
  }
  // Another consent is other content.
  for (int i : {8, 9}) {
    EXPECT_THAT(second[i].status, StatusIs(absl::StatusCode::kAlreadyExists)) << i;
    EXPECT_EQ(second[i].outcome, enlace::v1::OUTCOME_REJECTED) << i;
  }
  EXPECT_THAT(ListAll({}, "mfa"), SizeIs(40));
}

TEST_P(ArrivalStoreConformanceTest, OtherContentUnderATakenExternalIdIsRefusedAndChangesNothing) {
  std::string id = RecordOne(MakeArrival("dup"));
  enlace::v1::Arrival other = MakeArrival("dup");
  other.mutable_destination()->set_municipality("Mejicanos");
  std::vector<db::RecordResult> results = Record({{other, "mfa"}, {MakeArrival("fresh"), "mfa"}});
  EXPECT_THAT(results[0].status, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(results[0].outcome, enlace::v1::OUTCOME_REJECTED);
  EXPECT_TRUE(results[0].arrival_id.empty());
  EXPECT_EQ(results[1].outcome, enlace::v1::OUTCOME_CREATED);
  absl::StatusOr<enlace::v1::Arrival> stored = store().Get(id, db::Viewer{"mfa"});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->destination().municipality(), "Guazapa");
  EXPECT_THAT(ListAll({}, "mfa"), ElementsAre("dup", "fresh"));
}

TEST_P(ArrivalStoreConformanceTest, DuplicatesInsideOneBatchResolveAsIfSentInOrder) {
  std::vector<db::RecordResult> results = Record({{MakeArrival("x"), "mfa"},
                                                  {MakeArrival("x"), "mfa"},
                                                  {MakeArrival("x", {"undp"}), "mfa"},
                                                  {MakeArrival("y"), "mfa"}});
  ASSERT_THAT(results, SizeIs(4));
  EXPECT_EQ(results[0].outcome, enlace::v1::OUTCOME_CREATED);
  EXPECT_EQ(results[1].outcome, enlace::v1::OUTCOME_ALREADY_RECORDED);
  EXPECT_EQ(results[1].arrival_id, results[0].arrival_id);
  EXPECT_EQ(results[2].outcome, enlace::v1::OUTCOME_REJECTED);
  EXPECT_THAT(results[2].status, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(results[3].outcome, enlace::v1::OUTCOME_CREATED);
  EXPECT_THAT(ListAll({}, "mfa"), ElementsAre("x", "y"));
}

TEST_P(ArrivalStoreConformanceTest, ExternalIdsAreScopedToTheSubmitter) {
  std::vector<db::RecordResult> results =
      Record({{MakeArrival("same"), "mfa"}, {MakeArrival("same"), "iom"}});
  EXPECT_EQ(results[0].outcome, enlace::v1::OUTCOME_CREATED);
  EXPECT_EQ(results[1].outcome, enlace::v1::OUTCOME_CREATED);
  EXPECT_NE(results[0].arrival_id, results[1].arrival_id);
}

TEST_P(ArrivalStoreConformanceTest, AnEmptyBatchIsAnswered) {
  absl::StatusOr<std::vector<db::RecordResult>> results = store().RecordBatch({});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_THAT(*results, IsEmpty());
}

// What Get returns: the submitted content, with repeated fields in canonical
// order, timestamps to the microsecond, and the server's fields.
TEST_P(ArrivalStoreConformanceTest, GetReturnsTheContentWithTheServersFields) {
  enlace::v1::Arrival sent = MakeArrival(
      "g-1", {"undp", "iom"}, {enlace::v1::PURPOSE_PROTECTION, enlace::v1::PURPOSE_REINTEGRATION});
  sent.mutable_consent()->mutable_given_at()->set_nanos(123456789);
  std::string id = RecordOne(sent);
  absl::StatusOr<enlace::v1::Arrival> got = store().Get(id, db::Viewer{"mfa"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->arrival_id(), id);
  EXPECT_EQ(got->submitted_by(), "mfa");
  EXPECT_EQ(got->consent_version(), 1);
  EXPECT_GT(got->recorded_at().seconds(), 1700000000);
  EXPECT_EQ(got->recorded_at().nanos() % 1000, 0);
  EXPECT_THAT(got->consent().agencies(), ElementsAre("iom", "undp"));
  EXPECT_THAT(got->consent().purposes(),
              ElementsAre(enlace::v1::PURPOSE_REINTEGRATION, enlace::v1::PURPOSE_PROTECTION));
  EXPECT_THAT(got->needs(),
              ElementsAre(enlace::v1::NEED_PSYCHOSOCIAL_SUPPORT, enlace::v1::NEED_TRAINING));
  EXPECT_EQ(got->consent().given_at().seconds(), 1516000000);
  EXPECT_EQ(got->consent().given_at().nanos(), 123456000);
  // A person of its own, with a random id that is not the arrival's.
  EXPECT_THAT(got->person_id(), ::testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(got->person_id(), id);
  // Everything else exactly as sent.
  enlace::v1::Arrival expected = sent;
  expected.set_arrival_id(id);
  expected.set_submitted_by("mfa");
  expected.set_consent_version(1);
  expected.set_version(1);
  expected.set_person_id(got->person_id());
  *expected.mutable_recorded_at() = got->recorded_at();
  *expected.mutable_needs() = got->needs();
  *expected.mutable_consent() = got->consent();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, expected))
      << got->DebugString() << "\nvs\n"
      << expected.DebugString();
}

TEST_P(ArrivalStoreConformanceTest, AConsentWithoutAGivenTimeHasNone) {
  enlace::v1::Arrival sent = MakeArrival("g-2");
  sent.mutable_consent()->clear_given_at();
  std::string id = RecordOne(sent);
  absl::StatusOr<enlace::v1::Arrival> got = store().Get(id, db::Viewer{"mfa"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->consent().has_given_at());
}

// Visibility: the submitter, or an agency the consent names for a purpose
// that allows the record (REINTEGRATION or PROTECTION, not STATISTICS).
// Anything else is NOT_FOUND, with the words used for an id no record has.
TEST_P(ArrivalStoreConformanceTest, GetShowsAnArrivalOnlyToItsSubmitterAndWhomTheConsentAllows) {
  std::string reintegration = RecordOne(MakeArrival("v-1", {"iom"}));
  std::string protection = RecordOne(MakeArrival("v-2", {"iom"}, {enlace::v1::PURPOSE_PROTECTION}));
  std::string statistics = RecordOne(MakeArrival("v-3", {"iom"}, {enlace::v1::PURPOSE_STATISTICS}));
  std::string nobody = RecordOne(MakeArrival("v-4", {}, {}));
  for (const std::string& id : {reintegration, protection, statistics, nobody}) {
    EXPECT_TRUE(store().Get(id, db::Viewer{"mfa"}).ok()) << id;  // the submitter, always
    absl::StatusOr<enlace::v1::Arrival> undp = store().Get(id, db::Viewer{"undp"});
    EXPECT_THAT(undp,
                StatusIs(absl::StatusCode::kNotFound, absl::StrCat("arrival ", id, " not found")));
  }
  EXPECT_TRUE(store().Get(reintegration, db::Viewer{"iom"}).ok());
  EXPECT_TRUE(store().Get(protection, db::Viewer{"iom"}).ok());
  EXPECT_THAT(store().Get(statistics, db::Viewer{"iom"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Get(nobody, db::Viewer{"iom"}), StatusIs(absl::StatusCode::kNotFound));
  // No viewer is no one.
  EXPECT_THAT(store().Get(reintegration, db::Viewer{""}), StatusIs(absl::StatusCode::kNotFound));
  const std::string missing(32, 'a');
  EXPECT_THAT(
      store().Get(missing, db::Viewer{"mfa"}),
      StatusIs(absl::StatusCode::kNotFound, absl::StrCat("arrival ", missing, " not found")));
}

TEST_P(ArrivalStoreConformanceTest, ListShowsEachViewerWhatItMaySeeInRecordingOrder) {
  RecordOne(MakeArrival("l-1", {"iom"}));
  RecordOne(MakeArrival("l-2", {"undp"}));
  RecordOne(MakeArrival("l-3", {"iom", "undp"}, {enlace::v1::PURPOSE_PROTECTION}));
  RecordOne(MakeArrival("l-4", {"iom"}, {enlace::v1::PURPOSE_STATISTICS}));
  RecordOne(MakeArrival("l-5", {"mfa"}), "unhcr");  // another submitter
  EXPECT_THAT(ListAll({}, "mfa"), ElementsAre("l-1", "l-2", "l-3", "l-4", "l-5"));
  EXPECT_THAT(ListAll({}, "iom"), ElementsAre("l-1", "l-3"));
  EXPECT_THAT(ListAll({}, "undp"), ElementsAre("l-2", "l-3"));
  EXPECT_THAT(ListAll({}, "unhcr"), ElementsAre("l-5"));
  EXPECT_THAT(ListAll({}, "fao"), IsEmpty());
}

TEST_P(ArrivalStoreConformanceTest, ListPagesByKeysetWithoutGapsOrRepeats) {
  for (int i = 0; i < 7; ++i) {
    RecordOne(MakeArrival(absl::StrCat("p-", i), i % 2 == 0 ? std::vector<std::string>{"iom"}
                                                            : std::vector<std::string>{"undp"}));
  }
  std::vector<std::string> seen;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    absl::StatusOr<db::ArrivalPage> page = store().List({}, db::Viewer{"iom"}, after, 2);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    for (const std::string& id : ExternalIds(*page)) seen.push_back(id);
    if (!page->more) break;
    ASSERT_THAT(page->arrivals, SizeIs(2));
    ASSERT_GT(page->last_position, after);
    after = page->last_position;
  }
  EXPECT_THAT(seen, ElementsAre("p-0", "p-2", "p-4", "p-6"));
  EXPECT_EQ(pages, 2);  // exactly two full pages: the second says no more
  // Past the end: nothing, and no more.
  absl::StatusOr<db::ArrivalPage> last = store().List({}, db::Viewer{"iom"}, after, 2);
  ASSERT_TRUE(last.ok());
  int64_t end = last->last_position;
  absl::StatusOr<db::ArrivalPage> beyond = store().List({}, db::Viewer{"iom"}, end, 2);
  ASSERT_TRUE(beyond.ok());
  EXPECT_THAT(beyond->arrivals, IsEmpty());
  EXPECT_FALSE(beyond->more);
}

TEST_P(ArrivalStoreConformanceTest, ListFiltersByPlaceAndDates) {
  auto at = [](const std::string& id, const std::string& department, const std::string& town,
               const std::string& date) {
    enlace::v1::Arrival a = MakeArrival(id);
    a.mutable_destination()->set_department_code(department);
    a.mutable_destination()->set_municipality(town);
    a.set_arrival_date(date);
    return a;
  };
  RecordOne(at("f-1", "SV-SS", "Guazapa", "2018-01-01"));
  RecordOne(at("f-2", "SV-SS", "Mejicanos", "2018-01-31"));
  RecordOne(at("f-3", "SV-LI", "Quezaltepeque", "2018-02-01"));
  RecordOne(at("f-4", "SV-SM", "San Martín", "2018-03-15"));
  db::ArrivalFilter filter;
  filter.department_code = "SV-SS";
  EXPECT_THAT(ListAll(filter, "iom"), ElementsAre("f-1", "f-2"));
  filter = {};
  filter.arrival_date_from = "2018-01-31";  // both ends inclusive
  filter.arrival_date_to = "2018-02-01";
  EXPECT_THAT(ListAll(filter, "iom"), ElementsAre("f-2", "f-3"));
  filter = {};
  filter.municipality = "Mejicanos";
  EXPECT_THAT(ListAll(filter, "iom"), ElementsAre("f-2"));
  // The municipality is matched ignoring case and accents.
  filter.municipality = "san martin";
  EXPECT_THAT(ListAll(filter, "iom"), ElementsAre("f-4"));
  filter.municipality = "GUAZAPA";
  EXPECT_THAT(ListAll(filter, "iom"), ElementsAre("f-1"));
  // The department code is matched exactly.
  filter = {};
  filter.department_code = "sv-ss";
  EXPECT_THAT(ListAll(filter, "iom"), IsEmpty());
  filter = {};
  filter.department_code = "SV-SS";
  filter.arrival_date_from = "2018-01-15";
  EXPECT_THAT(ListAll(filter, "iom"), ElementsAre("f-2"));
}

TEST_P(ArrivalStoreConformanceTest, TheSubmitterChangesTheConsentAndSoWhoSeesTheArrival) {
  std::string id = RecordOne(MakeArrival("c-1", {"iom"}));
  db::AuditRecord event = CallEvent("spiffe://enlace/agency/mfa", kUpdateConsent);
  event.record_ids = {id};
  absl::StatusOr<enlace::v1::Arrival> updated =
      store().UpdateConsent(id, ConsentFor({"unhcr", "undp"}, {enlace::v1::PURPOSE_REINTEGRATION}),
                            db::Viewer{"mfa"}, &event);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->consent_version(), 2);
  EXPECT_THAT(updated->consent().agencies(), ElementsAre("undp", "unhcr"));  // in code order
  EXPECT_EQ(updated->consent().given_at().seconds(), 1520000000);
  EXPECT_THAT(store().Get(id, db::Viewer{"iom"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(store().Get(id, db::Viewer{"undp"}).ok());
  EXPECT_THAT(ListAll({}, "iom"), IsEmpty());
  EXPECT_THAT(ListAll({}, "undp"), ElementsAre("c-1"));
  // The change committed its event, which the caller's record now is.
  EXPECT_GT(event.seq, 0);
  std::vector<db::AuditRecord> events = Events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].seq, event.seq);
  EXPECT_EQ(events[0].method, kUpdateConsent);
  EXPECT_THAT(events[0].record_ids, ElementsAre(id));
  EXPECT_EQ(events[0].hash, event.hash);
  // Again: the version goes on counting.
  updated = store().UpdateConsent(id, ConsentFor({}, {}), db::Viewer{"mfa"}, nullptr);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->consent_version(), 3);
  EXPECT_THAT(updated->consent().agencies(), IsEmpty());
  EXPECT_TRUE(store().Get(id, db::Viewer{"mfa"}).ok());  // the submitter still sees it
  EXPECT_THAT(Events(), SizeIs(1));  // no event given, none written
}

// A minor's consent names the guardian who gave it: stored with the arrival,
// read back by whoever may see it, and replaced (or dropped) with the consent.
TEST_P(ArrivalStoreConformanceTest, TheGuardianIsPartOfTheConsent) {
  enlace::v1::Arrival sent = MakeArrival("gd-1", {"iom"});
  sent.mutable_person()->set_birth_date("2008-05-06");
  enlace::v1::Guardian* guardian = sent.mutable_consent()->mutable_guardian();
  guardian->set_name("María Peña de Ábrego");
  guardian->set_relationship(enlace::v1::GUARDIAN_RELATIONSHIP_PARENT);
  std::string id = RecordOne(sent);
  for (const char* viewer : {"mfa", "iom"}) {
    absl::StatusOr<enlace::v1::Arrival> got = store().Get(id, db::Viewer{viewer});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->consent().guardian().name(), "María Peña de Ábrego") << viewer;
    EXPECT_EQ(got->consent().guardian().relationship(), enlace::v1::GUARDIAN_RELATIONSHIP_PARENT);
  }
  // The same content again is the same record; another guardian is other content.
  EXPECT_EQ(Record({{sent, "mfa"}})[0].outcome, enlace::v1::OUTCOME_ALREADY_RECORDED);
  enlace::v1::Arrival other = sent;
  other.mutable_consent()->mutable_guardian()->set_name("Rosa Peña");
  EXPECT_THAT(Record({{other, "mfa"}})[0].status, StatusIs(absl::StatusCode::kAlreadyExists));

  enlace::v1::Consent renewed = ConsentFor({"iom", "undp"}, {enlace::v1::PURPOSE_REINTEGRATION});
  renewed.mutable_guardian()->set_name("Rosa Peña");
  renewed.mutable_guardian()->set_relationship(enlace::v1::GUARDIAN_RELATIONSHIP_LEGAL_GUARDIAN);
  absl::StatusOr<enlace::v1::Arrival> updated =
      store().UpdateConsent(id, renewed, db::Viewer{"mfa"}, nullptr);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->consent().guardian().name(), "Rosa Peña");
  EXPECT_EQ(updated->consent().guardian().relationship(),
            enlace::v1::GUARDIAN_RELATIONSHIP_LEGAL_GUARDIAN);
  EXPECT_EQ(store().Get(id, db::Viewer{"undp"})->consent().guardian().name(), "Rosa Peña");
  // A withdrawal that names no guardian leaves none.
  updated = store().UpdateConsent(id, ConsentFor({}, {}), db::Viewer{"mfa"}, nullptr);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(updated->consent().has_guardian());
  EXPECT_FALSE(store().Get(id, db::Viewer{"mfa"})->consent().has_guardian());
}

// A correction: the new content as version 2, every version kept, the
// consent and the idempotency reference unchanged.
TEST_P(ArrivalStoreConformanceTest, ACorrectionKeepsEveryVersion) {
  const enlace::v1::Arrival sent = MakeArrival("cr-1", {"iom"});
  const std::string id = RecordOne(sent);
  absl::StatusOr<enlace::v1::Arrival> stored = store().Get(id, db::Viewer{"mfa"});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->version(), 1);
  absl::StatusOr<std::vector<db::ArrivalVersionRecord>> versions =
      store().Versions(id, db::Viewer{"iom"});
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_THAT(*versions, SizeIs(1));  // never corrected: the record itself
  EXPECT_EQ((*versions)[0].version, 1);
  EXPECT_EQ((*versions)[0].corrected_by, "mfa");
  EXPECT_EQ((*versions)[0].content.person().birth_date(), "1990-03-02");

  db::ArrivalCorrection correction;
  correction.arrival_id = id;
  correction.content = sent;
  correction.content.mutable_person()->set_birth_date("1990-03-20");
  correction.content.mutable_destination()->set_department_code("SV-LI");
  correction.content.mutable_destination()->set_municipality("Quezaltepeque");
  correction.content.clear_consent();  // ignored: the consent has its own call
  correction.expected_version = 1;
  correction.reason = "Día y mes invertidos en el registro";
  db::AuditRecord event = CallEvent("spiffe://enlace/agency/mfa", kCorrectArrival);
  event.record_ids = {id};
  absl::StatusOr<enlace::v1::Arrival> corrected =
      store().Correct(correction, db::Viewer{"mfa"}, &event);
  ASSERT_TRUE(corrected.ok()) << corrected.status();
  EXPECT_EQ(corrected->version(), 2);
  EXPECT_EQ(corrected->person().birth_date(), "1990-03-20");
  EXPECT_EQ(corrected->destination().municipality(), "Quezaltepeque");
  EXPECT_THAT(corrected->consent().agencies(), ElementsAre("iom"));
  EXPECT_EQ(corrected->consent_version(), 1);
  EXPECT_EQ(corrected->external_id(), "cr-1");
  EXPECT_EQ(corrected->arrival_id(), id);
  EXPECT_GT(event.seq, 0);
  // The agency the consent names reads the corrected record.
  absl::StatusOr<enlace::v1::Arrival> seen = store().Get(id, db::Viewer{"iom"});
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->version(), 2);
  EXPECT_EQ(seen->person().birth_date(), "1990-03-20");
  db::ArrivalFilter in_department;
  in_department.department_code = "SV-LI";
  EXPECT_THAT(ListAll(in_department, "iom"), ElementsAre("cr-1"));
  in_department.department_code = "SV-SS";
  EXPECT_THAT(ListAll(in_department, "iom"), IsEmpty());

  versions = store().Versions(id, db::Viewer{"iom"});
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_THAT(*versions, SizeIs(2));
  EXPECT_EQ((*versions)[0].version, 1);
  EXPECT_EQ((*versions)[0].reason, "");
  EXPECT_EQ((*versions)[0].content.person().birth_date(), "1990-03-02");
  EXPECT_EQ((*versions)[0].content.destination().department_code(), "SV-SS");
  EXPECT_EQ((*versions)[0].content.external_id(), "cr-1");
  EXPECT_FALSE((*versions)[0].content.has_consent());
  EXPECT_EQ((*versions)[1].version, 2);
  EXPECT_EQ((*versions)[1].reason, "Día y mes invertidos en el registro");
  EXPECT_EQ((*versions)[1].corrected_by, "mfa");
  EXPECT_GT((*versions)[1].corrected_at_us, (*versions)[0].corrected_at_us - 1);
  EXPECT_EQ((*versions)[1].content.person().birth_date(), "1990-03-20");
  EXPECT_EQ((*versions)[1].content.version(), 2);

  // Resending the record as first sent is still the same record.
  std::vector<db::RecordResult> again = Record({{sent, "mfa"}});
  EXPECT_EQ(again[0].outcome, enlace::v1::OUTCOME_ALREADY_RECORDED);
  EXPECT_EQ(again[0].arrival_id, id);

  // A correction made from a version that is no longer current: ABORTED,
  // nothing changes.
  correction.content.mutable_person()->set_given_name("Otro");
  EXPECT_THAT(store().Correct(correction, db::Viewer{"mfa"}, nullptr),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(store().Get(id, db::Viewer{"mfa"})->person().given_name(), "José");
  correction.expected_version = 2;
  corrected = store().Correct(correction, db::Viewer{"mfa"}, nullptr);
  ASSERT_TRUE(corrected.ok()) << corrected.status();
  EXPECT_EQ(corrected->version(), 3);
  EXPECT_THAT(*store().Versions(id, db::Viewer{"mfa"}), SizeIs(3));
}

// Only the submitter corrects; versions are read by whoever may see the
// arrival, and NOT_FOUND for anyone else.
TEST_P(ArrivalStoreConformanceTest, OnlyTheSubmitterCorrectsAndVersionsFollowVisibility) {
  const std::string id = RecordOne(MakeArrival("cr-2", {"iom"}));
  db::ArrivalCorrection correction;
  correction.arrival_id = id;
  correction.content = MakeArrival("cr-2");
  correction.content.mutable_person()->set_given_name("Juan");
  correction.expected_version = 1;
  correction.reason = "typo";
  for (const char* agency : {"iom", "undp"}) {
    EXPECT_THAT(store().Correct(correction, db::Viewer{agency}, nullptr),
                StatusIs(absl::StatusCode::kNotFound))
        << agency;
  }
  correction.arrival_id = "no-such-arrival";
  EXPECT_THAT(store().Correct(correction, db::Viewer{"mfa"}, nullptr),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store().Get(id, db::Viewer{"mfa"})->version(), 1);
  EXPECT_THAT(store().Versions(id, db::Viewer{"undp"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Versions("no-such-arrival", db::Viewer{"mfa"}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Events(), IsEmpty());
}

// Only the submitter changes a consent: any other agency, even one that sees
// the arrival, gets NOT_FOUND and changes nothing.
TEST_P(ArrivalStoreConformanceTest, OnlyTheSubmitterChangesTheConsent) {
  std::string id = RecordOne(MakeArrival("c-2", {"iom"}));
  db::AuditRecord event = CallEvent("spiffe://enlace/agency/iom", kUpdateConsent);
  absl::StatusOr<enlace::v1::Arrival> refused =
      store().UpdateConsent(id, ConsentFor({"iom", "undp"}, {enlace::v1::PURPOSE_REINTEGRATION}),
                            db::Viewer{"iom"}, &event);
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kNotFound, absl::StrCat("arrival ", id, " not found")));
  EXPECT_EQ(event.seq, 0);
  EXPECT_THAT(Events(), IsEmpty());
  absl::StatusOr<enlace::v1::Arrival> stored = store().Get(id, db::Viewer{"mfa"});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->consent_version(), 1);
  EXPECT_THAT(stored->consent().agencies(), ElementsAre("iom"));
  EXPECT_THAT(
      store().UpdateConsent(std::string(32, 'b'), ConsentFor({}, {}), db::Viewer{"mfa"}, nullptr),
      StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(ArrivalStoreConformanceTest, ABatchCommitsOneEventPerCallNamingItsArrivals) {
  auto stream = std::make_shared<const db::AuditRecord>(
      CallEvent("spiffe://enlace/agency/mfa", kRecordArrivals));
  auto unary = std::make_shared<const db::AuditRecord>(
      CallEvent("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/RecordArrival"));
  std::string earlier = RecordOne(MakeArrival("b-0"));
  std::vector<db::RecordResult> results = Record({{MakeArrival("b-1"), "mfa", stream},
                                                  {MakeArrival("b-0"), "mfa", stream},
                                                  {MakeArrival("b-0", {"undp"}), "mfa", stream},
                                                  {MakeArrival("b-2"), "mfa", unary},
                                                  {MakeArrival("b-3"), "mfa", stream}});
  std::vector<db::AuditRecord> events = Events();
  ASSERT_THAT(events, SizeIs(2));
  // In the order the calls first appear in the batch.
  EXPECT_EQ(events[0].method, kRecordArrivals);
  EXPECT_THAT(events[0].record_ids,
              ElementsAre(results[0].arrival_id, earlier, results[4].arrival_id));
  EXPECT_EQ(events[0].detail, "batch: created=2 already_recorded=1 rejected=1");
  EXPECT_EQ(events[1].method, "/enlace.v1.ArrivalService/RecordArrival");
  EXPECT_THAT(events[1].record_ids, ElementsAre(results[3].arrival_id));
  EXPECT_EQ(events[1].detail, "batch: created=1 already_recorded=0 rejected=0");
  for (int i : {0, 1, 2, 4}) EXPECT_EQ(results[i].audit_seq, events[0].seq) << i;
  EXPECT_EQ(results[3].audit_seq, events[1].seq);
  absl::StatusOr<db::ChainReport> chain = under_test_->audit()->Verify();
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(chain->intact);
}

// All or nothing: a batch whose events cannot be written stores nothing, and
// a consent change without its event is not made.
TEST_P(ArrivalStoreConformanceTest, WithoutItsAuditEventNothingIsStored) {
  std::string id = RecordOne(MakeArrival("a-0"));
  auto stream = std::make_shared<const db::AuditRecord>(
      CallEvent("spiffe://enlace/agency/mfa", kRecordArrivals));
  under_test_->BreakAudit(true);
  std::vector<db::NewArrival> batch = {{MakeArrival("a-1"), "mfa", stream},
                                       {MakeArrival("a-2"), "mfa", stream}};
  absl::StatusOr<std::vector<db::RecordResult>> failed = store().RecordBatch(batch);
  EXPECT_FALSE(failed.ok());
  db::AuditRecord event = CallEvent("spiffe://enlace/agency/mfa", kUpdateConsent);
  absl::StatusOr<enlace::v1::Arrival> not_updated = store().UpdateConsent(
      id, ConsentFor({"undp"}, {enlace::v1::PURPOSE_REINTEGRATION}), db::Viewer{"mfa"}, &event);
  EXPECT_FALSE(not_updated.ok());
  EXPECT_EQ(event.seq, 0);
  under_test_->BreakAudit(false);
  EXPECT_THAT(ListAll({}, "mfa"), ElementsAre("a-0"));
  absl::StatusOr<enlace::v1::Arrival> stored = store().Get(id, db::Viewer{"mfa"});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->consent_version(), 1);
  EXPECT_THAT(stored->consent().agencies(), ElementsAre("iom"));
  EXPECT_THAT(Events(), IsEmpty());
  // Once the audit works, the same batch is new.
  std::vector<db::RecordResult> retried = Record(batch);
  EXPECT_EQ(retried[0].outcome, enlace::v1::OUTCOME_CREATED);
  EXPECT_EQ(retried[1].outcome, enlace::v1::OUTCOME_CREATED);
}

TEST_P(ArrivalStoreConformanceTest, ConcurrentWritersOfOverlappingRecordsStoreEachOnce) {
  constexpr int kThreads = 4;
  constexpr int kRecords = 61;  // prime: every thread's order is a permutation
  std::vector<std::vector<db::RecordResult>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<db::NewArrival> batch;
      for (int i = 0; i < kRecords; ++i) {  // the same records, each thread in its own order
        int k = (i * (2 * t + 1) * 7) % kRecords;
        batch.push_back({MakeArrival(absl::StrCat("k-", k)), "mfa"});
      }
      absl::StatusOr<std::vector<db::RecordResult>> r = store().RecordBatch(batch);
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) results[t] = *r;
    });
  }
  for (std::thread& t : threads) t.join();
  int created = 0;
  std::map<std::string, std::set<std::string>> ids_of;  // external id -> arrival ids answered
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_THAT(results[t], SizeIs(kRecords));
    for (int i = 0; i < kRecords; ++i) {
      const db::RecordResult& r = results[t][i];
      EXPECT_TRUE(r.status.ok()) << r.status;
      if (r.outcome == enlace::v1::OUTCOME_CREATED) ++created;
      ids_of[absl::StrCat("k-", (i * (2 * t + 1) * 7) % kRecords)].insert(r.arrival_id);
    }
  }
  EXPECT_EQ(created, kRecords);
  for (const auto& [external, ids] : ids_of) EXPECT_THAT(ids, SizeIs(1)) << external;
  EXPECT_THAT(ListAll({}, "mfa"), SizeIs(kRecords));
}

}  // namespace enlace::conformance

#endif  // ENLACE_TESTS_CONFORMANCE_ARRIVAL_STORE_CONFORMANCE_H_
