// The platform's registry: which agencies are onboarded, and which
// certificates the platform CA issued and which of those are revoked.
// MysqlRegistryStore (mysql_registry_store.h) implements it.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef ENLACE_DB_REGISTRY_STORE_H_
#define ENLACE_DB_REGISTRY_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/audit_chain.h"
#include "enlace/v1/admin.pb.h"

namespace enlace::db {

struct AgencyRecord {
  std::string code;
  std::string display_name;
  int64_t created_at_us = 0;
};

struct CertificateRecord {
  std::string serial;  // lower-case hex, as auth::ReadCertificate gives it
  enlace::v1::CertificateKind kind = enlace::v1::CERTIFICATE_KIND_UNSPECIFIED;
  std::string name;
  std::string spiffe_id;
  std::string certificate_pem;
  int64_t not_before_us = 0;
  int64_t not_after_us = 0;
  bool revoked = false;
  std::string issued_by;
  int64_t issued_at_us = 0;
  std::string revoked_by;
  int64_t revoked_at_us = 0;
  std::string revocation_reason;
};

struct CertificateQuery {
  std::string name;  // empty: any
  enlace::v1::CertificateKind kind = enlace::v1::CERTIFICATE_KIND_UNSPECIFIED;  // any
  enlace::v1::CertificateStatus status = enlace::v1::CERTIFICATE_STATUS_UNSPECIFIED;  // any
  int64_t now_us = 0;  // what EXPIRED and expiring are judged against
  int64_t expiring_before_us = 0;  // > 0: only active, not_after < this
  std::string after_serial;  // keyset position
  int limit = 50;
};

struct RevokedSerial {
  std::string serial;
  int64_t revoked_at_us = 0;
};

class RegistryStore {
 public:
  virtual ~RegistryStore() = default;

  // The changes below append `audit`, the call's audit event, in their own
  // transaction (null: no event, store tests only); on success *audit holds
  // its seq.

  // ALREADY_EXISTS when the code is taken.
  virtual absl::StatusOr<AgencyRecord> RegisterAgency(const std::string& code,
                                                      const std::string& display_name,
                                                      AuditRecord* audit) = 0;
  // Agencies ordered by code, after `after_code`, at most `limit` (+1 to
  // tell whether more exist: callers ask for limit + 1).
  virtual absl::StatusOr<std::vector<AgencyRecord>> ListAgencies(const std::string& after_code,
                                                                 int limit) = 0;
  virtual absl::StatusOr<bool> AgencyExists(const std::string& code) = 0;

  // Records a certificate; ALREADY_EXISTS if its serial is known.
  virtual absl::Status AddCertificate(const CertificateRecord& certificate, AuditRecord* audit) = 0;
  // NOT_FOUND for an unknown serial.
  virtual absl::StatusOr<CertificateRecord> GetCertificate(const std::string& serial) = 0;
  // Ordered by serial; returns up to query.limit + 1 rows (the extra one
  // tells that another page exists).
  virtual absl::StatusOr<std::vector<CertificateRecord>> ListCertificates(
      const CertificateQuery& query) = 0;
  // Marks a known certificate revoked (NOT_FOUND otherwise). Revoking a
  // revoked certificate is FAILED_PRECONDITION and changes nothing.
  virtual absl::StatusOr<CertificateRecord> RevokeCertificate(const std::string& serial,
                                                              const std::string& revoked_by,
                                                              const std::string& reason,
                                                              AuditRecord* audit) = 0;
  // Every revoked serial: what the per-call check and the CRL are built from.
  virtual absl::StatusOr<std::vector<RevokedSerial>> ListRevoked() = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_REGISTRY_STORE_H_
