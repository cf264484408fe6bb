// ReferralService handlers and the WatchReferrals stream (see
// referral_service.h).
#include "server/referral_service.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "server/page_token.h"
#include "server/request_checks.h"

namespace enlace::server {
namespace {

using enlace::v1::Referral;
using enlace::v1::ReferralEvent;
using google::protobuf::util::TimeUtil;

constexpr char kCreateReferral[] = "/enlace.v1.ReferralService/CreateReferral";
constexpr char kGetReferral[] = "/enlace.v1.ReferralService/GetReferral";
constexpr char kListReferrals[] = "/enlace.v1.ReferralService/ListReferrals";
constexpr char kAcceptReferral[] = "/enlace.v1.ReferralService/AcceptReferral";
constexpr char kDeclineReferral[] = "/enlace.v1.ReferralService/DeclineReferral";
constexpr char kCompleteReferral[] = "/enlace.v1.ReferralService/CompleteReferral";
constexpr char kWithdrawReferral[] = "/enlace.v1.ReferralService/WithdrawReferral";
constexpr char kWatchReferrals[] = "/enlace.v1.ReferralService/WatchReferrals";

constexpr size_t kMemoryBatch = 64;   // events taken from the feed's window at a time
constexpr int kDatabaseBatch = 500;   // events read from the database at a time

db::Viewer ViewerOf(const Caller& caller) { return db::Viewer{caller.principal.name}; }

std::string WatchFingerprint(const Caller& caller) {
  return QueryFingerprint({caller.principal.SpiffeId(), "watch-referrals"});
}

}  // namespace

// One WatchReferrals stream. It pulls from the feed whenever it may write:
// when it starts, when the feed advances, and when a write completes. Its
// cursor only moves forward, past events delivered or skipped as not its
// agency's. State is guarded by mu_; gRPC operations and the feed's
// Unsubscribe are started without holding it.
class ReferralServiceImpl::WatchReactor final
    : public grpc::ServerWriteReactor<ReferralEvent>,
      public ReferralFeed::Subscriber {
 public:
  WatchReactor(ReferralServiceImpl* service, grpc::CallbackServerContext* ctx,
               const enlace::v1::WatchReferralsRequest* request)
      : service_(service), ctx_(ctx), started_(absl::Now()) {
    caller_ = service_->gate_->Admit(ctx_, kWatchReferrals);
    if (!caller_.ok()) {
      Refuse(caller_.status());
      return;
    }
    fingerprint_ = WatchFingerprint(*caller_);
    if (request->resume_token().empty()) {
      cursor_ = service_->feed_->head();  // from now on
    } else {
      absl::StatusOr<int64_t> resume = DecodePageToken(request->resume_token(), fingerprint_);
      if (!resume.ok()) {
        Refuse(absl::InvalidArgumentError(
            "resume_token: not a token of this caller's watch; start without one"));
        return;
      }
      cursor_ = *resume;
    }
    // The position the watch starts from, at once: a client that opened a
    // watch "from now" can save it before the first event arrives.
    ctx_->AddInitialMetadata("enlace-resume-token", EncodePageToken(cursor_, fingerprint_));
    StartSendInitialMetadata();
    stream_handle_ = service_->gate_->TrackStream(*caller_, ctx_);
    service_->feed_->Subscribe(this);
    subscribed_ = true;
    Pump();
  }

  void OnFeedAdvanced() override { Pump(); }

  void OnSendInitialMetadataDone(bool) override {}

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      pending_.pop_front();
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
    if (stream_handle_ != 0) service_->gate_->UntrackStream(stream_handle_);
    delete this;
  }

