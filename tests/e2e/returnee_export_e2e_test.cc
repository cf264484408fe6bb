// End to end (real server, real MariaDB, mutual TLS on loopback): the
// ministry exports everything held about one returnee (ExportReturneeData):
// the arrival and its versions, the consent history, every agency's case
// with its services and owner-only notes, the referrals, the initiatives,
// and every access to any of them, as one JSON document; even once the
// consent no longer lets the agencies see their records. Only the ministry
// exports, only what it recorded; the export is audited on every record it
// names, and denials are audited too.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "enlace/v1/returnee_data.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/case_requests.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::InitiativeRequest;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::ServiceRequest;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kMfa[] = "spiffe://enlace/agency/mfa";
constexpr char kIom[] = "spiffe://enlace/agency/iom";
constexpr char kExport[] = "/enlace.v1.ArrivalService/ExportReturneeData";
constexpr char kNotes[] = "Sesión de apoyo psicosocial: duerme mal desde el retorno";
constexpr char kInitiativeName[] = "Panadería La Esperanza";

class ReturneeExportTest : public ServerFixture {
 protected:
  grpc::Status Export(const auth::IssuedCertificate& cert, const std::string& arrival_id,
                      v1::ReturneeDataExport* response) {
    v1::ExportReturneeDataRequest request;
    request.set_arrival_id(arrival_id);
    return Arrivals(cert)->ExportReturneeData(Context().get(), request, response);
  }
  // The ministry's export of `arrival_id`, its document parsed.
  v1::ReturneeData ExportAsMinistry(const std::string& arrival_id) {
    v1::ReturneeDataExport exported;
    grpc::Status status = Export(mfa_cert_, arrival_id, &exported);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(exported.arrival_id(), arrival_id);
    EXPECT_GT(exported.exported_at().seconds(), 0);
    v1::ReturneeData data;
    const auto parsed = google::protobuf::util::JsonStringToMessage(exported.document(), &data);
    EXPECT_TRUE(parsed.ok()) << parsed.message() << "\n" << exported.document();
    return data;
  }
  grpc::Status UpdateConsent(const std::string& arrival_id,
                             const std::vector<std::string>& agencies) {
    v1::UpdateConsentRequest request;
    request.set_arrival_id(arrival_id);
    for (const std::string& a : agencies) request.mutable_consent()->add_agencies(a);
    if (!agencies.empty()) request.mutable_consent()->add_purposes(v1::PURPOSE_REINTEGRATION);
    request.mutable_consent()->mutable_given_at()->set_seconds(1519000000);
    v1::Arrival updated;
    return Arrivals(mfa_cert_)->UpdateConsent(Context().get(), request, &updated);
  }
  static std::vector<std::string> Methods(const v1::ReturneeData& data) {
    std::vector<std::string> methods;
    for (const v1::AuditEvent& e : data.accesses()) methods.push_back(e.method());
    return methods;
  }
};

