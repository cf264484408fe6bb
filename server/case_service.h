// CaseService: reintegration cases, services delivered, initiatives and the
// case access log (docs/api.md). Translates protos to CaseStore calls; the store
// enforces who sees and changes what, the CallGate authorizes and audits.
#ifndef ENLACE_SERVER_CASE_SERVICE_H_
#define ENLACE_SERVER_CASE_SERVICE_H_

#include "db/audit_store.h"
#include "db/case_store.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "server/call_gate.h"
#include "server/page_token.h"
#include "server/programme_targets.h"

namespace enlace::server {

class CaseServiceImpl final : public enlace::v1::CaseService::CallbackService {
 public:
  // All pointers must outlive the service.
  // `targets` gives ListInitiatives its target.
  CaseServiceImpl(CallGate* gate, const PageTokens* tokens, db::CaseStore* store,
                  db::AuditStore* audit_store, const ProgrammeTargets* targets);

  grpc::ServerUnaryReactor* OpenCase(grpc::CallbackServerContext* ctx,
                                     const enlace::v1::OpenCaseRequest* request,
                                     enlace::v1::Case* response) override;
  grpc::ServerUnaryReactor* GetCase(grpc::CallbackServerContext* ctx,
                                    const enlace::v1::GetCaseRequest* request,
                                    enlace::v1::Case* response) override;
  grpc::ServerUnaryReactor* ListCases(grpc::CallbackServerContext* ctx,
                                      const enlace::v1::ListCasesRequest* request,
                                      enlace::v1::ListCasesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateCase(grpc::CallbackServerContext* ctx,
                                       const enlace::v1::UpdateCaseRequest* request,
                                       enlace::v1::Case* response) override;
  grpc::ServerUnaryReactor* RecordService(grpc::CallbackServerContext* ctx,
                                          const enlace::v1::RecordServiceRequest* request,
                                          enlace::v1::ServiceRecord* response) override;
  grpc::ServerUnaryReactor* RegisterInitiative(grpc::CallbackServerContext* ctx,
                                               const enlace::v1::RegisterInitiativeRequest* request,
                                               enlace::v1::Initiative* response) override;
  grpc::ServerUnaryReactor* UpdateInitiative(grpc::CallbackServerContext* ctx,
                                             const enlace::v1::UpdateInitiativeRequest* request,
                                             enlace::v1::Initiative* response) override;
  grpc::ServerUnaryReactor* ListInitiatives(grpc::CallbackServerContext* ctx,
                                            const enlace::v1::ListInitiativesRequest* request,
                                            enlace::v1::ListInitiativesResponse* response) override;
  grpc::ServerUnaryReactor* GetCaseAccessLog(
      grpc::CallbackServerContext* ctx, const enlace::v1::GetCaseAccessLogRequest* request,
      enlace::v1::GetCaseAccessLogResponse* response) override;

 private:
  CallGate* const gate_;
  const PageTokens* const tokens_;
  db::CaseStore* const store_;
  db::AuditStore* const audit_store_;
  const ProgrammeTargets* const targets_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_CASE_SERVICE_H_
