#include "clients/enlace_client.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/connection.h"

namespace enlace::client {
namespace {

// A uniform draw in [0, 1] for the jitter. One generator per thread: a Client
// is shared between threads and this keeps the calls free of locks.
double UniformDraw() {
  thread_local std::minstd_rand generator(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

}  // namespace

absl::string_view MethodName(Method method) {
  switch (method) {
    case Method::kRecordArrival: return "/enlace.v1.ArrivalService/RecordArrival";
    case Method::kGetArrival: return "/enlace.v1.ArrivalService/GetArrival";
    case Method::kListArrivals: return "/enlace.v1.ArrivalService/ListArrivals";
    case Method::kUpdateConsent: return "/enlace.v1.ArrivalService/UpdateConsent";
    case Method::kCorrectArrival: return "/enlace.v1.ArrivalService/CorrectArrival";
    case Method::kListArrivalVersions: return "/enlace.v1.ArrivalService/ListArrivalVersions";
    case Method::kExportReturneeData: return "/enlace.v1.ArrivalService/ExportReturneeData";
    case Method::kEraseReturnee: return "/enlace.v1.ArrivalService/EraseReturnee";
    case Method::kFindPossibleDuplicates: return "/enlace.v1.ArrivalService/FindPossibleDuplicates";
    case Method::kLinkArrivals: return "/enlace.v1.ArrivalService/LinkArrivals";
    case Method::kUnlinkArrivals: return "/enlace.v1.ArrivalService/UnlinkArrivals";
    case Method::kRecordObjection: return "/enlace.v1.ArrivalService/RecordObjection";
    case Method::kOpenCase: return "/enlace.v1.CaseService/OpenCase";
    case Method::kGetCase: return "/enlace.v1.CaseService/GetCase";
    case Method::kListCases: return "/enlace.v1.CaseService/ListCases";
    case Method::kUpdateCase: return "/enlace.v1.CaseService/UpdateCase";
    case Method::kRecordService: return "/enlace.v1.CaseService/RecordService";
    case Method::kRegisterInitiative: return "/enlace.v1.CaseService/RegisterInitiative";
    case Method::kUpdateInitiative: return "/enlace.v1.CaseService/UpdateInitiative";
    case Method::kListInitiatives: return "/enlace.v1.CaseService/ListInitiatives";
    case Method::kGetCaseAccessLog: return "/enlace.v1.CaseService/GetCaseAccessLog";
    case Method::kCreateReferral: return "/enlace.v1.ReferralService/CreateReferral";
    case Method::kGetReferral: return "/enlace.v1.ReferralService/GetReferral";
    case Method::kListReferrals: return "/enlace.v1.ReferralService/ListReferrals";
    case Method::kAcceptReferral: return "/enlace.v1.ReferralService/AcceptReferral";
    case Method::kDeclineReferral: return "/enlace.v1.ReferralService/DeclineReferral";
    case Method::kCompleteReferral: return "/enlace.v1.ReferralService/CompleteReferral";
    case Method::kWithdrawReferral: return "/enlace.v1.ReferralService/WithdrawReferral";
    case Method::kGetProgrammeReport: return "/enlace.v1.ReportService/GetProgrammeReport";
    case Method::kIssueCertificate: return "/enlace.v1.AdminService/IssueCertificate";
    case Method::kListCertificates: return "/enlace.v1.AdminService/ListCertificates";
    case Method::kRevokeCertificate: return "/enlace.v1.AdminService/RevokeCertificate";
    case Method::kRegisterAgency: return "/enlace.v1.AdminService/RegisterAgency";
    case Method::kListAgencies: return "/enlace.v1.AdminService/ListAgencies";
    case Method::kListAuditEvents: return "/enlace.v1.AdminService/ListAuditEvents";
    case Method::kVerifyAuditLog: return "/enlace.v1.AdminService/VerifyAuditLog";
    case Method::kGetAuditCheckpoint: return "/enlace.v1.AdminService/GetAuditCheckpoint";
    case Method::kGetAuditConsistencyProof:
      return "/enlace.v1.AdminService/GetAuditConsistencyProof";
    case Method::kGetAuditInclusionProof: return "/enlace.v1.AdminService/GetAuditInclusionProof";
    case Method::kRegisterWitnessKey: return "/enlace.v1.AdminService/RegisterWitnessKey";
    case Method::kAddAuditCosignature: return "/enlace.v1.AdminService/AddAuditCosignature";
    case Method::kRegisterSharingAgreement:
      return "/enlace.v1.AdminService/RegisterSharingAgreement";
    case Method::kListSharingAgreements: return "/enlace.v1.AdminService/ListSharingAgreements";
    case Method::kEndSharingAgreement: return "/enlace.v1.AdminService/EndSharingAgreement";
  }
  return "";  // not reached: the switch covers every Method (-Wswitch)
}

bool IsIdempotent(Method method) {
  // No default: a new Method must be classified here (-Wswitch says so).
  switch (method) {
    // Reads.
    case Method::kGetArrival:
    case Method::kListArrivals:
    case Method::kListArrivalVersions:
    case Method::kExportReturneeData:
    case Method::kFindPossibleDuplicates:
    case Method::kGetCase:
    case Method::kListCases:
    case Method::kListInitiatives:
    case Method::kGetCaseAccessLog:
    case Method::kGetReferral:
    case Method::kListReferrals:
    case Method::kGetProgrammeReport:
    case Method::kListCertificates:
    case Method::kListAgencies:
    case Method::kListAuditEvents:
    case Method::kVerifyAuditLog:
    case Method::kGetAuditCheckpoint:
    case Method::kGetAuditConsistencyProof:
    case Method::kGetAuditInclusionProof:
    case Method::kListSharingAgreements:
    // A write the server deduplicates by (submitting agency, external_id).
    case Method::kRecordArrival:
    // A write that, repeated, finds its work done (already_erased).
    case Method::kEraseReturnee:
    // Decisions that, repeated, are recorded the same again.
    case Method::kLinkArrivals:
    case Method::kUnlinkArrivals:
    // An objection, repeated, finds itself recorded and changes nothing.
    case Method::kRecordObjection:
    // Writes the server keeps once: a witness key, a cosignature per key and
    // checkpoint; repeated, they answer the same.
    case Method::kRegisterWitnessKey:
    case Method::kAddAuditCosignature: return true;
    // Writes that a repetition would apply again (a second case, service,
    // initiative, referral or certificate), undo someone else's change in
    // between (UpdateConsent, UpdateCase), or reject (transitions, a second
    // RegisterAgency, RevokeCertificate or EndSharingAgreement; a second
    // agreement).
    case Method::kUpdateConsent:
    case Method::kCorrectArrival:
    case Method::kOpenCase:
    case Method::kUpdateCase:
    case Method::kRecordService:
    case Method::kRegisterInitiative:
    case Method::kUpdateInitiative:
    case Method::kCreateReferral:
    case Method::kAcceptReferral:
    case Method::kDeclineReferral:
    case Method::kCompleteReferral:
    case Method::kWithdrawReferral:
    case Method::kIssueCertificate:
    case Method::kRevokeCertificate:
    case Method::kRegisterAgency:
    case Method::kRegisterSharingAgreement:
    case Method::kEndSharingAgreement: return false;
  }
  return false;
}

bool IsRetryable(Method method, absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable && IsIdempotent(method);
}

absl::Duration BackoffDelay(const RetryPolicy& policy, int retry, double uniform) {
  if (retry < 1) retry = 1;
  const double multiplier = std::max(policy.backoff_multiplier, 1.0);
  const absl::Duration cap = std::max(policy.max_backoff, absl::ZeroDuration());
  // Multiply step by step and stop at the cap, so that a large `retry` does
  // not overflow.
  absl::Duration nominal = std::clamp(policy.initial_backoff, absl::ZeroDuration(), cap);
  for (int n = 1; n < retry && nominal < cap; ++n) {
    nominal = std::min(nominal * multiplier, cap);
  }
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  const double draw = std::clamp(uniform, 0.0, 1.0);
  return nominal * (1.0 - jitter + 2.0 * jitter * draw);
}

Client::Client(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout, RetryPolicy retry)
    : channel_(std::move(channel)),
      timeout_(timeout),
      retry_(std::move(retry)),
      arrivals_(v1::ArrivalService::NewStub(channel_)),
      cases_(v1::CaseService::NewStub(channel_)),
      referrals_(v1::ReferralService::NewStub(channel_)),
      reports_(v1::ReportService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)) {}

Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ConnectionOptions& options,
                                                        RetryPolicy retry) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = enlace::client::Connect(options);
  if (!channel.ok()) return channel.status();
  return FromChannel(*std::move(channel), options.timeout, std::move(retry));
}

