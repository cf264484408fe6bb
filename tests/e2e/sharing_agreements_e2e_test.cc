// End to end (real server, real MariaDB, mutual TLS on loopback): data-sharing
// agreements as data, and the returnee's objection. Records flow between two
// organisations (a consent naming an agency, a referral between agencies)
// only under an agreement in force that covers the purpose; when one is
// ended or expires the flow stops (reads NOT_FOUND, referrals
// FAILED_PRECONDITION, open feeds end) and nothing is deleted; a renewal
// starts it again. An objection acts as a withdrawal of that purpose that
// no later consent can undo, on every arrival of the person. Denials and bad input change nothing.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/returnee_data.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/watcher.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::Watcher;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using v1::SharingAgreement;

constexpr char kAdmin[] = "spiffe://enlace/admin/ana";
constexpr char kRegister[] = "/enlace.v1.AdminService/RegisterSharingAgreement";
constexpr char kEnd[] = "/enlace.v1.AdminService/EndSharingAgreement";

// A day relative to today (UTC), as YYYY-MM-DD.
std::string Day(int offset) {
  return absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) + offset);
}

class SharingAgreementsTest : public ServerFixture {
 protected:
  std::vector<SharingAgreement> List(const std::string& party, bool in_force_only) {
    v1::ListSharingAgreementsRequest request;
    request.set_party(party);
    request.set_in_force_only(in_force_only);
    request.set_page_size(500);
    v1::ListSharingAgreementsResponse response;
    grpc::Status status = Admin()->ListSharingAgreements(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.agreements().begin(), response.agreements().end()};
  }
  // The one agreement in force between `a` and `b` (the programme's).
  std::string AgreementBetween(const std::string& a, const std::string& b) {
    std::string found;
    for (const SharingAgreement& agreement : List(a, /*in_force_only=*/true)) {
      if (agreement.parties(0) == std::min(a, b) && agreement.parties(1) == std::max(a, b)) {
        EXPECT_TRUE(found.empty()) << "two agreements in force between " << a << " and " << b;
        found = agreement.agreement_id();
      }
    }
    EXPECT_FALSE(found.empty()) << "no agreement in force between " << a << " and " << b;
    return found;
  }
  grpc::Status End(const std::string& agreement_id, SharingAgreement* ended,
                   const std::string& reason = "Protocol superseded (ref. MRREE-2026-114)") {
    v1::EndSharingAgreementRequest request;
    request.set_agreement_id(agreement_id);
    request.set_reason(reason);
    return Admin()->EndSharingAgreement(Context().get(), request, ended);
  }
  v1::RegisterSharingAgreementRequest Agreement(const std::string& a, const std::string& b,
                                                const std::string& from, const std::string& until) {
    v1::RegisterSharingAgreementRequest request;
    request.add_parties(a);
    request.add_parties(b);
    request.add_purposes(v1::PURPOSE_REINTEGRATION);
    request.add_purposes(v1::PURPOSE_PROTECTION);
    request.set_valid_from(from);
    request.set_valid_until(until);
    request.set_reference("Protocolo de intercambio de datos MRREE-PNUD 2026/7");
    return request;
  }
  grpc::Status Register(const v1::RegisterSharingAgreementRequest& request,
                        SharingAgreement* registered,
                        const auth::IssuedCertificate* cert = nullptr) {
    auto stub =
        cert == nullptr ? Admin() : v1::AdminService::NewStub(Channel(cert, pki_.ca_cert_pem()));
    return stub->RegisterSharingAgreement(Context().get(), request, registered);
  }
  // A consent naming iom for `purpose` alone, for the ministry's
  // UpdateConsent of `arrival_id`.
  static v1::UpdateConsentRequest ConsentForIom(const std::string& arrival_id,
                                                v1::Purpose purpose) {
    v1::UpdateConsentRequest update;
    update.set_arrival_id(arrival_id);
    update.mutable_consent()->add_agencies("iom");
    update.mutable_consent()->add_purposes(purpose);
    update.mutable_consent()->mutable_given_at()->set_seconds(1520000000);
    return update;
  }
  // The referral's status as the database holds it.
  v1::ReferralStatus StoredStatusOf(const std::string& referral_id) {
    return static_cast<v1::ReferralStatus>(database_->QueryInt(
        absl::StrCat("SELECT status FROM referrals WHERE referral_id = '", referral_id, "'")));
  }
  grpc::StatusCode GetArrivalAs(const auth::IssuedCertificate& cert, const std::string& id) {
    v1::GetArrivalRequest request;
    request.set_arrival_id(id);
    v1::Arrival arrival;
    return Arrivals(cert)->GetArrival(Context().get(), request, &arrival).error_code();
  }
  grpc::StatusCode GetReferralAs(const auth::IssuedCertificate& cert, const std::string& id) {
    v1::GetReferralRequest request;
    request.set_referral_id(id);
    v1::Referral referral;
    return Referrals(cert)->GetReferral(Context().get(), request, &referral).error_code();
  }
  grpc::StatusCode GetCaseAs(const auth::IssuedCertificate& cert, const std::string& id) {
    v1::GetCaseRequest request;
    request.set_case_id(id);
    v1::Case found;
    return Cases(cert)->GetCase(Context().get(), request, &found).error_code();
  }
  // The referral ids in `cert`'s inbox.
  std::vector<std::string> Inbox(const auth::IssuedCertificate& cert) {
    v1::ListReferralsRequest request;
    request.set_box(v1::BOX_INBOX);
    request.set_page_size(500);
    v1::ListReferralsResponse response;
    grpc::Status status = Referrals(cert)->ListReferrals(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const v1::Referral& r : response.referrals()) ids.push_back(r.referral_id());
    return ids;
  }
  std::vector<std::string> ArrivalsSeenBy(const auth::IssuedCertificate& cert) {
    v1::ListArrivalsRequest request;
    request.set_page_size(500);
    v1::ListArrivalsResponse response;
    grpc::Status status = Arrivals(cert)->ListArrivals(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const v1::Arrival& a : response.arrivals()) ids.push_back(a.arrival_id());
    return ids;
  }
  int64_t Rows(const std::string& table) {
    return database_->QueryInt(absl::StrCat("SELECT COUNT(*) FROM ", table));
  }
};

