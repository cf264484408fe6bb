// ArrivalService handlers (see arrival_service.h). The streaming ingest keeps
// up to kMaxInFlight records per stream waiting for their batch commit or
// for their answer to be written; past that it stops reading, so a fast
// client, or one that never reads its answers, is slowed by flow control
// instead of filling the server's memory.
#include "server/arrival_service.h"

#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "server/arrival_validation.h"
#include "server/audit_log.h"
#include "server/duplicate_match.h"
#include "server/page_token.h"
#include "server/request_checks.h"

namespace enlace::server {
namespace {

using enlace::v1::Arrival;
using enlace::v1::RecordArrivalsRequest;
using enlace::v1::RecordArrivalsResponse;

constexpr char kRecordArrivals[] = "/enlace.v1.ArrivalService/RecordArrivals";
constexpr char kRecordArrival[] = "/enlace.v1.ArrivalService/RecordArrival";
constexpr char kGetArrival[] = "/enlace.v1.ArrivalService/GetArrival";
constexpr char kListArrivals[] = "/enlace.v1.ArrivalService/ListArrivals";
constexpr char kUpdateConsent[] = "/enlace.v1.ArrivalService/UpdateConsent";
constexpr char kRecordObjection[] = "/enlace.v1.ArrivalService/RecordObjection";
constexpr char kCorrectArrival[] = "/enlace.v1.ArrivalService/CorrectArrival";
constexpr char kListArrivalVersions[] = "/enlace.v1.ArrivalService/ListArrivalVersions";
constexpr char kExportReturneeData[] = "/enlace.v1.ArrivalService/ExportReturneeData";
constexpr char kEraseReturnee[] = "/enlace.v1.ArrivalService/EraseReturnee";
constexpr char kFindPossibleDuplicates[] = "/enlace.v1.ArrivalService/FindPossibleDuplicates";
constexpr char kLinkArrivals[] = "/enlace.v1.ArrivalService/LinkArrivals";
constexpr char kUnlinkArrivals[] = "/enlace.v1.ArrivalService/UnlinkArrivals";
constexpr size_t kMaxReasonCodePoints = 500;
// How many arrivals one LinkArrivals or UnlinkArrivals names.
constexpr int kMinLinked = 2;
constexpr int kMaxLinked = 20;

// Records of one stream awaiting their commit or the write of their answer.
constexpr int kMaxInFlight = 2000;
constexpr int kResumeBelow = 1000;

// An erased returnee's record takes no new personal data: no correction,
// no new consent (which could name a guardian again). Checked here first,
// so that the answer is this whatever the request (an erased record fails
// the arrival rules); the store checks again under the row's lock, where an
// erasure committed since this read still wins.
absl::Status RefuseErased(const Arrival& stored) {
  if (!stored.has_erased_at()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("arrival ", stored.arrival_id(),
                   " was erased (EraseReturnee): it takes no correction nor consent change"));
}

// A stored version as ListArrivalVersions and ExportReturneeData show it.
enlace::v1::ArrivalVersion VersionOf(db::ArrivalVersionRecord record) {
  enlace::v1::ArrivalVersion version;
  version.set_version(record.version);
  *version.mutable_arrival() = std::move(record.content);
  version.set_reason(std::move(record.reason));
  version.set_corrected_by(std::move(record.corrected_by));
  *version.mutable_corrected_at() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(record.corrected_at_us);
  return version;
}

absl::string_view OutcomeName(enlace::v1::Outcome outcome) {
  switch (outcome) {
    case enlace::v1::OUTCOME_CREATED: return "created";
    case enlace::v1::OUTCOME_ALREADY_RECORDED: return "already_recorded";
    default: return "rejected";
  }
}

// Fills a per-record error the way a unary call's status would read.
void SetRecordError(const absl::Status& status, absl::string_view field,
                    enlace::v1::RecordError* error) {
  grpc::Status sent = ToGrpcStatus(status);
  error->set_code(sent.error_code());
  error->set_message(sent.error_message());
  error->set_field(std::string(field));
}

// Stores the gazetteer's spelling of a municipality matched ignoring case, so
// filters and reports do not split one place by spelling.
void CanonicalizeMunicipality(Arrival* arrival) {
  std::optional<std::string> canonical = Gazetteer::Default().CanonicalMunicipality(
      arrival->destination().department_code(), arrival->destination().municipality());
  if (canonical) arrival->mutable_destination()->set_municipality(*std::move(canonical));
}

}  // namespace

// One RecordArrivals stream. All state is guarded by mu_; gRPC operations
// (StartRead, StartWrite, Finish) are started outside the lock, after the
// state under the lock has recorded that they are pending. The reactor owns
// itself (self_) until OnDone: the gate, which may terminate it, and the
// batcher's callbacks hold it through shared_ptrs.
//
// Flow control: the stream stops reading while kMaxInFlight of its records
// are waiting for their commit or their answer is not yet written (a client
// that sends but never reads fills nothing but its own socket), and reads
// again once that falls below kResumeBelow.
class ArrivalServiceImpl::RecordArrivalsReactor final
    : public grpc::ServerBidiReactor<RecordArrivalsRequest, RecordArrivalsResponse>,
      public GatedStream,
      public std::enable_shared_from_this<RecordArrivalsReactor> {
 public:
  RecordArrivalsReactor(ArrivalServiceImpl* service, grpc::CallbackServerContext* ctx)
      : service_(service), ctx_(ctx), started_(absl::Now()) {}

  void Start(std::shared_ptr<RecordArrivalsReactor> self) {
    self_ = std::move(self);
    caller_ =
        service_->gate_->AdmitStream(ctx_, kRecordArrivals, weak_from_this(), &stream_handle_);
    if (!caller_.ok()) {
      {
        absl::MutexLock lock(&mu_);
        finishing_ = true;
      }
      EndCall(caller_.status(), caller_);
      return;
    }
    // Each batch of this stream's records commits an event of this call
    // naming them, before any of them is answered.
    batch_audit_ = std::make_shared<const db::AuditRecord>(
        CallGate::NoteFor(ctx_, kRecordArrivals, *caller_, started_).call());
    {
      absl::MutexLock lock(&mu_);
      ready_ = true;
      read_pending_ = true;
    }
    StartRead(&request_);
  }

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
    MaybeFinish();
  }

