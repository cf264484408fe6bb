// The one door every RPC goes through. For each call it:
//   1. identifies the caller from the verified TLS peer only (the SPIFFE ID
//      of the client certificate); no certificate identity, a certificate
//      outside its validity period (checked per call: an open connection
//      outlives its certificate) or a revoked certificate: UNAUTHENTICATED
//      (revocation state unknown: UNAVAILABLE);
//   2. asks the policy in force whether that principal may call the method;
//      no: PERMISSION_DENIED (default deny); then takes the staff member on
//      whose behalf it calls from the `enlace-actor` metadata (kActorKey):
//      malformed, or missing where the policy requires it: INVALID_ARGUMENT
//      naming the key;
//   3. holds the caller to its limits (concurrent calls, open streams per
//      identity; a call over its limit waits for a slot, a bounded number
//      of them): over a limit, RESOURCE_EXHAUSTED naming the limit;
//   4. runs the handler's body on the bounded work pool (never on a gRPC
//      thread), for unary calls, in the caller's own lane so that one
//      identity's backlog does not hold up another's calls;
//   5. appends the audit event (allowed or denied, actor, status, record ids) and
//      sends the response only after that event is committed;
//   6. converts absl::Status to grpc::Status once, hiding internal detail.
//   7. keeps checking open streams: a stream whose certificate is revoked or
//      expires, whose method the policy stops allowing, or whose revocation
//      state goes stale is ended with the status a new call would get, within
//      one RecheckStreams() round (the server runs one every 500 ms).
// Handlers therefore contain no authorization or audit code of their own.
//
// Example (a unary handler):
//   grpc::ServerUnaryReactor* GetArrival(grpc::CallbackServerContext* ctx,
//                                        const GetArrivalRequest* req, Arrival* resp) override {
//     return gate_->Unary(ctx, kGetArrival, [=](const Caller& caller, AuditNote* note) {
//       ... fill *resp ...; note->record_ids.push_back(id); return absl::OkStatus();
//     });
//   }
// A stream reactor derives from GatedStream, is owned by a shared_ptr of its
// own until OnDone, and calls AdmitStream() first and ReleaseStream() in
// OnDone (see referral_service.cc).
#ifndef ENLACE_SERVER_CALL_GATE_H_
#define ENLACE_SERVER_CALL_GATE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/identity.h"
#include "auth/policy_watcher.h"
#include "server/audit_log.h"
#include "server/identity_slots.h"
#include "server/metrics.h"
#include "server/revocation.h"
#include "server/work_pool.h"

namespace enlace::server {

// Who is calling: established by the gate, never by the request.
struct Caller {
  auth::Principal principal;
  std::string certificate_serial;  // lower-case hex, as auth::ReadCertificate gives it
  std::string peer;  // network address, for the audit
  absl::Time certificate_not_after = absl::InfiniteFuture();
  // The staff member on whose behalf the principal calls (the enlace-actor
  // metadata); empty when none was sent and the policy did not require one.
  std::string actor;
};

// What a handler adds to its call's audit event.
//
// A call that changes data commits its event together with the change: the
// handler passes ForChange() to the store, which appends that event (with
// the ids the change creates) in the change's own transaction. The gate then
// answers without writing another event: there is no change without its
// event, and no answer before it. If the change fails (rolled back with its
// event), the gate audits the failure as for any call.
//
//   note->record_ids.push_back(request->case_id());
//   absl::StatusOr<Case> updated = store_->UpdateCase(..., note->ForChange());
class AuditNote {
 public:
  AuditNote() = default;

  std::vector<std::string> record_ids;
  std::string detail;  // counts and codes only, never personal data

  // The event of this call's change: who, what, when, from where (filled by
  // the gate), with the record ids and detail noted so far. A call that
  // makes two changes in two transactions asks for one event each.
  db::AuditRecord* ForChange();
  // This call's events are already in the log, committed with its change by
  // another path (an ingest batch).
  void MarkAuditedWithChange() { audited_with_change_ = true; }
  // True once the event of the call's last change is in the log.
  bool audited() const {
    return audited_with_change_ || (!changes_.empty() && changes_.back()->seq != 0);
  }
  // The call's own fields, as the gate filled them (for events written on
  // the call's behalf, e.g. an ingest batch's).
  const db::AuditRecord& call() const { return call_; }

  // Passes on `status`, the answer of a store call that applied the record
  // rules to the record the request named. NOT_FOUND (the caller may not see
  // it: a record that does not exist and a hidden one are the same to the
  // caller) and PERMISSION_DENIED (it sees it but may not make this change)
  // are the record rules refusing the caller: the call's event then says
  // DENY, with the record's id, so that the owner sees the attempt in the
  // case's access log.
  absl::Status RecordRules(absl::Status status) {
    if (absl::IsNotFound(status) || absl::IsPermissionDenied(status)) {
      refused_by_record_rules_ = true;
    }
    return status;
  }
  bool refused_by_record_rules() const { return refused_by_record_rules_; }