 private:
  // Ends a call refused before it started streaming.
  void Refuse(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      finishing_ = true;
    }
    service_->gate_->FinishAudited(ctx_, kWatchReferrals, caller_, status, AuditNote{}, started_,
                                   [this](const grpc::Status& s) { Finish(s); });
  }

  ReferralEvent ToEvent(const db::FeedEvent& event) const {
    ReferralEvent out;
    out.set_type(event.type);
    *out.mutable_referral() = event.referral;
    out.set_resume_token(EncodePageToken(event.seq, fingerprint_));
    *out.mutable_committed_at() = TimeUtil::MicrosecondsToTimestamp(event.committed_at_us);
    return out;
  }

  // Moves the stream on: takes events, starts a write or a database read,
  // or ends the stream once it was cancelled and nothing is in flight.
  void Pump() {
    const ReferralEvent* next = nullptr;
    bool fetch = false;
    bool end = false;
    int64_t from = 0, up_to = 0;
    absl::Status outcome;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      if (cancelled_ || failed_ || !error_.ok()) {
        if (writing_ || fetching_) return;  // they come back here when done
        finishing_ = true;
        end = true;
        outcome = !error_.ok() ? error_ : absl::CancelledError("the watch was cancelled");
      } else {
        if (pending_.empty() && !fetching_) {
          ReferralFeed::Batch batch =
              service_->feed_->Collect(cursor_, caller_->principal.name, kMemoryBatch);
          if (batch.needs_database) {
            fetching_ = true;
            fetch = true;
            from = cursor_;
            up_to = batch.database_up_to;
          } else {
            for (const db::FeedEvent& event : batch.events) pending_.push_back(ToEvent(event));
            cursor_ = batch.cursor;
          }
        }
        if (!writing_ && !pending_.empty()) {
          writing_ = true;
          next = &pending_.front();
          ++delivered_;
          if (delivered_ids_.size() < 1000) delivered_ids_.push_back(next->referral().referral_id());
        }
      }
    }
    if (end) {
      End(outcome);
      return;
    }
    if (fetch && !service_->work_->TrySubmit([this, from, up_to] { Fetch(from, up_to); })) {
      {
        absl::MutexLock lock(&mu_);
        fetching_ = false;
        error_ = absl::ResourceExhaustedError("server busy; resume the watch later");
      }
      Pump();  // nothing is in flight (a fetch means nothing was pending): ends the stream
      return;
    }
    if (next != nullptr) StartWrite(next);
  }

  // On the work pool: the events the feed's window no longer holds.
  void Fetch(int64_t from, int64_t up_to) {
    absl::StatusOr<std::vector<db::FeedEvent>> events =
        service_->store_->ReadFeed(from, up_to, caller_->principal.name, kDatabaseBatch);
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      if (!events.ok()) {
        error_ = events.status();
      } else {
        for (const db::FeedEvent& event : *events) pending_.push_back(ToEvent(event));
        cursor_ = static_cast<int>(events->size()) < kDatabaseBatch ? up_to : events->back().seq;
      }
    }
    Pump();
  }

  void End(const absl::Status& status) {
    if (subscribed_) service_->feed_->Unsubscribe(this);
    AuditNote note;
    {
      absl::MutexLock lock(&mu_);
      note.record_ids = std::move(delivered_ids_);
      note.detail = absl::StrCat("events=", delivered_);
    }
    service_->gate_->FinishAudited(ctx_, kWatchReferrals, caller_, status, std::move(note),
                                   started_, [this](const grpc::Status& s) { Finish(s); });
  }

  ReferralServiceImpl* const service_;
  grpc::CallbackServerContext* const ctx_;
  const absl::Time started_;
  absl::StatusOr<Caller> caller_;
  std::string fingerprint_;
  uint64_t stream_handle_ = 0;
  bool subscribed_ = false;

  absl::Mutex mu_;
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<ReferralEvent> pending_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  int64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> delivered_ids_ ABSL_GUARDED_BY(mu_);
};

ReferralServiceImpl::ReferralServiceImpl(CallGate* gate, db::CaseStore* store,
                                         AgencyDirectory* agencies, ReferralFeed* feed,
                                         WorkPool* work)
    : gate_(gate), store_(store), agencies_(agencies), feed_(feed), work_(work) {}