TEST_F(ReturneeExportTest, TheMinistryExportsWhatEveryAgencyHoldsEvenAfterTheConsentEnds) {
  OpenedCase opened = OpenIomCase("exp-1", {"iom", "undp"});
  const std::string case_id = opened.case_.case_id();
  // iom's owner-only notes, a service with its notes, an initiative.
  v1::UpdateCaseRequest update;
  *update.mutable_case_() = opened.case_;
  update.mutable_case_()->set_psychosocial_notes(kNotes);
  update.set_etag(opened.case_.etag());
  v1::Case updated;
  ASSERT_TRUE(Cases(iom_cert_)->UpdateCase(Context().get(), update, &updated).ok());
  v1::ServiceRecord service;
  ASSERT_TRUE(Cases(iom_cert_)
                  ->RecordService(Context().get(),
                                  ServiceRequest(case_id, v1::NEED_PSYCHOSOCIAL_SUPPORT,
                                                 "2018-02-20", "Primera sesión en Quezaltepeque"),
                                  &service)
                  .ok());
  v1::Initiative initiative;
  ASSERT_TRUE(
      Cases(iom_cert_)
          ->RegisterInitiative(Context().get(),
                               InitiativeRequest(case_id, kInitiativeName, "food", "Quezaltepeque"),
                               &initiative)
          .ok());
  // A referral to undp, which accepts it and reads the case.
  v1::Referral referral;
  ASSERT_TRUE(ReferAsIom(case_id, "undp", &referral).ok());
  v1::AcceptReferralRequest accept;
  accept.set_referral_id(referral.referral_id());
  v1::Referral accepted;
  ASSERT_TRUE(Referrals(undp_cert_)->AcceptReferral(Context().get(), accept, &accepted).ok());
  v1::GetCaseRequest get_case;
  get_case.set_case_id(case_id);
  v1::Case seen_by_undp;
  ASSERT_TRUE(Cases(undp_cert_)->GetCase(Context().get(), get_case, &seen_by_undp).ok());
  EXPECT_EQ(seen_by_undp.psychosocial_notes(), "");  // owner only, for undp
  // The ministry corrects the record and renews the consent.
  v1::CorrectArrivalRequest correct;
  correct.set_arrival_id(opened.arrival_id);
  correct.mutable_arrival()->mutable_person()->set_birth_date("1995-12-07");
  correct.mutable_update_mask()->add_paths("person.birth_date");
  correct.set_reason("Fecha mal transcrita");
  v1::Arrival corrected;
  ASSERT_TRUE(Arrivals(mfa_cert_)->CorrectArrival(Context().get(), correct, &corrected).ok());
  ASSERT_TRUE(UpdateConsent(opened.arrival_id, {"iom", "undp"}).ok());

  v1::ReturneeData data = ExportAsMinistry(opened.arrival_id);
  EXPECT_GT(data.exported_at().seconds(), 0);
  EXPECT_EQ(data.arrival().arrival_id(), opened.arrival_id);
  EXPECT_EQ(data.arrival().person().birth_date(), "1995-12-07");
  EXPECT_EQ(data.arrival().version(), 2);
  ASSERT_THAT(data.versions(), SizeIs(2));
  EXPECT_EQ(data.versions(0).arrival().person().birth_date(), "1995-07-21");
  EXPECT_EQ(data.versions(1).reason(), "Fecha mal transcrita");
  ASSERT_THAT(data.consent_history(), SizeIs(2));
  EXPECT_EQ(data.consent_history(0).version(), 1);
  EXPECT_EQ(data.consent_history(0).consent().given_at().seconds(), 1518000000);
  EXPECT_EQ(data.consent_history(1).version(), 2);
  EXPECT_EQ(data.consent_history(1).consent().given_at().seconds(), 1519000000);
  EXPECT_EQ(data.consent_history(1).changed_by(), "mfa");
  // iom's case with every field, owner-only ones included.
  ASSERT_THAT(data.cases(), SizeIs(1));
  EXPECT_EQ(data.cases(0).case_id(), case_id);
  EXPECT_EQ(data.cases(0).owner_agency(), "iom");
  EXPECT_EQ(data.cases(0).psychosocial_notes(), kNotes);
  ASSERT_THAT(data.cases(0).services(), SizeIs(1));
  EXPECT_EQ(data.cases(0).services(0).service_id(), service.service_id());
  EXPECT_EQ(data.cases(0).services(0).notes(), "Primera sesión en Quezaltepeque");
  ASSERT_THAT(data.referrals(), SizeIs(1));
  EXPECT_EQ(data.referrals(0).referral_id(), referral.referral_id());
  EXPECT_EQ(data.referrals(0).status(), v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(data.referrals(0).reason(), "Seed capital for a bakery in Quezaltepeque");
  ASSERT_THAT(data.initiatives(), SizeIs(1));
  EXPECT_EQ(data.initiatives(0).name(), kInitiativeName);
  EXPECT_EQ(data.initiatives(0).case_id(), case_id);  // owner-only, kept in the export
  // Who accessed them: iom's and undp's calls on the case, the referral,
  // the arrival; each event once, in sequence order.
  const std::vector<std::string> methods = Methods(data);
  EXPECT_THAT(methods, Contains("/enlace.v1.CaseService/OpenCase"));
  EXPECT_THAT(methods, Contains("/enlace.v1.CaseService/UpdateCase"));
  EXPECT_THAT(methods, Contains("/enlace.v1.CaseService/RecordService"));
  EXPECT_THAT(methods, Contains("/enlace.v1.CaseService/RegisterInitiative"));
  EXPECT_THAT(methods, Contains("/enlace.v1.ReferralService/AcceptReferral"));
  EXPECT_THAT(methods, Contains("/enlace.v1.CaseService/GetCase"));
  EXPECT_THAT(methods, Contains("/enlace.v1.ArrivalService/CorrectArrival"));
  EXPECT_THAT(methods, Contains("/enlace.v1.ArrivalService/UpdateConsent"));
  bool undp_read_the_case = false;
  for (int i = 0; i < data.accesses_size(); ++i) {
    const v1::AuditEvent& e = data.accesses(i);
    if (i > 0) {
      EXPECT_LT(data.accesses(i - 1).sequence(), e.sequence());
    }
    if (e.method() == "/enlace.v1.CaseService/GetCase" &&
        e.principal() == "spiffe://enlace/agency/undp") {
      undp_read_the_case = true;
      EXPECT_EQ(e.actor(), ::enlace::testing::kTestActor);
    }
  }
  EXPECT_TRUE(undp_read_the_case);

  // The export is audited on every record it names: the case's owner sees
  // it in the case's access log; the detail holds counts only.
  const std::vector<v1::AuditEvent> exports = EventsOf(kMfa, kExport);
  ASSERT_THAT(exports, SizeIs(1));
  EXPECT_EQ(exports[0].decision(), v1::DECISION_ALLOW);
  EXPECT_THAT(exports[0].record_ids(), Contains(opened.arrival_id));
  EXPECT_THAT(exports[0].record_ids(), Contains(case_id));
  EXPECT_THAT(exports[0].record_ids(), Contains(referral.referral_id()));
  EXPECT_THAT(exports[0].record_ids(), Contains(initiative.initiative_id()));
  EXPECT_THAT(exports[0].record_ids(), Contains(service.service_id()));
  EXPECT_THAT(exports[0].detail(), HasSubstr("cases=1 referrals=1 initiatives=1"));
  v1::GetCaseAccessLogRequest log_request;
  log_request.set_case_id(case_id);
  v1::GetCaseAccessLogResponse log;
  ASSERT_TRUE(Cases(iom_cert_)->GetCaseAccessLog(Context().get(), log_request, &log).ok());
  bool export_logged = false;
  for (const v1::CaseAccessEntry& entry : log.entries()) {
    if (entry.method() == kExport && entry.principal() == kMfa) export_logged = true;
  }
  EXPECT_TRUE(export_logged);

  // Once the consent is withdrawn no agency sees its records any more; the
  // returnee's export still holds them all, and the first export.
  ASSERT_TRUE(UpdateConsent(opened.arrival_id, {}).ok());
  v1::Case hidden;
  EXPECT_EQ(Cases(iom_cert_)->GetCase(Context().get(), get_case, &hidden).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ReturneeData after = ExportAsMinistry(opened.arrival_id);
  ASSERT_THAT(after.cases(), SizeIs(1));
  EXPECT_EQ(after.cases(0).psychosocial_notes(), kNotes);
  ASSERT_THAT(after.referrals(), SizeIs(1));
  ASSERT_THAT(after.initiatives(), SizeIs(1));
  ASSERT_THAT(after.consent_history(), SizeIs(3));
  EXPECT_THAT(after.consent_history(2).consent().agencies(), SizeIs(0));
  EXPECT_THAT(Methods(after), Contains(kExport));
}

TEST_F(ReturneeExportTest, OnlyTheMinistryExportsAndOnlyWhatExists) {
  const std::string id = RecordOne(::enlace::testing::MakeArrival("exp-2", {"iom"}));
  v1::ReturneeDataExport exported;
  // iom may read the arrival, not export it: the ministry's call.
  EXPECT_EQ(Export(iom_cert_, id, &exported).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  const std::vector<v1::AuditEvent> denied = EventsOf(kIom, kExport);
  ASSERT_THAT(denied, SizeIs(1));
  EXPECT_EQ(denied[0].decision(), v1::DECISION_DENY);
  EXPECT_EQ(denied[0].status_code(), grpc::StatusCode::PERMISSION_DENIED);
  // An administrator neither.
  v1::ExportReturneeDataRequest request;
  request.set_arrival_id(id);
  grpc::Status status = v1::ArrivalService::NewStub(Channel(&admin_cert_, pki_.ca_cert_pem()))
                            ->ExportReturneeData(Context().get(), request, &exported);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // An arrival that does not exist, a malformed id, none at all.
  status = Export(mfa_cert_, "0123456789abcdef0123456789abcdef", &exported);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  status = Export(mfa_cert_, "not an id", &exported);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival_id"));
  status = Export(mfa_cert_, "", &exported);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival_id"));
  const std::vector<v1::AuditEvent> attempts = EventsOf(kMfa, kExport);
  ASSERT_THAT(attempts, SizeIs(3));
  EXPECT_EQ(attempts[0].status_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(attempts[0].decision(), v1::DECISION_DENY);
  // A returnee with no case yet: the arrival, one version, one consent.
  const v1::ReturneeData data = ExportAsMinistry(id);
  EXPECT_EQ(data.arrival().external_id(), "exp-2");
  EXPECT_THAT(data.versions(), SizeIs(1));
  ASSERT_THAT(data.consent_history(), SizeIs(1));
  EXPECT_EQ(data.consent_history(0).changed_by(), "mfa");
  EXPECT_THAT(data.consent_history(0).consent().agencies(), Contains("iom"));
  EXPECT_THAT(data.cases(), SizeIs(0));
}

}  // namespace
}  // namespace enlace
