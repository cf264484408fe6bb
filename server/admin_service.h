// AdminService: certificates (issued from CSRs by the platform CA, listed,
// revoked), agency onboarding, data-sharing agreements, and the audit log
// (listing, verifying the hash chain). Authorization (admins only) is the policy's, in the
// CallGate.
#ifndef ENLACE_SERVER_ADMIN_SERVICE_H_
#define ENLACE_SERVER_ADMIN_SERVICE_H_

#include <functional>
#include <optional>

#include "auth/pki.h"
#include "db/agreement_store.h"
#include "db/audit_store.h"
#include "db/registry_store.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "server/audit_transparency.h"
#include "server/call_gate.h"
#include "server/checkpoint.h"
#include "server/page_token.h"

namespace enlace::server {

// What a process may do with the platform CA. Only the CA role holds the
// signer (the CA's key); serving replicas have the CA certificates only.
struct CertificateAuthorityAccess {
  // The CA role: the CA's certificate and key, which IssueCertificate signs
  // with. Empty on serving replicas: IssueCertificate is FAILED_PRECONDITION.
  std::optional<auth::CertificateAuthority> signer;
  // The PEM bundle of trusted CA certificates (--ca_cert), read when an
  // offline certificate is presented for revocation: it must be signed by
  // one of them.
  std::string ca_cert_path;
  // Where the CA role listens (e.g. "localhost:7446"), for the message of a
  // serving replica's IssueCertificate; may be empty.
  std::string issuer_addr;
};

class AdminServiceImpl final : public enlace::v1::AdminService::CallbackService {
 public:
  // Pointers must outlive the service. Without `ca.signer` (a serving
  // replica), IssueCertificate is FAILED_PRECONDITION, naming the CA role.
  // `revocation_changed` runs after a revocation is committed, so this
  // replica applies it at once instead of at its next refresh.
  AdminServiceImpl(CallGate* gate, const PageTokens* tokens, db::AuditStore* audit_store,
                   db::RegistryStore* registry, CertificateAuthorityAccess ca,
                   std::function<void()> revocation_changed);

  grpc::ServerUnaryReactor* IssueCertificate(grpc::CallbackServerContext* ctx,
                                             const enlace::v1::IssueCertificateRequest* request,
                                             enlace::v1::Certificate* response) override;
  grpc::ServerUnaryReactor* ListCertificates(
      grpc::CallbackServerContext* ctx, const enlace::v1::ListCertificatesRequest* request,
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

  // The audit log as a transparency log (admin_transparency.cc,
  // docs/audit.md). Without SetAuditTransparency: FAILED_PRECONDITION.
  void SetAuditTransparency(AuditTransparency* transparency) { transparency_ = transparency; }
  grpc::ServerUnaryReactor* GetAuditCheckpoint(grpc::CallbackServerContext* ctx,
                                               const enlace::v1::GetAuditCheckpointRequest* request,
                                               enlace::v1::AuditCheckpoint* response) override;
  grpc::ServerUnaryReactor* GetAuditConsistencyProof(
      grpc::CallbackServerContext* ctx, const enlace::v1::GetAuditConsistencyProofRequest* request,
      enlace::v1::GetAuditConsistencyProofResponse* response) override;
  grpc::ServerUnaryReactor* GetAuditInclusionProof(
      grpc::CallbackServerContext* ctx, const enlace::v1::GetAuditInclusionProofRequest* request,
      enlace::v1::GetAuditInclusionProofResponse* response) override;
  grpc::ServerUnaryReactor* RegisterWitnessKey(grpc::CallbackServerContext* ctx,
                                               const enlace::v1::RegisterWitnessKeyRequest* request,
                                               enlace::v1::WitnessKey* response) override;
  grpc::ServerUnaryReactor* AddAuditCosignature(
      grpc::CallbackServerContext* ctx, const enlace::v1::AddAuditCosignatureRequest* request,
      enlace::v1::AuditCheckpoint* response) override;

  // Data-sharing agreements (admin_agreements.cc). Without
  // SetSharingAgreements: FAILED_PRECONDITION. `changed` runs after a
  // registration or an end is committed (this server applies it at once).
  void SetSharingAgreements(db::AgreementStore* store, std::function<void()> changed) {
    agreement_store_ = store;
    agreements_changed_ = std::move(changed);
  }
  grpc::ServerUnaryReactor* RegisterSharingAgreement(
      grpc::CallbackServerContext* ctx, const enlace::v1::RegisterSharingAgreementRequest* request,
      enlace::v1::SharingAgreement* response) override;
  grpc::ServerUnaryReactor* ListSharingAgreements(
      grpc::CallbackServerContext* ctx, const enlace::v1::ListSharingAgreementsRequest* request,
      enlace::v1::ListSharingAgreementsResponse* response) override;
  grpc::ServerUnaryReactor* EndSharingAgreement(
      grpc::CallbackServerContext* ctx, const enlace::v1::EndSharingAgreementRequest* request,
      enlace::v1::SharingAgreement* response) override;

 private:
  // VerifyAuditLog's checkpoint, checked (signed by this log): nullopt
  // without one; INVALID_ARGUMENT naming `checkpoint` for a forged or
  // altered one.
  absl::StatusOr<std::optional<tlog::Checkpoint>> CheckpointToVerify(
      const enlace::v1::VerifyAuditLogRequest& request) const;
  // Adds to `response` (whose chain fields are set) whether the stored
  // events still extend `checkpoint`.
  absl::Status VerifyAgainstCheckpoint(const tlog::Checkpoint& checkpoint,
                                       enlace::v1::VerifyAuditLogResponse* response,
                                       AuditNote* note);

  // Verifies a certificate signed offline by our CA and records it.
  absl::Status RecordOfflineCertificate(const std::string& pem, const std::string& serial,
                                        absl::Time now, db::AuditRecord* audit);

  CallGate* const gate_;
  const PageTokens* const tokens_;
  db::AuditStore* const audit_store_;
  db::RegistryStore* const registry_;
  const CertificateAuthorityAccess ca_;
  const std::function<void()> revocation_changed_;
  AuditTransparency* transparency_ = nullptr;  // set before serving
  db::AgreementStore* agreement_store_ = nullptr;  // set before serving
  std::function<void()> agreements_changed_;
};

// The AdminService of the CA role (enlace-server --role=ca): IssueCertificate
// only, handled by `impl` (which holds the signer); every other method,
// including any added later, is UNIMPLEMENTED there.
class CaAdminService final : public enlace::v1::AdminService::CallbackService {
 public:
  explicit CaAdminService(AdminServiceImpl* impl) : impl_(impl) {}
  grpc::ServerUnaryReactor* IssueCertificate(grpc::CallbackServerContext* ctx,
                                             const enlace::v1::IssueCertificateRequest* request,
                                             enlace::v1::Certificate* response) override {
    return impl_->IssueCertificate(ctx, request, response);
  }

 private:
  AdminServiceImpl* const impl_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_ADMIN_SERVICE_H_
