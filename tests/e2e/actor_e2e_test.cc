// End to end over mTLS with a real MariaDB: the staff member behind a call
// (the `enlace-actor` request metadata, server/call_gate.h) under the
// shipped policy (server/default_policy.conf, `require-actor` rules):
//   - recorded in the call's audit event, shown by ListAuditEvents and by
//     GetCaseAccessLog, and covered by the chain (VerifyAuditLog intact);
//   - missing where the policy requires it (arrival, case and referral calls
//     of an agency, unary and streaming): INVALID_ARGUMENT naming the key,
//     audited as a denial, and nothing changed;
//   - malformed (an e-mail address, a name with a space, too long, sent
//     twice): INVALID_ARGUMENT naming the key, audited as a denial without
//     the value;
//   - not required of administrators' calls, and recorded when they send one.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::kTestActor;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::testing::HasSubstr;

constexpr char kActorKey[] = "enlace-actor";
constexpr char kMfa[] = "spiffe://enlace/agency/mfa";
constexpr char kIom[] = "spiffe://enlace/agency/iom";
constexpr char kRecordArrival[] = "/enlace.v1.ArrivalService/RecordArrival";

class ActorTest : public ServerFixture {
 protected:
  // Stubs whose channel names no actor: each call sends what the test adds.
  std::unique_ptr<v1::ArrivalService::Stub> ArrivalsWithoutActor(
      const auth::IssuedCertificate& cert) {
    return v1::ArrivalService::NewStub(Channel(&cert, pki_.ca_cert_pem(), ""));
  }
  std::unique_ptr<v1::CaseService::Stub> CasesWithoutActor(const auth::IssuedCertificate& cert) {
    return v1::CaseService::NewStub(Channel(&cert, pki_.ca_cert_pem(), ""));
  }
  std::unique_ptr<v1::ReferralService::Stub> ReferralsWithoutActor(
      const auth::IssuedCertificate& cert) {
    return v1::ReferralService::NewStub(Channel(&cert, pki_.ca_cert_pem(), ""));
  }
  std::unique_ptr<v1::AdminService::Stub> AdminWithoutActor() {
    return v1::AdminService::NewStub(Channel(&admin_cert_, pki_.ca_cert_pem(), ""));
  }

  // A context naming each of `actors` (none: no metadata at all).
  static std::unique_ptr<grpc::ClientContext> ContextNaming(std::vector<std::string> actors) {
    std::unique_ptr<grpc::ClientContext> ctx = Context();
    for (const std::string& actor : actors) ctx->AddMetadata(kActorKey, actor);
    return ctx;
  }

  int64_t ArrivalRows() { return database_->QueryInt("SELECT COUNT(*) FROM arrivals"); }

  void ExpectVerified() {
    v1::VerifyAuditLogResponse verdict;
    ASSERT_TRUE(Admin()->VerifyAuditLog(Context().get(), {}, &verdict).ok());
    EXPECT_TRUE(verdict.chain_intact()) << verdict.detail();
  }
};

