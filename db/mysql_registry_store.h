// RegistryStore on MySQL 8 / MariaDB 10.11 (tables `agencies`, `certificates`).
#ifndef ENLACE_DB_MYSQL_REGISTRY_STORE_H_
#define ENLACE_DB_MYSQL_REGISTRY_STORE_H_

#include "db/mysql_pool.h"
#include "db/registry_store.h"

namespace enlace::db {

class MysqlRegistryStore final : public RegistryStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlRegistryStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<AgencyRecord> RegisterAgency(const std::string& code,
                                              const std::string& display_name,
                                              AuditRecord* audit) override;
  absl::StatusOr<std::vector<AgencyRecord>> ListAgencies(const std::string& after_code,
                                                         int limit) override;
  absl::StatusOr<bool> AgencyExists(const std::string& code) override;
  absl::Status AddCertificate(const CertificateRecord& certificate, AuditRecord* audit) override;
  absl::StatusOr<CertificateRecord> GetCertificate(const std::string& serial) override;
  absl::StatusOr<std::vector<CertificateRecord>> ListCertificates(
      const CertificateQuery& query) override;
  absl::StatusOr<CertificateRecord> RevokeCertificate(const std::string& serial,
                                                      const std::string& revoked_by,
                                                      const std::string& reason,
                                                      AuditRecord* audit) override;
  absl::StatusOr<std::vector<RevokedSerial>> ListRevoked() override;

 private:
  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_REGISTRY_STORE_H_
