// AdminService: certificates (issued from CSRs by the platform CA, listed,
// revoked), agency onboarding, and the audit log (listing, verifying the
// hash chain). Authorization (admins only) is the policy's, in the CallGate.
#ifndef ENLACE_SERVER_ADMIN_SERVICE_H_
#define ENLACE_SERVER_ADMIN_SERVICE_H_

#include <functional>
#include <optional>

#include "auth/pki.h"
#include "db/audit_store.h"
#include "db/registry_store.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "server/call_gate.h"
#include "server/page_token.h"

namespace enlace::server {

class AdminServiceImpl final : public enlace::v1::AdminService::CallbackService {
 public:
  // Pointers must outlive the service. Without `ca` (no --ca_key), the
  // server cannot issue: IssueCertificate is FAILED_PRECONDITION.
  // `revocation_changed` runs after a revocation is committed, so this
  // replica applies it at once instead of at its next refresh.
  AdminServiceImpl(CallGate* gate, const PageTokens* tokens, db::AuditStore* audit_store, db::RegistryStore* registry,
                   std::optional<auth::CertificateAuthority> ca,
                   std::function<void()> revocation_changed);

  grpc::ServerUnaryReactor* IssueCertificate(grpc::CallbackServerContext* ctx,
                                             const enlace::v1::IssueCertificateRequest* request,
                                             enlace::v1::Certificate* response) override;
  grpc::ServerUnaryReactor* ListCertificates(grpc::CallbackServerContext* ctx,
                                             const enlace::v1::ListCertificatesRequest* request,
                                             enlace::v1::ListCertificatesResponse* response) override;
  grpc::ServerUnaryReactor* RevokeCertificate(grpc::CallbackServerContext* ctx,
                                              const enlace::v1::RevokeCertificateRequest* request,
                                              enlace::v1::Certificate* response) override;
  grpc::ServerUnaryReactor* RegisterAgency(grpc::CallbackServerContext* ctx,
                                           const enlace::v1::RegisterAgencyRequest* request,
                                           enlace::v1::Agency* response) override;
  grpc::ServerUnaryReactor* ListAgencies(grpc::CallbackServerContext* ctx,
                                         const enlace::v1::ListAgenciesRequest* request,
                                         enlace::v1::ListAgenciesResponse* response) override;

  grpc::ServerUnaryReactor* ListAuditEvents(grpc::CallbackServerContext* ctx,
                                            const enlace::v1::ListAuditEventsRequest* request,
                                            enlace::v1::ListAuditEventsResponse* response) override;
  grpc::ServerUnaryReactor* VerifyAuditLog(grpc::CallbackServerContext* ctx,
                                           const enlace::v1::VerifyAuditLogRequest* request,
                                           enlace::v1::VerifyAuditLogResponse* response) override;

 private:
  // Verifies a certificate signed offline by our CA and records it.
  absl::Status RecordOfflineCertificate(const std::string& pem, const std::string& serial,
                                        absl::Time now);

  CallGate* const gate_;
  const PageTokens* const tokens_;
  db::AuditStore* const audit_store_;
  db::RegistryStore* const registry_;
  const std::optional<auth::CertificateAuthority> ca_;
  const std::function<void()> revocation_changed_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_ADMIN_SERVICE_H_
