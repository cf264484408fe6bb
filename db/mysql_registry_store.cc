// MysqlRegistryStore: agencies and certificates in MySQL (see
// mysql_registry_store.h and db/migrations/0002_certificates.sql).
#include "db/mysql_registry_store.h"

#include "db/mysql_audit_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace enlace::db {
namespace {

constexpr int kActive = 1;
constexpr int kRevoked = 2;

constexpr char kCertificateColumns[] =
    "serial, kind, name, spiffe_id, certificate_pem, not_before_us, not_after_us, status, "
    "issued_by, issued_at_us, revoked_by, revoked_at_us, revocation_reason";

CertificateRecord RowToCertificate(sql::ResultSet& row) {
  CertificateRecord c;
  c.serial = row.getString("serial");
  c.kind = static_cast<enlace::v1::CertificateKind>(row.getInt("kind"));
  c.name = row.getString("name");
  c.spiffe_id = row.getString("spiffe_id");
  c.certificate_pem = row.getString("certificate_pem");
  c.not_before_us = row.getInt64("not_before_us");
  c.not_after_us = row.getInt64("not_after_us");
  c.revoked = row.getInt("status") == kRevoked;
  c.issued_by = row.getString("issued_by");
  c.issued_at_us = row.getInt64("issued_at_us");
  if (!row.isNull("revoked_by")) c.revoked_by = row.getString("revoked_by");
  if (!row.isNull("revoked_at_us")) c.revoked_at_us = row.getInt64("revoked_at_us");
  if (!row.isNull("revocation_reason")) c.revocation_reason = row.getString("revocation_reason");
  return c;
}

}  // namespace

absl::StatusOr<AgencyRecord> MysqlRegistryStore::RegisterAgency(const std::string& code,
                                                                const std::string& display_name,
                                                                AuditRecord* audit) {
  AgencyRecord agency{code, display_name, absl::ToUnixMicros(absl::Now())};
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) {
    sql::PreparedStatement* insert =
        c.Prepare("INSERT INTO agencies (code, display_name, created_at_us) VALUES (?, ?, ?)");
    insert->setString(1, code);
    insert->setString(2, display_name);
    insert->setInt64(3, agency.created_at_us);
    insert->executeUpdate();
    change.Append(c);
    return absl::OkStatus();
  });
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(absl::StrCat("agency ", code, " is already registered"));
  }
  if (!status.ok()) return status;
  change.Settle();
  return agency;
}

