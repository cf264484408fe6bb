// CallGate: identity, policy, work pool, audit and status conversion for
// every call (see call_gate.h).
#include "server/call_gate.h"

#include <grpcpp/security/auth_context.h>

#include <memory>
#include <random>

#include "absl/container/flat_hash_set.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "auth/pki.h"
#include "db/database_error.h"
#include "enlace/v1/admin.pb.h"
#include "server/log.h"

namespace enlace::server {
namespace {

constexpr char kUnauthenticated[] = "unauthenticated";

// Handlers validate ids before noting them; this keeps the stored form
// (space-separated ASCII) faithful to what the hash covers in any case.
void SanitizeIds(std::vector<std::string>* ids) {
  for (std::string& id : *ids) {
    if (!IsRecordId(id)) id = "invalid-id";
  }
}

// 16 random hex digits.
std::string NewRequestId() {
  thread_local std::mt19937_64 random(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = random();
  std::string id(16, '0');
  for (char& c : id) {
    c = kHex[bits & 0xF];
    bits >>= 4;
  }
  return id;
}

// The client's x-request-id when it sent one sane value, else "".
std::string ClientRequestId(const grpc::CallbackServerContext& ctx) {
  auto [first, last] = ctx.client_metadata().equal_range(CallGate::kRequestIdKey);
  if (first == last || std::next(first) != last) return "";
  absl::string_view id(first->second.data(), first->second.size());
  return CallGate::IsSaneRequestId(id) ? std::string(id) : "";
}

}  // namespace

absl::StatusOr<std::string> CallGate::ActorSent(const grpc::CallbackServerContext& ctx) {
  auto [first, last] = ctx.client_metadata().equal_range(kActorKey);
  if (first == last) return "";
  if (std::next(first) != last) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata ", kActorKey, " was sent more than once: send one actor"));
  }
  absl::string_view actor(first->second.data(), first->second.size());
  if (!auth::IsValidActor(actor)) {
    // Not echoed: whatever was sent in its place may be personal data.
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata ", kActorKey, " is not an actor: 1 to 64 letters, digits, '.', '_', ':' or '-' ",
        "(an opaque staff identifier: no name, no e-mail address)"));
  }
  return std::string(actor);
}

bool CallGate::IsSaneRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
              c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void CallGate::AssignRequestId(grpc::CallbackServerContext* ctx) {
  std::string id = ClientRequestId(*ctx);
  if (id.empty()) id = NewRequestId();
  ctx->AddInitialMetadata(kRequestIdKey, id);
  absl::MutexLock lock(&request_ids_mu_);
  request_ids_[ctx] = std::move(id);
}

std::string CallGate::TakeRequestId(grpc::CallbackServerContext* ctx) {
  {
    absl::MutexLock lock(&request_ids_mu_);
    auto it = request_ids_.find(ctx);
    if (it != request_ids_.end()) {
      std::string id = std::move(it->second);
      request_ids_.erase(it);
      return id;
    }
  }
  std::string id = ClientRequestId(*ctx);
  return id.empty() ? NewRequestId() : id;
}

void CallGate::LogAccess(grpc::CallbackServerContext* ctx, absl::string_view method,
                         absl::string_view caller, int code, absl::Duration latency) {
  // Ids and codes only: never a field of the request or the response.
  LogLine(LogLevel::kInfo, "rpc",
          {{"method", std::string(method)},
           {"caller", std::string(caller)},
           {"status", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))},
           {"latency_ms", absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(latency)), true},
           {"request_id", TakeRequestId(ctx)}});
}

bool IsRecordId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
              c == ':' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

db::AuditRecord* AuditNote::ForChange() {
  auto change = std::make_shared<db::AuditRecord>(call_);
  change->record_ids = record_ids;
  SanitizeIds(&change->record_ids);
  change->detail = detail;
  changes_.push_back(change);
  return change.get();
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk: return grpc::Status::OK;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      LogError("internal error: ", status.ToString());
      return grpc::Status(grpc::StatusCode::INTERNAL, "internal error; it has been logged");
    case absl::StatusCode::kUnavailable:
      LogWarning("unavailable: ", status.ToString());
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the service is temporarily unavailable; retry with backoff");
    default: break;
  }
  // The database's own words (a deadlock, a duplicate key naming its value)
  // are logged, never sent; a store that means them to be read rephrases.
  if (db::IsDatabaseError(status)) {
    LogError("database error: ", status.ToString());
    switch (status.code()) {
      case absl::StatusCode::kAborted:
        return grpc::Status(grpc::StatusCode::ABORTED,
                            "a concurrent change conflicted with this call; retry");
      case absl::StatusCode::kAlreadyExists:
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "the record already exists");
      default:
        return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                            "the database refused the call; it has been logged");
    }
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

