// End to end (real server, real MariaDB, mutual TLS on loopback): the
// ministry erases a returnee (EraseReturnee). Afterwards no text column of
// any table holds any of the returnee's identifying values (the test asks
// information_schema for every column and searches each one), while the
// programme report reads exactly as before, other returnees keep theirs,
// and the agencies still see the skeleton of their records. A repeat is
// already_erased; the event says an erasure happened, not what it erased;
// agencies cannot erase; bad input changes nothing; an erased record takes
// no correction.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "enlace/v1/reports.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/case_requests.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::InitiativeRequest;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::ServiceRequest;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using v1::Arrival;

constexpr char kMfa[] = "spiffe://enlace/agency/mfa";
constexpr char kErase[] = "/enlace.v1.ArrivalService/EraseReturnee";
constexpr char kErasureReason[] = "Solicitud de supresión 2026-114";

// The erased returnee's identifying values: each is searched for in every
// text column of the database afterwards. Distinct enough that no other
// record holds them by chance.
constexpr char kGivenName[] = "Xiomara Lisseth";
constexpr char kFamilyName[] = "Quintanilla Erasmo";
constexpr char kCorrectedFamilyName[] = "Quintanilla Borrada";
constexpr char kDocument[] = "DUI-0477815-ERAS";
constexpr char kGuardian[] = "Guadalupe Centeno Erasmo";
constexpr char kSummary[] = "Xiomara vive con su tía en Apopa, colonia Las Brisas";
constexpr char kPsychosocial[] = "Pesadillas recurrentes tras la detención en Tapachula";
constexpr char kServiceNotes[] = "Sesión con la psicóloga Erasmo en la casa comunal";
constexpr char kInitiativeName[] = "Pupusería Xiomara";
constexpr char kReferralReason[] = "Capital semilla para la pupusería de Xiomara";
constexpr char kDeclineReason[] = "Xiomara ya recibe apoyo de otra fuente";
constexpr char kCorrectionReason[] = "Apellido mal escrito en el DUI de Xiomara";
constexpr char kMunicipality[] = "Apopa";  // a real municipality: searched as a whole value
constexpr char kBirthDate[] = "2009-05-17";

class ReturneeErasureTest : public ServerFixture {
 protected:
  grpc::Status Erase(const auth::IssuedCertificate& cert, const std::string& arrival_id,
                     const std::string& reason, v1::EraseReturneeResponse* response) {
    v1::EraseReturneeRequest request;
    request.set_arrival_id(arrival_id);
    request.set_reason(reason);
    return Arrivals(cert)->EraseReturnee(Context().get(), request, response);
  }
  v1::ProgrammeReport Report() {
    v1::GetProgrammeReportRequest request;
    v1::ProgrammeReport report;
    grpc::Status status = v1::ReportService::NewStub(Channel(&mfa_cert_, pki_.ca_cert_pem()))
                              ->GetProgrammeReport(Context().get(), request, &report);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return report;
  }
  int64_t RowsWithBirthDate(const std::string& date) {
    return database_->QueryInt(
               absl::StrCat("SELECT COUNT(*) FROM arrivals WHERE birth_date = '", date, "'")) +
           database_->QueryInt(absl::StrCat(
               "SELECT COUNT(*) FROM arrival_versions WHERE birth_date = '", date, "'"));
  }

