// ReferralService handlers and the WatchReferrals stream (see
// referral_service.h).
#include "server/referral_service.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/visibility.h"
#include "server/page_token.h"
#include "server/request_checks.h"

namespace enlace::server {
namespace {

using enlace::v1::Referral;
using enlace::v1::ReferralEvent;

constexpr char kCreateReferral[] = "/enlace.v1.ReferralService/CreateReferral";
constexpr char kGetReferral[] = "/enlace.v1.ReferralService/GetReferral";
constexpr char kListReferrals[] = "/enlace.v1.ReferralService/ListReferrals";
constexpr char kAcceptReferral[] = "/enlace.v1.ReferralService/AcceptReferral";
constexpr char kDeclineReferral[] = "/enlace.v1.ReferralService/DeclineReferral";
constexpr char kCompleteReferral[] = "/enlace.v1.ReferralService/CompleteReferral";
constexpr char kWithdrawReferral[] = "/enlace.v1.ReferralService/WithdrawReferral";
constexpr char kWatchReferrals[] = "/enlace.v1.ReferralService/WatchReferrals";

constexpr size_t kMemoryBatch = 64;  // events taken from the feed's window at a time
constexpr int kDatabaseBatch = 500;  // events read from the database at a time

db::Viewer ViewerOf(const Caller& caller) { return db::Viewer{caller.principal.name}; }

std::string WatchFingerprint(const Caller& caller) {
  return QueryFingerprint({caller.principal.SpiffeId(), "watch-referrals"});
}

}  // namespace

// One WatchReferrals stream. It pulls from the feed whenever it may write:
// when it starts, when the feed advances, and when a write completes. Its
// cursor only moves forward, past events delivered or skipped (not its
// agency's, or not allowed by the consent in force). Each event is checked
// against the consent again right before it is written. State is guarded
// by mu_; gRPC operations, the feed's Unsubscribe and the gate's
// ReleaseStream are started without holding it. The reactor owns itself
// (self_) until OnDone, so the feed and the gate, which hold it weakly,
// never call into a deleted stream.
class ReferralServiceImpl::WatchReactor final : public grpc::ServerWriteReactor<ReferralEvent>,
                                                public ReferralFeed::Subscriber,
                                                public GatedStream,
                                                public std::enable_shared_from_this<WatchReactor> {
 public:
  WatchReactor(ReferralServiceImpl* service, grpc::CallbackServerContext* ctx)
      : service_(service), ctx_(ctx), started_(absl::Now()) {}

  // Runs once, right after construction, with the reactor's own shared_ptr.
  void Start(std::shared_ptr<WatchReactor> self, const enlace::v1::WatchReferralsRequest& request) {
    self_ = std::move(self);
    caller_ =
        service_->gate_->AdmitStream(ctx_, kWatchReferrals, weak_from_this(), &stream_handle_);
    if (!caller_.ok()) {
      Refuse(caller_.status());
      return;
    }
    fingerprint_ = WatchFingerprint(*caller_);
    losses_at_start_ = service_->agreements_->LossesOf(caller_->principal.name);
    int64_t cursor = 0;
    if (request.resume_token().empty()) {
      cursor = service_->feed_->head();  // from now on
    } else {
      absl::StatusOr<int64_t> resume =
          service_->tokens_->Decode(request.resume_token(), fingerprint_, "resume_token");
      if (!resume.ok()) {
        Refuse(resume.status());
        return;
      }
      cursor = *resume;
    }
    {
      absl::MutexLock lock(&mu_);
      cursor_ = cursor;
      ready_ = true;  // caller_ and fingerprint_ are set: Pump may run
    }
    // The position the watch starts from, at once: a client that opened a
    // watch "from now" can save it before the first event arrives.
    ctx_->AddInitialMetadata("enlace-resume-token",
                             service_->tokens_->Encode(cursor, fingerprint_));
    StartSendInitialMetadata();
    subscription_ = service_->feed_->Subscribe(weak_from_this());
    Pump();
  }

  void OnFeedAdvanced() override { Pump(); }

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

  void OnSendInitialMetadataDone(bool) override {}

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
    if (subscription_ != 0) service_->feed_->Unsubscribe(subscription_);
    if (stream_handle_ != 0) service_->gate_->ReleaseStream(stream_handle_);
    std::shared_ptr<WatchReactor> last = std::move(self_);  // may delete this on return
  }

