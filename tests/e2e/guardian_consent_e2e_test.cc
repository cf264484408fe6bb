// End to end (real server, real MariaDB, mutual TLS on loopback): a returnee
// under 18 on the arrival date shares data with an agency only on the consent
// of a named guardian. Recording, bulk ingest and UpdateConsent refuse a
// minor's consent without one (INVALID_ARGUMENT naming the field, audited,
// nothing stored or changed); the guardian is read back by the agencies the
// consent names, and kept in the consent history.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using v1::Arrival;

constexpr char kMfa[] = "spiffe://enlace/agency/mfa";
constexpr char kRecordArrival[] = "/enlace.v1.ArrivalService/RecordArrival";
constexpr char kUpdateConsent[] = "/enlace.v1.ArrivalService/UpdateConsent";

// Arrived on 2018-02-10 (MakeArrival); born 2006-09-30: eleven years old.
Arrival MinorArrival(const std::string& external_id) {
  Arrival a = MakeArrival(external_id, {"iom"});
  a.mutable_person()->set_birth_date("2006-09-30");
  return a;
}

v1::Guardian Mother() {
  v1::Guardian guardian;
  guardian.set_name("Rosa Elena Hernández");
  guardian.set_relationship(v1::GUARDIAN_RELATIONSHIP_PARENT);
  return guardian;
}

class GuardianConsentTest : public ServerFixture {
 protected:
  grpc::Status RecordUnary(const Arrival& arrival) {
    v1::RecordArrivalRequest request;
    *request.mutable_arrival() = arrival;
    v1::RecordArrivalResponse response;
    return Arrivals(mfa_cert_)->RecordArrival(Context().get(), request, &response);
  }
  // How many events of the ministry calling `method` ended with `code`.
  int EventsEndingWith(const std::string& method, grpc::StatusCode code) {
    int count = 0;
    for (const v1::AuditEvent& e : EventsOf(kMfa, method)) count += e.status_code() == code;
    return count;
  }
};

TEST_F(GuardianConsentTest, AMinorsArrivalWithoutAGuardianIsRefusedNamingTheField) {
  grpc::Status status = RecordUnary(MinorArrival("g-1"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival.consent.guardian"));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 0);
  EXPECT_EQ(EventsEndingWith(kRecordArrival, grpc::StatusCode::INVALID_ARGUMENT), 1);

  // A guardian without a relationship, or with a blank name: the sub-field.
  Arrival half = MinorArrival("g-1");
  *half.mutable_consent()->mutable_guardian() = Mother();
  half.mutable_consent()->mutable_guardian()->clear_relationship();
  status = RecordUnary(half);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival.consent.guardian.relationship"));
  half.mutable_consent()->mutable_guardian()->set_relationship(v1::GUARDIAN_RELATIONSHIP_PARENT);
  half.mutable_consent()->mutable_guardian()->set_name("   ");
  status = RecordUnary(half);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival.consent.guardian.name"));

  // An adult's consent names no guardian: no third person's name is kept.
  Arrival adult = MakeArrival("g-2");
  *adult.mutable_consent()->mutable_guardian() = Mother();
  status = RecordUnary(adult);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival.consent.guardian"));

  // A minor shared with nobody needs no guardian.
  Arrival unshared = MinorArrival("g-3");
  unshared.mutable_consent()->Clear();
  EXPECT_TRUE(RecordUnary(unshared).ok());
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 1);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE consent_guardian_name "
                                "IS NOT NULL"),
            0);
}