  // Records the returnee (a minor, with her guardian), and every kind of
  // record the agencies keep about her; returns the arrival id.
  std::string RecordEverything() {
    Arrival a = MakeArrival("era-1", {"iom", "undp"});
    a.mutable_person()->set_given_name(kGivenName);
    a.mutable_person()->set_family_name(kFamilyName);
    a.mutable_person()->set_document_number(kDocument);
    a.mutable_person()->set_birth_date(kBirthDate);
    a.mutable_destination()->set_department_code("SV-SS");
    a.mutable_destination()->set_municipality(kMunicipality);
    a.mutable_consent()->mutable_guardian()->set_name(kGuardian);
    a.mutable_consent()->mutable_guardian()->set_relationship(v1::GUARDIAN_RELATIONSHIP_PARENT);
    const std::string id = RecordOne(a);
    // A correction (the first version keeps the old family name) and a
    // consent renewed by the guardian (the history keeps her name twice).
    v1::CorrectArrivalRequest correct;
    correct.set_arrival_id(id);
    correct.mutable_arrival()->mutable_person()->set_family_name(kCorrectedFamilyName);
    correct.mutable_update_mask()->add_paths("person.family_name");
    correct.set_reason(kCorrectionReason);
    Arrival corrected;
    EXPECT_TRUE(Arrivals(mfa_cert_)->CorrectArrival(Context().get(), correct, &corrected).ok());
    v1::UpdateConsentRequest consent;
    consent.set_arrival_id(id);
    *consent.mutable_consent() = a.consent();
    Arrival renewed;
    EXPECT_TRUE(Arrivals(mfa_cert_)->UpdateConsent(Context().get(), consent, &renewed).ok());
    // iom's case, notes, a service, an initiative; two referrals to undp,
    // one accepted, one declined with a reason.
    v1::OpenCaseRequest open;
    open.set_arrival_id(id);
    open.set_summary(kSummary);
    v1::Case opened;
    EXPECT_TRUE(Cases(iom_cert_)->OpenCase(Context().get(), open, &opened).ok());
    v1::UpdateCaseRequest update;
    *update.mutable_case_() = opened;
    update.mutable_case_()->set_psychosocial_notes(kPsychosocial);
    update.set_etag(opened.etag());
    v1::Case updated;
    EXPECT_TRUE(Cases(iom_cert_)->UpdateCase(Context().get(), update, &updated).ok());
    v1::ServiceRecord service;
    EXPECT_TRUE(Cases(iom_cert_)
                    ->RecordService(Context().get(),
                                    ServiceRequest(opened.case_id(), v1::NEED_PSYCHOSOCIAL_SUPPORT,
                                                   "2018-02-20", kServiceNotes),
                                    &service)
                    .ok());
    v1::Initiative initiative;
    EXPECT_TRUE(Cases(iom_cert_)
                    ->RegisterInitiative(
                        Context().get(),
                        InitiativeRequest(opened.case_id(), kInitiativeName, "food", kMunicipality),
                        &initiative)
                    .ok());
    for (v1::Need need : {v1::NEED_SEED_CAPITAL, v1::NEED_EMPLOYMENT}) {
      v1::CreateReferralRequest refer;
      refer.set_case_id(opened.case_id());
      refer.set_to_agency("undp");
      refer.set_service(need);
      refer.set_reason(kReferralReason);
      v1::Referral referral;
      EXPECT_TRUE(Referrals(iom_cert_)->CreateReferral(Context().get(), refer, &referral).ok());
      v1::Referral answered;
      if (need == v1::NEED_SEED_CAPITAL) {
        v1::AcceptReferralRequest accept;
        accept.set_referral_id(referral.referral_id());
        EXPECT_TRUE(Referrals(undp_cert_)->AcceptReferral(Context().get(), accept, &answered).ok());
      } else {
        v1::DeclineReferralRequest decline;
        decline.set_referral_id(referral.referral_id());
        decline.set_reason(kDeclineReason);
        EXPECT_TRUE(
            Referrals(undp_cert_)->DeclineReferral(Context().get(), decline, &answered).ok());
      }
    }
    case_id_ = opened.case_id();
    return id;
  }

  std::string case_id_;
};

