// End to end for the multi-agency workflow over mTLS with a real MariaDB:
// the whole path from arrival to completed referral across mfa, iom, undp
// and unhcr; need-to-know (what unhcr cannot see, what a receiver sees of a
// case); racing transitions with one winner; a watcher that resumes with its
// last token after a disconnect, a server restart and changes made through a
// second server process; consent withdrawal; the programme report's
// suppression; and the case access log.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "enlace/v1/reports.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/server_process.h"
#include "tests/testing/watcher.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::ServerProcess;
using ::enlace::testing::Watcher;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using v1::CaseService;
using v1::Referral;
using v1::ReferralEvent;
using v1::ReferralService;

using WorkflowTest = ServerFixture;

// A watch resumed with `token` by the stub's caller, who does not own it:
// refused (INVALID_ARGUMENT) before any event.
void ExpectResumeTokenRefused(ReferralService::Stub* stub, const std::string& token) {
  grpc::ClientContext ctx;
  v1::WatchReferralsRequest request;
  request.set_resume_token(token);
  auto reader = stub->WatchReferrals(&ctx, request);
  ReferralEvent ignored;
  EXPECT_FALSE(reader->Read(&ignored));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(WorkflowTest, FromArrivalToCompletedReferralAcrossFourParties) {
  OpenedCase opened = OpenIomCase("wf-1", {"iom", "undp"});
  EXPECT_EQ(opened.case_.owner_agency(), "iom");
  EXPECT_EQ(opened.case_.status(), v1::CASE_STATUS_OPEN);
  EXPECT_EQ(opened.case_.municipality(), "Quezaltepeque");

  // iom keeps psychosocial notes on its case (etag-guarded).
  v1::UpdateCaseRequest update;
  *update.mutable_case_() = opened.case_;
  update.mutable_case_()->set_status(v1::CASE_STATUS_IN_PROGRESS);
  update.mutable_case_()->set_psychosocial_notes("Anxiety after detention; weekly sessions.");
  update.set_etag(opened.case_.etag());
  v1::Case updated;
  ASSERT_TRUE(Cases(iom_cert_)->UpdateCase(Context().get(), update, &updated).ok());
  EXPECT_EQ(updated.status(), v1::CASE_STATUS_IN_PROGRESS);
  // The same stale etag again: ABORTED, nothing changed.
  update.mutable_case_()->set_summary("overwritten?");
  EXPECT_EQ(Cases(iom_cert_)->UpdateCase(Context().get(), update, &updated).error_code(),
            grpc::StatusCode::ABORTED);

  v1::RecordServiceRequest session;
  session.set_case_id(opened.case_.case_id());
  session.set_service(v1::NEED_PSYCHOSOCIAL_SUPPORT);
  session.set_delivered_on("2018-03-01");
  session.set_notes("First session.");
  v1::ServiceRecord recorded;
  ASSERT_TRUE(Cases(iom_cert_)->RecordService(Context().get(), session, &recorded).ok());

  // Before any referral, undp cannot see the case.
  v1::GetCaseRequest get_case;
  get_case.set_case_id(opened.case_.case_id());
  v1::Case seen;
  EXPECT_EQ(Cases(undp_cert_)->GetCase(Context().get(), get_case, &seen).error_code(),
            grpc::StatusCode::NOT_FOUND);

  Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());
  EXPECT_EQ(referral.status(), v1::REFERRAL_STATUS_PENDING);
  EXPECT_EQ(referral.from_agency(), "iom");

  // undp's inbox: the referral with the minimal returnee summary.
  v1::ListReferralsRequest inbox;
  inbox.set_box(v1::BOX_INBOX);
  v1::ListReferralsResponse listed;
  ASSERT_TRUE(Referrals(undp_cert_)->ListReferrals(Context().get(), inbox, &listed).ok());
  ASSERT_THAT(listed.referrals(), SizeIs(1));
  EXPECT_EQ(listed.referrals(0).returnee().given_name(), "María José");
  EXPECT_EQ(listed.referrals(0).returnee().municipality(), "Quezaltepeque");

  // Through the referral undp sees the case, never the owner's notes.
  ASSERT_TRUE(Cases(undp_cert_)->GetCase(Context().get(), get_case, &seen).ok());
  EXPECT_EQ(seen.psychosocial_notes(), "");
  ASSERT_THAT(seen.services(), SizeIs(1));
  EXPECT_EQ(seen.services(0).notes(), "");
  // ...and may not change it.
  update.set_etag(updated.etag());
  EXPECT_EQ(Cases(undp_cert_)->UpdateCase(Context().get(), update, &updated).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::AcceptReferralRequest accept;
  accept.set_referral_id(referral.referral_id());
  Referral accepted;
  ASSERT_TRUE(Referrals(undp_cert_)->AcceptReferral(Context().get(), accept, &accepted).ok());
  EXPECT_EQ(accepted.status(), v1::REFERRAL_STATUS_ACCEPTED);
  {
    // The change's event says what the referral became.
    const v1::ListAuditEventsResponse events = AuditEvents("spiffe://enlace/agency/undp");
    int accepts = 0;
    for (const v1::AuditEvent& e : events.events()) {
      if (e.method() != "/enlace.v1.ReferralService/AcceptReferral") continue;
      ++accepts;
      EXPECT_EQ(e.detail(), "REFERRAL_STATUS_ACCEPTED");
      EXPECT_THAT(e.record_ids(), ::testing::Contains(referral.referral_id()));
    }
    EXPECT_EQ(accepts, 1);
  }

  // Holding an accepted referral for seed capital, undp disburses it to the
  // returnee's initiative (iom's, on the same case).
  v1::RegisterInitiativeRequest oven_shop;
  oven_shop.set_case_id(opened.case_.case_id());
  oven_shop.set_name("Panadería El Horno");
  oven_shop.set_sector("food");
  oven_shop.set_woman_led(true);
  v1::Initiative shop;
  ASSERT_TRUE(Cases(iom_cert_)->RegisterInitiative(Context().get(), oven_shop, &shop).ok());
  EXPECT_EQ(shop.status(), v1::INITIATIVE_STATUS_PLANNED);
  v1::RecordServiceRequest capital;
  capital.set_case_id(opened.case_.case_id());
  capital.set_service(v1::NEED_SEED_CAPITAL);
  capital.set_delivered_on("2018-04-02");
  capital.set_notes("An oven.");
  capital.set_initiative_id(shop.initiative_id());
  grpc::Status no_amount = Cases(undp_cert_)->RecordService(Context().get(), capital, &recorded);
  EXPECT_EQ(no_amount.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_amount.error_message(), ::testing::StartsWith("amount_usd_cents:"));
  capital.set_amount_usd_cents(50000);
  ASSERT_TRUE(Cases(undp_cert_)->RecordService(Context().get(), capital, &recorded).ok());
  EXPECT_EQ(recorded.amount_usd_cents(), 50000);
  capital.set_service(v1::NEED_HEALTH);  // not what it was referred for
  capital.clear_amount_usd_cents();
  capital.clear_initiative_id();
  EXPECT_EQ(Cases(undp_cert_)->RecordService(Context().get(), capital, &recorded).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The initiative's owner sees the money disbursed to it; it makes the
  // initiative active with 2 jobs.
  v1::ListInitiativesResponse owned;
  ASSERT_TRUE(Cases(iom_cert_)->ListInitiatives(Context().get(), {}, &owned).ok());
  ASSERT_THAT(owned.initiatives(), SizeIs(1));
  EXPECT_EQ(owned.initiatives(0).disbursed_usd_cents(), 50000);
  v1::UpdateInitiativeRequest activate;
  *activate.mutable_initiative() = owned.initiatives(0);
  activate.mutable_initiative()->set_status(v1::INITIATIVE_STATUS_ACTIVE);
  activate.mutable_initiative()->set_jobs_created(2);
  activate.set_etag(owned.initiatives(0).etag());
  v1::Initiative active;
  EXPECT_EQ(Cases(undp_cert_)->UpdateInitiative(Context().get(), activate, &active).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Cases(iom_cert_)->UpdateInitiative(Context().get(), activate, &active).ok());
  EXPECT_EQ(active.status(), v1::INITIATIVE_STATUS_ACTIVE);
  EXPECT_EQ(active.jobs_created(), 2);
  EXPECT_EQ(Cases(iom_cert_)->UpdateInitiative(Context().get(), activate, &active).error_code(),
            grpc::StatusCode::ABORTED);  // the etag moved on

  v1::CompleteReferralRequest complete;
  complete.set_referral_id(referral.referral_id());
  complete.set_outcome("Bakery opened in May 2018");
  Referral completed;
  ASSERT_TRUE(Referrals(undp_cert_)->CompleteReferral(Context().get(), complete, &completed).ok());

  // iom sees the outcome.
  v1::GetReferralRequest get_referral;
  get_referral.set_referral_id(referral.referral_id());
  Referral as_iom;
  ASSERT_TRUE(Referrals(iom_cert_)->GetReferral(Context().get(), get_referral, &as_iom).ok());
  EXPECT_EQ(as_iom.status(), v1::REFERRAL_STATUS_COMPLETED);
  EXPECT_EQ(as_iom.outcome(), "Bakery opened in May 2018");

  // A completed referral cannot be declined.
  v1::DeclineReferralRequest decline;
  decline.set_referral_id(referral.referral_id());
  decline.set_reason("too late");
  EXPECT_EQ(
      Referrals(undp_cert_)->DeclineReferral(Context().get(), decline, &completed).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  // The initiative counts for the programme; others see it without case ids.
  v1::RegisterInitiativeRequest initiative;
  initiative.set_case_id(opened.case_.case_id());
  initiative.set_name("Panadería La Esperanza");
  initiative.set_sector("food");
  v1::Initiative registered;
  ASSERT_TRUE(Cases(iom_cert_)->RegisterInitiative(Context().get(), initiative, &registered).ok());
  v1::ListInitiativesResponse initiatives;
  ASSERT_TRUE(Cases(undp_cert_)->ListInitiatives(Context().get(), {}, &initiatives).ok());
  ASSERT_THAT(initiatives.initiatives(), SizeIs(2));
  EXPECT_EQ(initiatives.initiatives(0).name(), "Panadería El Horno");
  EXPECT_EQ(initiatives.initiatives(0).disbursed_usd_cents(), 0);  // the owner's only
  EXPECT_EQ(initiatives.initiatives(0).jobs_created(), 2);
  EXPECT_EQ(initiatives.initiatives(1).name(), "Panadería La Esperanza");
  EXPECT_EQ(initiatives.initiatives(1).case_id(), "");
  EXPECT_EQ(initiatives.total_count(), 2);
  EXPECT_EQ(initiatives.target(), 70);
  // unhcr is not named in this returnee's consent: no name, no owner, no
  // place, not even in the count (the report suppresses the same cell).
  v1::ListInitiativesResponse as_unhcr;
  ASSERT_TRUE(Cases(unhcr_cert_)->ListInitiatives(Context().get(), {}, &as_unhcr).ok());
  EXPECT_THAT(as_unhcr.initiatives(), SizeIs(0));
  EXPECT_EQ(as_unhcr.total_count(), 0);

  // iom can see who touched its case, undp included; undp cannot ask.
  v1::GetCaseAccessLogRequest log;
  log.set_case_id(opened.case_.case_id());
  v1::GetCaseAccessLogResponse entries;
  ASSERT_TRUE(Cases(iom_cert_)->GetCaseAccessLog(Context().get(), log, &entries).ok());
  std::set<std::string> principals;
  for (const auto& e : entries.entries()) principals.insert(e.principal());
  EXPECT_TRUE(principals.count("spiffe://enlace/agency/undp"));
  EXPECT_TRUE(principals.count("spiffe://enlace/agency/iom"));
  EXPECT_EQ(Cases(undp_cert_)->GetCaseAccessLog(Context().get(), log, &entries).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(WorkflowTest, UnhcrSeesNothingItsConsentDoesNotCover) {
  OpenedCase opened = OpenIomCase("wf-2", {"iom", "undp"});
  Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());

  v1::GetCaseRequest get_case;
  get_case.set_case_id(opened.case_.case_id());
  v1::Case seen_case;
  EXPECT_EQ(Cases(unhcr_cert_)->GetCase(Context().get(), get_case, &seen_case).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetReferralRequest get_referral;
  get_referral.set_referral_id(referral.referral_id());
  Referral seen_referral;
  EXPECT_EQ(Referrals(unhcr_cert_)
                ->GetReferral(Context().get(), get_referral, &seen_referral)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetArrivalRequest get_arrival;
  get_arrival.set_arrival_id(opened.arrival_id);
  v1::Arrival seen_arrival;
  EXPECT_EQ(
      Arrivals(unhcr_cert_)->GetArrival(Context().get(), get_arrival, &seen_arrival).error_code(),
      grpc::StatusCode::NOT_FOUND);
  v1::ListCasesResponse cases;
  ASSERT_TRUE(Cases(unhcr_cert_)->ListCases(Context().get(), {}, &cases).ok());
  EXPECT_THAT(cases.cases(), SizeIs(0));

  // A referral to unhcr is refused: the consent does not name it.
  grpc::Status status = ReferAsIom(opened.case_.case_id(), "unhcr", &referral);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("to_agency"));
  // unhcr cannot open a case for it either, nor can the ministry run cases.
  v1::OpenCaseRequest open;
  open.set_arrival_id(opened.arrival_id);
  EXPECT_EQ(Cases(unhcr_cert_)->OpenCase(Context().get(), open, &seen_case).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Cases(mfa_cert_)->OpenCase(Context().get(), open, &seen_case).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(WorkflowTest, TwentyRacingTransitionsHaveExactlyOneWinner) {
  OpenedCase opened = OpenIomCase("wf-3", {"iom", "undp"});
  Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());

  // Every racer moves the referral out of PENDING, so at most one can win:
  // undp accepts or declines; iom withdraws, conditioned on the etag it read
  // at creation (a withdrawal after an acceptance would otherwise be legal).
  constexpr int kRacers = 20;
  std::atomic<int> ok{0}, lost{0}, other{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < kRacers; ++i) {
    racers.emplace_back([&, i] {
      Referral out;
      grpc::Status status;
      if (i % 2 == 0) {
        v1::AcceptReferralRequest accept;
        accept.set_referral_id(referral.referral_id());
        status = Referrals(undp_cert_)->AcceptReferral(Context().get(), accept, &out);
      } else if (i % 4 == 1) {
        v1::DeclineReferralRequest decline;
        decline.set_referral_id(referral.referral_id());
        decline.set_reason("no capacity");
        status = Referrals(undp_cert_)->DeclineReferral(Context().get(), decline, &out);
      } else {
        v1::WithdrawReferralRequest withdraw;
        withdraw.set_referral_id(referral.referral_id());
        withdraw.set_etag(referral.etag());
        status = Referrals(iom_cert_)->WithdrawReferral(Context().get(), withdraw, &out);
      }
      if (status.ok()) {
        ++ok;
      } else if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
                 status.error_code() == grpc::StatusCode::ABORTED) {
        ++lost;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : racers) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(lost.load(), kRacers - 1);
  EXPECT_EQ(other.load(), 0);
  // The history holds the creation and exactly one transition.
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM referral_events"), 2);
  EXPECT_EQ(database_->QueryInt("SELECT version FROM referrals"), 2);
}

TEST_F(WorkflowTest, WatcherResumesWithItsLastTokenAndMissesNothing) {
  OpenedCase a = OpenIomCase("wf-4a", {"iom", "undp"});
  OpenedCase b = OpenIomCase("wf-4b", {"iom", "undp"});
  auto watcher = std::make_unique<Watcher>(Referrals(undp_cert_), "");
  absl::SleepFor(absl::Milliseconds(200));  // the watch is open ("from now on")

  Referral first;
  ASSERT_TRUE(ReferAsIom(a.case_.case_id(), "undp", &first).ok());
  std::vector<ReferralEvent> seen = watcher->WaitFor(1);
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].type(), v1::REFERRAL_EVENT_TYPE_CREATED);
  EXPECT_EQ(seen[0].referral().referral_id(), first.referral_id());
  EXPECT_FALSE(seen[0].referral().has_returnee());  // the feed carries no personal data
  std::string token = seen[0].resume_token();
  watcher->Stop();

  // While the watcher is away: changes on this server...
  v1::AcceptReferralRequest accept;
  accept.set_referral_id(first.referral_id());
  Referral out;
  ASSERT_TRUE(Referrals(undp_cert_)->AcceptReferral(Context().get(), accept, &out).ok());
  // ...the server restarts...
  server_.reset();
  StartServer(database_->dsn_string());
  // ...and a second server process on the same database makes more.
  // As its own restricted database user, like every server in these tests.
  ServerProcess second(
      pki_.dir(), {database_->server_dsn_string(), pki_.ca_cert_path(), pki_.server_cert_path(),
                   pki_.server_key_path(), policy_path_, token_keys_path_, "second"});
  ASSERT_GT(second.port(), 0) << "second server did not start";
  auto on_second = ReferralService::NewStub(ChannelTo(second.port(), iom_cert_));
  v1::CreateReferralRequest create;
  create.set_case_id(b.case_.case_id());
  create.set_to_agency("undp");
  create.set_service(v1::NEED_TRAINING);
  create.set_reason("Bakery course");
  Referral second_referral;
  ASSERT_TRUE(on_second->CreateReferral(Context().get(), create, &second_referral).ok());
  v1::WithdrawReferralRequest withdraw;
  withdraw.set_referral_id(first.referral_id());
  ASSERT_TRUE(on_second->WithdrawReferral(Context().get(), withdraw, &out).ok());

  // Resuming on the restarted first server: exactly the three later events, in order.
  Watcher resumed(Referrals(undp_cert_), token);
  seen = resumed.WaitFor(3);
  ASSERT_THAT(seen, SizeIs(3));
  EXPECT_EQ(seen[0].type(), v1::REFERRAL_EVENT_TYPE_ACCEPTED);
  EXPECT_EQ(seen[1].type(), v1::REFERRAL_EVENT_TYPE_CREATED);
  EXPECT_EQ(seen[1].referral().referral_id(), second_referral.referral_id());
  EXPECT_EQ(seen[2].type(), v1::REFERRAL_EVENT_TYPE_WITHDRAWN);
  EXPECT_EQ(seen[2].referral().status(), v1::REFERRAL_STATUS_WITHDRAWN);

  // A live change through the second server reaches the watcher on the first.
  v1::AcceptReferralRequest accept_second;
  accept_second.set_referral_id(second_referral.referral_id());
  ASSERT_TRUE(ReferralService::NewStub(ChannelTo(second.port(), undp_cert_))
                  ->AcceptReferral(Context().get(), accept_second, &out)
                  .ok());
  seen = resumed.WaitFor(4);
  ASSERT_THAT(seen, SizeIs(4));
  EXPECT_EQ(seen[3].type(), v1::REFERRAL_EVENT_TYPE_ACCEPTED);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(resumed.Count(), 4u);  // nothing twice

  // A token is its owner's alone.
  ExpectResumeTokenRefused(Referrals(iom_cert_).get(), token);
}

// The server builds each event's message once per identity and shares it
// among that identity's streams: two agencies watching the same change (and
// two streams of one agency) must each get a token of their own identity.
TEST_F(WorkflowTest, StreamsOfTwoAgenciesGetTheSameEventWithTokensOfTheirOwn) {
  OpenedCase opened = OpenIomCase("wf-7", {"iom", "undp"});
  Watcher as_iom(Referrals(iom_cert_), "");
  Watcher as_undp(Referrals(undp_cert_), "");
  Watcher as_undp_too(Referrals(undp_cert_), "");
  Referral first;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &first).ok());
  std::vector<ReferralEvent> iom_seen = as_iom.WaitFor(1);
  std::vector<ReferralEvent> undp_seen = as_undp.WaitFor(1);
  std::vector<ReferralEvent> undp_too_seen = as_undp_too.WaitFor(1);
  ASSERT_THAT(iom_seen, SizeIs(1));
  ASSERT_THAT(undp_seen, SizeIs(1));
  ASSERT_THAT(undp_too_seen, SizeIs(1));
  EXPECT_EQ(iom_seen[0].referral().referral_id(), first.referral_id());
  EXPECT_EQ(undp_seen[0].referral().referral_id(), first.referral_id());
  EXPECT_NE(iom_seen[0].resume_token(), undp_seen[0].resume_token());
  EXPECT_EQ(undp_seen[0].resume_token(), undp_too_seen[0].resume_token());

  // Each token resumes its owner's watch after the event, and no one else's.
  v1::AcceptReferralRequest accept;
  accept.set_referral_id(first.referral_id());
  Referral out;
  ASSERT_TRUE(Referrals(undp_cert_)->AcceptReferral(Context().get(), accept, &out).ok());
  for (const auto& [cert, token] : {std::pair(iom_cert_, iom_seen[0].resume_token()),
                                    std::pair(undp_cert_, undp_seen[0].resume_token())}) {
    Watcher resumed(Referrals(cert), token);
    std::vector<ReferralEvent> next = resumed.WaitFor(1);
    ASSERT_THAT(next, SizeIs(1));
    EXPECT_EQ(next[0].type(), v1::REFERRAL_EVENT_TYPE_ACCEPTED);
  }
  ExpectResumeTokenRefused(Referrals(undp_cert_).get(), iom_seen[0].resume_token());
  ExpectResumeTokenRefused(Referrals(iom_cert_).get(), undp_seen[0].resume_token());
}

TEST_F(WorkflowTest, AWatchFromNowSendsItsStartTokenBeforeAnyEvent) {
  OpenedCase opened = OpenIomCase("wf-6", {"iom", "undp"});
  std::string start;
  {
    Watcher watcher(Referrals(undp_cert_), "");
    start = watcher.start_token();
  }
  ASSERT_FALSE(start.empty());
  Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());
  Watcher resumed(Referrals(undp_cert_), start);
  std::vector<ReferralEvent> seen = resumed.WaitFor(1);
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].referral().referral_id(), referral.referral_id());
}

TEST_F(WorkflowTest, ConsentWithdrawalHidesEverythingAndWithdrawsPendingReferrals) {
  OpenedCase opened = OpenIomCase("wf-5", {"iom", "undp"});
  // Open before the referral: "from now" is the feed as this server has read
  // it, which may lag a commit made a moment ago.
  Watcher iom_watch(Referrals(iom_cert_), "");
  Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());
  ASSERT_THAT(iom_watch.WaitFor(1), SizeIs(1));

  // The returnee withdraws consent from undp.
  v1::UpdateConsentRequest update;
  update.set_arrival_id(opened.arrival_id);
  update.mutable_consent()->add_agencies("iom");
  update.mutable_consent()->add_purposes(v1::PURPOSE_REINTEGRATION);
  update.mutable_consent()->mutable_given_at()->set_seconds(1530000000);
  v1::Arrival arrival;
  ASSERT_TRUE(Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &arrival).ok());

  // The sender sees the referral created, then withdrawn.
  std::vector<ReferralEvent> seen = iom_watch.WaitFor(2);
  ASSERT_THAT(seen, SizeIs(2));
  EXPECT_EQ(seen[0].type(), v1::REFERRAL_EVENT_TYPE_CREATED);
  EXPECT_EQ(seen[1].type(), v1::REFERRAL_EVENT_TYPE_WITHDRAWN);
  EXPECT_EQ(seen[1].referral().referral_id(), referral.referral_id());

  // undp sees nothing more: not the referral, the case or the arrival.
  v1::GetReferralRequest get_referral;
  get_referral.set_referral_id(referral.referral_id());
  Referral seen_referral;
  EXPECT_EQ(Referrals(undp_cert_)
                ->GetReferral(Context().get(), get_referral, &seen_referral)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetCaseRequest get_case;
  get_case.set_case_id(opened.case_.case_id());
  v1::Case seen_case;
  EXPECT_EQ(Cases(undp_cert_)->GetCase(Context().get(), get_case, &seen_case).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListReferralsRequest inbox;
  inbox.set_box(v1::BOX_INBOX);
  v1::ListReferralsResponse listed;
  ASSERT_TRUE(Referrals(undp_cert_)->ListReferrals(Context().get(), inbox, &listed).ok());
  EXPECT_THAT(listed.referrals(), SizeIs(0));
  // iom, still named, sees its case and the withdrawn referral.
  ASSERT_TRUE(
      Referrals(iom_cert_)->GetReferral(Context().get(), get_referral, &seen_referral).ok());
  EXPECT_EQ(seen_referral.status(), v1::REFERRAL_STATUS_WITHDRAWN);
  // Withdrawing iom too hides the case from its own owner.
  update.mutable_consent()->clear_agencies();
  update.mutable_consent()->clear_purposes();
  update.mutable_consent()->clear_given_at();
  ASSERT_TRUE(Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &arrival).ok());
  EXPECT_EQ(Cases(iom_cert_)->GetCase(Context().get(), get_case, &seen_case).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM consent_versions"), 3);
}

TEST_F(WorkflowTest, ProgrammeReportSuppressesSmallCellsExceptForTheOwner) {
  for (int i = 0; i < 3; ++i) RecordOne(MakeArrival(absl::StrCat("rep-", i), {"iom"}));
  v1::GetProgrammeReportRequest request;
  request.set_period_from("2018-01-01");
  request.set_period_to("2018-12-31");
  auto report_as = [&](const auth::IssuedCertificate& cert) {
    v1::ProgrammeReport report;
    grpc::Status status = v1::ReportService::NewStub(Channel(&cert, pki_.ca_cert_pem()))
                              ->GetProgrammeReport(Context().get(), request, &report);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return report;
  };
  v1::ProgrammeReport as_mfa = report_as(mfa_cert_);
  ASSERT_THAT(as_mfa.returnees_by_department(), SizeIs(1));
  EXPECT_EQ(as_mfa.returnees_by_department(0).department_code(), "SV-LI");
  EXPECT_EQ(as_mfa.returnees_by_department(0).returnees().count(), 3);  // the owner sees 3
  v1::ProgrammeReport as_iom = report_as(iom_cert_);
  ASSERT_THAT(as_iom.returnees_by_department(), SizeIs(1));
  EXPECT_TRUE(as_iom.returnees_by_department(0).returnees().suppressed());
  EXPECT_EQ(as_iom.returnees_by_department(0).returnees().count(), 0);
  v1::ProgrammeReport as_admin = report_as(admin_cert_);
  EXPECT_TRUE(as_admin.returnees_by_department(0).returnees().suppressed());
  EXPECT_EQ(as_admin.initiatives_target(), 70);

  for (int i = 3; i < 5; ++i) RecordOne(MakeArrival(absl::StrCat("rep-", i), {"iom"}));
  as_iom = report_as(iom_cert_);
  EXPECT_FALSE(as_iom.returnees_by_department(0).returnees().suppressed());
  EXPECT_EQ(as_iom.returnees_by_department(0).returnees().count(), 5);

  request.set_period_from("2018-02-30");
  v1::ProgrammeReport bad;
  grpc::Status status = v1::ReportService::NewStub(Channel(&iom_cert_, pki_.ca_cert_pem()))
                            ->GetProgrammeReport(Context().get(), request, &bad);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("period_from"));
}

}  // namespace
}  // namespace enlace