  void OnReadDone(bool ok) override {
    bool accept = ok;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        read_pending_ = false;
        reads_done_ = true;
      } else if (!terminated_.ok()) {
        // Ended by the gate: what arrives now is not the caller's to record.
        read_pending_ = false;
        accept = false;
      }
    }
    if (!accept) {
      MaybeFinish();
      return;
    }
    Arrival arrival = std::move(*request_.mutable_arrival());
    request_.Clear();
    Accept(std::move(arrival));
    ContinueReading();
  }

  void OnWriteDone(bool ok) override {
    const RecordArrivalsResponse* next = nullptr;
    bool more = false;
    bool resume = false;
    {
      absl::MutexLock lock(&mu_);
      writes_.pop_front();
      if (!ok) {  // the client is gone; its remaining answers have no one to go to
        write_failed_ = true;
        writes_.clear();
      }
      if (writes_.empty()) {
        writing_ = false;
      } else {
        next = &writes_.front();
        more = writes_.size() > 1;
      }
      resume = ResumeReadingLocked();
    }
    if (next != nullptr) {
      StartWrite(next, more ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
    }
    if (resume) StartRead(&request_);
    if (next == nullptr) MaybeFinish();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    MaybeFinish();
  }

  void OnDone() override {
    // Released only now: until here the gate may still end the stream.
    if (stream_handle_ != 0) service_->gate_->ReleaseStream(stream_handle_);
    std::shared_ptr<RecordArrivalsReactor> last = std::move(self_);  // may delete this on return
  }

 private:
  // Validates one record and hands it to the batcher, or answers it at once.
  void Accept(Arrival arrival) {
    std::string external_id = arrival.external_id();
    ValidationContext validation = MakeValidationContext(
        absl::Now(), [this](absl::string_view code) { return service_->agencies_->IsKnown(code); });
    if (std::optional<FieldViolation> violation = ValidateNewArrival(arrival, validation)) {
      RecordArrivalsResponse response;
      response.set_external_id(external_id);
      response.set_outcome(enlace::v1::OUTCOME_REJECTED);
      SetRecordError(ToStatus(*violation), violation->field, response.mutable_error());
      Respond(std::move(response));
      return;
    }
    CanonicalizeMunicipality(&arrival);
    {
      absl::MutexLock lock(&mu_);
      ++outstanding_;
    }
    std::shared_ptr<RecordArrivalsReactor> self = shared_from_this();
    bool queued = service_->batcher_->Submit(
        db::NewArrival{std::move(arrival), caller_->principal.name, batch_audit_},
        [self, external_id](db::RecordResult result) {
          self->OnRecorded(external_id, std::move(result));
        });
    if (!queued) {
      RecordArrivalsResponse response;
      response.set_external_id(external_id);
      response.set_outcome(enlace::v1::OUTCOME_REJECTED);
      SetRecordError(absl::ResourceExhaustedError("ingest queue is full; resend this record later"),
                     "", response.mutable_error());
      Respond(std::move(response), /*settles_outstanding=*/true);
    }
  }

  // Runs on an ingest writer thread once the record's batch committed (or failed).
  void OnRecorded(const std::string& external_id, db::RecordResult result) {
    RecordArrivalsResponse response;
    response.set_external_id(external_id);
    response.set_outcome(result.outcome);
    response.set_arrival_id(result.arrival_id);
    if (!result.status.ok()) {
      response.set_outcome(enlace::v1::OUTCOME_REJECTED);
      SetRecordError(result.status,
                     absl::IsAlreadyExists(result.status) ? "arrival.external_id" : "",
                     response.mutable_error());
    }
    Respond(std::move(response), /*settles_outstanding=*/true);
    MaybeFinish();
  }

  // Records awaiting their commit or the write of their answer.
  int HeldLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return outstanding_ + static_cast<int>(writes_.size());
  }

  // True (and the read marked pending) when a paused stream may read again.
  bool ResumeReadingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!read_paused_ || cancelled_ || !terminated_.ok() || HeldLocked() >= kResumeBelow) {
      return false;
    }
    read_paused_ = false;
    read_pending_ = true;
    return true;
  }

  void ContinueReading() {
    bool read = false;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_ || !terminated_.ok()) {
        read_pending_ = false;
      } else if (HeldLocked() >= kMaxInFlight) {
        read_pending_ = false;
        read_paused_ = true;
      }
      read = read_pending_;
    }
    if (read) {
      StartRead(&request_);
    } else {
      MaybeFinish();
    }
  }

  // Queues a response and starts writing if no write is in flight.
  // `settles_outstanding`: the answer of a record counted in outstanding_,
  // which is decremented in the same critical section as the answer is
  // queued. Done apart, a MaybeFinish in between (the previous answer's
  // OnWriteDone) saw nothing outstanding and nothing to write and ended the
  // stream OK with this record unanswered (seen under ASan).
  void Respond(RecordArrivalsResponse response, bool settles_outstanding = false) {
    service_->metrics_->RecordArrival(OutcomeName(response.outcome()));
    const RecordArrivalsResponse* first = nullptr;
    bool resume = false;
    {
      absl::MutexLock lock(&mu_);
      if (settles_outstanding) --outstanding_;
      ++answered_;
      switch (response.outcome()) {
        case enlace::v1::OUTCOME_CREATED: ++created_; break;
        case enlace::v1::OUTCOME_ALREADY_RECORDED: ++already_recorded_; break;
        default: ++rejected_; break;
      }
      if (write_failed_) {
        resume = ResumeReadingLocked();
      } else {
        writes_.push_back(std::move(response));
        if (!writing_) {
          writing_ = true;
          first = &writes_.front();
        }
      }
    }
    if (first != nullptr) StartWrite(first);
    if (resume) StartRead(&request_);
  }

  void MaybeFinish() {
    absl::Status status;
    absl::StatusOr<Caller> audited_as;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_ || !ready_ || writing_ || outstanding_ > 0) return;
      if (!terminated_.ok()) {
        // Ended by the gate: finish once every record read is answered,
        // without waiting for the client's next message.
        status = terminated_;
        audited_as = terminated_;
      } else {
        if (read_pending_) return;
        if (!reads_done_ && !cancelled_ && !read_paused_) return;
        if (read_paused_ && !cancelled_) return;  // waiting for commits to resume reading
        if (cancelled_) status = absl::CancelledError("the client cancelled the stream");
        audited_as = caller_;
      }
      finishing_ = true;
    }
    EndCall(status, audited_as);
  }

  void EndCall(const absl::Status& status, const absl::StatusOr<Caller>& audited_as) {
    AuditNote note;
    {
      absl::MutexLock lock(&mu_);
      note.detail = absl::StrCat("records=", answered_, " created=", created_,
                                 " already_recorded=", already_recorded_, " rejected=", rejected_);
    }
    service_->gate_->FinishAudited(ctx_, kRecordArrivals, audited_as, status, std::move(note),
                                   started_, [this](const grpc::Status& s) { Finish(s); });
  }

  ArrivalServiceImpl* const service_;
  grpc::CallbackServerContext* const ctx_;
  const absl::Time started_;
  std::shared_ptr<RecordArrivalsReactor> self_;  // until OnDone
  absl::StatusOr<Caller> caller_;
  uint64_t stream_handle_ = 0;  // from CallGate::AdmitStream, 0 when not admitted
  RecordArrivalsRequest request_;  // owned by the pending read

  absl::Mutex mu_;
  std::deque<RecordArrivalsResponse> writes_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool ready_ ABSL_GUARDED_BY(mu_) = false;  // admitted; caller_ is set
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool read_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status terminated_ ABSL_GUARDED_BY(mu_);  // set by the gate
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t answered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t created_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t already_recorded_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const db::AuditRecord> batch_audit_;  // set before reading starts
};

