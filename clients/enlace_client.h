// libenlace_client: a typed C++ client of the Enlace server for agency
// developers. A Client holds one mutual-TLS channel (see connection.h) and a
// stub per service, and turns each unary RPC into a call that has a deadline,
// is retried only when that is safe, and returns absl::StatusOr.
//
// Example:
//
//   #include "enlace/client/enlace_client.h"
//
//   enlace::client::ConnectionOptions options;
//   options.address = "enlace.example.org:7443";
//   options.ca_path = "pki/ca.crt";           // the platform CA
//   options.cert_path = "pki/iom.crt";        // this agency's certificate
//   options.key_path = "pki/iom.key";         // ... and its private key
//   absl::StatusOr<std::unique_ptr<enlace::client::Client>> client =
//       enlace::client::Client::Connect(options);
//   if (!client.ok()) return client.status();
//
//   enlace::v1::ListArrivalsRequest request;
//   request.set_department_code("SV-SS");
//   absl::Status status = (*client)->ForEachArrival(
//       request, [](const enlace::v1::Arrival& arrival) {
//         std::cout << arrival.arrival_id() << "\n";
//         return absl::OkStatus();
//       });
//
// Build: CMake `find_package(Enlace CONFIG REQUIRED)` and link
// `Enlace::client`; or `pkg-config --cflags --libs enlace`. The messages and
// services are those of the installed enlace/v1/*.proto (also under
// share/enlace/protos for other languages).
//
// Errors are the server's status codes, unchanged (see docs/api.md, "Errors"):
// NOT_FOUND also for records the caller may not see, PERMISSION_DENIED,
// INVALID_ARGUMENT naming the field, ABORTED for a stale etag,
// FAILED_PRECONDITION for a referral move the status machine forbids,
// UNAVAILABLE when the server or its database cannot be reached (and, at the
// first call, when the server rejects the client certificate),
// DEADLINE_EXCEEDED when options.timeout runs out.
//
// Deadlines and retries. Every typed call has one deadline, now +
// options.timeout, which covers all of its attempts and the pauses between
// them. A call is retried only when IsRetryable(method, code) says so: when
// the method is idempotent (reads, and RecordArrival, which the server
// deduplicates by external_id) and the attempt failed with UNAVAILABLE. Up to
// RetryPolicy::max_attempts attempts, with exponential, jittered backoff (by
// default 3 attempts, pauses of about 100 ms and 200 ms); no pause that would
// end past the deadline is started. A state-changing call that is not
// idempotent (OpenCase, UpdateCase, CreateReferral, the referral transitions,
// RevokeCertificate, ...) is made exactly once: when it fails with
// UNAVAILABLE its effect is unknown (the server may have committed it and
// then failed to answer), so read the resource back before trying again.
//
// Thread safety: a Client is thread-safe. Any number of threads may make
// calls on one Client at the same time; they share its channel (gRPC channels
// and stubs are thread-safe). Share one Client per process and identity
// rather than connecting per call.
#ifndef ENLACE_CLIENTS_ENLACE_CLIENT_H_
#define ENLACE_CLIENTS_ENLACE_CLIENT_H_

#include <functional>
#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "enlace/client/connection.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "enlace/v1/reports.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace enlace::client {

// The unary RPCs of enlace.v1. The streaming ones (RecordArrivals,
// WatchReferrals) are made on the raw stubs and are never retried here.
enum class Method {
  // ArrivalService
  kRecordArrival,
  kGetArrival,
  kListArrivals,
  kUpdateConsent,
  kCorrectArrival,
  kListArrivalVersions,
  kExportReturneeData,
  kEraseReturnee,
  kFindPossibleDuplicates,
  kLinkArrivals,
  kUnlinkArrivals,
  kRecordObjection,
  // CaseService
  kOpenCase,
  kGetCase,
  kListCases,
  kUpdateCase,
  kRecordService,
  kRegisterInitiative,
  kUpdateInitiative,
  kListInitiatives,
  kGetCaseAccessLog,
  // ReferralService
  kCreateReferral,
  kGetReferral,
  kListReferrals,
  kAcceptReferral,
  kDeclineReferral,
  kCompleteReferral,
  kWithdrawReferral,
  // ReportService
  kGetProgrammeReport,
  // AdminService
  kIssueCertificate,
  kListCertificates,
  kRevokeCertificate,
  kRegisterAgency,
  kListAgencies,
  kListAuditEvents,
  kVerifyAuditLog,
  // AdminService: the audit log as a transparency log (docs/audit.md).
  kGetAuditCheckpoint,
  kGetAuditConsistencyProof,
  kGetAuditInclusionProof,
  kRegisterWitnessKey,
  kAddAuditCosignature,
  // AdminService: data-sharing agreements.
  kRegisterSharingAgreement,
  kListSharingAgreements,
  kEndSharingAgreement,
};

