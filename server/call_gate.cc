// CallGate: identity, policy, work pool, audit and status conversion for
// every call (see call_gate.h).
#include "server/call_gate.h"

#include <grpcpp/security/auth_context.h>

#include <memory>

#include "absl/container/flat_hash_set.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "enlace/v1/admin.pb.h"
#include "auth/pki.h"
#include "server/log.h"

namespace enlace::server {
namespace {

constexpr char kUnauthenticated[] = "unauthenticated";
constexpr size_t kMaxAuditedIds = 1000;

}  // namespace

bool IsRecordId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
              c == ':' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return grpc::Status::OK;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      Log("internal error: ", status.ToString());
      return grpc::Status(grpc::StatusCode::INTERNAL, "internal error; it has been logged");
    case absl::StatusCode::kUnavailable:
      Log("unavailable: ", status.ToString());
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the service is temporarily unavailable; retry with backoff");
    default:
      return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          std::string(status.message()));
  }
}

CallGate::CallGate(auth::PolicyWatcher* policy, RevocationList* revocation, AuditLog* audit,
                   WorkPool* work, Metrics* metrics)
    : policy_(policy), revocation_(revocation), audit_(audit), work_(work), metrics_(metrics) {}

absl::StatusOr<CallGate::Identity> CallGate::IdentityOf(
    const grpc::CallbackServerContext& ctx) const {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("a client certificate from the Enlace CA is required");
  }
  // gRPC sets peer_spiffe_id only when the verified certificate carries
  // exactly one URI SAN and it is a SPIFFE ID: an ambiguous identity is none.
  std::vector<grpc::string_ref> ids = auth->FindPropertyValues("peer_spiffe_id");
  if (ids.size() != 1) {
    return absl::UnauthenticatedError(
        "the client certificate carries no single SPIFFE ID (URI SAN spiffe://enlace/...)");
  }
  absl::StatusOr<auth::Principal> principal =
      auth::ParseSpiffeId(absl::string_view(ids[0].data(), ids[0].size()));
  if (!principal.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate identity refused: ", principal.status().message()));
  }
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.size() != 1) {
    return absl::UnauthenticatedError("the client certificate could not be read");
  }
  std::string pem(pems[0].data(), pems[0].size());
  Identity identity{*std::move(principal), ""};
  {
    absl::MutexLock lock(&serials_mu_);
    auto it = serial_of_pem_.find(pem);
    if (it != serial_of_pem_.end()) {
      identity.serial = it->second;
      return identity;
    }
  }
  absl::StatusOr<std::string> serial = auth::CertificateSerialHex(pem);
  if (!serial.ok()) return absl::UnauthenticatedError("the client certificate could not be read");
  identity.serial = *serial;
  absl::MutexLock lock(&serials_mu_);
  if (serial_of_pem_.size() > 10000) serial_of_pem_.clear();  // bound memory; refills on use
  serial_of_pem_.emplace(std::move(pem), *std::move(serial));
  return identity;
}

absl::StatusOr<Caller> CallGate::Admit(grpc::CallbackServerContext* ctx,
                                       absl::string_view method) const {
  absl::StatusOr<Identity> identity = IdentityOf(*ctx);
  if (!identity.ok()) return identity.status();
  if (absl::Status s = revocation_->Check(identity->serial, absl::Now()); !s.ok()) return s;
  Caller caller{std::move(identity->principal), std::move(identity->serial), ctx->peer()};
  if (!policy_->Current()->Allows(caller.principal, method)) {
    return absl::PermissionDeniedError(
        absl::StrCat(caller.principal.SpiffeId(), " may not call ", method));
  }
  return caller;
}

grpc::ServerUnaryReactor* CallGate::Unary(grpc::CallbackServerContext* ctx,
                                          absl::string_view method, UnaryBody body) {
  return UnaryAsync(ctx, method,
                    [body = std::move(body)](const Caller& caller, Completion done) {
                      AuditNote note;
                      absl::Status outcome = body(caller, &note);
                      done(std::move(outcome), std::move(note));
                    });
}