 private:
  // Whether the agreements in force let `event` reach this stream's agency:
  // one with the arrival's submitter and one between the referral's two
  // agencies, each covering a purpose that allows referrals (and, for the
  // first, given by the consent). The consent itself is the feed's check.
  bool FlowAllowed(const db::FeedEvent& event) const {
    const uint32_t referral_purposes = db::PurposesAllowing(db::Reach::kReferral);
    const absl::Time now = absl::Now();
    return service_->agreements_->Allows(event.arrival_submitter, caller_->principal.name,
                                         event.consent.purposes_mask & referral_purposes, now) &&
           service_->agreements_->Allows(event.from_agency, event.to_agency, referral_purposes,
                                         now);
  }

  // Ends a call refused before it started streaming.
  void Refuse(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      finishing_ = true;
    }
    service_->gate_->FinishAudited(ctx_, kWatchReferrals, caller_, status, AuditNote{}, started_,
                                   [this](const grpc::Status& s) { Finish(s); });
  }

  // Moves the stream on: takes events, starts a write or a database read,
  // or ends the stream once it was cancelled, failed or terminated and
  // nothing is in flight.
  void Pump() {
    bool write = false;
    bool fetch = false;
    bool end = false;
    int64_t from = 0, up_to = 0;
    absl::Status outcome;
    AuditNote delivery;  // the batch about to be delivered, to audit first
    {
      absl::MutexLock lock(&mu_);
      if (finishing_ || !ready_) return;
      if (error_.ok() &&
          service_->agreements_->LossesOf(caller_->principal.name) != losses_at_start_) {
        error_ = absl::FailedPreconditionError(absl::StrCat(
            "a data-sharing agreement of ", caller_->principal.name,
            " ended or expired: this watch ends; resume it to go on under the agreements in "
            "force"));
      }
      if (cancelled_ || failed_ || !error_.ok() || !terminated_.ok()) {
        if (writing_ || fetching_ || auditing_) return;  // they come back here when done
        finishing_ = true;
        end = true;
        outcome = !terminated_.ok() ? terminated_
                  : !error_.ok()    ? error_
                                    : absl::CancelledError("the watch was cancelled");
      } else if (!writing_ && !fetching_ && !auditing_) {
        if (!deliver_.empty()) {
          // Audited already: write the next one.
          in_flight_ = std::move(deliver_.front());
          deliver_.pop_front();
          ++delivered_;
          writing_ = write = true;
        } else {
          // Gather the next batch the consent in force still allows; it is
          // audited (every referral and case id) before any of it is written.
          const std::string& agency = caller_->principal.name;
          std::vector<std::shared_ptr<const ReferralEvent>> batch;
          while (batch.size() < kMemoryBatch) {
            if (pending_.empty()) {
              if (!batch.empty()) break;  // deliver what is gathered first
              ReferralFeed::Batch collected =
                  service_->feed_->Collect(cursor_, agency, kMemoryBatch);
              if (collected.needs_database) {
                fetching_ = fetch = true;
                from = cursor_;
                up_to = collected.database_up_to;
                break;
              }
              for (ReferralFeed::Pending& p : collected.events) pending_.push_back(std::move(p));
              cursor_ = collected.cursor;
              if (pending_.empty()) break;  // nothing new for this agency
            }
            const ReferralFeed::Pending& next = pending_.front();
            ReferralFeed::Verdict verdict = service_->feed_->Recheck(agency, next);
            if (verdict == ReferralFeed::Verdict::kReread) {
              if (!batch.empty()) break;  // deliver the batch, then read again
              // Read again from the first undelivered event, with today's consent.
              cursor_ = next.event.seq - 1;
              pending_.clear();
              continue;
            }
            if (verdict == ReferralFeed::Verdict::kDeliver && FlowAllowed(next.event)) {
              delivery.record_ids.push_back(next.event.referral.referral_id());
              delivery.record_ids.push_back(next.event.referral.case_id());
              batch.push_back(service_->events_->Get(next.event, fingerprint_));
            }
            pending_.pop_front();
          }
          if (!batch.empty()) {
            auditing_ = true;
            delivery.detail = absl::StrCat("deliver events=", batch.size());
            auditing_batch_ = std::move(batch);
          }
        }
      }
    }
    if (end) {
      End(outcome);
      return;
    }
    if (!delivery.record_ids.empty()) {
      std::shared_ptr<WatchReactor> self = shared_from_this();
      service_->gate_->AuditDuringStream(
          ctx_, kWatchReferrals, *caller_, std::move(delivery),
          [self](const absl::Status& audited) { self->Audited(audited); });
      return;
    }
    if (fetch) {
      std::shared_ptr<WatchReactor> self = shared_from_this();
      std::string lane = caller_->principal.SpiffeId();
      if (!service_->work_->TrySubmit([self, from, up_to] { self->Fetch(from, up_to); }, lane)) {
        {
          absl::MutexLock lock(&mu_);
          fetching_ = false;
          error_ = absl::ResourceExhaustedError("server busy; resume the watch later");
        }
        Pump();  // nothing is in flight (a fetch means nothing was pending): ends the stream
        return;
      }
    }
    if (write) StartWrite(in_flight_.get());
  }

  // The audit event of a batch is committed (or failed: nothing of it is
  // delivered, and the stream ends).
  void Audited(const absl::Status& audited) {
    {
      absl::MutexLock lock(&mu_);
      auditing_ = false;
      if (audited.ok()) {
        for (auto& event : auditing_batch_) deliver_.push_back(std::move(event));
      } else {
        error_ = absl::UnavailableError(absl::StrCat("delivery not audited: ", audited.message()));
      }
      auditing_batch_.clear();
    }
    Pump();
  }

  // On the work pool: the events the feed's window no longer holds, allowed
  // by the consent as the database has it now.
  void Fetch(int64_t from, int64_t up_to) {
    int64_t checked_at = service_->feed_->head();  // before the read: conservative
    absl::StatusOr<std::vector<db::FeedEvent>> events =
        service_->store_->ReadFeed(from, up_to, caller_->principal.name, kDatabaseBatch);
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      if (!events.ok()) {
        error_ = events.status();
      } else {
        for (db::FeedEvent& event : *events) {
          pending_.push_back(ReferralFeed::Pending{std::move(event), checked_at});
        }
        cursor_ =
            static_cast<int>(events->size()) < kDatabaseBatch ? up_to : pending_.back().event.seq;
      }
    }
    Pump();
  }

  void End(const absl::Status& status) {
    AuditNote note;
    absl::StatusOr<Caller> audited_as = caller_;
    {
      absl::MutexLock lock(&mu_);
      // Each delivered batch has its own event, with every id.
      note.detail = absl::StrCat("events=", delivered_);
      // Ended by the gate: audited as the denial it is.
      if (!terminated_.ok()) audited_as = terminated_;
    }
    service_->gate_->FinishAudited(ctx_, kWatchReferrals, audited_as, status, std::move(note),
                                   started_, [this](const grpc::Status& s) { Finish(s); });
  }

  ReferralServiceImpl* const service_;
  grpc::CallbackServerContext* const ctx_;
  const absl::Time started_;
  std::shared_ptr<WatchReactor> self_;  // until OnDone
  absl::StatusOr<Caller> caller_;
  std::string fingerprint_;
  uint64_t stream_handle_ = 0;
  uint64_t subscription_ = 0;
  uint64_t losses_at_start_ = 0;  // the agency's agreement losses when it started

  absl::Mutex mu_;
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<ReferralFeed::Pending> pending_ ABSL_GUARDED_BY(mu_);
  // The message being written (shared with the agency's other streams);
  // set under mu_ before StartWrite.
  std::shared_ptr<const ReferralEvent> in_flight_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;  // admitted and set up
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  absl::Status terminated_ ABSL_GUARDED_BY(mu_);  // set by the gate
  int64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  bool auditing_ ABSL_GUARDED_BY(mu_) = false;
  // Audit in flight.
  std::vector<std::shared_ptr<const ReferralEvent>> auditing_batch_ ABSL_GUARDED_BY(mu_);
  // Audited, not yet written.
  std::deque<std::shared_ptr<const ReferralEvent>> deliver_ ABSL_GUARDED_BY(mu_);
};

