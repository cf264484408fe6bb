// AdminService handlers, audit part (see admin_service.h).
#include "server/admin_service.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/page_token.h"

namespace enlace::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kListAuditEvents[] = "/enlace.v1.AdminService/ListAuditEvents";
constexpr char kVerifyAuditLog[] = "/enlace.v1.AdminService/VerifyAuditLog";

absl::StatusOr<int64_t> MicrosOrZero(const google::protobuf::Timestamp& t, bool present,
                                     absl::string_view field) {
  if (!present) return 0;
  bool valid = t.seconds() >= TimeUtil::kTimestampMinSeconds &&
               t.seconds() <= TimeUtil::kTimestampMaxSeconds && t.nanos() >= 0 &&
               t.nanos() <= 999999999;
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a valid timestamp"));
  }
  return TimeUtil::TimestampToMicroseconds(t);
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(CallGate* gate, db::AuditStore* audit_store)
    : gate_(gate), audit_store_(audit_store) {}

grpc::ServerUnaryReactor* AdminServiceImpl::ListAuditEvents(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListAuditEventsRequest* request,
    enlace::v1::ListAuditEventsResponse* response) {
  return gate_->Unary(ctx, kListAuditEvents, [=](const Caller& caller, AuditNote*) {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    if (!enlace::v1::Decision_IsValid(request->decision())) {
      return absl::InvalidArgumentError("decision: unknown value");
    }
    absl::StatusOr<int64_t> from = MicrosOrZero(request->time_from(), request->has_time_from(), "time_from");
    if (!from.ok()) return from.status();
    absl::StatusOr<int64_t> to = MicrosOrZero(request->time_to(), request->has_time_to(), "time_to");
    if (!to.ok()) return to.status();
    std::string fingerprint = QueryFingerprint(
        {caller.principal.SpiffeId(), request->principal(), request->method(),
         absl::StrCat(request->decision()), absl::StrCat(*from), absl::StrCat(*to)});
    absl::StatusOr<int64_t> after = DecodePageToken(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();

    db::AuditQuery query{request->principal(), request->method(), request->decision(),
                         *from, *to, *after, *page_size};
    absl::StatusOr<db::AuditPage> page = audit_store_->List(query);
    if (!page.ok()) return page.status();
    for (const db::AuditRecord& record : page->records) {
      enlace::v1::AuditEvent* event = response->add_events();
      event->set_sequence(record.seq);
      *event->mutable_time() = TimeUtil::MicrosecondsToTimestamp(record.at_us);
      event->set_principal(record.principal);
      event->set_method(record.method);
      event->set_decision(static_cast<enlace::v1::Decision>(record.decision));
      event->set_status_code(record.status_code);
      for (const std::string& id : record.record_ids) event->add_record_ids(id);
      event->set_detail(record.detail);
      event->set_peer(record.peer);
      event->set_hash(db::ToHex(record.hash));
      event->set_previous_hash(db::ToHex(record.prev_hash));
    }
    if (page->more && !page->records.empty()) {
      response->set_next_page_token(EncodePageToken(page->records.back().seq, fingerprint));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyAuditLog(
    grpc::CallbackServerContext* ctx, const enlace::v1::VerifyAuditLogRequest*,
    enlace::v1::VerifyAuditLogResponse* response) {
  return gate_->Unary(ctx, kVerifyAuditLog, [=](const Caller&, AuditNote* note) {
    absl::StatusOr<db::ChainReport> report = audit_store_->Verify();
    if (!report.ok()) return report.status();
    response->set_intact(report->intact);
    response->set_checked(report->checked);
    response->set_first_broken_sequence(report->first_broken_sequence);
    note->detail = absl::StrCat("intact=", report->intact, " checked=", report->checked,
                                " first_broken_sequence=", report->first_broken_sequence);
    return absl::OkStatus();
  });
}

}  // namespace enlace::server