TEST_F(ActorTest, TheActorIsInEveryEventOfTheCallAndInTheCaseAccessLog) {
  auto arrivals = ArrivalsWithoutActor(mfa_cert_);
  v1::RecordArrivalRequest record;
  *record.mutable_arrival() = MakeArrival("actor-1", {"iom"});
  v1::RecordArrivalResponse recorded;
  ASSERT_TRUE(arrivals->RecordArrival(ContextNaming({"mre-0042"}).get(), record, &recorded).ok());

  auto cases = CasesWithoutActor(iom_cert_);
  v1::OpenCaseRequest open;
  open.set_arrival_id(recorded.arrival_id());
  open.set_summary("Needs work.");
  v1::Case opened;
  ASSERT_TRUE(cases->OpenCase(ContextNaming({"iom:staff.17"}).get(), open, &opened).ok());
  v1::GetCaseRequest get;
  get.set_case_id(opened.case_id());
  v1::Case read;
  ASSERT_TRUE(cases->GetCase(ContextNaming({"iom_staff-18"}).get(), get, &read).ok());

  std::vector<v1::AuditEvent> recorded_events = EventsOf(kMfa, kRecordArrival);
  ASSERT_EQ(recorded_events.size(), 1u);
  EXPECT_EQ(recorded_events[0].actor(), "mre-0042");
  std::vector<v1::AuditEvent> opens = EventsOf(kIom, "/enlace.v1.CaseService/OpenCase");
  ASSERT_EQ(opens.size(), 1u);
  EXPECT_EQ(opens[0].actor(), "iom:staff.17");

  // The case's access log names who opened and who read it.
  v1::GetCaseAccessLogRequest log_request;
  log_request.set_case_id(opened.case_id());
  v1::GetCaseAccessLogResponse log;
  ASSERT_TRUE(
      cases->GetCaseAccessLog(ContextNaming({"iom-auditor"}).get(), log_request, &log).ok());
  std::vector<std::pair<std::string, std::string>> seen;
  for (const v1::CaseAccessEntry& e : log.entries()) seen.emplace_back(e.method(), e.actor());
  EXPECT_THAT(
      seen,
      ::testing::IsSupersetOf(
          {std::pair<std::string, std::string>("/enlace.v1.CaseService/OpenCase", "iom:staff.17"),
           std::pair<std::string, std::string>("/enlace.v1.CaseService/GetCase", "iom_staff-18")}));
  // What one staff member did: ListAuditEvents filtered by actor.
  v1::ListAuditEventsRequest by_actor;
  by_actor.set_actor("iom:staff.17");
  v1::ListAuditEventsResponse theirs;
  ASSERT_TRUE(Admin()->ListAuditEvents(Context().get(), by_actor, &theirs).ok());
  ASSERT_EQ(theirs.events_size(), 1);
  EXPECT_EQ(theirs.events(0).method(), "/enlace.v1.CaseService/OpenCase");
  EXPECT_EQ(theirs.events(0).principal(), kIom);
  by_actor.set_actor("ana.lopez@iom.int");
  grpc::Status refused = Admin()->ListAuditEvents(Context().get(), by_actor, &theirs);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("actor"));

  // The hash chain covers it.
  ExpectVerified();
}

