// CaseService handlers (see case_service.h).
#include "server/case_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "server/arrival_validation.h"
#include "server/outcome_validation.h"
#include "server/page_token.h"
#include "server/request_checks.h"

namespace enlace::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kOpenCase[] = "/enlace.v1.CaseService/OpenCase";
constexpr char kGetCase[] = "/enlace.v1.CaseService/GetCase";
constexpr char kListCases[] = "/enlace.v1.CaseService/ListCases";
constexpr char kUpdateCase[] = "/enlace.v1.CaseService/UpdateCase";
constexpr char kRecordService[] = "/enlace.v1.CaseService/RecordService";
constexpr char kRegisterInitiative[] = "/enlace.v1.CaseService/RegisterInitiative";
constexpr char kUpdateInitiative[] = "/enlace.v1.CaseService/UpdateInitiative";
constexpr char kListInitiatives[] = "/enlace.v1.CaseService/ListInitiatives";
constexpr char kGetCaseAccessLog[] = "/enlace.v1.CaseService/GetCaseAccessLog";

db::Viewer ViewerOf(const Caller& caller) { return db::Viewer{caller.principal.name}; }

absl::Status CheckCaseStatus(int status, absl::string_view field, bool allow_unspecified) {
  if (!enlace::v1::CaseStatus_IsValid(status) ||
      (!allow_unspecified && status == enlace::v1::CASE_STATUS_UNSPECIFIED)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be CASE_STATUS_OPEN, _IN_PROGRESS or _CLOSED"));
  }
  return absl::OkStatus();
}

}  // namespace

CaseServiceImpl::CaseServiceImpl(CallGate* gate, const PageTokens* tokens, db::CaseStore* store,
                                 db::AuditStore* audit_store, const ProgrammeTargets* targets)
    : gate_(gate), tokens_(tokens), store_(store), audit_store_(audit_store), targets_(targets) {}