TEST_F(ReturneeErasureTest, NothingIdentifyingIsLeftAnywhereAndTheCountsDoNotMove) {
  const std::string other = RecordOne(MakeArrival("era-other", {"iom"}));  // María José Hernández
  const std::string id = RecordEverything();
  const std::vector<std::string> identifying = {
      kGivenName,      kFamilyName,     kCorrectedFamilyName, kDocument,
      kGuardian,       kSummary,        kPsychosocial,        kServiceNotes,
      kInitiativeName, kReferralReason, kDeclineReason,       kCorrectionReason};
  // Before: each value is held somewhere (the search can find them).
  for (const std::string& value : identifying) {
    EXPECT_THAT(database_->ColumnsHolding(value), Not(IsEmpty())) << value;
  }
  EXPECT_THAT(database_->ColumnsHoldingExactly(kMunicipality), Not(IsEmpty()));
  EXPECT_EQ(RowsWithBirthDate(kBirthDate), 3);  // the arrival and its two versions
  const v1::ProgrammeReport before = Report();

  v1::EraseReturneeResponse erased;
  grpc::Status status = Erase(mfa_cert_, id, kErasureReason, &erased);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(erased.arrival_id(), id);
  EXPECT_FALSE(erased.already_erased());
  EXPECT_GT(erased.erased_at().seconds(), 0);

  // After: no text column of any table holds any of them, nor the
  // municipality; the birth date is gone too (the age on arrival stays).
  for (const std::string& value : identifying) {
    EXPECT_THAT(database_->ColumnsHolding(value), IsEmpty()) << value;
  }
  EXPECT_THAT(database_->ColumnsHoldingExactly(kMunicipality), IsEmpty());
  EXPECT_EQ(RowsWithBirthDate(kBirthDate), 0);
  // The programme counts read exactly as before, every cell of them.
  const v1::ProgrammeReport after = Report();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(before, after))
      << before.DebugString() << "\nafter:\n"
      << after.DebugString();
  EXPECT_GT(before.returnees_by_department_size(), 0);

  // The other returnee keeps hers.
  v1::GetArrivalRequest get;
  get.set_arrival_id(other);
  Arrival kept;
  ASSERT_TRUE(Arrivals(mfa_cert_)->GetArrival(Context().get(), get, &kept).ok());
  EXPECT_EQ(kept.person().given_name(), "María José");
  EXPECT_FALSE(kept.has_erased_at());
  // The agencies still see the skeleton: who is gone, what was done stays.
  get.set_arrival_id(id);
  Arrival skeleton;
  ASSERT_TRUE(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &skeleton).ok());
  EXPECT_EQ(skeleton.person().given_name(), "");
  EXPECT_EQ(skeleton.person().family_name(), "");
  EXPECT_EQ(skeleton.person().document_number(), "");
  EXPECT_EQ(skeleton.person().birth_date(), "2010-02-10");  // 8 on arrival (2018-02-10), as before
  EXPECT_EQ(skeleton.person().sex(), v1::SEX_FEMALE);
  EXPECT_EQ(skeleton.destination().department_code(), "SV-SS");
  EXPECT_EQ(skeleton.destination().municipality(), "");
  EXPECT_EQ(skeleton.consent().guardian().name(), "");
  EXPECT_EQ(skeleton.consent().guardian().relationship(), v1::GUARDIAN_RELATIONSHIP_PARENT);
  EXPECT_EQ(skeleton.erased_at().seconds(), erased.erased_at().seconds());
  v1::GetCaseRequest get_case;
  get_case.set_case_id(case_id_);
  v1::Case erased_case;
  ASSERT_TRUE(Cases(iom_cert_)->GetCase(Context().get(), get_case, &erased_case).ok());
  EXPECT_EQ(erased_case.summary(), "");
  EXPECT_EQ(erased_case.psychosocial_notes(), "");
  ASSERT_THAT(erased_case.services(), SizeIs(1));
  EXPECT_EQ(erased_case.services(0).service(), v1::NEED_PSYCHOSOCIAL_SUPPORT);

  // The event says an erasure happened, of which arrival, by whom: not what
  // nor why.
  int erasures = 0;
  for (const v1::AuditEvent& e : EventsOf(kMfa, kErase)) {
    ++erasures;
    EXPECT_EQ(e.decision(), v1::DECISION_ALLOW);
    EXPECT_EQ(e.detail(), "erasure");
    EXPECT_THAT(e.record_ids(), ::testing::ElementsAre(id));
    EXPECT_EQ(e.actor(), ::enlace::testing::kTestActor);
  }
  EXPECT_EQ(erasures, 1);
  // The audit chain still verifies: erasure never touches the log.
  v1::VerifyAuditLogResponse verified;
  ASSERT_TRUE(
      Admin()->VerifyAuditLog(Context().get(), v1::VerifyAuditLogRequest(), &verified).ok());
  EXPECT_TRUE(verified.intact());

  // Idempotent: a repeat changes nothing and says so.
  v1::EraseReturneeResponse again;
  ASSERT_TRUE(Erase(mfa_cert_, id, kErasureReason, &again).ok());
  EXPECT_TRUE(again.already_erased());
  EXPECT_EQ(again.erased_at().seconds(), erased.erased_at().seconds());
  EXPECT_EQ(again.erased_at().nanos(), erased.erased_at().nanos());

  // An erased record takes no new personal data.
  v1::CorrectArrivalRequest correct;
  correct.set_arrival_id(id);
  correct.mutable_arrival()->mutable_person()->set_given_name(kGivenName);
  correct.mutable_update_mask()->add_paths("person.given_name");
  correct.set_reason("restore");
  Arrival refused;
  status = Arrivals(mfa_cert_)->CorrectArrival(Context().get(), correct, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_THAT(database_->ColumnsHolding(kGivenName), IsEmpty());
  // Resending the original record (a client retrying) is ALREADY_RECORDED
  // and does not bring her back.
  Arrival original = MakeArrival("era-1", {"iom", "undp"});
  original.mutable_person()->set_given_name(kGivenName);
  v1::RecordArrivalRequest resend;
  *resend.mutable_arrival() = original;
  v1::RecordArrivalResponse resent;
  status = Arrivals(mfa_cert_)->RecordArrival(Context().get(), resend, &resent);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resent.outcome(), v1::OUTCOME_ALREADY_RECORDED);
  EXPECT_EQ(resent.arrival_id(), id);
  EXPECT_THAT(database_->ColumnsHolding(kGivenName), IsEmpty());
}