absl::StatusOr<std::vector<AgencyRecord>> MysqlRegistryStore::ListAgencies(
    const std::string& after_code, int limit) {
  std::vector<AgencyRecord> agencies;
  absl::Status status = pool_->Run([&](MysqlConnection& c) {
    sql::PreparedStatement* select = c.Prepare(
        "SELECT code, display_name, created_at_us FROM agencies WHERE code > ? "
        "ORDER BY code LIMIT ?");
    select->setString(1, after_code);
    select->setInt(2, limit);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      agencies.push_back({rows->getString(1), rows->getString(2), rows->getInt64(3)});
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return agencies;
}

absl::StatusOr<bool> MysqlRegistryStore::AgencyExists(const std::string& code) {
  bool exists = false;
  absl::Status status = pool_->Run([&](MysqlConnection& c) {
    sql::PreparedStatement* select = c.Prepare("SELECT 1 FROM agencies WHERE code = ?");
    select->setString(1, code);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    exists = rows->next();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return exists;
}

absl::Status MysqlRegistryStore::AddCertificate(const CertificateRecord& cert, AuditRecord* audit) {
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) {
    sql::PreparedStatement* insert =
        c.Prepare(absl::StrCat("INSERT INTO certificates (", kCertificateColumns,
                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    unsigned p = 1;
    insert->setString(p++, cert.serial);
    insert->setInt(p++, cert.kind);
    insert->setString(p++, cert.name);
    insert->setString(p++, cert.spiffe_id);
    insert->setString(p++, cert.certificate_pem);
    insert->setInt64(p++, cert.not_before_us);
    insert->setInt64(p++, cert.not_after_us);
    insert->setInt(p++, cert.revoked ? kRevoked : kActive);
    insert->setString(p++, cert.issued_by);
    insert->setInt64(p++, cert.issued_at_us);
    if (cert.revoked) {
      insert->setString(p++, cert.revoked_by);
      insert->setInt64(p++, cert.revoked_at_us);
      insert->setString(p++, cert.revocation_reason);
    } else {
      insert->setNull(p++, 0);
      insert->setNull(p++, 0);
      insert->setNull(p++, 0);
    }
    insert->executeUpdate();
    change.Append(c);
    return absl::OkStatus();
  });
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("certificate ", cert.serial, " is already recorded"));
  }
  if (status.ok()) change.Settle();
  return status;
}

absl::StatusOr<CertificateRecord> MysqlRegistryStore::GetCertificate(const std::string& serial) {
  CertificateRecord cert;
  bool found = false;
  absl::Status status = pool_->Run([&](MysqlConnection& c) {
    sql::PreparedStatement* select = c.Prepare(
        absl::StrCat("SELECT ", kCertificateColumns, " FROM certificates WHERE serial = ?"));
    select->setString(1, serial);
    std::unique_ptr<sql::ResultSet> row(select->executeQuery());
    if (row->next()) {
      cert = RowToCertificate(*row);
      found = true;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) return absl::NotFoundError(absl::StrCat("certificate ", serial, " not found"));
  return cert;
}

absl::StatusOr<std::vector<CertificateRecord>> MysqlRegistryStore::ListCertificates(
    const CertificateQuery& query) {
  // Only fixed fragments are concatenated; every value is a bound parameter.
  std::string text =
      absl::StrCat("SELECT ", kCertificateColumns, " FROM certificates WHERE serial > ?");
  if (!query.name.empty()) text += " AND name = ?";
  if (query.kind != enlace::v1::CERTIFICATE_KIND_UNSPECIFIED) text += " AND kind = ?";
  switch (query.status) {
    case enlace::v1::CERTIFICATE_STATUS_ACTIVE:
      text += " AND status = 1 AND not_after_us >= ?";
      break;
    case enlace::v1::CERTIFICATE_STATUS_EXPIRED:
      text += " AND status = 1 AND not_after_us < ?";
      break;
    case enlace::v1::CERTIFICATE_STATUS_REVOKED: text += " AND status = 2"; break;
    default: break;
  }
  if (query.expiring_before_us > 0)
    text += " AND status = 1 AND not_after_us >= ? AND not_after_us < ?";
  text += " ORDER BY serial LIMIT ?";
  std::vector<CertificateRecord> certificates;
  absl::Status status = pool_->Run([&](MysqlConnection& c) {
    sql::PreparedStatement* select = c.Prepare(text);
    unsigned p = 1;
    select->setString(p++, query.after_serial);
    if (!query.name.empty()) select->setString(p++, query.name);
    if (query.kind != enlace::v1::CERTIFICATE_KIND_UNSPECIFIED) select->setInt(p++, query.kind);
    if (query.status == enlace::v1::CERTIFICATE_STATUS_ACTIVE ||
        query.status == enlace::v1::CERTIFICATE_STATUS_EXPIRED) {
      select->setInt64(p++, query.now_us);
    }
    if (query.expiring_before_us > 0) {
      select->setInt64(p++, query.now_us);
      select->setInt64(p++, query.expiring_before_us);
    }
    select->setInt(p++, query.limit + 1);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) certificates.push_back(RowToCertificate(*rows));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return certificates;
}

absl::StatusOr<CertificateRecord> MysqlRegistryStore::RevokeCertificate(
    const std::string& serial, const std::string& revoked_by, const std::string& reason,
    AuditRecord* audit) {
  CertificateRecord cert;
  absl::Status outcome;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select = c.Prepare(absl::StrCat(
        "SELECT ", kCertificateColumns, " FROM certificates WHERE serial = ? FOR UPDATE"));
    select->setString(1, serial);
    std::unique_ptr<sql::ResultSet> row(select->executeQuery());
    if (!row->next()) {
      return absl::NotFoundError(absl::StrCat("certificate ", serial, " not found"));
    }
    cert = RowToCertificate(*row);
    if (cert.revoked) {
      return absl::FailedPreconditionError(
          absl::StrCat("certificate ", serial, " is already revoked"));
    }
    cert.revoked = true;
    cert.revoked_by = revoked_by;
    cert.revoked_at_us = absl::ToUnixMicros(absl::Now());
    cert.revocation_reason = reason;
    sql::PreparedStatement* update = c.Prepare(
        "UPDATE certificates SET status = 2, revoked_by = ?, revoked_at_us = ?, "
        "revocation_reason = ? WHERE serial = ?");
    update->setString(1, revoked_by);
    update->setInt64(2, cert.revoked_at_us);
    update->setString(3, reason);
    update->setString(4, serial);
    update->executeUpdate();
    change.Append(c);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return cert;
}

absl::StatusOr<std::vector<RevokedSerial>> MysqlRegistryStore::ListRevoked() {
  std::vector<RevokedSerial> revoked;
  absl::Status status = pool_->Run([&](MysqlConnection& c) {
    std::unique_ptr<sql::ResultSet> rows(
        c.Prepare("SELECT serial, revoked_at_us FROM certificates WHERE status = 2")
            ->executeQuery());
    while (rows->next()) revoked.push_back({rows->getString(1), rows->getInt64(2)});
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return revoked;
}

}  // namespace enlace::db