ArrivalServiceImpl::ArrivalServiceImpl(CallGate* gate, const PageTokens* tokens,
                                       db::ArrivalStore* store, IngestBatcher* batcher,
                                       AgencyDirectory* agencies, Metrics* metrics,
                                       db::ReturneeStore* returnees, db::AuditStore* audit_store,
                                       db::PersonStore* persons)
    : gate_(gate),
      tokens_(tokens),
      store_(store),
      batcher_(batcher),
      agencies_(agencies),
      metrics_(metrics),
      returnees_(returnees),
      audit_store_(audit_store),
      persons_(persons) {}

grpc::ServerBidiReactor<RecordArrivalsRequest, RecordArrivalsResponse>*
ArrivalServiceImpl::RecordArrivals(grpc::CallbackServerContext* ctx) {
  auto reactor = std::make_shared<RecordArrivalsReactor>(this, ctx);
  reactor->Start(reactor);
  return reactor.get();
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::RecordArrival(
    grpc::CallbackServerContext* ctx, const enlace::v1::RecordArrivalRequest* request,
    enlace::v1::RecordArrivalResponse* response) {
  return gate_->UnaryAsync(
      ctx, kRecordArrival,
      [=](const Caller& caller, const AuditNote& call, const CallGate::Completion& done) {
        Arrival arrival = request->arrival();
        ValidationContext validation = MakeValidationContext(
            absl::Now(), [this](absl::string_view code) { return agencies_->IsKnown(code); });
        if (std::optional<FieldViolation> violation = ValidateNewArrival(arrival, validation)) {
          metrics_->RecordArrival("rejected");
          done(ToStatus(*violation), AuditNote{});
          return;
        }
        CanonicalizeMunicipality(&arrival);
        std::string external_id = arrival.external_id();
        // The work-pool thread is released now; the batch writer finishes the call.
        auto shared_done = std::make_shared<CallGate::Completion>(done);
        bool queued = batcher_->Submit(
            db::NewArrival{std::move(arrival), caller.principal.name,
                           std::make_shared<const db::AuditRecord>(call.call())},
            [this, response, external_id, shared_done](db::RecordResult result) {
              metrics_->RecordArrival(result.status.ok() ? OutcomeName(result.outcome)
                                                         : "rejected");
              AuditNote note;
              // The batch committed this call's event with the record (or with
              // its refusal as a conflicting resend).
              if (result.audit_seq != 0) note.MarkAuditedWithChange();
              if (!result.status.ok()) {
                (*shared_done)(absl::IsAlreadyExists(result.status)
                                   ? absl::AlreadyExistsError(absl::StrCat(
                                         "arrival.external_id: ", external_id,
                                         " was already recorded with different content"))
                                   : result.status,
                               std::move(note));
                return;
              }
              response->set_external_id(external_id);
              response->set_arrival_id(result.arrival_id);
              response->set_outcome(result.outcome);
              note.record_ids.push_back(result.arrival_id);
              (*shared_done)(absl::OkStatus(), std::move(note));
            });
        if (!queued) {
          (*shared_done)(absl::ResourceExhaustedError("ingest queue is full; retry later"),
                         AuditNote{});
        }
      });
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::GetArrival(
    grpc::CallbackServerContext* ctx, const enlace::v1::GetArrivalRequest* request,
    Arrival* response) {
  return gate_->Unary(ctx, kGetArrival, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    note->record_ids.push_back(request->arrival_id());
    absl::StatusOr<Arrival> arrival =
        store_->Get(request->arrival_id(), db::Viewer{caller.principal.name});
    if (!arrival.ok()) return note->RecordRules(arrival.status());
    *response = *std::move(arrival);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::ListArrivals(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListArrivalsRequest* request,
    enlace::v1::ListArrivalsResponse* response) {
  return gate_->Unary(ctx, kListArrivals, [=](const Caller& caller, AuditNote* note) {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    db::ArrivalFilter filter{request->department_code(), request->municipality(),
                             request->arrival_date_from(), request->arrival_date_to()};
    if (!filter.department_code.empty() &&
        !Gazetteer::Default().HasDepartment(filter.department_code)) {
      return absl::InvalidArgumentError(
          "department_code: not a department of the gazetteer (e.g. SV-SS)");
    }
    if (std::optional<std::string> problem = CheckCleanText(filter.municipality, 100)) {
      if (!filter.municipality.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("municipality: ", *problem));
      }
    }
    std::optional<absl::CivilDay> from, to;
    if (!filter.arrival_date_from.empty() && !(from = ParseDate(filter.arrival_date_from))) {
      return absl::InvalidArgumentError("arrival_date_from: must be a real date YYYY-MM-DD");
    }
    if (!filter.arrival_date_to.empty() && !(to = ParseDate(filter.arrival_date_to))) {
      return absl::InvalidArgumentError("arrival_date_to: must be a real date YYYY-MM-DD");
    }
    if (from && to && *from > *to) {
      return absl::InvalidArgumentError("arrival_date_from: must not be after arrival_date_to");
    }
    std::string fingerprint =
        QueryFingerprint({caller.principal.SpiffeId(), filter.department_code, filter.municipality,
                          filter.arrival_date_from, filter.arrival_date_to});
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    absl::StatusOr<db::ArrivalPage> page =
        store_->List(filter, db::Viewer{caller.principal.name}, *after, *page_size);
    if (!page.ok()) return page.status();
    for (Arrival& arrival : page->arrivals) {
      note->record_ids.push_back(arrival.arrival_id());
      *response->add_arrivals() = std::move(arrival);
    }
    if (page->more) {
      response->set_next_page_token(tokens_->Encode(page->last_position, fingerprint));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::UpdateConsent(
    grpc::CallbackServerContext* ctx, const enlace::v1::UpdateConsentRequest* request,
    Arrival* response) {
  return gate_->Unary(ctx, kUpdateConsent, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    if (!request->has_consent()) return absl::InvalidArgumentError("consent: required");
    ValidationContext validation = MakeValidationContext(
        absl::Now(), [this](absl::string_view code) { return agencies_->IsKnown(code); });
    // The consent's own shape first (a guardian, when named, well-formed);
    // then whether the stored returnee needs one, which takes a read.
    const enlace::v1::Consent& consent = request->consent();
    if (std::optional<FieldViolation> violation =
            ValidateConsent(consent, "consent", validation, consent.has_guardian())) {
      return ToStatus(*violation);
    }
    note->record_ids.push_back(request->arrival_id());
    const db::Viewer viewer{caller.principal.name};
    absl::StatusOr<Arrival> stored = store_->Get(request->arrival_id(), viewer);
    if (!stored.ok()) return note->RecordRules(stored.status());
    if (absl::Status s = RefuseErased(*stored); !s.ok()) return s;
    if (std::optional<FieldViolation> violation =
            ValidateConsent(consent, "consent", validation, ReturneeWasMinor(*stored))) {
      return ToStatus(*violation);
    }
    // Noted before ForChange(), which copies the note into the change's event.
    note->detail = absl::StrCat("consent_version=", stored->consent_version() + 1);
    absl::StatusOr<Arrival> arrival =
        store_->UpdateConsent(request->arrival_id(), consent, viewer, note->ForChange());
    if (!arrival.ok()) return note->RecordRules(arrival.status());
    *response = *std::move(arrival);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::RecordObjection(
    grpc::CallbackServerContext* ctx, const enlace::v1::RecordObjectionRequest* request,
    Arrival* response) {
  return gate_->Unary(ctx, kRecordObjection, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    if (request->purpose() == enlace::v1::PURPOSE_UNSPECIFIED ||
        !enlace::v1::Purpose_IsValid(request->purpose())) {
      return absl::InvalidArgumentError("purpose: required, a known purpose");
    }
    note->record_ids.push_back(request->arrival_id());
    note->detail = absl::StrCat("objection ", enlace::v1::Purpose_Name(request->purpose()));
    absl::StatusOr<Arrival> arrival =
        store_->RecordObjection(request->arrival_id(), request->purpose(),
                                db::Viewer{caller.principal.name}, note->ForChange());
    if (!arrival.ok()) return note->RecordRules(arrival.status());
    *response = *std::move(arrival);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::CorrectArrival(
    grpc::CallbackServerContext* ctx, const enlace::v1::CorrectArrivalRequest* request,
    Arrival* response) {
  return gate_->Unary(ctx, kCorrectArrival, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->reason(), "reason", kMaxReasonCodePoints,
                                       /*required=*/true);
        !s.ok()) {
      return s;
    }
    note->record_ids.push_back(request->arrival_id());
    const db::Viewer submitter{caller.principal.name};
    absl::StatusOr<Arrival> stored = store_->Get(request->arrival_id(), submitter);
    if (!stored.ok()) return note->RecordRules(stored.status());
    if (absl::Status s = RefuseErased(*stored); !s.ok()) return s;
    ValidationContext validation = MakeValidationContext(
        absl::Now(), [this](absl::string_view code) { return agencies_->IsKnown(code); });
    const std::vector<std::string> paths(request->update_mask().paths().begin(),
                                         request->update_mask().paths().end());
    Arrival corrected;
    if (std::optional<FieldViolation> violation =
            ApplyCorrection(*stored, request->arrival(), paths, validation, &corrected)) {
      return ToStatus(*violation);
    }
    CanonicalizeMunicipality(&corrected);
    db::ArrivalCorrection correction{request->arrival_id(), std::move(corrected), stored->version(),
                                     request->reason()};
    // Which fields, never their values nor the reason: the audit log holds
    // no personal data. (Noted before ForChange(), which copies the note.)
    note->detail =
        absl::StrCat("version=", stored->version() + 1, " fields=", absl::StrJoin(paths, ","));
    // The store corrects only what the caller submitted (NOT_FOUND otherwise).
    absl::StatusOr<Arrival> result = store_->Correct(correction, submitter, note->ForChange());
    if (!result.ok()) return note->RecordRules(result.status());
    *response = *std::move(result);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::ListArrivalVersions(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListArrivalVersionsRequest* request,
    enlace::v1::ListArrivalVersionsResponse* response) {
  return gate_->Unary(ctx, kListArrivalVersions, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    // A page starts after the version number its token carries.
    const std::string fingerprint =
        QueryFingerprint({caller.principal.SpiffeId(), "versions", request->arrival_id()});
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    note->record_ids.push_back(request->arrival_id());
    absl::StatusOr<std::vector<db::ArrivalVersionRecord>> versions =
        store_->Versions(request->arrival_id(), db::Viewer{caller.principal.name});
    if (!versions.ok()) return note->RecordRules(versions.status());
    for (db::ArrivalVersionRecord& record : *versions) {
      if (record.version <= *after) continue;
      if (response->versions_size() == *page_size) {
        const int64_t last = response->versions(response->versions_size() - 1).version();
        response->set_next_page_token(tokens_->Encode(last, fingerprint));
        break;
      }
      *response->add_versions() = VersionOf(std::move(record));
    }
    return absl::OkStatus();
  });
}

namespace {

// Every audit event naming one of `record_ids`, in sequence order, each once.
absl::StatusOr<std::vector<db::AuditRecord>> AccessesOf(
    db::AuditStore& audit_store, const std::vector<std::string>& record_ids) {
  constexpr int kPage = 1000;
  std::map<int64_t, db::AuditRecord> by_seq;
  for (const std::string& id : record_ids) {
    int64_t after = 0;
    while (true) {
      absl::StatusOr<std::vector<db::AuditRecord>> page =
          audit_store.ListForRecord(id, after, kPage);
      if (!page.ok()) return page.status();
      for (db::AuditRecord& record : *page) {
        after = record.seq;
        by_seq.emplace(record.seq, std::move(record));
      }
      if (static_cast<int>(page->size()) < kPage) break;
    }
  }
  std::vector<db::AuditRecord> accesses;
  accesses.reserve(by_seq.size());
  for (auto& [seq, record] : by_seq) accesses.push_back(std::move(record));
  return accesses;
}

}  // namespace

grpc::ServerUnaryReactor* ArrivalServiceImpl::ExportReturneeData(
    grpc::CallbackServerContext* ctx, const enlace::v1::ExportReturneeDataRequest* request,
    enlace::v1::ReturneeDataExport* response) {
  return gate_->Unary(ctx, kExportReturneeData, [=](const Caller& caller, AuditNote* note) {
    if (returnees_ == nullptr || audit_store_ == nullptr) {
      return absl::FailedPreconditionError("this server has no returnee store");
    }
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    note->record_ids.push_back(request->arrival_id());
    const db::Viewer submitter{caller.principal.name};
    // Only for an arrival the caller recorded: NOT_FOUND otherwise, even
    // when its consent lets the caller read it.
    std::vector<std::string> linked;
    absl::StatusOr<enlace::v1::ReturneeData> data =
        HeldAboutArrival(request->arrival_id(), submitter, &note->record_ids, &linked);
    if (!data.ok()) return note->RecordRules(data.status());
    // The request is about the person: every arrival linked with this one.
    for (const std::string& id : linked) {
      note->record_ids.push_back(id);
      absl::StatusOr<enlace::v1::ReturneeData> other =
          HeldAboutArrival(id, submitter, &note->record_ids, nullptr);
      if (!other.ok()) return other.status();
      *data->add_linked_arrivals() = *std::move(other);
    }
    const google::protobuf::Timestamp now =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
    *data->mutable_exported_at() = now;
    // Counts only: the audit log holds no personal data.
    note->detail =
        absl::StrCat("cases=", data->cases_size(), " referrals=", data->referrals_size(),
                     " initiatives=", data->initiatives_size(), " accesses=", data->accesses_size(),
                     " linked_arrivals=", data->linked_arrivals_size());

    std::string document;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.always_print_primitive_fields = true;  // an empty field reads as such
    const auto converted = google::protobuf::util::MessageToJsonString(*data, &document, options);
    if (!converted.ok()) {
      return absl::InternalError(
          absl::StrCat("the export did not convert to JSON: ", std::string(converted.message())));
    }
    response->set_arrival_id(request->arrival_id());
    *response->mutable_exported_at() = now;
    response->set_document(std::move(document));
    return absl::OkStatus();
  });
}

absl::StatusOr<enlace::v1::ReturneeData> ArrivalServiceImpl::HeldAboutArrival(
    const std::string& arrival_id, const db::Viewer& submitter,
    std::vector<std::string>* record_ids, std::vector<std::string>* linked) {
  absl::StatusOr<db::HeldRecords> held = returnees_->HeldAbout(arrival_id, submitter);
  if (!held.ok()) return held.status();
  absl::StatusOr<Arrival> arrival = store_->Get(arrival_id, submitter);
  if (!arrival.ok()) return arrival.status();
  absl::StatusOr<std::vector<db::ArrivalVersionRecord>> versions =
      store_->Versions(arrival_id, submitter);
  if (!versions.ok()) return versions.status();

  enlace::v1::ReturneeData data;
  *data.mutable_arrival() = *std::move(arrival);
  for (db::ArrivalVersionRecord& record : *versions) {
    *data.add_versions() = VersionOf(std::move(record));
  }
  for (enlace::v1::ConsentVersion& v : held->consent_history) {
    *data.add_consent_history() = std::move(v);
  }
  // The export reads every record it names: each one's access log shows it.
  std::vector<std::string> read = {arrival_id};
  for (enlace::v1::Case& c : held->cases) {
    read.push_back(c.case_id());
    for (const enlace::v1::ServiceRecord& s : c.services()) read.push_back(s.service_id());
    *data.add_cases() = std::move(c);
  }
  for (enlace::v1::Referral& r : held->referrals) {
    read.push_back(r.referral_id());
    *data.add_referrals() = std::move(r);
  }
  for (enlace::v1::Initiative& i : held->initiatives) {
    read.push_back(i.initiative_id());
    *data.add_initiatives() = std::move(i);
  }
  for (enlace::v1::PersonDecision& d : held->person_decisions) {
    *data.add_person_decisions() = std::move(d);
  }
  absl::StatusOr<std::vector<db::AuditRecord>> accesses = AccessesOf(*audit_store_, read);
  if (!accesses.ok()) return accesses.status();
  for (const db::AuditRecord& record : *accesses) *data.add_accesses() = AuditEventOf(record);
  record_ids->insert(record_ids->end(), read.begin() + 1, read.end());
  if (linked != nullptr) *linked = std::move(held->linked_arrival_ids);
  return data;
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::EraseReturnee(
    grpc::CallbackServerContext* ctx, const enlace::v1::EraseReturneeRequest* request,
    enlace::v1::EraseReturneeResponse* response) {
  return gate_->Unary(ctx, kEraseReturnee, [=](const Caller& caller, AuditNote* note) {
    if (returnees_ == nullptr) {
      return absl::FailedPreconditionError("this server has no returnee store");
    }
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->reason(), "reason", kMaxReasonCodePoints,
                                       /*required=*/true);
        !s.ok()) {
      return s;
    }
    note->record_ids.push_back(request->arrival_id());
    // That an erasure happened, never what it erased nor why (the reason is
    // free text). Noted before ForChange(), which copies the note.
    note->detail = "erasure";
    absl::StatusOr<db::Erasure> erased =
        returnees_->Erase(request->arrival_id(), request->reason(),
                          db::Viewer{caller.principal.name}, note->ForChange());
    if (!erased.ok()) return note->RecordRules(erased.status());
    response->set_arrival_id(request->arrival_id());
    *response->mutable_erased_at() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(erased->erased_at_us);
    response->set_already_erased(erased->already_erased);
    for (std::string& id : erased->linked_arrival_ids)
      response->add_linked_arrival_ids(std::move(id));
    return absl::OkStatus();
  });
}

namespace {

// A candidate's keyset position in FindPossibleDuplicates' order (highest
// score first, then recording order): the score's complement in thousandths
// above the arrival's seq. Always above 0, the position before the first.
int64_t DuplicatePosition(float score, int64_t seq) {
  const int64_t complement = 1000 - std::lround(score * 1000.0F);
  return ((complement + 1) << 43) | seq;
}

// The arrival_ids of a LinkArrivals or UnlinkArrivals, checked with its
// reason: 2 to 20 ids, none twice (an arrival is one person with itself
// already), and a reason.
absl::StatusOr<std::vector<std::string>> DecidedArrivals(
    const google::protobuf::RepeatedPtrField<std::string>& ids, const std::string& reason) {
  if (ids.size() < kMinLinked || ids.size() > kMaxLinked) {
    return absl::InvalidArgumentError(absl::StrCat("arrival_ids: name ", kMinLinked, " to ",
                                                   kMaxLinked, " arrivals, not ", ids.size()));
  }
  for (int i = 0; i < ids.size(); ++i) {
    if (absl::Status s = RequireId(ids[i], "arrival_ids"); !s.ok()) return s;
    for (int j = 0; j < i; ++j) {
      if (ids[i] == ids[j]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "arrival_ids: ", ids[i], " is named twice (an arrival is not linked to itself)"));
      }
    }
  }
  if (absl::Status s = CheckFreeText(reason, "reason", kMaxReasonCodePoints, /*required=*/true);
      !s.ok()) {
    return s;
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

void SetLinkedPerson(db::PersonGroup group, enlace::v1::LinkedPerson* person) {
  person->set_person_id(std::move(group.person_id));
  for (std::string& id : group.arrival_ids) person->add_arrival_ids(std::move(id));
}

}  // namespace

grpc::ServerUnaryReactor* ArrivalServiceImpl::FindPossibleDuplicates(
    grpc::CallbackServerContext* ctx, const enlace::v1::FindPossibleDuplicatesRequest* request,
    enlace::v1::FindPossibleDuplicatesResponse* response) {
  return gate_->Unary(ctx, kFindPossibleDuplicates, [=](const Caller& caller, AuditNote* note) {
    if (persons_ == nullptr) {
      return absl::FailedPreconditionError("this server has no person store");
    }
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    const std::string fingerprint =
        QueryFingerprint({caller.principal.SpiffeId(), "duplicates", request->arrival_id()});
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    note->record_ids.push_back(request->arrival_id());
    // Only about an arrival the caller may see, among those it may see.
    absl::StatusOr<db::DuplicateCandidates> found =
        persons_->CandidatesFor(request->arrival_id(), db::Viewer{caller.principal.name});
    if (!found.ok()) return note->RecordRules(found.status());
    const Arrival& subject = found->subject;
    if (subject.has_erased_at()) {
      return absl::FailedPreconditionError(
          absl::StrCat("arrival ", subject.arrival_id(),
                       " was erased (EraseReturnee): nothing is left to compare"));
    }
    struct Scored {
      int64_t position;
      DuplicateMatch match;
      Arrival* arrival;
    };
    std::vector<Scored> scored;
    for (db::CandidateArrival& candidate : found->candidates) {
      std::optional<DuplicateMatch> match = MatchArrivals(subject, candidate.arrival);
      if (!match) continue;
      const int64_t position = DuplicatePosition(match->score, candidate.position);
      if (position <= *after) continue;
      scored.push_back({position, *std::move(match), &candidate.arrival});
    }
    std::sort(scored.begin(), scored.end(),
              [](const Scored& a, const Scored& b) { return a.position < b.position; });
    const size_t shown = std::min(scored.size(), static_cast<size_t>(*page_size));
    for (size_t i = 0; i < shown; ++i) {
      enlace::v1::DuplicateCandidate* candidate = response->add_candidates();
      note->record_ids.push_back(scored[i].arrival->arrival_id());
      *candidate->mutable_arrival() = std::move(*scored[i].arrival);
      candidate->set_score(scored[i].match.score);
      for (enlace::v1::DuplicateReason reason : scored[i].match.reasons) {
        candidate->add_reasons(reason);
      }
    }
    if (shown < scored.size()) {
      response->set_next_page_token(tokens_->Encode(scored[shown - 1].position, fingerprint));
    }
    note->detail = absl::StrCat("candidates=", shown);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::LinkArrivals(
    grpc::CallbackServerContext* ctx, const enlace::v1::LinkArrivalsRequest* request,
    enlace::v1::LinkArrivalsResponse* response) {
  return gate_->Unary(ctx, kLinkArrivals, [=](const Caller& caller, AuditNote* note) {
    if (persons_ == nullptr) {
      return absl::FailedPreconditionError("this server has no person store");
    }
    absl::StatusOr<std::vector<std::string>> ids =
        DecidedArrivals(request->arrival_ids(), request->reason());
    if (!ids.ok()) return ids.status();
    note->record_ids = *ids;
    // That a link was decided, never why (free text). Noted before
    // ForChange(), which copies the note.
    note->detail = "link";
    absl::StatusOr<db::PersonGroup> person = persons_->Link(
        *ids, request->reason(), db::Viewer{caller.principal.name}, note->ForChange());
    if (!person.ok()) return note->RecordRules(person.status());
    SetLinkedPerson(*std::move(person), response->mutable_person());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ArrivalServiceImpl::UnlinkArrivals(
    grpc::CallbackServerContext* ctx, const enlace::v1::UnlinkArrivalsRequest* request,
    enlace::v1::UnlinkArrivalsResponse* response) {
  return gate_->Unary(ctx, kUnlinkArrivals, [=](const Caller& caller, AuditNote* note) {
    if (persons_ == nullptr) {
      return absl::FailedPreconditionError("this server has no person store");
    }
    absl::StatusOr<std::vector<std::string>> ids =
        DecidedArrivals(request->arrival_ids(), request->reason());
    if (!ids.ok()) return ids.status();
    note->record_ids = *ids;
    note->detail = "unlink";
    absl::StatusOr<std::vector<db::PersonGroup>> persons = persons_->Unlink(
        *ids, request->reason(), db::Viewer{caller.principal.name}, note->ForChange());
    if (!persons.ok()) return note->RecordRules(persons.status());
    for (db::PersonGroup& group : *persons) {
      SetLinkedPerson(std::move(group), response->add_persons());
    }
    return absl::OkStatus();
  });
}

}  // namespace enlace::server
