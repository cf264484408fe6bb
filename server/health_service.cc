// grpc.health.v1.Health behind the call gate (see health_service.h).
#include "server/health_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace enlace::server {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr char kCheck[] = "/grpc.health.v1.Health/Check";
constexpr char kWatch[] = "/grpc.health.v1.Health/Watch";
// The initial metadata of every Check answer: the server's version.
constexpr char kVersionKey[] = "enlace-server-version";

absl::flat_hash_set<std::string> WithWholeServer(std::vector<std::string> services) {
  absl::flat_hash_set<std::string> names(std::make_move_iterator(services.begin()),
                                         std::make_move_iterator(services.end()));
  names.insert("");
  return names;
}

}  // namespace

// One Watch stream: the status at once, then one message per change, until
// the client cancels or the gate ends it. Built like ReferralService's
// WatchReactor: it owns itself (self_) until OnDone, so the gate and the
// service, which hold it weakly, never call into a deleted reactor; state is
// guarded by mu_, and gRPC operations, Unsubscribe and ReleaseStream are
// started without holding it.
class HealthServiceImpl::WatchReactor final : public grpc::ServerWriteReactor<HealthCheckResponse>,
                                              public GatedStream,
                                              public std::enable_shared_from_this<WatchReactor> {
 public:
  WatchReactor(HealthServiceImpl* service, grpc::CallbackServerContext* ctx, std::string name)
      : service_(service), ctx_(ctx), name_(std::move(name)), started_(absl::Now()) {}

  // Runs once, right after construction, with the reactor's own shared_ptr.
  void Start(std::shared_ptr<WatchReactor> self) {
    self_ = std::move(self);
    caller_ = service_->gate_->AdmitStream(ctx_, kWatch, weak_from_this(), &stream_handle_);
    if (!caller_.ok()) {
      Refuse(caller_.status());
      return;
    }
    // Subscribed before the first status is read: a change in between is
    // either read by that first Pump or announced after it.
    subscription_ = service_->Subscribe(weak_from_this());
    {
      absl::MutexLock lock(&mu_);
      ready_ = true;
    }
    Pump();
  }

  // The service's status changed.
  void OnStatusChanged() { Pump(); }

  void Terminate(const absl::Status& status) override {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      if (terminated_.ok()) {
        terminated_ = status;
      } else {
        cancel = writing_;  // asked again and a write is still stuck: give up on it
      }
    }
    if (cancel) ctx_->TryCancel();
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) failed_ = true;  // the client is gone
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    Pump();
  }

  void OnDone() override {
    if (subscription_ != 0) service_->Unsubscribe(subscription_);
    if (stream_handle_ != 0) service_->gate_->ReleaseStream(stream_handle_);
    std::shared_ptr<WatchReactor> last = std::move(self_);  // may delete this on return
  }

 private:
  // Ends a call refused at admission.
  void Refuse(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      finishing_ = true;
    }
    service_->gate_->FinishAudited(ctx_, kWatch, caller_, status, AuditNote{}, started_,
                                   [this](const grpc::Status& s) { Finish(s); });
  }

  // Writes the current status if it differs from the last one written, or
  // ends the stream once it was cancelled, failed or terminated and no
  // write is in flight.
  void Pump() {
    bool write = false;
    bool end = false;
    absl::Status outcome;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_ || !ready_ || writing_) return;  // a write comes back here when done
      if (cancelled_ || failed_ || !terminated_.ok()) {
        finishing_ = true;
        end = true;
        outcome = !terminated_.ok() ? terminated_ : absl::CancelledError("the watch was cancelled");
      } else {
        ServingStatus now = service_->StatusOf(name_);
        if (sent_ == 0 || now != last_sent_) {
          in_flight_.set_status(now);
          last_sent_ = now;
          ++sent_;
          writing_ = write = true;
        }
      }
    }
    if (end) {
      End(outcome);
      return;
    }
    if (write) StartWrite(&in_flight_);
  }

  void End(const absl::Status& status) {
    AuditNote note;
    absl::StatusOr<Caller> audited_as = caller_;
    {
      absl::MutexLock lock(&mu_);
      note.detail = absl::StrCat("updates=", sent_,
                                 " last=", HealthCheckResponse::ServingStatus_Name(last_sent_));
      // Ended by the gate: audited as the denial it is.
      if (!terminated_.ok()) audited_as = terminated_;
    }
    service_->gate_->FinishAudited(ctx_, kWatch, audited_as, status, std::move(note), started_,
                                   [this](const grpc::Status& s) { Finish(s); });
  }

  HealthServiceImpl* const service_;
  grpc::CallbackServerContext* const ctx_;
  const std::string name_;
  const absl::Time started_;
  std::shared_ptr<WatchReactor> self_;  // until OnDone
  absl::StatusOr<Caller> caller_;
  uint64_t stream_handle_ = 0;
  uint64_t subscription_ = 0;

  absl::Mutex mu_;
  HealthCheckResponse in_flight_;  // the message being written; set under mu_ before StartWrite
  ServingStatus last_sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  int64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;  // admitted and subscribed
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status terminated_ ABSL_GUARDED_BY(mu_);  // set by the gate
};

