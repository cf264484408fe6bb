// AdminService handlers of the data-sharing agreements (see admin_service.h
// and docs/data-protection.md §10): register, list, end. Through the call
// gate like every handler: authorized by the policy, audited. After a
// change, `agreements_changed_` refreshes this server's in-memory copy at
// once, which ends the open feeds of an agency that lost a flow.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "auth/identity.h"
#include "google/protobuf/util/time_util.h"
#include "server/admin_service.h"
#include "server/arrival_validation.h"
#include "server/request_checks.h"
#include "server/sharing_agreements.h"

namespace enlace::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kRegisterSharingAgreement[] = "/enlace.v1.AdminService/RegisterSharingAgreement";
constexpr char kListSharingAgreements[] = "/enlace.v1.AdminService/ListSharingAgreements";
constexpr char kEndSharingAgreement[] = "/enlace.v1.AdminService/EndSharingAgreement";

absl::Status NoAgreements() {
  return absl::FailedPreconditionError("this server does not keep data-sharing agreements");
}

void ToProto(const db::SharingAgreementRecord& record, absl::Time now,
             enlace::v1::SharingAgreement* out) {
  out->set_agreement_id(record.agreement_id);
  out->add_parties(record.party_low);
  out->add_parties(record.party_high);
  for (int p = enlace::v1::Purpose_MIN + 1; p <= enlace::v1::Purpose_MAX; ++p) {
    if (record.purposes_mask & (1u << p)) out->add_purposes(static_cast<enlace::v1::Purpose>(p));
  }
  out->set_valid_from(record.valid_from);
  out->set_valid_until(record.valid_until);
  out->set_reference(record.reference);
  out->set_status(static_cast<enlace::v1::SharingAgreementStatus>(AgreementStatusOn(record, now)));
  out->set_registered_by(record.registered_by);
  if (record.registered_at_us > 0) {
    *out->mutable_registered_at() = TimeUtil::MicrosecondsToTimestamp(record.registered_at_us);
  }
  if (record.ended_at_us != 0) {
    out->set_ended_by(record.ended_by);
    *out->mutable_ended_at() = TimeUtil::MicrosecondsToTimestamp(record.ended_at_us);
    out->set_end_reason(record.end_reason);
  }
}