CallGate::CallGate(auth::PolicyWatcher* policy, RevocationList* revocation, AuditLog* audit,
                   WorkPool* work, Metrics* metrics, CallLimits limits)
    : policy_(policy),
      revocation_(revocation),
      audit_(audit),
      work_(work),
      metrics_(metrics),
      limits_(limits),
      call_slots_(limits.max_calls_per_identity, limits.max_waiting_calls_per_identity,
                  "max_calls_per_identity"),
      stream_slots_(limits.max_streams_per_identity, 0, "max_streams_per_identity") {}

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
  Identity identity{*std::move(principal), "", absl::InfinitePast(), absl::InfinitePast()};
  {
    absl::MutexLock lock(&serials_mu_);
    auto it = facts_of_pem_.find(pem);
    if (it != facts_of_pem_.end()) {
      identity.serial = it->second.serial;
      identity.not_before = it->second.not_before;
      identity.not_after = it->second.not_after;
      return identity;
    }
  }
  absl::StatusOr<auth::CertificateInfo> info = auth::ReadCertificate(pem);
  if (!info.ok()) return absl::UnauthenticatedError("the client certificate could not be read");
  identity.serial = info->serial_hex;
  identity.not_before = info->not_before;
  identity.not_after = info->not_after;
  absl::MutexLock lock(&serials_mu_);
  if (facts_of_pem_.size() > 10000) facts_of_pem_.clear();  // bound memory; refills on use
  facts_of_pem_.emplace(std::move(pem),
                        CertificateFacts{info->serial_hex, info->not_before, info->not_after});
  return identity;
}

absl::Status CallGate::Standing(const Identity& identity, absl::string_view method,
                                absl::Time now) const {
  // The TLS layer checks validity only at the handshake; a connection opened
  // before expiry would otherwise go on serving the expired certificate.
  if (now >= identity.not_after) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the client certificate (serial ", identity.serial, ") expired at ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", identity.not_after, absl::UTCTimeZone()),
        "; reconnect with its successor"));
  }
  if (now < identity.not_before) {
    return absl::UnauthenticatedError(
        absl::StrCat("the client certificate (serial ", identity.serial, ") is not valid yet"));
  }
  if (absl::Status s = revocation_->Check(identity.serial, now); !s.ok()) return s;
  if (!policy_->Current()->Allows(identity.principal, method)) {
    return absl::PermissionDeniedError(
        absl::StrCat(identity.principal.SpiffeId(), " may not call ", method));
  }
  return absl::OkStatus();
}

absl::StatusOr<Caller> CallGate::Admit(grpc::CallbackServerContext* ctx,
                                       absl::string_view method) const {
  absl::StatusOr<Identity> identity = IdentityOf(*ctx);
  if (!identity.ok()) return identity.status();
  if (absl::Status s = Standing(*identity, method, absl::Now()); !s.ok()) return s;
  absl::StatusOr<std::string> actor = ActorFor(*ctx, identity->principal, method);
  if (!actor.ok()) return actor.status();
  return Caller{std::move(identity->principal), std::move(identity->serial), ctx->peer(),
                identity->not_after, *std::move(actor)};
}

absl::StatusOr<std::string> CallGate::ActorFor(const grpc::CallbackServerContext& ctx,
                                               const auth::Principal& principal,
                                               absl::string_view method) const {
  absl::StatusOr<std::string> actor = ActorSent(ctx);
  if (!actor.ok()) return actor;
  if (actor->empty() && policy_->Current()->RequiresActor(principal, method)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata ", kActorKey, " is required for ", method, ": name the staff member on whose ",
        "behalf ", principal.PolicyName(), " calls (an opaque staff identifier)"));
  }
  return actor;
}