ReferralServiceImpl::ReferralServiceImpl(CallGate* gate, const PageTokens* tokens,
                                         db::CaseStore* store, AgencyDirectory* agencies,
                                         ReferralFeed* feed, WorkPool* work,
                                         const SharingAgreementBook* agreements)
    : gate_(gate),
      tokens_(tokens),
      store_(store),
      agencies_(agencies),
      feed_(feed),
      work_(work),
      agreements_(agreements),
      events_(std::make_unique<FeedMessages>(tokens, feed->window())) {}

ReferralServiceImpl::~ReferralServiceImpl() = default;

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
                               request->reason(), ViewerOf(caller), note->ForChange());
    if (!created.ok()) return note->RecordRules(created.status());
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
    if (!found.ok()) return note->RecordRules(found.status());
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
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    absl::StatusOr<db::ReferralPage> page =
        store_->ListReferrals(filter, ViewerOf(caller), *after, *page_size);
    if (!page.ok()) return page.status();
    for (Referral& r : page->referrals) {
      note->record_ids.push_back(r.referral_id());
      *response->add_referrals() = std::move(r);
    }
    if (page->more) {
      response->set_next_page_token(tokens_->Encode(page->last_position, fingerprint));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::Transition(grpc::CallbackServerContext* ctx,
                                                          absl::string_view method,
                                                          const db::Transition& transition,
                                                          absl::string_view text_field,
                                                          Referral* response) {
  std::string field(text_field);
  return gate_->Unary(ctx, method, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(transition.referral_id, "referral_id"); !s.ok()) return s;
    if (!field.empty()) {
      if (absl::Status s = CheckFreeText(transition.text, field, 2000, true); !s.ok()) return s;
    }
    note->record_ids.push_back(transition.referral_id);
    // Noted before ForChange(), which copies the note into the change's event.
    note->detail = enlace::v1::ReferralStatus_Name(transition.to);
    absl::StatusOr<Referral> changed =
        store_->TransitionReferral(transition, ViewerOf(caller), note->ForChange());
    if (!changed.ok()) return note->RecordRules(changed.status());
    feed_->Wake();
    *response = *std::move(changed);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::AcceptReferral(
    grpc::CallbackServerContext* ctx, const enlace::v1::AcceptReferralRequest* request,
    Referral* response) {
  return Transition(
      ctx, kAcceptReferral,
      {request->referral_id(), enlace::v1::REFERRAL_STATUS_ACCEPTED, "", request->etag()}, "",
      response);
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
  return Transition(
      ctx, kWithdrawReferral,
      {request->referral_id(), enlace::v1::REFERRAL_STATUS_WITHDRAWN, "", request->etag()}, "",
      response);
}

grpc::ServerWriteReactor<ReferralEvent>* ReferralServiceImpl::WatchReferrals(
    grpc::CallbackServerContext* ctx, const enlace::v1::WatchReferralsRequest* request) {
  auto reactor = std::make_shared<WatchReactor>(this, ctx);
  reactor->Start(reactor, *request);
  return reactor.get();
}

}  // namespace enlace::server
