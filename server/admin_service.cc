// AdminService handlers, audit part (see admin_service.h).
#include "server/admin_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "auth/identity.h"
#include "google/protobuf/util/time_util.h"
#include "server/arrival_validation.h"
#include "server/audit_log.h"
#include "server/page_token.h"

namespace enlace::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kIssueCertificate[] = "/enlace.v1.AdminService/IssueCertificate";
constexpr char kListCertificates[] = "/enlace.v1.AdminService/ListCertificates";
constexpr char kRevokeCertificate[] = "/enlace.v1.AdminService/RevokeCertificate";
constexpr char kRegisterAgency[] = "/enlace.v1.AdminService/RegisterAgency";
constexpr char kListAgencies[] = "/enlace.v1.AdminService/ListAgencies";
constexpr char kListAuditEvents[] = "/enlace.v1.AdminService/ListAuditEvents";
constexpr char kVerifyAuditLog[] = "/enlace.v1.AdminService/VerifyAuditLog";

constexpr int kDefaultValidityDays = 90;
constexpr int kMaxValidityDays = 398;

enlace::v1::Certificate ToProto(const db::CertificateRecord& record, absl::Time now) {
  enlace::v1::Certificate out;
  out.set_serial(record.serial);
  out.set_spiffe_id(record.spiffe_id);
  out.set_certificate_pem(record.certificate_pem);
  *out.mutable_not_before() = TimeUtil::MicrosecondsToTimestamp(record.not_before_us);
  *out.mutable_not_after() = TimeUtil::MicrosecondsToTimestamp(record.not_after_us);
  if (record.revoked) {
    out.set_status(enlace::v1::CERTIFICATE_STATUS_REVOKED);
  } else if (record.not_after_us < absl::ToUnixMicros(now)) {
    out.set_status(enlace::v1::CERTIFICATE_STATUS_EXPIRED);
  } else {
    out.set_status(enlace::v1::CERTIFICATE_STATUS_ACTIVE);
  }
  out.set_kind(record.kind);
  out.set_name(record.name);
  out.set_issued_by(record.issued_by);
  *out.mutable_issued_at() = TimeUtil::MicrosecondsToTimestamp(record.issued_at_us);
  if (record.revoked) {
    out.set_revoked_by(record.revoked_by);
    *out.mutable_revoked_at() = TimeUtil::MicrosecondsToTimestamp(record.revoked_at_us);
    out.set_revocation_reason(record.revocation_reason);
  }
  return out;
}