AuditNote CallGate::NoteFor(grpc::CallbackServerContext* ctx, absl::string_view method,
                            const Caller& caller, absl::Time started) {
  AuditNote note;
  note.call_.at_us = absl::ToUnixMicros(started);
  note.call_.principal = caller.principal.SpiffeId();
  note.call_.method = std::string(method);
  note.call_.decision = enlace::v1::DECISION_ALLOW;
  note.call_.status_code = 0;
  note.call_.peer = ctx->peer();
  note.call_.actor = caller.actor;
  return note;
}

grpc::ServerUnaryReactor* CallGate::Unary(grpc::CallbackServerContext* ctx,
                                          absl::string_view method, UnaryBody body) {
  return UnaryAsync(
      ctx, method,
      [body = std::move(body)](const Caller& caller, AuditNote note, const Completion& done) {
        absl::Status outcome = body(caller, &note);
        done(std::move(outcome), std::move(note));
      });
}

grpc::ServerUnaryReactor* CallGate::UnaryAsync(grpc::CallbackServerContext* ctx,
                                               absl::string_view method, AsyncUnaryBody body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Time started = absl::Now();
  AssignRequestId(ctx);
  auto finish = [reactor](const grpc::Status& status) { reactor->Finish(status); };
  absl::StatusOr<Caller> caller = Admit(ctx, method);
  if (!caller.ok()) {
    FinishAudited(ctx, method, caller, caller.status(), AuditNote{}, started, finish);
    return reactor;
  }
  std::string principal = caller->principal.SpiffeId();
  // The slot is held until the answer is on its way.
  auto release_then_finish = [this, principal, finish](const grpc::Status& status) {
    call_slots_.Release(principal);
    finish(status);
  };
  std::string method_name(method);
  Completion done = [this, ctx, method_name, caller, started, release_then_finish](
                        const absl::Status& outcome, AuditNote note) {
    FinishAudited(ctx, method_name, caller, outcome, std::move(note), started, release_then_finish);
  };
  // Runs once the call has a slot: at once, or when one of the caller's
  // earlier calls gives its slot back.
  auto start = [this, ctx, caller, body = std::move(body), done, method_name, started,
                release_then_finish, principal]() {
    bool queued = work_->TrySubmit(
        [ctx, caller, body, done, method_name, started]() {
          if (ctx->IsCancelled()) {
            done(absl::CancelledError("the caller cancelled the call"), AuditNote{});
            return;
          }
          body(*caller, NoteFor(ctx, method_name, *caller, started), done);
        },
        principal);
    if (!queued) {
      FinishAudited(ctx, method_name, caller,
                    absl::ResourceExhaustedError("server busy; retry later"), AuditNote{}, started,
                    release_then_finish);
    }
  };
  if (absl::Status admitted = call_slots_.Acquire(principal, std::move(start)); !admitted.ok()) {
    FinishAudited(ctx, method, caller, admitted, AuditNote{}, started, finish);
  }
  return reactor;
}

absl::StatusOr<Caller> CallGate::AdmitStream(grpc::CallbackServerContext* ctx,
                                             absl::string_view method,
                                             std::weak_ptr<GatedStream> stream, uint64_t* handle) {
  AssignRequestId(ctx);
  absl::StatusOr<Identity> identity = IdentityOf(*ctx);
  if (!identity.ok()) return identity.status();
  std::string principal = identity->principal.SpiffeId();
  // Registered first, checked second: a revocation or policy change that
  // lands between the two is seen either here or by the next re-check.
  uint64_t registered;
  {
    absl::MutexLock lock(&streams_mu_);
    registered = next_stream_++;
    streams_.emplace(registered,
                     TrackedStream{*identity, std::string(method), std::move(stream), ctx});
  }
  absl::Status standing = Standing(*identity, method, absl::Now());
  absl::StatusOr<std::string> actor;
  if (standing.ok()) {
    actor = ActorFor(*ctx, identity->principal, method);
    standing = actor.status();
  }
  if (standing.ok()) standing = stream_slots_.Acquire(principal, [] {});
  if (!standing.ok()) {
    absl::MutexLock lock(&streams_mu_);
    streams_.erase(registered);
    return standing;
  }
  *handle = registered;
  metrics_->StreamOpened(method);
  return Caller{std::move(identity->principal), std::move(identity->serial), ctx->peer(),
                identity->not_after, *std::move(actor)};
}