TEST_F(SharingAgreementsTest, TheProgrammesAgreementsAreInForceFromTheMigration) {
  std::vector<SharingAgreement> all = List("", /*in_force_only=*/true);
  ASSERT_THAT(all, SizeIs(6));
  std::vector<std::string> pairs;
  for (const SharingAgreement& a : all) {
    pairs.push_back(absl::StrCat(a.parties(0), "-", a.parties(1)));
    EXPECT_EQ(a.status(), v1::SHARING_AGREEMENT_STATUS_IN_FORCE);
    EXPECT_THAT(a.purposes(), ElementsAre(v1::PURPOSE_REINTEGRATION, v1::PURPOSE_PROTECTION,
                                          v1::PURPOSE_STATISTICS));
    EXPECT_EQ(a.valid_from(), "2017-01-01");
    EXPECT_THAT(a.agreement_id(), ::testing::MatchesRegex("[0-9a-f]{32}"));
  }
  EXPECT_THAT(pairs, ::testing::UnorderedElementsAre("iom-mfa", "mfa-unhcr", "mfa-undp",
                                                     "iom-unhcr", "iom-undp", "undp-unhcr"));
  EXPECT_THAT(List("undp", /*in_force_only=*/false), SizeIs(3));

  // Paged: 4, then 2, with a token bound to the query.
  v1::ListSharingAgreementsRequest request;
  request.set_page_size(4);
  v1::ListSharingAgreementsResponse first;
  ASSERT_TRUE(Admin()->ListSharingAgreements(Context().get(), request, &first).ok());
  ASSERT_THAT(first.agreements(), SizeIs(4));
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  v1::ListSharingAgreementsResponse second;
  ASSERT_TRUE(Admin()->ListSharingAgreements(Context().get(), request, &second).ok());
  EXPECT_THAT(second.agreements(), SizeIs(2));
  EXPECT_TRUE(second.next_page_token().empty());
  request.set_party("iom");  // another query: the token is not its own
  grpc::Status foreign = Admin()->ListSharingAgreements(Context().get(), request, &second);
  EXPECT_EQ(foreign.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(foreign.error_message(), HasSubstr("page_token"));
}

// The ministry–undp agreement ends: undp stops reading the returnee's arrival
// and the referral it received, its open feed ends, a new referral to it is
// refused; nothing is deleted, iom is not affected, and a renewal restores
// undp's reads.
TEST_F(SharingAgreementsTest, EndingAnAgreementStopsTheFlowAndARenewalStartsItAgain) {
  OpenedCase opened = OpenIomCase("agree-1", {"iom", "undp"});
  OpenedCase other = OpenIomCase("agree-1b", {"iom", "undp"});
  v1::Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());
  ASSERT_EQ(GetArrivalAs(undp_cert_, opened.arrival_id), grpc::StatusCode::OK);
  ASSERT_EQ(GetReferralAs(undp_cert_, referral.referral_id()), grpc::StatusCode::OK);
  ASSERT_EQ(GetCaseAs(undp_cert_, opened.case_.case_id()), grpc::StatusCode::OK);
  Watcher undp_watch(Referrals(undp_cert_), "");
  Watcher iom_watch(Referrals(iom_cert_), "");
  ASSERT_FALSE(undp_watch.start_token().empty());
  const int64_t arrivals_before = Rows("arrivals");
  const int64_t referrals_before = Rows("referrals");

  SharingAgreement ended;
  absl::Time ending = absl::Now();
  ASSERT_TRUE(End(AgreementBetween("mfa", "undp"), &ended).ok());
  EXPECT_EQ(ended.status(), v1::SHARING_AGREEMENT_STATUS_ENDED);
  EXPECT_EQ(ended.ended_by(), "ana");
  EXPECT_EQ(ended.end_reason(), "Protocol superseded (ref. MRREE-2026-114)");

  // undp's open feed ends, told why.
  grpc::Status watch_end = undp_watch.WaitForEnd(absl::Seconds(5));
  EXPECT_EQ(watch_end.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << watch_end.error_message();
  EXPECT_THAT(watch_end.error_message(), HasSubstr("data-sharing agreement"));
  EXPECT_LT(absl::Now() - ending, absl::Seconds(5));
  // undp reads nothing of the returnee any more.
  EXPECT_EQ(GetArrivalAs(undp_cert_, opened.arrival_id), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetReferralAs(undp_cert_, referral.referral_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCaseAs(undp_cert_, opened.case_.case_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(Inbox(undp_cert_), ::testing::IsEmpty());
  EXPECT_THAT(ArrivalsSeenBy(undp_cert_), ::testing::IsEmpty());
  // A referral to undp is refused: the returnee's data cannot reach it.
  v1::Referral refused;
  grpc::Status refer = ReferAsIom(other.case_.case_id(), "undp", &refused);
  EXPECT_EQ(refer.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refer.error_message();
  EXPECT_THAT(refer.error_message(), HasSubstr("to_agency"));
  // A resumed watch is refused nothing, but delivers nothing of the
  // returnee: an event after the end (iom withdraws) is not undp's to see.
  Watcher undp_resumed(Referrals(undp_cert_), undp_watch.start_token());
  v1::WithdrawReferralRequest withdraw;
  withdraw.set_referral_id(referral.referral_id());
  v1::Referral withdrawn;
  ASSERT_TRUE(Referrals(iom_cert_)->WithdrawReferral(Context().get(), withdraw, &withdrawn).ok());
  // iom, whose agreements stand, goes on: its feed gets the withdrawal.
  std::vector<v1::ReferralEvent> iom_seen = iom_watch.WaitFor(1);
  ASSERT_THAT(iom_seen, SizeIs(1));
  EXPECT_EQ(iom_seen[0].referral().status(), v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_EQ(GetArrivalAs(iom_cert_, opened.arrival_id), grpc::StatusCode::OK);
  EXPECT_EQ(GetCaseAs(iom_cert_, opened.case_.case_id()), grpc::StatusCode::OK);
  // Nothing was deleted; the consent still names undp.
  EXPECT_EQ(Rows("arrivals"), arrivals_before);
  EXPECT_EQ(Rows("referrals"), referrals_before);
  v1::GetArrivalRequest get;
  get.set_arrival_id(opened.arrival_id);
  v1::Arrival as_recorded;
  ASSERT_TRUE(Arrivals(mfa_cert_)->GetArrival(Context().get(), get, &as_recorded).ok());
  EXPECT_THAT(as_recorded.consent().agencies(), ElementsAre("iom", "undp"));

  // Renewed: undp reads again.
  SharingAgreement renewed;
  ASSERT_TRUE(Register(Agreement("undp", "mfa", Day(0), Day(365)), &renewed).ok());
  EXPECT_EQ(renewed.status(), v1::SHARING_AGREEMENT_STATUS_IN_FORCE);
  EXPECT_THAT(renewed.parties(), ElementsAre("mfa", "undp"));
  EXPECT_EQ(GetArrivalAs(undp_cert_, opened.arrival_id), grpc::StatusCode::OK);
  EXPECT_EQ(GetReferralAs(undp_cert_, referral.referral_id()), grpc::StatusCode::OK);
  EXPECT_THAT(Inbox(undp_cert_), ElementsAre(referral.referral_id()));
  v1::Referral after_renewal;
  ASSERT_TRUE(ReferAsIom(other.case_.case_id(), "undp", &after_renewal).ok());
  // The resumed feed skipped the withdrawal made while undp had no
  // agreement, and delivers the referral made after the renewal.
  std::vector<v1::ReferralEvent> resumed_seen = undp_resumed.WaitFor(1);
  ASSERT_THAT(resumed_seen, SizeIs(1));
  EXPECT_EQ(resumed_seen[0].referral().referral_id(), after_renewal.referral_id());
  EXPECT_THAT(undp_resumed.Events(), SizeIs(1));

  // Audited: the end and the registration, by the administrator, with the id.
  std::vector<v1::AuditEvent> ends = EventsOf(kAdmin, kEnd);
  ASSERT_THAT(ends, SizeIs(1));
  EXPECT_THAT(ends[0].record_ids(), ElementsAre(ended.agreement_id()));
  std::vector<v1::AuditEvent> registrations = EventsOf(kAdmin, kRegister);
  ASSERT_THAT(registrations, SizeIs(1));
  EXPECT_THAT(registrations[0].record_ids(), ElementsAre(renewed.agreement_id()));
}

// The agencies' own agreement: without one in force between iom and undp,
// iom cannot refer to undp and neither sees the referral between them,
// while each still reads the returnee's arrival under its agreement with
// the ministry. Agreements past or not yet in force count for nothing.
TEST_F(SharingAgreementsTest, AReferralBetweenAgenciesNeedsAnAgreementInForceBetweenThem) {
  OpenedCase opened = OpenIomCase("agree-2", {"iom", "undp"});
  OpenedCase other = OpenIomCase("agree-2b", {"iom", "undp"});
  v1::Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());
  Watcher iom_watch(Referrals(iom_cert_), "");
  ASSERT_FALSE(iom_watch.start_token().empty());

  SharingAgreement ended;
  ASSERT_TRUE(End(AgreementBetween("iom", "undp"), &ended).ok());
  // Both parties' feeds end.
  EXPECT_EQ(iom_watch.WaitForEnd(absl::Seconds(5)).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::Referral refused;
  grpc::Status refer = ReferAsIom(other.case_.case_id(), "undp", &refused);
  EXPECT_EQ(refer.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refer.error_message(),
              HasSubstr("no data-sharing agreement in force between iom and undp"));
  EXPECT_EQ(GetReferralAs(undp_cert_, referral.referral_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetReferralAs(iom_cert_, referral.referral_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCaseAs(undp_cert_, opened.case_.case_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetArrivalAs(undp_cert_, opened.arrival_id), grpc::StatusCode::OK);
  EXPECT_EQ(GetCaseAs(iom_cert_, opened.case_.case_id()), grpc::StatusCode::OK);

  // Expired yesterday, or starting tomorrow: still refused.
  SharingAgreement past, future;
  ASSERT_TRUE(Register(Agreement("iom", "undp", "2020-01-01", Day(-1)), &past).ok());
  EXPECT_EQ(past.status(), v1::SHARING_AGREEMENT_STATUS_EXPIRED);
  ASSERT_TRUE(Register(Agreement("iom", "undp", Day(1), Day(30)), &future).ok());
  EXPECT_EQ(future.status(), v1::SHARING_AGREEMENT_STATUS_NOT_YET_IN_FORCE);
  EXPECT_EQ(ReferAsIom(other.case_.case_id(), "undp", &refused).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(GetReferralAs(undp_cert_, referral.referral_id()), grpc::StatusCode::NOT_FOUND);
  // Covering PROTECTION only: referrals need REINTEGRATION.
  v1::RegisterSharingAgreementRequest protection_only = Agreement("iom", "undp", Day(0), Day(9));
  protection_only.clear_purposes();
  protection_only.add_purposes(v1::PURPOSE_PROTECTION);
  SharingAgreement narrow;
  ASSERT_TRUE(Register(protection_only, &narrow).ok());
  EXPECT_EQ(ReferAsIom(other.case_.case_id(), "undp", &refused).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  SharingAgreement renewed;
  ASSERT_TRUE(Register(Agreement("iom", "undp", Day(0), Day(9)), &renewed).ok());
  EXPECT_EQ(GetReferralAs(undp_cert_, referral.referral_id()), grpc::StatusCode::OK);
  EXPECT_EQ(GetReferralAs(iom_cert_, referral.referral_id()), grpc::StatusCode::OK);
  EXPECT_TRUE(ReferAsIom(other.case_.case_id(), "undp", &refused).ok());
  // Listing in force shows the renewal and the narrow one, not the rest.
  std::vector<std::string> in_force;
  for (const SharingAgreement& a : List("undp", /*in_force_only=*/true)) {
    in_force.push_back(a.agreement_id());
  }
  EXPECT_THAT(in_force, ::testing::UnorderedElementsAre(
                            AgreementBetween("mfa", "undp"), AgreementBetween("undp", "unhcr"),
                            narrow.agreement_id(), renewed.agreement_id()));
}

// An agreement covers only its purposes, and only those the consent gives
// count: with the ministry–unhcr agreement narrowed to PROTECTION, unhcr
// reads an arrival whose consent gives PROTECTION, but cannot open a case
// for it, and does not read one whose consent gives REINTEGRATION alone.
TEST_F(SharingAgreementsTest, AnAgreementCoversOnlyItsPurposes) {
  v1::Arrival both = MakeArrival("agree-3a", {"unhcr"});
  both.mutable_consent()->add_purposes(v1::PURPOSE_PROTECTION);
  const std::string for_both = RecordOne(both);
  const std::string for_reintegration = RecordOne(MakeArrival("agree-3b", {"unhcr"}));
  SharingAgreement ended, narrow;
  ASSERT_TRUE(End(AgreementBetween("mfa", "unhcr"), &ended).ok());
  v1::RegisterSharingAgreementRequest protection_only = Agreement("mfa", "unhcr", Day(0), Day(9));
  protection_only.clear_purposes();
  protection_only.add_purposes(v1::PURPOSE_PROTECTION);
  ASSERT_TRUE(Register(protection_only, &narrow).ok());

  EXPECT_EQ(GetArrivalAs(unhcr_cert_, for_both), grpc::StatusCode::OK);
  EXPECT_EQ(GetArrivalAs(unhcr_cert_, for_reintegration), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(ArrivalsSeenBy(unhcr_cert_), ElementsAre(for_both));
  v1::OpenCaseRequest open;
  open.set_arrival_id(for_both);
  open.set_summary("Protection screening found needs for reintegration.");
  v1::Case opened;
  grpc::Status refused = Cases(unhcr_cert_)->OpenCase(Context().get(), open, &opened);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("no data-sharing agreement in force between unhcr and mfa"));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM cases"), 0);
}

// An agreement that expires (its valid_until passes midnight UTC), or is
// ended through another replica, is found by this server's own refresh:
// the open feeds of its parties end within about a second, reads stop.
TEST_F(SharingAgreementsTest, AnExpiryFoundByTheRefreshEndsTheOpenFeeds) {
  const std::string arrival_id = RecordOne(MakeArrival("agree-4", {"unhcr"}));
  ASSERT_EQ(GetArrivalAs(unhcr_cert_, arrival_id), grpc::StatusCode::OK);
  Watcher unhcr_watch(Referrals(unhcr_cert_), "");
  Watcher iom_watch(Referrals(iom_cert_), "");
  ASSERT_FALSE(unhcr_watch.start_token().empty());
  // As the day after valid_until: written straight into the table, so only
  // the server's periodic refresh can learn of it.
  database_->Execute(absl::StrCat("UPDATE sharing_agreements SET valid_until = '", Day(-1),
                                  "' WHERE agreement_id = '", AgreementBetween("mfa", "unhcr"),
                                  "'"));
  absl::Time expired = absl::Now();
  grpc::Status ended = unhcr_watch.WaitForEnd(absl::Seconds(5));
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << ended.error_message();
  EXPECT_LT(absl::Now() - expired, absl::Seconds(5));
  EXPECT_EQ(GetArrivalAs(unhcr_cert_, arrival_id), grpc::StatusCode::NOT_FOUND);
  // iom lost nothing: its feed is open and delivers.
  OpenedCase opened = OpenIomCase("agree-4b", {"iom", "undp"});
  v1::Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_.case_id(), "undp", &referral).ok());
  std::vector<v1::ReferralEvent> seen = iom_watch.WaitFor(1);
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].referral().referral_id(), referral.referral_id());
}

TEST_F(SharingAgreementsTest, OnlyAdministratorsManageAgreementsAndBadInputChangesNothing) {
  const int64_t before = Rows("sharing_agreements");
  SharingAgreement out;
  // An agency may not register (or end) agreements.
  grpc::Status by_agency = Register(Agreement("iom", "undp", Day(0), Day(9)), &out, &iom_cert_);
  EXPECT_EQ(by_agency.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::EndSharingAgreementRequest end_by_agency;
  end_by_agency.set_agreement_id(AgreementBetween("iom", "mfa"));
  end_by_agency.set_reason("no");
  grpc::Status ended_by_agency = v1::AdminService::NewStub(Channel(&mfa_cert_, pki_.ca_cert_pem()))
                                     ->EndSharingAgreement(Context().get(), end_by_agency, &out);
  EXPECT_EQ(ended_by_agency.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  struct Case {
    std::string name;
    v1::RegisterSharingAgreementRequest request;
    std::string field;
  };
  std::vector<Case> cases;
  auto base = [&] { return Agreement("iom", "undp", Day(0), Day(9)); };
  {
    Case c{"one party", base(), "parties"};
    c.request.mutable_parties()->RemoveLast();
    cases.push_back(c);
  }
  cases.push_back({"the same party twice", Agreement("iom", "iom", Day(0), Day(9)), "parties"});
  cases.push_back({"an unknown agency", Agreement("iom", "fao", Day(0), Day(9)), "parties"});
  cases.push_back({"not a code", Agreement("iom", "IOM!", Day(0), Day(9)), "parties"});
  {
    Case c{"three parties", base(), "parties"};
    c.request.add_parties("unhcr");
    cases.push_back(c);
  }
  {
    Case c{"no purpose", base(), "purposes"};
    c.request.clear_purposes();
    cases.push_back(c);
  }
  {
    Case c{"an unspecified purpose", base(), "purposes"};
    c.request.add_purposes(v1::PURPOSE_UNSPECIFIED);
    cases.push_back(c);
  }
  {
    Case c{"an unknown purpose", base(), "purposes"};
    c.request.add_purposes(static_cast<v1::Purpose>(42));
    cases.push_back(c);
  }
  cases.push_back({"no start", Agreement("iom", "undp", "", Day(9)), "valid_from"});
  cases.push_back({"not a day", Agreement("iom", "undp", "2026-02-30", Day(9)), "valid_from"});
  cases.push_back({"no end", Agreement("iom", "undp", Day(0), ""), "valid_until"});
  cases.push_back(
      {"ends before it starts", Agreement("iom", "undp", Day(5), Day(4)), "valid_until"});
  {
    Case c{"no reference", base(), "reference"};
    c.request.set_reference("   ");
    cases.push_back(c);
  }
  {
    Case c{"a reference too long", base(), "reference"};
    c.request.set_reference(std::string(201, 'r'));
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    grpc::Status status = Register(c.request, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(status.error_message(), ::testing::StartsWith(c.field + ":")) << c.name;
  }
  EXPECT_EQ(End("0123456789abcdef0123456789abcdef", &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::Status malformed = End("not an id!", &out);
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(malformed.error_message(), ::testing::StartsWith("agreement_id:"));
  grpc::Status no_reason = End(AgreementBetween("iom", "mfa"), &out, " ");
  EXPECT_EQ(no_reason.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_reason.error_message(), ::testing::StartsWith("reason:"));
  v1::ListSharingAgreementsRequest bad_list;
  bad_list.set_party("IOM!");
  v1::ListSharingAgreementsResponse listed;
  grpc::Status list = Admin()->ListSharingAgreements(Context().get(), bad_list, &listed);
  EXPECT_EQ(list.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(list.error_message(), ::testing::StartsWith("party:"));

  // Nothing was registered or ended by any of it.
  EXPECT_EQ(Rows("sharing_agreements"), before);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM sharing_agreements WHERE ended_at_us IS "
                                "NOT NULL"),
            0);
  // Ending twice: the second is FAILED_PRECONDITION and changes nothing.
  SharingAgreement ended;
  const std::string id = AgreementBetween("unhcr", "undp");
  ASSERT_TRUE(End(id, &ended).ok());
  grpc::Status again = End(id, &out, "Another reason");
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(database_->QueryRows(absl::StrCat(
                "SELECT end_reason FROM sharing_agreements WHERE agreement_id = '", id, "'"))[0][0],
            "Protocol superseded (ref. MRREE-2026-114)");
  // Every refusal is audited: the agency's as denied, the rest with their code.
  std::vector<v1::AuditEvent> denied = EventsOf("spiffe://enlace/agency/iom", kRegister);
  ASSERT_THAT(denied, SizeIs(1));
  EXPECT_EQ(denied[0].decision(), v1::DECISION_DENY);
  EXPECT_THAT(EventsOf(kAdmin, kRegister), SizeIs(cases.size()));
  EXPECT_THAT(EventsOf(kAdmin, kEnd), SizeIs(5));  // 3 refused, 1 ended, 1 ended twice
}

// The returnee objects to reintegration: recorded by the ministry, it acts
// as a withdrawal of that purpose (iom loses the case, the pending referral
// is withdrawn, the arrival itself stays visible for protection), no later
// consent can give it back, and a repeat changes nothing.
TEST_F(SharingAgreementsTest, AnObjectionActsAsAWithdrawalOfThatPurpose) {
  v1::Arrival arrival = MakeArrival("object-1", {"iom", "undp"});
  arrival.mutable_consent()->add_purposes(v1::PURPOSE_PROTECTION);
  const std::string arrival_id = RecordOne(arrival);
  v1::OpenCaseRequest open;
  open.set_arrival_id(arrival_id);
  open.set_summary("Returned alone; wants to restart a workshop.");
  v1::Case opened;
  ASSERT_TRUE(Cases(iom_cert_)->OpenCase(Context().get(), open, &opened).ok());
  v1::Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_id(), "undp", &referral).ok());

  v1::RecordObjectionRequest object;
  object.set_arrival_id(arrival_id);
  object.set_purpose(v1::PURPOSE_REINTEGRATION);
  v1::Arrival objected;
  // Only the submitter records it; iom may not.
  EXPECT_EQ(Arrivals(iom_cert_)->RecordObjection(Context().get(), object, &objected).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Arrivals(mfa_cert_)->RecordObjection(Context().get(), object, &objected).ok());
  EXPECT_THAT(objected.consent().purposes(), ElementsAre(v1::PURPOSE_PROTECTION));
  EXPECT_THAT(objected.consent().objected_purposes(), ElementsAre(v1::PURPOSE_REINTEGRATION));
  EXPECT_THAT(objected.consent().agencies(), ElementsAre("iom", "undp"));
  EXPECT_EQ(objected.consent_version(), 2);

  // As a withdrawal of REINTEGRATION: no case, no referral; the arrival
  // stays visible for PROTECTION.
  EXPECT_EQ(GetCaseAs(iom_cert_, opened.case_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetReferralAs(undp_cert_, referral.referral_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetArrivalAs(iom_cert_, arrival_id), grpc::StatusCode::OK);
  EXPECT_EQ(StoredStatusOf(referral.referral_id()), v1::REFERRAL_STATUS_WITHDRAWN);

  // A consent giving it back is refused, naming the field; nothing changes.
  v1::UpdateConsentRequest update = ConsentForIom(arrival_id, v1::PURPOSE_REINTEGRATION);
  v1::Arrival updated;
  grpc::Status back = Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &updated);
  EXPECT_EQ(back.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(back.error_message(), HasSubstr("purposes: the returnee objected to "
                                              "PURPOSE_REINTEGRATION"));
  // A consent without it is taken, and the objection stays.
  update.mutable_consent()->clear_purposes();
  update.mutable_consent()->add_purposes(v1::PURPOSE_PROTECTION);
  ASSERT_TRUE(Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &updated).ok());
  EXPECT_THAT(updated.consent().objected_purposes(), ElementsAre(v1::PURPOSE_REINTEGRATION));
  EXPECT_EQ(updated.consent_version(), 3);

  // A repeat changes nothing.
  v1::Arrival repeated;
  ASSERT_TRUE(Arrivals(mfa_cert_)->RecordObjection(Context().get(), object, &repeated).ok());
  EXPECT_EQ(repeated.consent_version(), 3);
  EXPECT_EQ(
      database_->QueryInt("SELECT COUNT(*) FROM consent_versions WHERE objected_purposes_mask "
                          "<> 0"),
      2);

  // Bad input, and an arrival the ministry did not record or that is unknown.
  object.set_purpose(v1::PURPOSE_UNSPECIFIED);
  grpc::Status no_purpose =
      Arrivals(mfa_cert_)->RecordObjection(Context().get(), object, &repeated);
  EXPECT_EQ(no_purpose.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_purpose.error_message(), ::testing::StartsWith("purpose:"));
  object.set_purpose(v1::PURPOSE_STATISTICS);
  object.set_arrival_id("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(Arrivals(mfa_cert_)->RecordObjection(Context().get(), object, &repeated).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // The export's consent history carries the objection.
  v1::ExportReturneeDataRequest export_request;
  export_request.set_arrival_id(arrival_id);
  v1::ReturneeDataExport exported;
  ASSERT_TRUE(
      Arrivals(mfa_cert_)->ExportReturneeData(Context().get(), export_request, &exported).ok());
  v1::ReturneeData data;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(exported.document(), &data).ok());
  ASSERT_GE(data.consent_history_size(), 2);
  EXPECT_THAT(data.consent_history(0).consent().objected_purposes(), ::testing::IsEmpty());
  EXPECT_THAT(data.consent_history(1).consent().objected_purposes(),
              ElementsAre(v1::PURPOSE_REINTEGRATION));
  // Audited with what was objected to.
  std::vector<v1::AuditEvent> events =
      EventsOf("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/RecordObjection");
  ASSERT_THAT(events, SizeIs(4));
  EXPECT_EQ(events[0].detail(), "objection PURPOSE_REINTEGRATION");
}

// An objection is the person's: recorded on one return, every arrival
// linked with it takes it, and so does an arrival linked later.
TEST_F(SharingAgreementsTest, AnObjectionIsThePersonsEveryLinkedArrivalTakesIt) {
  auto record = [&](const std::string& external_id) {
    v1::Arrival arrival = MakeArrival(external_id, {"iom", "undp"});
    arrival.mutable_consent()->add_purposes(v1::PURPOSE_PROTECTION);
    return RecordOne(arrival);
  };
  const std::string first = record("person-obj-1");
  const std::string second = record("person-obj-2");
  const std::string later = record("person-obj-3");
  const std::string apart = record("person-obj-4");
  v1::OpenCaseRequest open;
  open.set_arrival_id(second);
  open.set_summary("Second return; asks for seed capital again.");
  v1::Case opened;
  ASSERT_TRUE(Cases(iom_cert_)->OpenCase(Context().get(), open, &opened).ok());
  v1::Referral referral;
  ASSERT_TRUE(ReferAsIom(opened.case_id(), "undp", &referral).ok());
  auto link = [&](const std::string& a, const std::string& b) {
    v1::LinkArrivalsRequest request;
    request.add_arrival_ids(a);
    request.add_arrival_ids(b);
    request.set_reason("Revisado: la misma persona");
    v1::LinkArrivalsResponse linked;
    return Arrivals(mfa_cert_)->LinkArrivals(Context().get(), request, &linked);
  };
  ASSERT_TRUE(link(first, second).ok());

  v1::RecordObjectionRequest object;
  object.set_arrival_id(first);
  object.set_purpose(v1::PURPOSE_REINTEGRATION);
  v1::Arrival objected;
  ASSERT_TRUE(Arrivals(mfa_cert_)->RecordObjection(Context().get(), object, &objected).ok());
  EXPECT_THAT(objected.consent().objected_purposes(), ElementsAre(v1::PURPOSE_REINTEGRATION));
  // The second return took it: its consent, its case and referral.
  auto consent_of = [&](const std::string& id) {
    v1::GetArrivalRequest get;
    get.set_arrival_id(id);
    v1::Arrival read;
    EXPECT_TRUE(Arrivals(mfa_cert_)->GetArrival(Context().get(), get, &read).ok());
    return read;
  };
  v1::Arrival second_read = consent_of(second);
  EXPECT_THAT(second_read.consent().purposes(), ElementsAre(v1::PURPOSE_PROTECTION));
  EXPECT_THAT(second_read.consent().objected_purposes(), ElementsAre(v1::PURPOSE_REINTEGRATION));
  EXPECT_EQ(second_read.consent_version(), 2);
  EXPECT_EQ(GetCaseAs(iom_cert_, opened.case_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetReferralAs(undp_cert_, referral.referral_id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StoredStatusOf(referral.referral_id()), v1::REFERRAL_STATUS_WITHDRAWN);
  // ... and no consent gives it back there either.
  v1::Arrival updated;
  EXPECT_EQ(Arrivals(mfa_cert_)
                ->UpdateConsent(Context().get(), ConsentForIom(second, v1::PURPOSE_REINTEGRATION),
                                &updated)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // An arrival of another person keeps its purposes.
  EXPECT_THAT(consent_of(apart).consent().objected_purposes(), ::testing::IsEmpty());
  EXPECT_THAT(consent_of(later).consent().purposes(),
              ElementsAre(v1::PURPOSE_REINTEGRATION, v1::PURPOSE_PROTECTION));
  // The event names the arrival, the one of the same person, the referral.
  std::vector<v1::AuditEvent> events =
      EventsOf("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/RecordObjection");
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_THAT(events[0].record_ids(), ElementsAre(first, second, referral.referral_id()));

  // A return linked later takes the person's objection with the link.
  ASSERT_TRUE(link(later, second).ok());
  v1::Arrival later_read = consent_of(later);
  EXPECT_THAT(later_read.consent().purposes(), ElementsAre(v1::PURPOSE_PROTECTION));
  EXPECT_THAT(later_read.consent().objected_purposes(), ElementsAre(v1::PURPOSE_REINTEGRATION));
  EXPECT_EQ(later_read.consent_version(), 2);
  std::vector<v1::AuditEvent> links =
      EventsOf("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/LinkArrivals");
  ASSERT_THAT(links, SizeIs(2));
  EXPECT_THAT(links[1].record_ids(), ElementsAre(later, second));
  // A repeat of the objection, or of the link, changes nothing.
  ASSERT_TRUE(Arrivals(mfa_cert_)->RecordObjection(Context().get(), object, &objected).ok());
  ASSERT_TRUE(link(later, second).ok());
  EXPECT_EQ(database_->QueryInt(absl::StrCat(
                "SELECT COUNT(*) FROM consent_versions v JOIN arrivals a ON a.seq = v.arrival_seq "
                "WHERE a.arrival_id IN ('",
                first, "', '", second, "', '", later, "')")),
            6);  // versions 1 and 2 of each
}

}  // namespace
}  // namespace enlace
