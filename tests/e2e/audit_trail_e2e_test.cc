// The audit trail end to end, over mTLS with a real MariaDB: a change and
// its audit event commit together (one event per call, and when the event
// cannot be written the change is rolled back and the caller told
// UNAVAILABLE); an ingest stream's records are in an audit event before they
// are answered, and a watch's events before they are delivered, with every
// id — while the stream is still open.
#include <grpcpp/grpcpp.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/checkpoint.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/watcher.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::Watcher;
using ::testing::ElementsAre;
using ::testing::SizeIs;

using AuditTrailTest = ServerFixture;

std::set<std::string> IdsIn(const std::vector<v1::AuditEvent>& events) {
  std::set<std::string> ids;
  for (const v1::AuditEvent& e : events) ids.insert(e.record_ids().begin(), e.record_ids().end());
  return ids;
}

TEST_F(AuditTrailTest, AChangeIsOneEventCommittedWithItAndNamingWhatItCreated) {
  OpenedCase opened = OpenIomCase("trail-1", {"iom", "undp"});
  std::vector<v1::AuditEvent> events =
      EventsOf("spiffe://enlace/agency/iom", "/enlace.v1.CaseService/OpenCase");
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(events[0].status_code(), 0);
  EXPECT_THAT(events[0].record_ids(), ElementsAre(opened.arrival_id, opened.case_.case_id()));
}

// The audit append fails (its table is gone, as an outage or an attack on
// it would make it): the change is not kept, and the caller is told to retry.
TEST_F(AuditTrailTest, WhenTheEventCannotBeWrittenTheChangeIsRolledBack) {
  OpenedCase opened = OpenIomCase("trail-2", {"iom", "undp"});
  v1::Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());

  database_->Execute("RENAME TABLE audit_events TO audit_events_away");
  v1::UpdateConsentRequest update;
  update.set_arrival_id(opened.arrival_id);
  update.mutable_consent()->add_agencies("iom");
  update.mutable_consent()->add_purposes(v1::PURPOSE_REINTEGRATION);
  v1::Arrival arrival;
  grpc::Status consent = Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &arrival);
  v1::AcceptReferralRequest accept;
  accept.set_referral_id(referral.referral_id());
  v1::Referral accepted;
  grpc::Status transition =
      Referrals(undp_cert_)->AcceptReferral(Context().get(), accept, &accepted);
  v1::RecordArrivalRequest record;
  *record.mutable_arrival() = MakeArrival("trail-2b");
  v1::RecordArrivalResponse recorded;
  grpc::Status ingest = Arrivals(mfa_cert_)->RecordArrival(Context().get(), record, &recorded);
  const tlog::SignerKey witness{"iom.example/witness", tlog::kCosignatureV1,
                                tlog::Ed25519Key::Generate()};
  v1::RegisterWitnessKeyRequest register_key;
  register_key.set_agency("iom");
  register_key.set_public_key(tlog::FormatVerifierKey(witness.verifier()));
  v1::WitnessKey key;
  grpc::Status witness_key = Admin()->RegisterWitnessKey(Context().get(), register_key, &key);
  database_->Execute("RENAME TABLE audit_events_away TO audit_events");

  EXPECT_EQ(consent.error_code(), grpc::StatusCode::UNAVAILABLE) << consent.error_message();
  EXPECT_EQ(transition.error_code(), grpc::StatusCode::UNAVAILABLE) << transition.error_message();
  EXPECT_EQ(ingest.error_code(), grpc::StatusCode::UNAVAILABLE) << ingest.error_message();
  EXPECT_EQ(witness_key.error_code(), grpc::StatusCode::UNAVAILABLE) << witness_key.error_message();
  // None of the four changes stayed.
  v1::GetArrivalRequest get;
  get.set_arrival_id(opened.arrival_id);
  ASSERT_TRUE(Arrivals(mfa_cert_)->GetArrival(Context().get(), get, &arrival).ok());
  EXPECT_EQ(arrival.consent_version(), 1);
  EXPECT_THAT(arrival.consent().agencies(), ElementsAre("iom", "undp"));
  v1::GetReferralRequest get_referral;
  get_referral.set_referral_id(referral.referral_id());
  v1::Referral seen;
  ASSERT_TRUE(Referrals(undp_cert_)->GetReferral(Context().get(), get_referral, &seen).ok());
  EXPECT_EQ(seen.status(), v1::REFERRAL_STATUS_PENDING);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE external_id = 'trail-2b'"), 0);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM audit_witness_keys"), 0);
  // And the log is whole.
  v1::VerifyAuditLogResponse verified;
  ASSERT_TRUE(Admin()->VerifyAuditLog(Context().get(), {}, &verified).ok());
  EXPECT_TRUE(verified.intact());
}