void CallGate::ReleaseStream(uint64_t handle) {
  std::string principal;
  std::string method;
  const grpc::CallbackServerContext* ctx = nullptr;
  {
    absl::MutexLock lock(&streams_mu_);
    auto it = streams_.find(handle);
    if (it == streams_.end()) return;
    principal = it->second.identity.principal.SpiffeId();
    method = std::move(it->second.method);
    ctx = it->second.ctx;
    streams_.erase(it);
  }
  stream_slots_.Release(principal);
  metrics_->StreamClosed(method);
  // Normally taken by the stream's FinishAudited already; never kept past
  // the call (OnDone, where streams release themselves, is its last event).
  absl::MutexLock lock(&request_ids_mu_);
  request_ids_.erase(ctx);
}

int CallGate::RecheckStreams(absl::Time now) {
  std::vector<std::pair<std::weak_ptr<GatedStream>, absl::Status>> ending;
  {
    absl::MutexLock lock(&streams_mu_);
    for (const auto& [handle, tracked] : streams_) {
      absl::Status standing = Standing(tracked.identity, tracked.method, now);
      if (!standing.ok()) ending.emplace_back(tracked.stream, std::move(standing));
    }
  }
  // Outside the lock: a stream ending now may release itself at once.
  int terminated = 0;
  for (auto& [weak, status] : ending) {
    if (std::shared_ptr<GatedStream> stream = weak.lock()) {
      stream->Terminate(status);
      ++terminated;
    }
  }
  return terminated;
}

int CallGate::EndAllStreams() {
  std::vector<std::weak_ptr<GatedStream>> all;
  {
    absl::MutexLock lock(&streams_mu_);
    for (const auto& [handle, tracked] : streams_) all.push_back(tracked.stream);
  }
  int ended = 0;
  for (const std::weak_ptr<GatedStream>& weak : all) {
    if (std::shared_ptr<GatedStream> stream = weak.lock()) {
      stream->Terminate(absl::UnavailableError("the server is shutting down; resume elsewhere"));
      ++ended;
    }
  }
  return ended;
}

void CallGate::AuditDuringStream(grpc::CallbackServerContext* ctx, absl::string_view method,
                                 const Caller& caller, AuditNote note,
                                 std::function<void(absl::Status)> done) {
  db::AuditRecord record = NoteFor(ctx, method, caller, absl::Now()).call_;
  SanitizeIds(&note.record_ids);
  record.record_ids = std::move(note.record_ids);
  record.detail = std::move(note.detail);
  // Every stream of an agency gets the same feed events at once: identical
  // deliveries are folded into one event (server/audit_log.h).
  audit_->AppendDelivery(std::move(record), std::move(done));
}

size_t CallGate::open_streams() const {
  absl::MutexLock lock(&streams_mu_);
  return streams_.size();
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
  // Refused calls name the actor they sent, when it was one.
  absl::StatusOr<std::string> actor = caller.ok() ? caller->actor : ActorSent(*ctx);
  if (actor.ok()) record.actor = *std::move(actor);
  record.method = std::string(method);
  // Refused by the gate, or by the record rules (AuditNote::RecordRules).
  record.decision = caller.ok() && !note.refused_by_record_rules() ? enlace::v1::DECISION_ALLOW
                                                                   : enlace::v1::DECISION_DENY;
  record.status_code = static_cast<int>(outcome.code());
  grpc::Status reply = ToGrpcStatus(outcome);
  if (note.audited()) {
    // The event is in the log already, committed with the call's change.
    absl::Duration latency = absl::Now() - started;
    metrics_->RecordCall(record.method, reply.error_code(), latency);
    LogAccess(ctx, record.method, record.principal, reply.error_code(), latency);
    finish(reply);
    return;
  }
  SanitizeIds(&note.record_ids);
  record.record_ids = std::move(note.record_ids);
  record.detail = std::move(note.detail);
  record.peer = ctx->peer();
  std::string method_name(method);
  std::string principal = record.principal;
  audit_->Append(std::move(record), [this, ctx, reply, finish = std::move(finish), method_name,
                                     principal, started](const absl::Status& audited) {
    grpc::Status sent = reply;
    if (!audited.ok()) {
      sent = ToGrpcStatus(
          absl::UnavailableError(absl::StrCat("audit event not written: ", audited.ToString())));
    }
    absl::Duration latency = absl::Now() - started;
    metrics_->RecordCall(method_name, sent.error_code(), latency);
    LogAccess(ctx, method_name, principal, sent.error_code(), latency);
    finish(sent);
  });
}

}  // namespace enlace::server