HealthServiceImpl::HealthServiceImpl(CallGate* gate, std::vector<std::string> services,
                                     const std::vector<std::string>& dedicated)
    : gate_(gate), services_(WithWholeServer(std::move(services))) {
  for (const std::string& name : dedicated) dedicated_.emplace(name, true);
}

void HealthServiceImpl::SetServing(bool serving) {
  {
    absl::MutexLock lock(&mu_);
    if (serving_ == serving) return;
    serving_ = serving;
  }
  TellWatchers();
}

void HealthServiceImpl::SetDedicatedServing(const std::string& service, bool serving) {
  {
    absl::MutexLock lock(&mu_);
    auto it = dedicated_.find(service);
    if (it == dedicated_.end() || it->second == serving) return;
    it->second = serving;
  }
  TellWatchers();
}

void HealthServiceImpl::TellWatchers() {
  std::vector<std::shared_ptr<WatchReactor>> to_tell;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, weak] : watchers_) {
      std::shared_ptr<WatchReactor> watcher = weak.lock();
      if (watcher != nullptr) to_tell.push_back(std::move(watcher));
    }
  }
  // Outside the lock: a watcher takes mu_ (StatusOf) and may end at once.
  for (const std::shared_ptr<WatchReactor>& watcher : to_tell) watcher->OnStatusChanged();
}

HealthServiceImpl::ServingStatus HealthServiceImpl::StatusOf(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  auto dedicated = dedicated_.find(service);
  if (dedicated != dedicated_.end()) {
    return serving_ && dedicated->second ? HealthCheckResponse::SERVING
                                         : HealthCheckResponse::NOT_SERVING;
  }
  if (!services_.contains(service)) return HealthCheckResponse::SERVICE_UNKNOWN;
  return serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

uint64_t HealthServiceImpl::Subscribe(const std::weak_ptr<WatchReactor>& watcher) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_watcher_++;
  watchers_.emplace(id, watcher);
  return id;
}

void HealthServiceImpl::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

grpc::ServerUnaryReactor* HealthServiceImpl::Check(grpc::CallbackServerContext* ctx,
                                                   const HealthCheckRequest* request,
                                                   HealthCheckResponse* response) {
  return gate_->Unary(ctx, kCheck, [this, ctx, request, response](const Caller&, AuditNote* note) {
    // Only to admitted callers (before the answer is sent, as Finish sends it).
    ctx->AddInitialMetadata(kVersionKey, ENLACE_VERSION);
    ServingStatus status = StatusOf(request->service());
    if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
      note->detail = "unknown service";  // the name itself is the caller's free text
      return absl::NotFoundError("unknown service");
    }
    response->set_status(status);
    note->detail = HealthCheckResponse::ServingStatus_Name(status);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthServiceImpl::Watch(
    grpc::CallbackServerContext* ctx, const HealthCheckRequest* request) {
  auto reactor = std::make_shared<WatchReactor>(this, ctx, request->service());
  reactor->Start(reactor);
  return reactor.get();
}

}  // namespace enlace::server