// "0A:1B:2c" or "0a1b2c" -> "a1b2c" (the form auth::ReadCertificate gives);
// empty for anything that is not hexadecimal.
std::string NormalizeSerial(absl::string_view text) {
  std::string out;
  bool any_digit = false;
  for (char c : text) {
    if (c == ':') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return "";
    any_digit = true;
    if (out.empty() && c == '0') continue;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  if (!any_digit || out.size() > 64) return "";
  return out.empty() ? "0" : out;
}

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

AdminServiceImpl::AdminServiceImpl(CallGate* gate, const PageTokens* tokens,
                                   db::AuditStore* audit_store, db::RegistryStore* registry,
                                   CertificateAuthorityAccess ca,
                                   std::function<void()> revocation_changed)
    : gate_(gate),
      tokens_(tokens),
      audit_store_(audit_store),
      registry_(registry),
      ca_(std::move(ca)),
      revocation_changed_(std::move(revocation_changed)) {}

grpc::ServerUnaryReactor* AdminServiceImpl::IssueCertificate(
    grpc::CallbackServerContext* ctx, const enlace::v1::IssueCertificateRequest* request,
    enlace::v1::Certificate* response) {
  return gate_->Unary(ctx, kIssueCertificate, [=](const Caller& caller, AuditNote* note) {
    if (!ca_.signer.has_value()) {
      // A serving replica never holds the CA key: say where issuance runs.
      return absl::FailedPreconditionError(absl::StrCat(
          "this serving replica does not issue certificates (it holds no CA key): issuance "
          "runs in the CA role (enlace-server --role=ca)",
          ca_.issuer_addr.empty() ? "" : absl::StrCat(" at ", ca_.issuer_addr),
          "; point enlacectl certs issue at it with --ca-addr or ENLACE_CA_ADDR"));
    }
    auth::PrincipalKind kind;
    if (request->kind() == enlace::v1::CERTIFICATE_KIND_AGENCY) {
      kind = auth::PrincipalKind::kAgency;
    } else if (request->kind() == enlace::v1::CERTIFICATE_KIND_ADMIN) {
      kind = auth::PrincipalKind::kAdmin;
    } else {
      return absl::InvalidArgumentError("kind: must be CERTIFICATE_KIND_AGENCY or _ADMIN");
    }
    if (!auth::IsValidName(request->name())) {
      return absl::InvalidArgumentError("name: must match [a-z][a-z0-9_-]{0,31}");
    }
    int days = request->validity_days() == 0 ? kDefaultValidityDays : request->validity_days();
    if (days < 1 || days > kMaxValidityDays) {
      return absl::InvalidArgumentError(absl::StrCat("validity_days: must be between 1 and ",
                                                     kMaxValidityDays, " (0 means ",
                                                     kDefaultValidityDays, ")"));
    }
    if (request->csr_pem().empty() || request->csr_pem().size() > size_t{64} * 1024) {
      return absl::InvalidArgumentError("csr_pem: a PEM certificate signing request is required");
    }
    if (kind == auth::PrincipalKind::kAgency) {
      absl::StatusOr<bool> registered = registry_->AgencyExists(request->name());
      if (!registered.ok()) return registered.status();
      if (!*registered) {
        return absl::FailedPreconditionError(absl::StrCat(
            "name: agency ", request->name(), " is not registered; RegisterAgency first"));
      }
    }
    auth::Principal subject{kind, request->name()};
    absl::Time now = absl::Now();
    auth::LeafProfile profile;
    profile.common_name = request->name();
    profile.uri_sans = {subject.SpiffeId()};  // from kind and name, never from the CSR
    profile.client_auth = true;
    profile.not_before = now - absl::Minutes(5);
    profile.not_after = now + absl::Hours(24) * days;
    absl::StatusOr<std::string> pem = auth::SignCsr(*ca_.signer, request->csr_pem(), profile);
    if (!pem.ok()) {
      if (absl::IsInvalidArgument(pem.status())) {
        return absl::InvalidArgumentError(absl::StrCat("csr_pem: ", pem.status().message()));
      }
      return pem.status();
    }
    absl::StatusOr<auth::CertificateInfo> info = auth::ReadCertificate(*pem);
    if (!info.ok()) return info.status();
    db::CertificateRecord record;
    record.serial = info->serial_hex;
    record.kind = request->kind();
    record.name = request->name();
    record.spiffe_id = subject.SpiffeId();
    record.certificate_pem = *pem;
    record.not_before_us = absl::ToUnixMicros(info->not_before);
    record.not_after_us = absl::ToUnixMicros(info->not_after);
    record.issued_by = caller.principal.SpiffeId();
    record.issued_at_us = absl::ToUnixMicros(now);
    note->record_ids.push_back(record.serial);
    note->detail = absl::StrCat("issued ", record.spiffe_id, " for ", days, " days");
    if (absl::Status s = registry_->AddCertificate(record, note->ForChange()); !s.ok()) return s;
    *response = ToProto(record, now);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListCertificates(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListCertificatesRequest* request,
    enlace::v1::ListCertificatesResponse* response) {
  return gate_->Unary(ctx, kListCertificates, [=](const Caller& caller, AuditNote*) {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    if (!enlace::v1::CertificateStatus_IsValid(request->status())) {
      return absl::InvalidArgumentError("status: unknown value");
    }
    if (!enlace::v1::CertificateKind_IsValid(request->kind())) {
      return absl::InvalidArgumentError("kind: unknown value");
    }
    if (request->expiring_within_days() < 0 || request->expiring_within_days() > 3650) {
      return absl::InvalidArgumentError("expiring_within_days: must be between 0 and 3650");
    }
    std::string fingerprint = QueryFingerprint(
        {caller.principal.SpiffeId(), request->name(), absl::StrCat(request->status()),
         absl::StrCat(request->kind()), absl::StrCat(request->expiring_within_days())});
    absl::StatusOr<std::string> after = tokens_->DecodeKey(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    absl::Time now = absl::Now();
    db::CertificateQuery query;
    query.name = request->name();
    query.kind = request->kind();
    query.status = request->status();
    query.now_us = absl::ToUnixMicros(now);
    if (request->expiring_within_days() > 0) {
      query.expiring_before_us =
          absl::ToUnixMicros(now + absl::Hours(24) * request->expiring_within_days());
    }
    query.after_serial = *after;
    query.limit = *page_size;
    absl::StatusOr<std::vector<db::CertificateRecord>> rows = registry_->ListCertificates(query);
    if (!rows.ok()) return rows.status();
    bool more = static_cast<int>(rows->size()) > *page_size;
    if (more) rows->resize(*page_size);
    for (const db::CertificateRecord& row : *rows)
      *response->add_certificates() = ToProto(row, now);
    if (more) response->set_next_page_token(tokens_->EncodeKey(rows->back().serial, fingerprint));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RevokeCertificate(
    grpc::CallbackServerContext* ctx, const enlace::v1::RevokeCertificateRequest* request,
    enlace::v1::Certificate* response) {
  return gate_->Unary(ctx, kRevokeCertificate, [=](const Caller& caller, AuditNote* note) {
    std::string serial = NormalizeSerial(request->serial());
    if (serial.empty()) {
      return absl::InvalidArgumentError("serial: required, hexadecimal (colons allowed)");
    }
    if (std::optional<std::string> problem = CheckCleanText(request->reason(), 500)) {
      return absl::InvalidArgumentError(absl::StrCat("reason: ", *problem));
    }
    note->record_ids.push_back(serial);
    absl::Time now = absl::Now();
    if (!request->certificate_pem().empty()) {
      // A certificate signed offline: record it first, so it can be revoked.
      note->detail = "recorded an offline certificate to revoke it";
      absl::Status recorded =
          RecordOfflineCertificate(request->certificate_pem(), serial, now, note->ForChange());
      if (!recorded.ok() && !absl::IsAlreadyExists(recorded)) return recorded;
    }
    note->detail = "revoked";
    absl::StatusOr<db::CertificateRecord> revoked = registry_->RevokeCertificate(
        serial, caller.principal.SpiffeId(), request->reason(), note->ForChange());
    if (!revoked.ok()) return revoked.status();
    if (revocation_changed_) revocation_changed_();
    *response = ToProto(*revoked, now);
    return absl::OkStatus();
  });
}

absl::Status AdminServiceImpl::RecordOfflineCertificate(const std::string& pem,
                                                        const std::string& serial, absl::Time now,
                                                        db::AuditRecord* audit) {
  // Signed by a CA this replica trusts (the certificates of --ca_cert, read
  // now: the bundle may have been rotated); no key is needed to check that.
  absl::StatusOr<std::string> bundle = auth::ReadFileToString(ca_.ca_cert_path);
  if (!bundle.ok()) return bundle.status();
  absl::Status verified = absl::InvalidArgumentError("no CA certificate in the trusted bundle");
  const std::string kEnd = "-----END CERTIFICATE-----";
  for (size_t start = 0, end;
       !verified.ok() && (end = bundle->find(kEnd, start)) != std::string::npos;
       start = end + kEnd.size()) {
    auth::CertificateAuthority trusted;
    trusted.certificate_pem = bundle->substr(start, end + kEnd.size() - start);
    verified = auth::VerifyIssuedBy(pem, trusted);
  }
  if (!verified.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("certificate_pem: ", verified.message()));
  }
  absl::StatusOr<auth::CertificateInfo> info = auth::ReadCertificate(pem);
  if (!info.ok()) return absl::InvalidArgumentError("certificate_pem: not a readable certificate");
  if (info->serial_hex != serial) {
    return absl::InvalidArgumentError("certificate_pem: its serial is not the one given");
  }
  db::CertificateRecord record;
  record.serial = serial;
  record.certificate_pem = pem;
  record.not_before_us = absl::ToUnixMicros(info->not_before);
  record.not_after_us = absl::ToUnixMicros(info->not_after);
  record.issued_by = "offline";
  record.issued_at_us = absl::ToUnixMicros(now);
  for (const std::string& uri : info->uri_sans) {
    absl::StatusOr<auth::Principal> principal = auth::ParseSpiffeId(uri);
    if (!principal.ok()) continue;
    record.spiffe_id = uri;
    record.name = principal->name;
    record.kind = principal->is_agency() ? enlace::v1::CERTIFICATE_KIND_AGENCY
                                         : enlace::v1::CERTIFICATE_KIND_ADMIN;
  }
  return registry_->AddCertificate(record, audit);
}

grpc::ServerUnaryReactor* AdminServiceImpl::RegisterAgency(
    grpc::CallbackServerContext* ctx, const enlace::v1::RegisterAgencyRequest* request,
    enlace::v1::Agency* response) {
  return gate_->Unary(ctx, kRegisterAgency, [=](const Caller&, AuditNote* note) {
    if (!auth::IsValidName(request->code())) {
      return absl::InvalidArgumentError("code: must match [a-z][a-z0-9_-]{0,31}");
    }
    if (std::optional<std::string> problem = CheckCleanText(request->display_name(), 200)) {
      return absl::InvalidArgumentError(absl::StrCat("display_name: ", *problem));
    }
    note->record_ids.push_back(request->code());
    absl::StatusOr<db::AgencyRecord> agency =
        registry_->RegisterAgency(request->code(), request->display_name(), note->ForChange());
    if (!agency.ok()) return agency.status();
    response->set_code(agency->code);
    response->set_display_name(agency->display_name);
    *response->mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(agency->created_at_us);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListAgencies(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListAgenciesRequest* request,
    enlace::v1::ListAgenciesResponse* response) {
  return gate_->Unary(ctx, kListAgencies, [=](const Caller& caller, AuditNote*) {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    std::string fingerprint = QueryFingerprint({caller.principal.SpiffeId(), "agencies"});
    absl::StatusOr<std::string> after = tokens_->DecodeKey(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    absl::StatusOr<std::vector<db::AgencyRecord>> agencies =
        registry_->ListAgencies(*after, *page_size + 1);
    if (!agencies.ok()) return agencies.status();
    bool more = static_cast<int>(agencies->size()) > *page_size;
    if (more) agencies->resize(*page_size);
    for (const db::AgencyRecord& agency : *agencies) {
      enlace::v1::Agency* out = response->add_agencies();
      out->set_code(agency.code);
      out->set_display_name(agency.display_name);
      // The founding agencies were seeded by the first migration without a
      // time (0): leave the field unset rather than claim 1970.
      if (agency.created_at_us > 0) {
        *out->mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(agency.created_at_us);
      }
    }
    if (more) response->set_next_page_token(tokens_->EncodeKey(agencies->back().code, fingerprint));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListAuditEvents(
    grpc::CallbackServerContext* ctx, const enlace::v1::ListAuditEventsRequest* request,
    enlace::v1::ListAuditEventsResponse* response) {
  return gate_->Unary(ctx, kListAuditEvents, [=](const Caller& caller, AuditNote*) {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    if (!enlace::v1::Decision_IsValid(request->decision())) {
      return absl::InvalidArgumentError("decision: unknown value");
    }
    absl::StatusOr<int64_t> from =
        MicrosOrZero(request->time_from(), request->has_time_from(), "time_from");
    if (!from.ok()) return from.status();
    absl::StatusOr<int64_t> to =
        MicrosOrZero(request->time_to(), request->has_time_to(), "time_to");
    if (!to.ok()) return to.status();
    if (!request->actor().empty() && !auth::IsValidActor(request->actor())) {
      return absl::InvalidArgumentError(
          "actor: not an actor (1 to 64 letters, digits, '.', '_', ':' or '-')");
    }
    std::string fingerprint =
        QueryFingerprint({caller.principal.SpiffeId(), request->principal(), request->method(),
                          absl::StrCat(request->decision()), absl::StrCat(*from), absl::StrCat(*to),
                          request->actor()});
    absl::StatusOr<int64_t> after = tokens_->Decode(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();

    db::AuditQuery query{
        request->principal(), request->method(), request->decision(), *from, *to, *after,
        *page_size,           request->actor()};
    absl::StatusOr<db::AuditPage> page = audit_store_->List(query);
    if (!page.ok()) return page.status();
    for (const db::AuditRecord& record : page->records) {
      *response->add_events() = AuditEventOf(record);
    }
    if (page->more && !page->records.empty()) {
      response->set_next_page_token(tokens_->Encode(page->records.back().seq, fingerprint));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyAuditLog(
    grpc::CallbackServerContext* ctx, const enlace::v1::VerifyAuditLogRequest* request,
    enlace::v1::VerifyAuditLogResponse* response) {
  return gate_->Unary(ctx, kVerifyAuditLog, [=](const Caller&, AuditNote* note) {
    // A checkpoint first: a forged or altered one is refused before any work.
    absl::StatusOr<std::optional<tlog::Checkpoint>> checkpoint = CheckpointToVerify(*request);
    if (!checkpoint.ok()) return checkpoint.status();
    absl::StatusOr<db::ChainReport> report = audit_store_->Verify();
    if (!report.ok()) return report.status();
    response->set_intact(report->intact);
    response->set_chain_intact(report->intact);
    response->set_checked(report->checked);
    response->set_first_broken_sequence(report->first_broken_sequence);
    note->detail = absl::StrCat("intact=", report->intact, " checked=", report->checked,
                                " first_broken_sequence=", report->first_broken_sequence);
    if (checkpoint->has_value()) return VerifyAgainstCheckpoint(**checkpoint, response, note);
    if (transparency_ == nullptr) return absl::OkStatus();
    // No checkpoint given: the latest the log signed and stored. Its
    // signature is checked, so the database cannot forge one; it can only
    // hide them, which the witnesses' own checkpoints catch.
    absl::StatusOr<std::optional<tlog::Checkpoint>> stored =
        transparency_->LatestStoredCheckpoint();
    if (absl::IsDataLoss(stored.status())) {
      response->set_intact(false);
      response->set_detail(std::string(stored.status().message()));
      absl::StrAppend(&note->detail, " stored_checkpoint=forged");
      return absl::OkStatus();
    }
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) return absl::OkStatus();
    absl::StrAppend(&note->detail, " (the latest stored checkpoint)");
    return VerifyAgainstCheckpoint(**stored, response, note);
  });
}

}  // namespace enlace::server