grpc::ServerUnaryReactor* ReferralServiceImpl::CreateReferral(
    grpc::CallbackServerContext* ctx, const enlace::v1::CreateReferralRequest* request,
    Referral* response) {
  return gate_->Unary(ctx, kCreateReferral, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->case_id(), "case_id"); !s.ok()) return s;
    if (!auth::IsValidName(request->to_agency()) || !agencies_->IsKnown(request->to_agency())) {
      return absl::InvalidArgumentError("to_agency: not a registered agency");
    }
    if (absl::Status s = CheckNeed(request->service(), "service"); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->reason(), "reason", 2000, true); !s.ok()) return s;
    note->record_ids.push_back(request->case_id());
    absl::StatusOr<Referral> created =
        store_->CreateReferral(request->case_id(), request->to_agency(), request->service(),
                               request->reason(), ViewerOf(caller));
    if (!created.ok()) return created.status();
    feed_->Wake();
    note->record_ids.push_back(created->referral_id());
    *response = *std::move(created);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::GetReferral(
    grpc::CallbackServerContext* ctx, const enlace::v1::GetReferralRequest* request,
    Referral* response) {
  return gate_->Unary(ctx, kGetReferral, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->referral_id(), "referral_id"); !s.ok()) return s;
    note->record_ids.push_back(request->referral_id());
    absl::StatusOr<Referral> found = store_->GetReferral(request->referral_id(), ViewerOf(caller));
    if (!found.ok()) return found.status();
    note->record_ids.push_back(found->case_id());
    *response = *std::move(found);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ListReferrals(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListReferralsRequest* request,
    enlace::v1::ListReferralsResponse* response) {
  return gate_->Unary(ctx, kListReferrals, [=](const Caller& caller, AuditNote* note) {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    if (request->box() != enlace::v1::BOX_INBOX && request->box() != enlace::v1::BOX_OUTBOX) {
      return absl::InvalidArgumentError("box: must be BOX_INBOX or BOX_OUTBOX");
    }
    db::ReferralFilter filter;
    filter.box = request->box();
    std::string statuses;
    for (int status : request->statuses()) {
      if (status == enlace::v1::REFERRAL_STATUS_UNSPECIFIED ||
          !enlace::v1::ReferralStatus_IsValid(status)) {
        return absl::InvalidArgumentError("statuses: unknown status");
      }
      auto typed = static_cast<enlace::v1::ReferralStatus>(status);
      if (std::find(filter.statuses.begin(), filter.statuses.end(), typed) !=
          filter.statuses.end()) {
        return absl::InvalidArgumentError("statuses: a status is repeated");
      }
      filter.statuses.push_back(typed);
      absl::StrAppend(&statuses, status, ",");
    }
    std::string fingerprint = QueryFingerprint(
        {caller.principal.SpiffeId(), "referrals", absl::StrCat(request->box()), statuses});
    absl::StatusOr<int64_t> after = DecodePageToken(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    absl::StatusOr<db::ReferralPage> page =
        store_->ListReferrals(filter, ViewerOf(caller), *after, *page_size);
    if (!page.ok()) return page.status();
    for (Referral& r : page->referrals) {
      note->record_ids.push_back(r.referral_id());
      *response->add_referrals() = std::move(r);
    }
    if (page->more) {
      response->set_next_page_token(EncodePageToken(page->last_position, fingerprint));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::Transition(grpc::CallbackServerContext* ctx,
                                                          absl::string_view method,
                                                          db::Transition transition,
                                                          absl::string_view text_field,
                                                          Referral* response) {
  std::string field(text_field);
  return gate_->Unary(ctx, method, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(transition.referral_id, "referral_id"); !s.ok()) return s;
    if (!field.empty()) {
      if (absl::Status s = CheckFreeText(transition.text, field, 2000, true); !s.ok()) return s;
    }
    note->record_ids.push_back(transition.referral_id);
    absl::StatusOr<Referral> changed = store_->TransitionReferral(transition, ViewerOf(caller));
    if (!changed.ok()) return changed.status();
    feed_->Wake();
    note->record_ids.push_back(changed->case_id());
    note->detail = enlace::v1::ReferralStatus_Name(changed->status());
    *response = *std::move(changed);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::AcceptReferral(
    grpc::CallbackServerContext* ctx, const enlace::v1::AcceptReferralRequest* request,
    Referral* response) {
  return Transition(ctx, kAcceptReferral,
                    {request->referral_id(), enlace::v1::REFERRAL_STATUS_ACCEPTED, "",
                     request->etag()},
                    "", response);
}

grpc::ServerUnaryReactor* ReferralServiceImpl::DeclineReferral(
    grpc::CallbackServerContext* ctx, const enlace::v1::DeclineReferralRequest* request,
    Referral* response) {
  return Transition(ctx, kDeclineReferral,
                    {request->referral_id(), enlace::v1::REFERRAL_STATUS_DECLINED,
                     request->reason(), request->etag()},
                    "reason", response);
}

grpc::ServerUnaryReactor* ReferralServiceImpl::CompleteReferral(
    grpc::CallbackServerContext* ctx, const enlace::v1::CompleteReferralRequest* request,
    Referral* response) {
  return Transition(ctx, kCompleteReferral,
                    {request->referral_id(), enlace::v1::REFERRAL_STATUS_COMPLETED,
                     request->outcome(), request->etag()},
                    "outcome", response);
}

grpc::ServerUnaryReactor* ReferralServiceImpl::WithdrawReferral(
    grpc::CallbackServerContext* ctx, const enlace::v1::WithdrawReferralRequest* request,
    Referral* response) {
  return Transition(ctx, kWithdrawReferral,
                    {request->referral_id(), enlace::v1::REFERRAL_STATUS_WITHDRAWN, "",
                     request->etag()},
                    "", response);
}

grpc::ServerWriteReactor<ReferralEvent>* ReferralServiceImpl::WatchReferrals(
    grpc::CallbackServerContext* ctx, const enlace::v1::WatchReferralsRequest* request) {
  return new WatchReactor(this, ctx, request);
}

}  // namespace enlace::server
