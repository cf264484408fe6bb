// AdminService, the audit part: listing audit events and verifying the hash
// chain. Certificate administration joins this service with its own issue.
#ifndef ENLACE_SERVER_ADMIN_SERVICE_H_
#define ENLACE_SERVER_ADMIN_SERVICE_H_

#include "db/audit_store.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "server/call_gate.h"

namespace enlace::server {

class AdminServiceImpl final : public enlace::v1::AdminService::CallbackService {
 public:
  // Both pointers must outlive the service.
  AdminServiceImpl(CallGate* gate, db::AuditStore* audit_store);

  grpc::ServerUnaryReactor* ListAuditEvents(grpc::CallbackServerContext* ctx,
                                            const enlace::v1::ListAuditEventsRequest* request,
                                            enlace::v1::ListAuditEventsResponse* response) override;
  grpc::ServerUnaryReactor* VerifyAuditLog(grpc::CallbackServerContext* ctx,
                                           const enlace::v1::VerifyAuditLogRequest* request,
                                           enlace::v1::VerifyAuditLogResponse* response) override;

 private:
  CallGate* const gate_;
  db::AuditStore* const audit_store_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_ADMIN_SERVICE_H_