TEST_F(ReturneeErasureTest, OnlyTheMinistryErasesAndBadInputChangesNothing) {
  const std::string id = RecordOne(MakeArrival("era-2", {"iom"}));
  v1::EraseReturneeResponse response;
  // iom sees the arrival but may not erase it: the ministry's call.
  EXPECT_EQ(Erase(iom_cert_, id, kErasureReason, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // No reason, a blank one, one too long; no id, a malformed one.
  grpc::Status status = Erase(mfa_cert_, id, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("reason"));
  status = Erase(mfa_cert_, id, "   ", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("reason"));
  status = Erase(mfa_cert_, id, std::string(501, 'x'), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("reason"));
  status = Erase(mfa_cert_, "", kErasureReason, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival_id"));
  status = Erase(mfa_cert_, "not an id", kErasureReason, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // An arrival that does not exist.
  status = Erase(mfa_cert_, "0123456789abcdef0123456789abcdef", kErasureReason, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  // Nothing changed.
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE erased_at_us IS NOT NULL"), 0);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE given_name = 'María José'"),
            1);
  // Each attempt is audited: iom's denial, the ministry's six refusals.
  const std::vector<v1::AuditEvent> denied = EventsOf("spiffe://enlace/agency/iom", kErase);
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].decision(), v1::DECISION_DENY);
  EXPECT_EQ(EventsOf(kMfa, kErase).size(), 6u);
}

}  // namespace
}  // namespace enlace