TEST_F(AuditTrailTest, IngestedRecordsAreInAnEventBeforeTheyAreAnswered) {
  auto stub = Arrivals(mfa_cert_);
  grpc::ClientContext ctx;
  auto stream = stub->RecordArrivals(&ctx);
  std::set<std::string> answered;
  for (int i = 0; i < 30; ++i) {
    v1::RecordArrivalsRequest request;
    *request.mutable_arrival() = MakeArrival(absl::StrCat("trail-3-", i));
    ASSERT_TRUE(stream->Write(request));
  }
  v1::RecordArrivalsResponse response;
  while (answered.size() < 30 && stream->Read(&response)) answered.insert(response.arrival_id());
  ASSERT_EQ(answered.size(), 30u);
  // The stream is still open: the batch events are already there.
  std::vector<v1::AuditEvent> batches =
      EventsOf("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/RecordArrivals");
  ASSERT_FALSE(batches.empty());
  for (const v1::AuditEvent& e : batches) EXPECT_TRUE(absl::StartsWith(e.detail(), "batch: "));
  EXPECT_EQ(IdsIn(batches), answered);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(AuditTrailTest, WatchedEventsAreInAnEventBeforeTheyAreDelivered) {
  OpenedCase a = OpenIomCase("trail-4a", {"iom", "undp"});
  OpenedCase b = OpenIomCase("trail-4b", {"iom", "undp"});
  Watcher watcher(Referrals(undp_cert_), "");
  v1::Referral first, second;
  ASSERT_TRUE(ReferAsIom(a.case_.case_id(), "undp", &first).ok());
  ASSERT_TRUE(ReferAsIom(b.case_.case_id(), "undp", &second).ok());
  ASSERT_THAT(watcher.WaitFor(2), SizeIs(2));
  // Still open: the deliveries are in the log, naming each referral and case.
  std::vector<v1::AuditEvent> deliveries =
      EventsOf("spiffe://enlace/agency/undp", "/enlace.v1.ReferralService/WatchReferrals");
  ASSERT_FALSE(deliveries.empty());
  for (const v1::AuditEvent& e : deliveries) {
    EXPECT_TRUE(absl::StartsWith(e.detail(), "deliver events=")) << e.detail();
  }
  EXPECT_EQ(IdsIn(deliveries), (std::set<std::string>{first.referral_id(), a.case_.case_id(),
                                                      second.referral_id(), b.case_.case_id()}));
  // The case's owner sees undp's deliveries in the case's access log.
  v1::GetCaseAccessLogRequest log;
  log.set_case_id(a.case_.case_id());
  v1::GetCaseAccessLogResponse entries;
  ASSERT_TRUE(Cases(iom_cert_)->GetCaseAccessLog(Context().get(), log, &entries).ok());
  bool delivered_to_undp = false;
  for (const v1::CaseAccessEntry& e : entries.entries()) {
    delivered_to_undp |= e.principal() == "spiffe://enlace/agency/undp" &&
                         e.method() == "/enlace.v1.ReferralService/WatchReferrals";
  }
  EXPECT_TRUE(delivered_to_undp);
}

}  // namespace
}  // namespace enlace