TEST_F(ActorTest, AMissingActorIsRefusedWhereThePolicyRequiresItAuditedAndChangesNothing) {
  const int64_t arrivals_before = ArrivalRows();
  v1::RecordArrivalRequest record;
  *record.mutable_arrival() = MakeArrival("actor-missing", {"iom"});
  v1::RecordArrivalResponse recorded;
  grpc::Status status =
      ArrivalsWithoutActor(mfa_cert_)->RecordArrival(Context().get(), record, &recorded);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("enlace-actor"));
  EXPECT_THAT(status.error_message(), HasSubstr("is required"));
  EXPECT_EQ(ArrivalRows(), arrivals_before);  // nothing recorded

  std::vector<v1::AuditEvent> events = EventsOf(kMfa, kRecordArrival);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].decision(), v1::DECISION_DENY);
  EXPECT_EQ(events[0].status_code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(events[0].actor(), "");

  // The same for a read, a case call, a referral call and a stream.
  v1::ListArrivalsResponse listed;
  EXPECT_EQ(
      ArrivalsWithoutActor(iom_cert_)->ListArrivals(Context().get(), {}, &listed).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListCasesResponse cases;
  EXPECT_EQ(CasesWithoutActor(iom_cert_)->ListCases(Context().get(), {}, &cases).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListReferralsResponse referrals;
  EXPECT_EQ(
      ReferralsWithoutActor(iom_cert_)->ListReferrals(Context().get(), {}, &referrals).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  auto stream_ctx = Context();
  auto watch = ReferralsWithoutActor(undp_cert_)->WatchReferrals(stream_ctx.get(), {});
  v1::ReferralEvent event;
  EXPECT_FALSE(watch->Read(&event));
  grpc::Status ended = watch->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ended.error_message(), HasSubstr("enlace-actor"));
  auto ingest_ctx = Context();
  auto ingest = ArrivalsWithoutActor(mfa_cert_)->RecordArrivals(ingest_ctx.get());
  v1::RecordArrivalsRequest item;
  *item.mutable_arrival() = MakeArrival("actor-missing-stream", {"iom"});
  ingest->Write(item);
  ingest->WritesDone();
  v1::RecordArrivalsResponse answer;
  EXPECT_FALSE(ingest->Read(&answer));
  EXPECT_EQ(ingest->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ArrivalRows(), arrivals_before);

  int denied = 0;
  const v1::ListAuditEventsResponse all = AuditEvents("");
  for (const v1::AuditEvent& e : all.events()) {
    if (e.decision() == v1::DECISION_DENY &&
        e.status_code() == static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT)) {
      ++denied;
    }
  }
  EXPECT_EQ(denied, 6);
}

TEST_F(ActorTest, AMalformedActorIsRefusedNamingTheKeyAndNotRecorded) {
  const std::vector<std::vector<std::string>> malformed = {
      {"ana.lopez@iom.int"},  // an e-mail address
      {"Ana Lopez"},  // a name, with a space
      {std::string(65, 'a')},  // too long
      {"x/y"},  // not an identifier character
      {"mre-0042", "mre-0043"},  // two actors for one call
  };
  auto arrivals = ArrivalsWithoutActor(mfa_cert_);
  for (const std::vector<std::string>& actors : malformed) {
    v1::RecordArrivalRequest record;
    *record.mutable_arrival() = MakeArrival(absl::StrCat("actor-bad-", actors[0].size()), {"iom"});
    v1::RecordArrivalResponse recorded;
    grpc::Status status = arrivals->RecordArrival(ContextNaming(actors).get(), record, &recorded);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << actors[0];
    EXPECT_THAT(status.error_message(), HasSubstr("enlace-actor")) << actors[0];
    EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(actors[0]))) << actors[0];
  }
  EXPECT_EQ(ArrivalRows(), 0);
  std::vector<v1::AuditEvent> events = EventsOf(kMfa, kRecordArrival);
  ASSERT_EQ(events.size(), malformed.size());
  for (const v1::AuditEvent& e : events) {
    EXPECT_EQ(e.decision(), v1::DECISION_DENY);
    EXPECT_EQ(e.status_code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
    EXPECT_EQ(e.actor(), "");  // the malformed value is not kept
  }
  ExpectVerified();
}

TEST_F(ActorTest, AdministratorsNeedNoActorAndTheirsIsRecordedWhenSent) {
  auto admin = AdminWithoutActor();
  v1::ListAgenciesResponse agencies;
  ASSERT_TRUE(admin->ListAgencies(Context().get(), {}, &agencies).ok());
  ASSERT_TRUE(admin->ListAgencies(ContextNaming({"ops-7"}).get(), {}, &agencies).ok());
  std::vector<v1::AuditEvent> events =
      EventsOf("spiffe://enlace/admin/ana", "/enlace.v1.AdminService/ListAgencies");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].actor(), "");
  EXPECT_EQ(events[1].actor(), "ops-7");
  // The fixture's own channels name kTestActor: the call that listed these
  // events is the last one.
  EXPECT_EQ(AuditEvents("spiffe://enlace/admin/ana").events_size(), 3);
  std::vector<v1::AuditEvent> lists =
      EventsOf("spiffe://enlace/admin/ana", "/enlace.v1.AdminService/ListAuditEvents");
  ASSERT_FALSE(lists.empty());
  EXPECT_EQ(lists[0].actor(), kTestActor);
  ExpectVerified();
}

}  // namespace
}  // namespace enlace