grpc::ServerUnaryReactor* CaseServiceImpl::OpenCase(grpc::CallbackServerContext* ctx,
                                                    const enlace::v1::OpenCaseRequest* request,
                                                    enlace::v1::Case* response) {
  return gate_->Unary(ctx, kOpenCase, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->arrival_id(), "arrival_id"); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->summary(), "summary", 2000, false); !s.ok())
      return s;
    note->record_ids.push_back(request->arrival_id());
    absl::StatusOr<enlace::v1::Case> opened = store_->OpenCase(
        request->arrival_id(), request->summary(), ViewerOf(caller), note->ForChange());
    if (!opened.ok()) return note->RecordRules(opened.status());
    note->record_ids.push_back(opened->case_id());
    *response = *std::move(opened);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCase(grpc::CallbackServerContext* ctx,
                                                   const enlace::v1::GetCaseRequest* request,
                                                   enlace::v1::Case* response) {
  return gate_->Unary(ctx, kGetCase, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->case_id(), "case_id"); !s.ok()) return s;
    note->record_ids.push_back(request->case_id());
    absl::StatusOr<enlace::v1::Case> found = store_->GetCase(request->case_id(), ViewerOf(caller));
    if (!found.ok()) return note->RecordRules(found.status());
    *response = *std::move(found);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListCases(grpc::CallbackServerContext* ctx,
                                                     const enlace::v1::ListCasesRequest* request,
                                                     enlace::v1::ListCasesResponse* response) {
  return gate_->Unary(ctx, kListCases, [=](const Caller& caller, AuditNote* note) {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    if (absl::Status s = CheckCaseStatus(request->status(), "status", true); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->municipality(), "municipality", 100, false);
        !s.ok()) {
      return s;
    }
    std::string fingerprint =
        QueryFingerprint({caller.principal.SpiffeId(), "cases", absl::StrCat(request->status()),
                          request->municipality()});
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    db::CaseFilter filter{request->status(), request->municipality()};
    absl::StatusOr<db::CasePage> page =
        store_->ListCases(filter, ViewerOf(caller), *after, *page_size);
    if (!page.ok()) return page.status();
    for (enlace::v1::Case& c : page->cases) {
      note->record_ids.push_back(c.case_id());
      *response->add_cases() = std::move(c);
    }
    if (page->more) {
      response->set_next_page_token(tokens_->Encode(page->last_position, fingerprint));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::UpdateCase(grpc::CallbackServerContext* ctx,
                                                      const enlace::v1::UpdateCaseRequest* request,
                                                      enlace::v1::Case* response) {
  return gate_->Unary(ctx, kUpdateCase, [=](const Caller& caller, AuditNote* note) {
    const enlace::v1::Case& update = request->case_();
    if (absl::Status s = RequireId(update.case_id(), "case.case_id"); !s.ok()) return s;
    if (absl::Status s = CheckCaseStatus(update.status(), "case.status", false); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(update.summary(), "case.summary", 2000, false); !s.ok()) {
      return s;
    }
    if (absl::Status s =
            CheckFreeText(update.psychosocial_notes(), "case.psychosocial_notes", 20000, false);
        !s.ok()) {
      return s;
    }
    if (request->etag().empty()) {
      return absl::InvalidArgumentError("etag: required (the etag of the case as last read)");
    }
    note->record_ids.push_back(update.case_id());
    absl::StatusOr<enlace::v1::Case> updated =
        store_->UpdateCase(update, request->etag(), ViewerOf(caller), note->ForChange());
    if (!updated.ok()) return note->RecordRules(updated.status());
    *response = *std::move(updated);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::RecordService(
    grpc::CallbackServerContext* ctx, const enlace::v1::RecordServiceRequest* request,
    enlace::v1::ServiceRecord* response) {
  return gate_->Unary(ctx, kRecordService, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->case_id(), "case_id"); !s.ok()) return s;
    if (absl::Status s = CheckNeed(request->service(), "service"); !s.ok()) return s;
    absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    if (absl::Status s = CheckPastDate(request->delivered_on(), "delivered_on", today); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckFreeText(request->notes(), "notes", 5000, false); !s.ok()) return s;
    if (absl::Status s = CheckServiceOutcome(*request); !s.ok()) return s;
    note->record_ids.push_back(request->case_id());
    absl::StatusOr<enlace::v1::ServiceRecord> recorded =
        store_->RecordService(*request, ViewerOf(caller), note->ForChange());
    if (!recorded.ok()) return note->RecordRules(recorded.status());
    note->record_ids.push_back(recorded->service_id());
    *response = *std::move(recorded);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::RegisterInitiative(
    grpc::CallbackServerContext* ctx, const enlace::v1::RegisterInitiativeRequest* request,
    enlace::v1::Initiative* response) {
  return gate_->Unary(ctx, kRegisterInitiative, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->case_id(), "case_id"); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->name(), "name", 200, true); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->sector(), "sector", 100, true); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->municipality(), "municipality", 100, false);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckInitiativeOutcome(request->status(), request->jobs_created(), "",
                                                /*allow_unspecified_status=*/true);
        !s.ok()) {
      return s;
    }
    note->record_ids.push_back(request->case_id());
    absl::StatusOr<enlace::v1::Initiative> registered =
        store_->RegisterInitiative(*request, ViewerOf(caller), note->ForChange());
    if (!registered.ok()) return note->RecordRules(registered.status());
    note->record_ids.push_back(registered->initiative_id());
    *response = *std::move(registered);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::UpdateInitiative(
    grpc::CallbackServerContext* ctx, const enlace::v1::UpdateInitiativeRequest* request,
    enlace::v1::Initiative* response) {
  return gate_->Unary(ctx, kUpdateInitiative, [=](const Caller& caller, AuditNote* note) {
    const enlace::v1::Initiative& update = request->initiative();
    if (absl::Status s = RequireId(update.initiative_id(), "initiative.initiative_id"); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckInitiativeOutcome(update.status(), update.jobs_created(),
                                                "initiative.", /*allow_unspecified_status=*/false);
        !s.ok()) {
      return s;
    }
    if (request->etag().empty()) {
      return absl::InvalidArgumentError("etag: required (the etag of the initiative as last read)");
    }
    note->record_ids.push_back(update.initiative_id());
    absl::StatusOr<enlace::v1::Initiative> updated =
        store_->UpdateInitiative(update, request->etag(), ViewerOf(caller), note->ForChange());
    if (!updated.ok()) return note->RecordRules(updated.status());
    *response = *std::move(updated);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListInitiatives(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListInitiativesRequest* request,
    enlace::v1::ListInitiativesResponse* response) {
  return gate_->Unary(ctx, kListInitiatives, [=](const Caller& caller, AuditNote*) {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    if (absl::Status s = CheckFreeText(request->municipality(), "municipality", 100, false);
        !s.ok()) {
      return s;
    }
    std::string fingerprint =
        QueryFingerprint({caller.principal.SpiffeId(), "initiatives", request->municipality()});
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    absl::StatusOr<db::InitiativePage> page =
        store_->ListInitiatives(request->municipality(), ViewerOf(caller), *after, *page_size);
    if (!page.ok()) return page.status();
    for (enlace::v1::Initiative& i : page->initiatives) *response->add_initiatives() = std::move(i);
    response->set_total_count(page->total_count);
    response->set_target(static_cast<int32_t>(targets_->Target("initiatives")));
    if (page->more) {
      response->set_next_page_token(tokens_->Encode(page->last_position, fingerprint));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCaseAccessLog(
    grpc::CallbackServerContext* ctx, const enlace::v1::GetCaseAccessLogRequest* request,
    enlace::v1::GetCaseAccessLogResponse* response) {
  return gate_->Unary(ctx, kGetCaseAccessLog, [=](const Caller& caller, AuditNote* note) {
    if (absl::Status s = RequireId(request->case_id(), "case_id"); !s.ok()) return s;
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    note->record_ids.push_back(request->case_id());
    if (absl::Status s = store_->CheckCaseOwner(request->case_id(), ViewerOf(caller)); !s.ok()) {
      return note->RecordRules(s);
    }
    std::string fingerprint =
        QueryFingerprint({caller.principal.SpiffeId(), "case-access", request->case_id()});
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    absl::StatusOr<std::vector<db::AuditRecord>> records =
        audit_store_->ListForRecord(request->case_id(), *after, *page_size + 1);
    if (!records.ok()) return records.status();
    bool more = static_cast<int>(records->size()) > *page_size;
    if (more) records->resize(*page_size);
    for (const db::AuditRecord& r : *records) {
      enlace::v1::CaseAccessEntry* entry = response->add_entries();
      *entry->mutable_time() = TimeUtil::MicrosecondsToTimestamp(r.at_us);
      entry->set_principal(r.principal);
      entry->set_method(r.method);
      entry->set_decision(static_cast<enlace::v1::Decision>(r.decision));
      entry->set_status_code(r.status_code);
      entry->set_audit_sequence(r.seq);
      entry->set_actor(r.actor);
    }
    if (more) response->set_next_page_token(tokens_->Encode(records->back().seq, fingerprint));
    return absl::OkStatus();
  });
}

}  // namespace enlace::server
