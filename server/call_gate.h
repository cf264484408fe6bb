// The one door every RPC goes through. For each call it:
//   1. identifies the caller from the verified TLS peer only (the SPIFFE ID
//      of the client certificate); no certificate identity, or a revoked
//      certificate: UNAUTHENTICATED (revocation state unknown: UNAVAILABLE);
//   2. asks the policy in force whether that principal may call the method;
//      no: PERMISSION_DENIED (default deny);
//   3. runs the handler's body on the bounded work pool (never on a gRPC
//      thread), for unary calls;
//   4. appends the audit event (allowed or denied, status, record ids) and
//      sends the response only after that event is committed;
//   5. converts absl::Status to grpc::Status once, hiding internal detail.
// Handlers therefore contain no authorization or audit code of their own.
//
// Example (a unary handler):
//   grpc::ServerUnaryReactor* GetArrival(grpc::CallbackServerContext* ctx,
//                                        const GetArrivalRequest* req, Arrival* resp) override {
//     return gate_->Unary(ctx, kGetArrival, [=](const Caller& caller, AuditNote* note) {
//       ... fill *resp ...; note->record_ids.push_back(id); return absl::OkStatus();
//     });
//   }
#ifndef ENLACE_SERVER_CALL_GATE_H_
#define ENLACE_SERVER_CALL_GATE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/identity.h"
#include "auth/policy_watcher.h"
#include "server/audit_log.h"
#include "absl/container/flat_hash_map.h"
#include "server/metrics.h"
#include "server/revocation.h"
#include "server/work_pool.h"

namespace enlace::server {

// Who is calling: established by the gate, never by the request.
struct Caller {
  auth::Principal principal;
  std::string certificate_serial;  // lower-case hex, as auth::ReadCertificate gives it
  std::string peer;                // network address, for the audit
};

// What a handler adds to its call's audit event.
struct AuditNote {
  std::vector<std::string> record_ids;
  std::string detail;  // counts and codes only, never personal data
};

// True for strings that may stand in an audit event's record ids:
// 1 to 64 characters of [A-Za-z0-9._:/-] (ids are stored space-separated).
bool IsRecordId(absl::string_view id);

// absl::Status -> grpc::Status. INTERNAL, UNKNOWN and DATA_LOSS become a
// generic INTERNAL; UNAVAILABLE a generic "try again" (details are logged,
// never sent: they may hold SQL or another agency's data).
grpc::Status ToGrpcStatus(const absl::Status& status);

class CallGate {
 public:
  using UnaryBody = std::function<absl::Status(const Caller&, AuditNote*)>;
  // Ends a call started with UnaryAsync; call it exactly once.
  using Completion = std::function<void(absl::Status, AuditNote)>;
  using AsyncUnaryBody = std::function<void(const Caller&, Completion)>;

  // All pointers must outlive the gate.
  CallGate(auth::PolicyWatcher* policy, RevocationList* revocation, AuditLog* audit,
           WorkPool* work, Metrics* metrics);

  // Steps 1 and 2. On refusal, returns UNAUTHENTICATED or PERMISSION_DENIED;
  // the caller must then end the call through FinishAudited().
  absl::StatusOr<Caller> Admit(grpc::CallbackServerContext* ctx, absl::string_view method) const;

  // The whole of a unary call (steps 1-5). `body` runs on the work pool.
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, absl::string_view method,
                                  UnaryBody body);

  // Like Unary, for bodies that wait on another component (e.g. a batch
  // commit): `body` starts on the work pool, must not block, and finishes
  // the call by running the Completion, from any thread. The response
  // message must be filled before that.
  grpc::ServerUnaryReactor* UnaryAsync(grpc::CallbackServerContext* ctx, absl::string_view method,
                                       AsyncUnaryBody body);

  // Step 4 for any call: audits the call's end, then runs `finish` with the
  // status to send. If the audit cannot be written the call fails with
  // UNAVAILABLE instead: nothing is served that is not accounted for.
  // `caller` is null for calls refused before identification.
  void FinishAudited(grpc::CallbackServerContext* ctx, absl::string_view method,
                     const absl::StatusOr<Caller>& caller, const absl::Status& outcome,
                     AuditNote note, absl::Time started,
                     std::function<void(const grpc::Status&)> finish);

  // Long-lived calls (streams) register here between admission and their
  // end, so that revoking a certificate also ends its open streams.
  // Returns a handle for UntrackStream.
  uint64_t TrackStream(const Caller& caller, grpc::CallbackServerContext* ctx)
      ABSL_LOCKS_EXCLUDED(streams_mu_);
  void UntrackStream(uint64_t handle) ABSL_LOCKS_EXCLUDED(streams_mu_);
  // Cancels the tracked streams of these certificates; returns how many.
  int CancelStreamsOf(const std::vector<std::string>& serials) ABSL_LOCKS_EXCLUDED(streams_mu_);
  // Cancels every tracked stream (shutdown: watchers resume elsewhere with
  // their last token instead of holding the server up).
  int CancelAllStreams() ABSL_LOCKS_EXCLUDED(streams_mu_);

 private:
  struct Identity {
    auth::Principal principal;
    std::string serial;
  };
  // The verified peer's identity and certificate serial (cached per
  // certificate: parsing a PEM per call would cost more than the call).
  absl::StatusOr<Identity> IdentityOf(const grpc::CallbackServerContext& ctx) const
      ABSL_LOCKS_EXCLUDED(serials_mu_);

  auth::PolicyWatcher* const policy_;
  RevocationList* const revocation_;
  AuditLog* const audit_;
  WorkPool* const work_;
  Metrics* const metrics_;

  mutable absl::Mutex serials_mu_;
  mutable absl::flat_hash_map<std::string, std::string> serial_of_pem_ ABSL_GUARDED_BY(serials_mu_);

  struct TrackedStream {
    std::string serial;
    grpc::CallbackServerContext* ctx;
  };
  absl::Mutex streams_mu_;
  uint64_t next_stream_ ABSL_GUARDED_BY(streams_mu_) = 1;
  absl::flat_hash_map<uint64_t, TrackedStream> streams_ ABSL_GUARDED_BY(streams_mu_);
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_CALL_GATE_H_