std::unique_ptr<Client> Client::FromChannel(std::shared_ptr<grpc::Channel> channel,
                                            absl::Duration timeout, RetryPolicy retry) {
  // The constructor is private: no std::make_unique.
  return std::unique_ptr<Client>(new Client(std::move(channel), timeout, std::move(retry)));
}

std::unique_ptr<grpc::ClientContext> Client::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return context;
}

absl::Status Client::Invoke(Method method,
                            absl::FunctionRef<grpc::Status(grpc::ClientContext*)> attempt) {
  const absl::Time deadline = absl::Now() + timeout_;
  const int max_attempts = std::max(retry_.max_attempts, 1);
  for (int n = 1;; ++n) {
    // A ClientContext serves one call only: a fresh one per attempt, all
    // with the call's one deadline.
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    absl::Status status = FromGrpc(attempt(&context));
    if (status.ok() || n >= max_attempts || !IsRetryable(method, status.code())) {
      return status;
    }
    const absl::Duration pause = BackoffDelay(retry_, n, UniformDraw());
    if (absl::Now() + pause >= deadline) return status;
    if (retry_.sleep) {
      retry_.sleep(pause);
    } else {
      absl::SleepFor(pause);
    }
  }
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Client::Unary(Method method, Stub& stub,
                                       grpc::Status (Stub::*rpc)(grpc::ClientContext*,
                                                                 const Request&, Response*),
                                       const Request& request) {
  Response response;
  absl::Status status = Invoke(method, [&](grpc::ClientContext* context) {
    response.Clear();  // nothing of a failed attempt leaks into the result
    return (stub.*rpc)(context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

// ArrivalService.

absl::StatusOr<v1::RecordArrivalResponse> Client::RecordArrival(
    const v1::RecordArrivalRequest& request) {
  return Unary(Method::kRecordArrival, *arrivals_, &v1::ArrivalService::Stub::RecordArrival,
               request);
}

absl::StatusOr<v1::Arrival> Client::GetArrival(const v1::GetArrivalRequest& request) {
  return Unary(Method::kGetArrival, *arrivals_, &v1::ArrivalService::Stub::GetArrival, request);
}

absl::StatusOr<v1::ListArrivalsResponse> Client::ListArrivals(
    const v1::ListArrivalsRequest& request) {
  return Unary(Method::kListArrivals, *arrivals_, &v1::ArrivalService::Stub::ListArrivals, request);
}

absl::Status Client::ForEachArrival(v1::ListArrivalsRequest request,
                                    absl::FunctionRef<absl::Status(const v1::Arrival&)> callback) {
  for (;;) {
    absl::StatusOr<v1::ListArrivalsResponse> page = ListArrivals(request);
    if (!page.ok()) return page.status();
    for (const v1::Arrival& arrival : page->arrivals()) {
      absl::Status status = callback(arrival);
      if (!status.ok()) return status;
    }
    if (page->next_page_token().empty()) return absl::OkStatus();
    // A server that hands back the token it was given would loop us forever.
    if (page->next_page_token() == request.page_token()) {
      return absl::InternalError(absl::StrCat("ListArrivals returned the page token it was given (",
                                              request.page_token(), "): paging stopped"));
    }
    request.set_page_token(page->next_page_token());
  }
}

absl::StatusOr<v1::Arrival> Client::UpdateConsent(const v1::UpdateConsentRequest& request) {
  return Unary(Method::kUpdateConsent, *arrivals_, &v1::ArrivalService::Stub::UpdateConsent,
               request);
}

absl::StatusOr<v1::Arrival> Client::CorrectArrival(const v1::CorrectArrivalRequest& request) {
  return Unary(Method::kCorrectArrival, *arrivals_, &v1::ArrivalService::Stub::CorrectArrival,
               request);
}

absl::StatusOr<v1::ListArrivalVersionsResponse> Client::ListArrivalVersions(
    const v1::ListArrivalVersionsRequest& request) {
  return Unary(Method::kListArrivalVersions, *arrivals_,
               &v1::ArrivalService::Stub::ListArrivalVersions, request);
}

absl::StatusOr<v1::ReturneeDataExport> Client::ExportReturneeData(
    const v1::ExportReturneeDataRequest& request) {
  return Unary(Method::kExportReturneeData, *arrivals_,
               &v1::ArrivalService::Stub::ExportReturneeData, request);
}

absl::StatusOr<v1::EraseReturneeResponse> Client::EraseReturnee(
    const v1::EraseReturneeRequest& request) {
  return Unary(Method::kEraseReturnee, *arrivals_, &v1::ArrivalService::Stub::EraseReturnee,
               request);
}

absl::StatusOr<v1::FindPossibleDuplicatesResponse> Client::FindPossibleDuplicates(
    const v1::FindPossibleDuplicatesRequest& request) {
  return Unary(Method::kFindPossibleDuplicates, *arrivals_,
               &v1::ArrivalService::Stub::FindPossibleDuplicates, request);
}

absl::StatusOr<v1::LinkArrivalsResponse> Client::LinkArrivals(
    const v1::LinkArrivalsRequest& request) {
  return Unary(Method::kLinkArrivals, *arrivals_, &v1::ArrivalService::Stub::LinkArrivals, request);
}

absl::StatusOr<v1::Arrival> Client::RecordObjection(const v1::RecordObjectionRequest& request) {
  return Unary(Method::kRecordObjection, *arrivals_, &v1::ArrivalService::Stub::RecordObjection,
               request);
}

absl::StatusOr<v1::UnlinkArrivalsResponse> Client::UnlinkArrivals(
    const v1::UnlinkArrivalsRequest& request) {
  return Unary(Method::kUnlinkArrivals, *arrivals_, &v1::ArrivalService::Stub::UnlinkArrivals,
               request);
}

// CaseService.

absl::StatusOr<v1::Case> Client::OpenCase(const v1::OpenCaseRequest& request) {
  return Unary(Method::kOpenCase, *cases_, &v1::CaseService::Stub::OpenCase, request);
}

absl::StatusOr<v1::Case> Client::GetCase(const v1::GetCaseRequest& request) {
  return Unary(Method::kGetCase, *cases_, &v1::CaseService::Stub::GetCase, request);
}

absl::StatusOr<v1::ListCasesResponse> Client::ListCases(const v1::ListCasesRequest& request) {
  return Unary(Method::kListCases, *cases_, &v1::CaseService::Stub::ListCases, request);
}

absl::StatusOr<v1::Case> Client::UpdateCase(const v1::UpdateCaseRequest& request) {
  return Unary(Method::kUpdateCase, *cases_, &v1::CaseService::Stub::UpdateCase, request);
}

absl::StatusOr<v1::ServiceRecord> Client::RecordService(const v1::RecordServiceRequest& request) {
  return Unary(Method::kRecordService, *cases_, &v1::CaseService::Stub::RecordService, request);
}

absl::StatusOr<v1::Initiative> Client::RegisterInitiative(
    const v1::RegisterInitiativeRequest& request) {
  return Unary(Method::kRegisterInitiative, *cases_, &v1::CaseService::Stub::RegisterInitiative,
               request);
}

absl::StatusOr<v1::Initiative> Client::UpdateInitiative(
    const v1::UpdateInitiativeRequest& request) {
  return Unary(Method::kUpdateInitiative, *cases_, &v1::CaseService::Stub::UpdateInitiative,
               request);
}

absl::StatusOr<v1::ListInitiativesResponse> Client::ListInitiatives(
    const v1::ListInitiativesRequest& request) {
  return Unary(Method::kListInitiatives, *cases_, &v1::CaseService::Stub::ListInitiatives, request);
}

absl::StatusOr<v1::GetCaseAccessLogResponse> Client::GetCaseAccessLog(
    const v1::GetCaseAccessLogRequest& request) {
  return Unary(Method::kGetCaseAccessLog, *cases_, &v1::CaseService::Stub::GetCaseAccessLog,
               request);
}

// ReferralService.

absl::StatusOr<v1::Referral> Client::CreateReferral(const v1::CreateReferralRequest& request) {
  return Unary(Method::kCreateReferral, *referrals_, &v1::ReferralService::Stub::CreateReferral,
               request);
}

absl::StatusOr<v1::Referral> Client::GetReferral(const v1::GetReferralRequest& request) {
  return Unary(Method::kGetReferral, *referrals_, &v1::ReferralService::Stub::GetReferral, request);
}

absl::StatusOr<v1::ListReferralsResponse> Client::ListReferrals(
    const v1::ListReferralsRequest& request) {
  return Unary(Method::kListReferrals, *referrals_, &v1::ReferralService::Stub::ListReferrals,
               request);
}

absl::StatusOr<v1::Referral> Client::AcceptReferral(const v1::AcceptReferralRequest& request) {
  return Unary(Method::kAcceptReferral, *referrals_, &v1::ReferralService::Stub::AcceptReferral,
               request);
}

absl::StatusOr<v1::Referral> Client::DeclineReferral(const v1::DeclineReferralRequest& request) {
  return Unary(Method::kDeclineReferral, *referrals_, &v1::ReferralService::Stub::DeclineReferral,
               request);
}

absl::StatusOr<v1::Referral> Client::CompleteReferral(const v1::CompleteReferralRequest& request) {
  return Unary(Method::kCompleteReferral, *referrals_, &v1::ReferralService::Stub::CompleteReferral,
               request);
}

absl::StatusOr<v1::Referral> Client::WithdrawReferral(const v1::WithdrawReferralRequest& request) {
  return Unary(Method::kWithdrawReferral, *referrals_, &v1::ReferralService::Stub::WithdrawReferral,
               request);
}

// ReportService.

absl::StatusOr<v1::ProgrammeReport> Client::GetProgrammeReport(
    const v1::GetProgrammeReportRequest& request) {
  return Unary(Method::kGetProgrammeReport, *reports_, &v1::ReportService::Stub::GetProgrammeReport,
               request);
}

// AdminService.

absl::StatusOr<v1::ListAuditEventsResponse> Client::ListAuditEvents(
    const v1::ListAuditEventsRequest& request) {
  return Unary(Method::kListAuditEvents, *admin_, &v1::AdminService::Stub::ListAuditEvents,
               request);
}

absl::StatusOr<v1::VerifyAuditLogResponse> Client::VerifyAuditLog(
    const v1::VerifyAuditLogRequest& request) {
  return Unary(Method::kVerifyAuditLog, *admin_, &v1::AdminService::Stub::VerifyAuditLog, request);
}

absl::StatusOr<v1::AuditCheckpoint> Client::GetAuditCheckpoint(
    const v1::GetAuditCheckpointRequest& request) {
  return Unary(Method::kGetAuditCheckpoint, *admin_, &v1::AdminService::Stub::GetAuditCheckpoint,
               request);
}

absl::StatusOr<v1::GetAuditConsistencyProofResponse> Client::GetAuditConsistencyProof(
    const v1::GetAuditConsistencyProofRequest& request) {
  return Unary(Method::kGetAuditConsistencyProof, *admin_,
               &v1::AdminService::Stub::GetAuditConsistencyProof, request);
}

absl::StatusOr<v1::GetAuditInclusionProofResponse> Client::GetAuditInclusionProof(
    const v1::GetAuditInclusionProofRequest& request) {
  return Unary(Method::kGetAuditInclusionProof, *admin_,
               &v1::AdminService::Stub::GetAuditInclusionProof, request);
}

absl::StatusOr<v1::WitnessKey> Client::RegisterWitnessKey(
    const v1::RegisterWitnessKeyRequest& request) {
  return Unary(Method::kRegisterWitnessKey, *admin_, &v1::AdminService::Stub::RegisterWitnessKey,
               request);
}

absl::StatusOr<v1::AuditCheckpoint> Client::AddAuditCosignature(
    const v1::AddAuditCosignatureRequest& request) {
  return Unary(Method::kAddAuditCosignature, *admin_, &v1::AdminService::Stub::AddAuditCosignature,
               request);
}

absl::StatusOr<v1::Certificate> Client::IssueCertificate(
    const v1::IssueCertificateRequest& request) {
  return Unary(Method::kIssueCertificate, *admin_, &v1::AdminService::Stub::IssueCertificate,
               request);
}

absl::StatusOr<v1::ListCertificatesResponse> Client::ListCertificates(
    const v1::ListCertificatesRequest& request) {
  return Unary(Method::kListCertificates, *admin_, &v1::AdminService::Stub::ListCertificates,
               request);
}

absl::StatusOr<v1::Certificate> Client::RevokeCertificate(
    const v1::RevokeCertificateRequest& request) {
  return Unary(Method::kRevokeCertificate, *admin_, &v1::AdminService::Stub::RevokeCertificate,
               request);
}

absl::StatusOr<v1::Agency> Client::RegisterAgency(const v1::RegisterAgencyRequest& request) {
  return Unary(Method::kRegisterAgency, *admin_, &v1::AdminService::Stub::RegisterAgency, request);
}

absl::StatusOr<v1::SharingAgreement> Client::RegisterSharingAgreement(
    const v1::RegisterSharingAgreementRequest& request) {
  return Unary(Method::kRegisterSharingAgreement, *admin_,
               &v1::AdminService::Stub::RegisterSharingAgreement, request);
}

absl::StatusOr<v1::ListSharingAgreementsResponse> Client::ListSharingAgreements(
    const v1::ListSharingAgreementsRequest& request) {
  return Unary(Method::kListSharingAgreements, *admin_,
               &v1::AdminService::Stub::ListSharingAgreements, request);
}

absl::StatusOr<v1::SharingAgreement> Client::EndSharingAgreement(
    const v1::EndSharingAgreementRequest& request) {
  return Unary(Method::kEndSharingAgreement, *admin_, &v1::AdminService::Stub::EndSharingAgreement,
               request);
}

absl::StatusOr<v1::ListAgenciesResponse> Client::ListAgencies(
    const v1::ListAgenciesRequest& request) {
  return Unary(Method::kListAgencies, *admin_, &v1::AdminService::Stub::ListAgencies, request);
}

}  // namespace enlace::client