grpc::ServerUnaryReactor* CallGate::UnaryAsync(grpc::CallbackServerContext* ctx,
                                               absl::string_view method, AsyncUnaryBody body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Time started = absl::Now();
  auto finish = [reactor](const grpc::Status& status) { reactor->Finish(status); };
  absl::StatusOr<Caller> caller = Admit(ctx, method);
  if (!caller.ok()) {
    FinishAudited(ctx, method, caller, caller.status(), AuditNote{}, started, finish);
    return reactor;
  }
  std::string method_name(method);
  Completion done = [this, ctx, method_name, caller, started, finish](absl::Status outcome,
                                                                       AuditNote note) {
    FinishAudited(ctx, method_name, caller, outcome, std::move(note), started, finish);
  };
  bool queued = work_->TrySubmit([ctx, caller, body = std::move(body), done]() {
    if (ctx->IsCancelled()) {
      done(absl::CancelledError("the caller cancelled the call"), AuditNote{});
      return;
    }
    body(*caller, done);
  });
  if (!queued) {
    FinishAudited(ctx, method, caller, absl::ResourceExhaustedError("server busy; retry later"),
                  AuditNote{}, started, finish);
  }
  return reactor;
}

void CallGate::FinishAudited(grpc::CallbackServerContext* ctx, absl::string_view method,
                             const absl::StatusOr<Caller>& caller, const absl::Status& outcome,
                             AuditNote note, absl::Time started,
                             std::function<void(const grpc::Status&)> finish) {
  db::AuditRecord record;
  record.at_us = absl::ToUnixMicros(started);
  record.principal = caller.ok() ? caller->principal.SpiffeId() : kUnauthenticated;
  if (!caller.ok()) {
    // Refused: name who it was when the certificate says (revoked, or
    // identified but not allowed).
    absl::StatusOr<Identity> who = IdentityOf(*ctx);
    if (who.ok()) record.principal = who->principal.SpiffeId();
  }
  record.method = std::string(method);
  record.decision = caller.ok() ? enlace::v1::DECISION_ALLOW : enlace::v1::DECISION_DENY;
  record.status_code = static_cast<int>(outcome.code());
  if (note.record_ids.size() > kMaxAuditedIds) {
    absl::StrAppend(&note.detail, note.detail.empty() ? "" : "; ", "record_ids: first ",
                    kMaxAuditedIds, " of ", note.record_ids.size());
    note.record_ids.resize(kMaxAuditedIds);
  }
  // Handlers validate ids before noting them; this keeps the stored form
  // (space-separated ASCII) faithful to what the hash covers in any case.
  for (std::string& id : note.record_ids) {
    if (!IsRecordId(id)) id = "invalid-id";
  }
  record.record_ids = std::move(note.record_ids);
  record.detail = std::move(note.detail);
  record.peer = ctx->peer();
  grpc::Status reply = ToGrpcStatus(outcome);
  std::string method_name(method);
  audit_->Append(std::move(record), [this, reply, finish = std::move(finish), method_name,
                                     started](absl::Status audited) {
    grpc::Status sent = reply;
    if (!audited.ok()) {
      sent = ToGrpcStatus(absl::UnavailableError(
          absl::StrCat("audit event not written: ", audited.ToString())));
    }
    metrics_->RecordCall(method_name, sent.error_code(), absl::Now() - started);
    finish(sent);
  });
}

uint64_t CallGate::TrackStream(const Caller& caller, grpc::CallbackServerContext* ctx) {
  absl::MutexLock lock(&streams_mu_);
  uint64_t handle = next_stream_++;
  streams_.emplace(handle, TrackedStream{caller.certificate_serial, ctx});
  return handle;
}

void CallGate::UntrackStream(uint64_t handle) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(handle);
}

int CallGate::CancelStreamsOf(const std::vector<std::string>& serials) {
  absl::flat_hash_set<std::string> revoked(serials.begin(), serials.end());
  int cancelled = 0;
  absl::MutexLock lock(&streams_mu_);
  for (auto& [handle, stream] : streams_) {
    if (revoked.contains(stream.serial)) {
      // The reactor sees OnCancel and ends the call; it untracks itself.
      stream.ctx->TryCancel();
      ++cancelled;
    }
  }
  return cancelled;
}

int CallGate::CancelAllStreams() {
  absl::MutexLock lock(&streams_mu_);
  for (auto& [handle, stream] : streams_) stream.ctx->TryCancel();
  return static_cast<int>(streams_.size());
}

}  // namespace enlace::server