 private:
  friend class CallGate;
  db::AuditRecord call_;  // no ids, no detail
  std::vector<std::shared_ptr<db::AuditRecord>> changes_;  // from ForChange()
  bool audited_with_change_ = false;
  bool refused_by_record_rules_ = false;
};

// True for strings that may stand in an audit event's record ids:
// 1 to 64 characters of [A-Za-z0-9._:/-] (ids are stored space-separated).
bool IsRecordId(absl::string_view id);

// absl::Status -> grpc::Status. INTERNAL, UNKNOWN and DATA_LOSS become a
// generic INTERNAL; UNAVAILABLE a generic "try again" (details are logged,
// never sent: they may hold SQL or another agency's data).
grpc::Status ToGrpcStatus(const absl::Status& status);

// Per-identity limits (an identity is one SPIFFE ID). 0 means no limit.
// A call holds its slot until its audit event is committed, so an identity's
// throughput grows with its limit while the audit writer's batches grow
// (scripts/bench.sh get: 64 gives 1.5-2x the calls/s of 16 on 2 cores), and
// so does the delay its backlog causes everyone else (bench.sh fairness):
// 16 is the fairness side of that trade.
// Calls over the limit wait for a slot, up to max_waiting_calls_per_identity
// of them; beyond that they are refused.
struct CallLimits {
  int max_calls_per_identity = 16;  // unary calls admitted and not yet answered
  int max_waiting_calls_per_identity = 256;  // more calls waiting for one of those slots
  int max_streams_per_identity = 1200;  // streams open at once
};

// A long-lived call the gate can end on its own. Implemented by stream
// reactors, which keep themselves alive through a shared_ptr until OnDone so
// that the gate's monitor never calls into a deleted reactor.
class GatedStream {
 public:
  virtual ~GatedStream() = default;
  // Ends the stream with `status` (UNAUTHENTICATED, PERMISSION_DENIED or
  // UNAVAILABLE) as soon as it can, and audits that end as a denial. Called
  // with no gate lock held, possibly more than once and after the stream has
  // ended on its own (then it does nothing). A stream that cannot finish
  // promptly (a write stuck on a client that does not read) cancels itself
  // on the second call.
  virtual void Terminate(const absl::Status& status) = 0;
};

class CallGate {
 public:
  using UnaryBody = std::function<absl::Status(const Caller&, AuditNote*)>;
  // Ends a call started with UnaryAsync; call it exactly once.
  using Completion = std::function<void(absl::Status, AuditNote)>;
  // Gets the call's note (see AuditNote) to fill and hand back to the Completion.
  using AsyncUnaryBody = std::function<void(const Caller&, AuditNote, Completion)>;

  // All pointers must outlive the gate.
  CallGate(auth::PolicyWatcher* policy, RevocationList* revocation, AuditLog* audit, WorkPool* work,
           Metrics* metrics, CallLimits limits = {});

  // Steps 1 and 2 at `now`. On refusal, returns UNAUTHENTICATED,
  // PERMISSION_DENIED or UNAVAILABLE; the caller must then end the call
  // through FinishAudited().
  absl::StatusOr<Caller> Admit(grpc::CallbackServerContext* ctx, absl::string_view method) const;

  // The whole of a unary call (steps 1-6). `body` runs on the work pool.
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, absl::string_view method,
                                  UnaryBody body);

  // Like Unary, for bodies that wait on another component (e.g. a batch
  // commit): `body` starts on the work pool, must not block, and finishes
  // the call by running the Completion, from any thread. The response
  // message must be filled before that.
  grpc::ServerUnaryReactor* UnaryAsync(grpc::CallbackServerContext* ctx, absl::string_view method,
                                       AsyncUnaryBody body);

  // Steps 1-3 for a stream, and registers it for step 7 before the checks
  // are made, so that a revocation or policy change that lands while it is
  // admitted is seen by one or the other. On success `*handle` is set and
  // the stream must call ReleaseStream(*handle) once, in OnDone; on refusal
  // nothing stays registered and the stream must end through FinishAudited().
  absl::StatusOr<Caller> AdmitStream(grpc::CallbackServerContext* ctx, absl::string_view method,
                                     std::weak_ptr<GatedStream> stream, uint64_t* handle)
      ABSL_LOCKS_EXCLUDED(streams_mu_);
  void ReleaseStream(uint64_t handle) ABSL_LOCKS_EXCLUDED(streams_mu_);

  // Step 7: re-checks every open stream at `now` and terminates those that
  // a new call would not be admitted for. Returns how many it terminated.
  int RecheckStreams(absl::Time now) ABSL_LOCKS_EXCLUDED(streams_mu_);

  // Ends every open stream with UNAVAILABLE (shutdown: watchers resume
  // elsewhere with their last token instead of holding the server up).
  int EndAllStreams() ABSL_LOCKS_EXCLUDED(streams_mu_);