// A date field of an agreement: a real YYYY-MM-DD.
absl::StatusOr<absl::CivilDay> AgreementDate(absl::string_view value, absl::string_view field) {
  std::optional<absl::CivilDay> day = ParseDate(value);
  if (!day.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": required, a real date as YYYY-MM-DD"));
  }
  return *day;
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::RegisterSharingAgreement(
    grpc::CallbackServerContext* ctx, const enlace::v1::RegisterSharingAgreementRequest* request,
    enlace::v1::SharingAgreement* response) {
  return gate_->Unary(ctx, kRegisterSharingAgreement, [=](const Caller& caller, AuditNote* note) {
    if (agreement_store_ == nullptr) return NoAgreements();
    if (request->parties_size() != 2 || request->parties(0) == request->parties(1)) {
      return absl::InvalidArgumentError("parties: exactly two different agencies");
    }
    for (const std::string& party : request->parties()) {
      if (!auth::IsValidName(party)) {
        return absl::InvalidArgumentError(
            absl::StrCat("parties: \"", party, "\" is not an agency code"));
      }
      absl::StatusOr<bool> known = registry_->AgencyExists(party);
      if (!known.ok()) return known.status();
      if (!*known) {
        return absl::InvalidArgumentError(
            absl::StrCat("parties: agency ", party, " is not registered"));
      }
    }
    if (request->purposes().empty()) {
      return absl::InvalidArgumentError("purposes: at least one");
    }
    uint32_t purposes = 0;
    for (int purpose : request->purposes()) {
      if (purpose == enlace::v1::PURPOSE_UNSPECIFIED || !enlace::v1::Purpose_IsValid(purpose)) {
        return absl::InvalidArgumentError(absl::StrCat("purposes: unknown value ", purpose));
      }
      purposes |= 1u << purpose;
    }
    absl::StatusOr<absl::CivilDay> from = AgreementDate(request->valid_from(), "valid_from");
    if (!from.ok()) return from.status();
    absl::StatusOr<absl::CivilDay> until = AgreementDate(request->valid_until(), "valid_until");
    if (!until.ok()) return until.status();
    if (*until < *from) return absl::InvalidArgumentError("valid_until: before valid_from");
    if (absl::Status s = CheckFreeText(request->reference(), "reference", 200, true); !s.ok()) {
      return s;
    }
    db::SharingAgreementRecord agreement;
    agreement.party_low = std::min(request->parties(0), request->parties(1));
    agreement.party_high = std::max(request->parties(0), request->parties(1));
    agreement.purposes_mask = purposes;
    agreement.valid_from = request->valid_from();
    agreement.valid_until = request->valid_until();
    agreement.reference = request->reference();
    agreement.registered_by = caller.principal.name;
    note->detail = absl::StrCat("register ", agreement.party_low, "-", agreement.party_high, " ",
                                agreement.valid_from, "..", agreement.valid_until);
    absl::StatusOr<db::SharingAgreementRecord> registered =
        agreement_store_->Register(agreement, note->ForChange());
    if (!registered.ok()) return registered.status();  // the store named it in the event
    if (agreements_changed_) agreements_changed_();
    ToProto(*registered, absl::Now(), response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListSharingAgreements(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListSharingAgreementsRequest* request,
    enlace::v1::ListSharingAgreementsResponse* response) {
  return gate_->Unary(ctx, kListSharingAgreements, [=](const Caller& caller, AuditNote*) {
    if (agreement_store_ == nullptr) return NoAgreements();
    if (!request->party().empty() && !auth::IsValidName(request->party())) {
      return absl::InvalidArgumentError("party: not an agency code");
    }
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    std::string fingerprint =
        QueryFingerprint({caller.principal.SpiffeId(), "sharing-agreements", request->party(),
                          request->in_force_only() ? "in-force" : "all"});
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    const absl::Time now = absl::Now();
    db::AgreementQuery query;
    query.party = request->party();
    if (request->in_force_only()) query.in_force_on = AgreementDay(now);
    query.after_seq = *after;
    query.limit = *page_size;
    absl::StatusOr<std::vector<db::SharingAgreementRecord>> rows = agreement_store_->List(query);
    if (!rows.ok()) return rows.status();
    bool more = static_cast<int>(rows->size()) > *page_size;
    if (more) rows->resize(*page_size);
    for (const db::SharingAgreementRecord& row : *rows) {
      ToProto(row, now, response->add_agreements());
    }
    if (more) response->set_next_page_token(tokens_->Encode(rows->back().seq, fingerprint));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::EndSharingAgreement(
    grpc::CallbackServerContext* ctx, const enlace::v1::EndSharingAgreementRequest* request,
    enlace::v1::SharingAgreement* response) {
  return gate_->Unary(ctx, kEndSharingAgreement, [=](const Caller& caller, AuditNote* note) {
    if (agreement_store_ == nullptr) return NoAgreements();
    if (absl::Status s = RequireId(request->agreement_id(), "agreement_id"); !s.ok()) return s;
    if (absl::Status s = CheckFreeText(request->reason(), "reason", 500, true); !s.ok()) return s;
    note->record_ids.push_back(request->agreement_id());
    note->detail = "end";
    absl::StatusOr<db::SharingAgreementRecord> ended = agreement_store_->End(
        request->agreement_id(), caller.principal.name, request->reason(), note->ForChange());
    if (!ended.ok()) return ended.status();
    if (agreements_changed_) agreements_changed_();
    ToProto(*ended, absl::Now(), response);
    return absl::OkStatus();
  });
}

}  // namespace enlace::server
