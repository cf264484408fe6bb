// An in-memory db::RegistryStore for unit tests, with the same observable
// contract as MysqlRegistryStore, checked by the same suite
// (tests/conformance/registry_store_conformance.h): it starts with the four
// agencies the first migration registers (mfa, iom, unhcr, undp); codes and
// serials are unique (ALREADY_EXISTS) and ordered bytewise, as the
// database's ascii_bin columns are; a certificate's status (active, expired,
// revoked) is judged against the query's now; a revocation happens once;
// each change appends its audit event or is not made. And what a test of
// the code above it needs: calls that fail on demand.
//
//   FakeRegistryStore registry;                      // events in its own FakeAuditStore
//   registry.AddCertificate(certificate, nullptr);
//   registry.RevokeCertificate(certificate.serial, "spiffe://enlace/admin/ana", "lost", nullptr);
//   registry.FailCalls(absl::UnavailableError("database down"));  // e.g. revocation fails closed
//
// Thread safety: safe for concurrent use.
#ifndef ENLACE_TESTS_TESTING_FAKES_FAKE_REGISTRY_STORE_H_
#define ENLACE_TESTS_TESTING_FAKES_FAKE_REGISTRY_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/audit_store.h"
#include "db/registry_store.h"

namespace enlace::testing {

class FakeRegistryStore : public db::RegistryStore {
 public:
  // Events go to `audit` (which must outlive the store), appended while the
  // change is applied: an append that fails fails the change. Null: the
  // store keeps a chain of its own (audit()).
  explicit FakeRegistryStore(db::AuditStore* audit = nullptr);
  ~FakeRegistryStore() override;

  db::AuditStore* audit() const { return audit_; }
  // Every call fails with `status` and changes nothing (OK: works again).
  void FailCalls(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<db::AgencyRecord> RegisterAgency(const std::string& code,
                                                  const std::string& display_name,
                                                  db::AuditRecord* audit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<db::AgencyRecord>> ListAgencies(const std::string& after_code,
                                                             int limit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<bool> AgencyExists(const std::string& code) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status AddCertificate(const db::CertificateRecord& certificate,
                              db::AuditRecord* audit) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<db::CertificateRecord> GetCertificate(const std::string& serial) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<db::CertificateRecord>> ListCertificates(
      const db::CertificateQuery& query) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<db::CertificateRecord> RevokeCertificate(const std::string& serial,
                                                          const std::string& revoked_by,
                                                          const std::string& reason,
                                                          db::AuditRecord* audit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<db::RevokedSerial>> ListRevoked() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Status AppendAudit(db::AuditRecord* audit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<db::AuditStore> own_audit_;  // when none was given
  db::AuditStore* const audit_;

  mutable absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, db::AgencyRecord> agencies_ ABSL_GUARDED_BY(mu_);  // by code
  std::map<std::string, db::CertificateRecord> certificates_ ABSL_GUARDED_BY(mu_);  // by serial
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_FAKES_FAKE_REGISTRY_STORE_H_
