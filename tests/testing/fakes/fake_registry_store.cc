// FakeRegistryStore: agencies and certificates in memory (see
// fake_registry_store.h), with the rules of MysqlRegistryStore's queries
// (db/mysql_registry_store.cc).
#include "tests/testing/fakes/fake_registry_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testing/fakes/fake_audit_store.h"

namespace enlace::testing {

FakeRegistryStore::FakeRegistryStore(db::AuditStore* audit)
    : own_audit_(audit == nullptr ? std::make_unique<FakeAuditStore>() : nullptr),
      audit_(audit == nullptr ? own_audit_.get() : audit) {
  // As db/migrations/0001_initial.sql registers them.
  for (const auto& [code, name] : std::vector<std::pair<std::string, std::string>>{
           {"mfa", "Ministry of Foreign Affairs (Vice Ministry for Salvadorans Abroad)"},
           {"iom", "International Organization for Migration"},
           {"unhcr", "UN High Commissioner for Refugees"},
           {"undp", "UN Development Programme"}}) {
    agencies_[code] = db::AgencyRecord{code, name, 0};
  }
}

FakeRegistryStore::~FakeRegistryStore() = default;

void FakeRegistryStore::FailCalls(absl::Status status) {
  absl::MutexLock lock(&mu_);
  error_ = std::move(status);
}

absl::Status FakeRegistryStore::AppendAudit(db::AuditRecord* audit) {
  if (audit == nullptr) return absl::OkStatus();
  std::vector<db::AuditRecord> events(1, *audit);
  if (absl::Status s = audit_->Append(&events); !s.ok()) return s;
  *audit = std::move(events[0]);
  return absl::OkStatus();
}

absl::StatusOr<db::AgencyRecord> FakeRegistryStore::RegisterAgency(const std::string& code,
                                                                   const std::string& display_name,
                                                                   db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  if (agencies_.count(code) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("agency ", code, " is already registered"));
  }
  if (absl::Status s = AppendAudit(audit); !s.ok()) return s;
  db::AgencyRecord agency{code, display_name, absl::ToUnixMicros(absl::Now())};
  agencies_[code] = agency;
  return agency;
}

absl::StatusOr<std::vector<db::AgencyRecord>> FakeRegistryStore::ListAgencies(
    const std::string& after_code, int limit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  std::vector<db::AgencyRecord> out;
  for (auto it = agencies_.upper_bound(after_code);
       it != agencies_.end() && static_cast<int>(out.size()) < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<bool> FakeRegistryStore::AgencyExists(const std::string& code) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  return agencies_.count(code) > 0;
}

absl::Status FakeRegistryStore::AddCertificate(const db::CertificateRecord& certificate,
                                               db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  if (certificates_.count(certificate.serial) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("certificate ", certificate.serial, " is already recorded"));
  }
  if (absl::Status s = AppendAudit(audit); !s.ok()) return s;
  db::CertificateRecord& stored = certificates_[certificate.serial] = certificate;
  if (!stored.revoked) {  // the revocation's columns are written only for a revoked one
    stored.revoked_by.clear();
    stored.revoked_at_us = 0;
    stored.revocation_reason.clear();
  }
  return absl::OkStatus();
}

absl::StatusOr<db::CertificateRecord> FakeRegistryStore::GetCertificate(const std::string& serial) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  auto it = certificates_.find(serial);
  if (it == certificates_.end()) {
    return absl::NotFoundError(absl::StrCat("certificate ", serial, " not found"));
  }
  return it->second;
}

absl::StatusOr<std::vector<db::CertificateRecord>> FakeRegistryStore::ListCertificates(
    const db::CertificateQuery& query) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  std::vector<db::CertificateRecord> out;
  for (auto it = certificates_.upper_bound(query.after_serial);
       it != certificates_.end() && static_cast<int>(out.size()) < query.limit + 1; ++it) {
    const db::CertificateRecord& c = it->second;
    if (!query.name.empty() && c.name != query.name) continue;
    if (query.kind != enlace::v1::CERTIFICATE_KIND_UNSPECIFIED && c.kind != query.kind) continue;
    const bool expired = c.not_after_us < query.now_us;
    switch (query.status) {
      case enlace::v1::CERTIFICATE_STATUS_ACTIVE:
        if (c.revoked || expired) continue;
        break;
      case enlace::v1::CERTIFICATE_STATUS_EXPIRED:
        if (c.revoked || !expired) continue;
        break;
      case enlace::v1::CERTIFICATE_STATUS_REVOKED:
        if (!c.revoked) continue;
        break;
      default: break;
    }
    if (query.expiring_before_us > 0 &&
        (c.revoked || expired || c.not_after_us >= query.expiring_before_us)) {
      continue;
    }
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<db::CertificateRecord> FakeRegistryStore::RevokeCertificate(
    const std::string& serial, const std::string& revoked_by, const std::string& reason,
    db::AuditRecord* audit) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  auto it = certificates_.find(serial);
  if (it == certificates_.end()) {
    return absl::NotFoundError(absl::StrCat("certificate ", serial, " not found"));
  }
  if (it->second.revoked) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate ", serial, " is already revoked"));
  }
  if (absl::Status s = AppendAudit(audit); !s.ok()) return s;
  db::CertificateRecord& c = it->second;
  c.revoked = true;
  c.revoked_by = revoked_by;
  c.revoked_at_us = absl::ToUnixMicros(absl::Now());
  c.revocation_reason = reason;
  return c;
}

absl::StatusOr<std::vector<db::RevokedSerial>> FakeRegistryStore::ListRevoked() {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  std::vector<db::RevokedSerial> out;
  for (const auto& [serial, c] : certificates_) {
    if (c.revoked) out.push_back({serial, c.revoked_at_us});
  }
  return out;
}

}  // namespace enlace::testing