// The full gRPC name of `method`, as the server's audit log records it:
// "/enlace.v1.ArrivalService/GetArrival".
absl::string_view MethodName(Method method);

// True when making `method` twice has the same effect as making it once:
// every Get*, List*, GetCaseAccessLog, GetProgrammeReport and VerifyAuditLog,
// RecordArrival (the same external_id with the same content returns the
// first arrival_id with outcome ALREADY_RECORDED), RegisterWitnessKey (the
// same key again is accepted as it is) and AddAuditCosignature (one
// cosignature per witness key and checkpoint is kept). Every other method changes
// state in a way a repetition would change again or reject: a second case, a
// second certificate, a lost update (UpdateConsent, UpdateCase), a second
// version (CorrectArrival), a transition
// that now fails.
bool IsIdempotent(Method method);

// The retry policy of every typed call: true exactly when IsIdempotent(method)
// and `code` is UNAVAILABLE. Not DEADLINE_EXCEEDED (the call's deadline is
// spent), not RESOURCE_EXHAUSTED, ABORTED or any other code (retrying would
// not change the answer, or the caller must decide, e.g. re-read an etag).
bool IsRetryable(Method method, absl::StatusCode code);

struct RetryPolicy {
  // Attempts per call, the first included; 1 (or less) disables retries.
  int max_attempts = 3;
  // The pause before retry n (n = 1, 2, ...) is
  //   min(initial_backoff * backoff_multiplier^(n-1), max_backoff)
  // scaled by a uniformly random factor in [1 - jitter, 1 + jitter], so that
  // clients that failed together do not retry together.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  double backoff_multiplier = 2.0;
  absl::Duration max_backoff = absl::Seconds(2);
  double jitter = 0.2;  // in [0, 1]
  // How to pause; null means absl::SleepFor. Tests inject a recorder. Called
  // on the calling thread, so concurrently when calls are concurrent.
  std::function<void(absl::Duration)> sleep;
};

// The pause before retry `retry` (1 for the pause after the first attempt)
// under `policy`, for a uniform random draw `uniform` in [0, 1]: 0 gives the
// shortest pause, 0.5 the nominal one, 1 the longest. Never negative. A pure
// function: the schedule can be tested without sleeping.
absl::Duration BackoffDelay(const RetryPolicy& policy, int retry, double uniform);