  // Audits the call's end, then runs `finish` with the status to send. If
  // the audit cannot be written the call fails with UNAVAILABLE instead:
  // nothing is served that is not accounted for. A `caller` that is not OK
  // (refused at admission, or a stream the gate terminated) is audited as a
  // denial, naming the certificate's identity when it has one. A note whose
  // event is already in the log (note.audited()) is answered at once.
  void FinishAudited(grpc::CallbackServerContext* ctx, absl::string_view method,
                     const absl::StatusOr<Caller>& caller, const absl::Status& outcome,
                     AuditNote note, absl::Time started,
                     std::function<void(const grpc::Status&)> finish);

  // Appends an event of an open stream (e.g. a batch of records about to be
  // delivered) and runs `done` once it is committed, or with the error that
  // kept it from being written (then deliver nothing). Identical events of
  // other streams waiting to be written at the same time become one event
  // (AuditLog::AppendDelivery).
  void AuditDuringStream(grpc::CallbackServerContext* ctx, absl::string_view method,
                         const Caller& caller, AuditNote note,
                         std::function<void(absl::Status)> done);

  // A note for a call of `caller` to `method`, started at `started` (streams
  // use it for the events they write on their caller's behalf).
  static AuditNote NoteFor(grpc::CallbackServerContext* ctx, absl::string_view method,
                           const Caller& caller, absl::Time started);

  // How many streams are registered (for tests and metrics).
  size_t open_streams() const ABSL_LOCKS_EXCLUDED(streams_mu_);

  // The id a call is logged under: the client's `x-request-id` metadata
  // when it is sane (1 to 64 of [A-Za-z0-9._:-]), else 16 random hex
  // digits. Unary calls and streams get it back as `x-request-id` in their
  // initial metadata.
  static constexpr char kRequestIdKey[] = "x-request-id";
  static bool IsSaneRequestId(absl::string_view id);

  // The request metadata naming the staff member on whose behalf an agency's
  // system calls: one value that auth::IsValidActor accepts. It is recorded
  // in the call's audit event, and required where the policy has a
  // `require-actor` rule for the caller and method.
  static constexpr char kActorKey[] = "enlace-actor";

 private:
  // The actor the call sent: "" for none; INVALID_ARGUMENT naming the
  // metadata key for a malformed one or more than one.
  static absl::StatusOr<std::string> ActorSent(const grpc::CallbackServerContext& ctx);
  // The call's actor, or INVALID_ARGUMENT when it is malformed, or missing
  // where the policy requires one for `principal` and `method`.
  absl::StatusOr<std::string> ActorFor(const grpc::CallbackServerContext& ctx,
                                       const auth::Principal& principal,
                                       absl::string_view method) const;

  struct Identity {
    auth::Principal principal;
    std::string serial;
    absl::Time not_before;
    absl::Time not_after;
  };

  // The verified peer's identity and certificate facts (cached per
  // certificate: parsing a PEM per call would cost more than the call).
  absl::StatusOr<Identity> IdentityOf(const grpc::CallbackServerContext& ctx) const
      ABSL_LOCKS_EXCLUDED(serials_mu_);
  // The checks a caller must pass at `now`, for admission and re-checks.
  absl::Status Standing(const Identity& identity, absl::string_view method, absl::Time now) const;

  auth::PolicyWatcher* const policy_;
  RevocationList* const revocation_;
  AuditLog* const audit_;
  WorkPool* const work_;
  Metrics* const metrics_;
  const CallLimits limits_;

  struct CertificateFacts {
    std::string serial;
    absl::Time not_before;
    absl::Time not_after;
  };
  mutable absl::Mutex serials_mu_;
  mutable absl::flat_hash_map<std::string, CertificateFacts> facts_of_pem_
      ABSL_GUARDED_BY(serials_mu_);

  // Gives the call its request id (see kRequestIdKey), in its initial
  // metadata too, and keeps it until RequestIdOf takes it back.
  void AssignRequestId(grpc::CallbackServerContext* ctx) ABSL_LOCKS_EXCLUDED(request_ids_mu_);
  // The call's request id, forgotten (its call is ending): the assigned one,
  // else the client's sane one, else a new one.
  std::string TakeRequestId(grpc::CallbackServerContext* ctx) ABSL_LOCKS_EXCLUDED(request_ids_mu_);
  // One JSON access line (server/log.h) for the call's end.
  void LogAccess(grpc::CallbackServerContext* ctx, absl::string_view method,
                 absl::string_view caller, int code, absl::Duration latency);

  absl::Mutex request_ids_mu_;
  absl::flat_hash_map<const grpc::CallbackServerContext*, std::string> request_ids_
      ABSL_GUARDED_BY(request_ids_mu_);

  IdentitySlots call_slots_;  // per principal SPIFFE ID
  IdentitySlots stream_slots_;

  struct TrackedStream {
    Identity identity;
    std::string method;
    std::weak_ptr<GatedStream> stream;
    const grpc::CallbackServerContext* ctx = nullptr;  // its request id is forgotten on release
  };
  mutable absl::Mutex streams_mu_;
  uint64_t next_stream_ ABSL_GUARDED_BY(streams_mu_) = 1;
  absl::flat_hash_map<uint64_t, TrackedStream> streams_ ABSL_GUARDED_BY(streams_mu_);
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_CALL_GATE_H_