TEST_F(GuardianConsentTest, TheStreamRefusesTheRecordAloneAndStoresTheOthers) {
  Arrival with_guardian = MinorArrival("s-1");
  *with_guardian.mutable_consent()->mutable_guardian() = Mother();
  std::vector<Arrival> arrivals = {with_guardian, MinorArrival("s-2"), MakeArrival("s-3")};
  grpc::Status status;
  std::vector<v1::RecordArrivalsResponse> responses = Stream(mfa_cert_, arrivals, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(responses, SizeIs(3));
  for (const v1::RecordArrivalsResponse& r : responses) {
    if (r.external_id() == "s-2") {
      EXPECT_EQ(r.outcome(), v1::OUTCOME_REJECTED);
      EXPECT_EQ(r.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(r.error().field(), "arrival.consent.guardian");
    } else {
      EXPECT_EQ(r.outcome(), v1::OUTCOME_CREATED) << r.external_id();
    }
  }
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 2);
  // The same record again, guardian and all, is the same record.
  responses = Stream(mfa_cert_, {with_guardian}, &status);
  ASSERT_THAT(responses, SizeIs(1));
  EXPECT_EQ(responses[0].outcome(), v1::OUTCOME_ALREADY_RECORDED);
}

TEST_F(GuardianConsentTest, TheNamedAgencyReadsTheGuardianAndUpdatesKeepTheRule) {
  Arrival minor = MinorArrival("u-1");
  *minor.mutable_consent()->mutable_guardian() = Mother();
  const std::string id = RecordOne(minor);
  v1::GetArrivalRequest get;
  get.set_arrival_id(id);
  Arrival seen;
  ASSERT_TRUE(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &seen).ok());
  EXPECT_EQ(seen.consent().guardian().name(), "Rosa Elena Hernández");
  EXPECT_EQ(seen.consent().guardian().relationship(), v1::GUARDIAN_RELATIONSHIP_PARENT);

  // A new consent for the minor must name its guardian too: refused, and the
  // consent in force is unchanged.
  v1::UpdateConsentRequest update;
  update.set_arrival_id(id);
  update.mutable_consent()->add_agencies("undp");
  update.mutable_consent()->add_purposes(v1::PURPOSE_REINTEGRATION);
  update.mutable_consent()->mutable_given_at()->set_seconds(1530000000);
  Arrival updated;
  grpc::Status status = Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("consent.guardian"));
  EXPECT_EQ(EventsEndingWith(kUpdateConsent, grpc::StatusCode::INVALID_ARGUMENT), 1);
  EXPECT_EQ(database_->QueryInt("SELECT consent_version FROM arrivals"), 1);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM consent_versions"), 0);
  EXPECT_TRUE(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &seen).ok());

  // With the guardian who gave it: the new consent is in force and undp
  // reads who gave it; the history keeps both guardians.
  v1::Guardian aunt;
  aunt.set_name("Marta Hernández");
  aunt.set_relationship(v1::GUARDIAN_RELATIONSHIP_OTHER_RELATIVE);
  *update.mutable_consent()->mutable_guardian() = aunt;
  status = Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.consent_version(), 2);
  EXPECT_EQ(updated.consent().guardian().name(), "Marta Hernández");
  int changes = 0;
  const v1::ListAuditEventsResponse mfa_events = AuditEvents(kMfa);
  for (const v1::AuditEvent& e : mfa_events.events()) {
    if (e.method() != kUpdateConsent || e.status_code() != grpc::StatusCode::OK) continue;
    ++changes;
    EXPECT_EQ(e.detail(), "consent_version=2");  // no guardian's name in the audit log
  }
  EXPECT_EQ(changes, 1);
  const auth::IssuedCertificate undp = pki_.Agency("undp");
  ASSERT_TRUE(Arrivals(undp)->GetArrival(Context().get(), get, &seen).ok());
  EXPECT_EQ(seen.consent().guardian().relationship(), v1::GUARDIAN_RELATIONSHIP_OTHER_RELATIVE);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM consent_versions WHERE (version = 1 AND "
                                "guardian_name = 'Rosa Elena Hernández') OR (version = 2 AND "
                                "guardian_name = 'Marta Hernández')"),
            2);

  // Withdrawing needs no guardian (anyone may stop the sharing of a child's
  // data), and a bad guardian is refused before the arrival is looked up.
  v1::UpdateConsentRequest withdraw;
  withdraw.set_arrival_id(id);
  withdraw.mutable_consent();
  ASSERT_TRUE(Arrivals(mfa_cert_)->UpdateConsent(Context().get(), withdraw, &updated).ok());
  EXPECT_EQ(updated.consent_version(), 3);
  EXPECT_EQ(Arrivals(undp)->GetArrival(Context().get(), get, &seen).error_code(),
            grpc::StatusCode::NOT_FOUND);
  withdraw.set_arrival_id("arr-does-not-exist");
  withdraw.mutable_consent()->mutable_guardian()->set_name("Rosa");
  status = Arrivals(mfa_cert_)->UpdateConsent(Context().get(), withdraw, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("consent.guardian.relationship"));
}

// Another agency cannot change a minor's consent, guardian or not: the
// policy keeps UpdateConsent for the ministry, and nothing changes.
TEST_F(GuardianConsentTest, OnlyTheSubmitterChangesAMinorsConsent) {
  Arrival minor = MinorArrival("o-1");
  *minor.mutable_consent()->mutable_guardian() = Mother();
  const std::string id = RecordOne(minor);
  v1::UpdateConsentRequest update;
  update.set_arrival_id(id);
  *update.mutable_consent() = minor.consent();
  update.mutable_consent()->add_agencies("undp");
  Arrival updated;
  grpc::Status status = Arrivals(iom_cert_)->UpdateConsent(Context().get(), update, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);  // the ministry's call
  EXPECT_EQ(database_->QueryInt("SELECT consent_version FROM arrivals"), 1);
}

}  // namespace
}  // namespace enlace