// A connection to the Enlace server with one typed method per unary RPC.
// Each takes the request message of the RPC and returns its response message
// or the call's final status; see the file comment for deadlines, retries and
// errors. Who may call what is the server's policy (docs/api.md): an agency's
// certificate cannot make admin calls, and so on.
class Client {
 public:
  // Connects as the identity of `options` (see enlace::client::Connect for
  // the files it reads and its errors). No call is made yet: a server that is
  // down, or that rejects the certificate, shows up as UNAVAILABLE on the
  // first call.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ConnectionOptions& options,
                                                         RetryPolicy retry = RetryPolicy());

  // A Client over a channel made elsewhere: an in-process test server's
  // (grpc::Server::InProcessChannel), or one with custom credentials or
  // channel arguments. Each call's deadline is now + `timeout`.
  // REQUIRES: channel != nullptr.
  static std::unique_ptr<Client> FromChannel(std::shared_ptr<grpc::Channel> channel,
                                             absl::Duration timeout,
                                             RetryPolicy retry = RetryPolicy());

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // ArrivalService (the ministry records; agencies named in consent read).
  absl::StatusOr<v1::RecordArrivalResponse> RecordArrival(const v1::RecordArrivalRequest& request);
  absl::StatusOr<v1::Arrival> GetArrival(const v1::GetArrivalRequest& request);
  // One page; pass next_page_token back as page_token for the next one.
  absl::StatusOr<v1::ListArrivalsResponse> ListArrivals(const v1::ListArrivalsRequest& request);
  // Every arrival that `request` selects, from its page_token on, page after
  // page (each page one call with its own deadline and retries), passed to
  // `callback` in server order. Stops at the first non-OK status that
  // `callback` returns and returns it unchanged; otherwise returns the first
  // failed page's status, or OK after the last page. Records seen before a
  // failure stay seen: resume with the page_token of a later request.
  absl::Status ForEachArrival(v1::ListArrivalsRequest request,
                              absl::FunctionRef<absl::Status(const v1::Arrival&)> callback);
  absl::StatusOr<v1::Arrival> UpdateConsent(const v1::UpdateConsentRequest& request);
  // ABORTED when the arrival was corrected meanwhile: GetArrival, reapply.
  absl::StatusOr<v1::Arrival> CorrectArrival(const v1::CorrectArrivalRequest& request);
  absl::StatusOr<v1::ListArrivalVersionsResponse> ListArrivalVersions(
      const v1::ListArrivalVersionsRequest& request);
  // Everything held about the returnee; `document` is JSON of a
  // v1::ReturneeData (enlace/v1/returnee_data.pb.h).
  absl::StatusOr<v1::ReturneeDataExport> ExportReturneeData(
      const v1::ExportReturneeDataRequest& request);
  // Idempotent: a repeat answers already_erased.
  absl::StatusOr<v1::EraseReturneeResponse> EraseReturnee(const v1::EraseReturneeRequest& request);
  absl::StatusOr<v1::FindPossibleDuplicatesResponse> FindPossibleDuplicates(
      const v1::FindPossibleDuplicatesRequest& request);
  // Idempotent: a repeat records the same decision again.
  absl::StatusOr<v1::LinkArrivalsResponse> LinkArrivals(const v1::LinkArrivalsRequest& request);
  absl::StatusOr<v1::UnlinkArrivalsResponse> UnlinkArrivals(
      const v1::UnlinkArrivalsRequest& request);
  // Idempotent: a repeat finds the objection recorded and changes nothing.
  absl::StatusOr<v1::Arrival> RecordObjection(const v1::RecordObjectionRequest& request);

  // CaseService.
  absl::StatusOr<v1::Case> OpenCase(const v1::OpenCaseRequest& request);
  absl::StatusOr<v1::Case> GetCase(const v1::GetCaseRequest& request);
  absl::StatusOr<v1::ListCasesResponse> ListCases(const v1::ListCasesRequest& request);
  // ABORTED when request.etag() is stale: GetCase, reapply, try again.
  absl::StatusOr<v1::Case> UpdateCase(const v1::UpdateCaseRequest& request);
  absl::StatusOr<v1::ServiceRecord> RecordService(const v1::RecordServiceRequest& request);
  absl::StatusOr<v1::Initiative> RegisterInitiative(const v1::RegisterInitiativeRequest& request);
  // ABORTED when request.etag() is stale: list it again, reapply, try again.
  absl::StatusOr<v1::Initiative> UpdateInitiative(const v1::UpdateInitiativeRequest& request);
  absl::StatusOr<v1::ListInitiativesResponse> ListInitiatives(
      const v1::ListInitiativesRequest& request);
  absl::StatusOr<v1::GetCaseAccessLogResponse> GetCaseAccessLog(
      const v1::GetCaseAccessLogRequest& request);

  // ReferralService. The transitions return FAILED_PRECONDITION when the
  // referral's status does not allow them (docs/api.md, "Referral status
  // machine").
  absl::StatusOr<v1::Referral> CreateReferral(const v1::CreateReferralRequest& request);
  absl::StatusOr<v1::Referral> GetReferral(const v1::GetReferralRequest& request);
  absl::StatusOr<v1::ListReferralsResponse> ListReferrals(const v1::ListReferralsRequest& request);
  absl::StatusOr<v1::Referral> AcceptReferral(const v1::AcceptReferralRequest& request);
  absl::StatusOr<v1::Referral> DeclineReferral(const v1::DeclineReferralRequest& request);
  absl::StatusOr<v1::Referral> CompleteReferral(const v1::CompleteReferralRequest& request);
  absl::StatusOr<v1::Referral> WithdrawReferral(const v1::WithdrawReferralRequest& request);

  // ReportService.
  absl::StatusOr<v1::ProgrammeReport> GetProgrammeReport(
      const v1::GetProgrammeReportRequest& request);

  // AdminService (administrator certificates only).
  absl::StatusOr<v1::ListAuditEventsResponse> ListAuditEvents(
      const v1::ListAuditEventsRequest& request);
  absl::StatusOr<v1::VerifyAuditLogResponse> VerifyAuditLog(
      const v1::VerifyAuditLogRequest& request);
  absl::StatusOr<v1::Certificate> IssueCertificate(const v1::IssueCertificateRequest& request);
  absl::StatusOr<v1::ListCertificatesResponse> ListCertificates(
      const v1::ListCertificatesRequest& request);
  absl::StatusOr<v1::Certificate> RevokeCertificate(const v1::RevokeCertificateRequest& request);
  absl::StatusOr<v1::Agency> RegisterAgency(const v1::RegisterAgencyRequest& request);
  absl::StatusOr<v1::ListAgenciesResponse> ListAgencies(const v1::ListAgenciesRequest& request);
  // Not idempotent: a repeat registers a second agreement.
  absl::StatusOr<v1::SharingAgreement> RegisterSharingAgreement(
      const v1::RegisterSharingAgreementRequest& request);
  absl::StatusOr<v1::ListSharingAgreementsResponse> ListSharingAgreements(
      const v1::ListSharingAgreementsRequest& request);
  absl::StatusOr<v1::SharingAgreement> EndSharingAgreement(
      const v1::EndSharingAgreementRequest& request);

  // AdminService, the audit log as a transparency log (docs/audit.md):
  // every agency and administrator, but RegisterWitnessKey (administrators).
  absl::StatusOr<v1::AuditCheckpoint> GetAuditCheckpoint(
      const v1::GetAuditCheckpointRequest& request);
  absl::StatusOr<v1::GetAuditConsistencyProofResponse> GetAuditConsistencyProof(
      const v1::GetAuditConsistencyProofRequest& request);
  absl::StatusOr<v1::GetAuditInclusionProofResponse> GetAuditInclusionProof(
      const v1::GetAuditInclusionProofRequest& request);
  absl::StatusOr<v1::WitnessKey> RegisterWitnessKey(const v1::RegisterWitnessKeyRequest& request);
  absl::StatusOr<v1::AuditCheckpoint> AddAuditCosignature(
      const v1::AddAuditCosignatureRequest& request);

  // The raw stubs, for the streaming RPCs (RecordArrivals, WatchReferrals)
  // and anything the typed calls do not cover. Calls made on them get no
  // deadline and no retries from this class: use NewContext() for a
  // deadline, or a ClientContext of your own for a long-lived watch. Valid
  // as long as the Client; thread-safe.
  v1::ArrivalService::Stub& arrivals() { return *arrivals_; }
  v1::CaseService::Stub& cases() { return *cases_; }
  v1::ReferralService::Stub& referrals() { return *referrals_; }
  v1::ReportService::Stub& reports() { return *reports_; }
  v1::AdminService::Stub& admin() { return *admin_; }

  // A ClientContext whose deadline is now + the timeout of this Client.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  Client(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout, RetryPolicy retry);

  // Makes one call of `method` under this Client's deadline and retry
  // policy: `attempt` makes one attempt with the context it is given.
  absl::Status Invoke(Method method, absl::FunctionRef<grpc::Status(grpc::ClientContext*)> attempt);

  // Invoke() for a unary RPC of a generated stub; defined in the .cc only.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Unary(Method method, Stub& stub,
                                 grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                           Response*),
                                 const Request& request);

  const std::shared_ptr<grpc::Channel> channel_;
  const absl::Duration timeout_;
  const RetryPolicy retry_;
  const std::unique_ptr<v1::ArrivalService::Stub> arrivals_;
  const std::unique_ptr<v1::CaseService::Stub> cases_;
  const std::unique_ptr<v1::ReferralService::Stub> referrals_;
  const std::unique_ptr<v1::ReportService::Stub> reports_;
  const std::unique_ptr<v1::AdminService::Stub> admin_;
};

}  // namespace enlace::client

#endif  // ENLACE_CLIENTS_ENLACE_CLIENT_H_
