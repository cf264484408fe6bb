// A throwaway PKI for tests: a CA, a server certificate for localhost, and
// client certificates made on demand (agencies, admins, arbitrary or missing
// URI SANs, expired ones), with the files servers need written into a fresh
// temporary directory that is removed with the object.
//
// Example:
//
//   TestPki pki = TestPki::Create();
//   // Server side: pki.ca_cert_path(), pki.server_cert_path(),
//   // pki.server_key_path() for FileWatcherCertificateProvider.
//   auth::IssuedCertificate iom = pki.Agency("iom");
//   auth::IssuedCertificate expired = pki.WithUris(
//       {auth::AgencySpiffeId("iom")}, absl::Now() - absl::Hours(48),
//       absl::Now() - absl::Hours(24));
//   TestPki other = TestPki::Create("Other CA");  // a foreign CA
//   auth::IssuedCertificate stranger = other.Agency("iom");
//
// Errors abort the process with a message on stderr (like a failed CHECK);
// nothing here uses gtest assertions, so it is safe in fixtures, helpers and
// static initialisation alike. The certificates are valid at the real wall
// clock (TLS checks them against it): from an hour ago for a day, unless
// WithUris() is given times.
//
// Thread safety: const methods may be called concurrently.
#ifndef ENLACE_TESTS_TESTING_TEST_PKI_H_
#define ENLACE_TESTS_TESTING_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/pki.h"

namespace enlace::testing {

class TestPki {
 public:
  // Paths of a certificate and key written by WriteCertificate().
  struct Files {
    std::string certificate_path;
    std::string private_key_path;
  };

  // Makes a CA named `ca_common_name` (EC P-256, valid from ten years ago to
  // ten years ahead) and a server certificate (serverAuth; localhost,
  // 127.0.0.1 and ::1), and writes ca.crt, server.crt and server.key (0600)
  // into a new directory under $TEST_TMPDIR, $TMPDIR or /tmp.
  // Aborts on error.
  static TestPki Create(absl::string_view ca_common_name = "Test CA");

  TestPki(TestPki&& other) noexcept;
  TestPki& operator=(TestPki&& other) noexcept;
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
  // Removes the directory and everything in it (nothing for a moved-from
  // object).
  ~TestPki();

  // The directory holding this PKI's files.
  const std::string& dir() const { return dir_; }

  const auth::CertificateAuthority& ca() const { return ca_; }
  const std::string& ca_cert_pem() const { return ca_.certificate_pem; }
  const std::string& server_cert_pem() const { return server_.certificate_pem; }
  const std::string& server_key_pem() const { return server_.private_key_pem; }
  const auth::IssuedCertificate& server() const { return server_; }

  std::string ca_cert_path() const;  // dir()/ca.crt
  std::string server_cert_path() const;  // dir()/server.crt
  std::string server_key_path() const;  // dir()/server.key

  // A new clientAuth certificate whose only URI SAN is
  // spiffe://enlace/agency/<code> (resp. spiffe://enlace/admin/<name>).
  // `code` and `name` are not validated, so tests can make odd ones.
  auth::IssuedCertificate Agency(absl::string_view code) const;
  auth::IssuedCertificate Admin(absl::string_view name) const;

  // A new clientAuth certificate with exactly `uris` as URI SANs (none, a
  // foreign trust domain, two identities, ...), valid from an hour ago for a
  // day, or in [not_before, not_after) (e.g. expired or not yet valid).
  auth::IssuedCertificate WithUris(std::vector<std::string> uris) const;
  auth::IssuedCertificate WithUris(std::vector<std::string> uris, absl::Time not_before,
                                   absl::Time not_after) const;

  // A new certificate for any profile (key EC P-256).
  auth::IssuedCertificate Issue(const auth::LeafProfile& profile) const;

  // Writes `content` to dir()/`name` (mode 0600) and returns the path.
  // REQUIRES: `name` is a plain file name (no '/').
  std::string WriteFile(absl::string_view name, absl::string_view content) const;

  // Writes `cert` as dir()/<name>.crt and dir()/<name>.key.
  Files WriteCertificate(absl::string_view name, const auth::IssuedCertificate& cert) const;

 private:
  TestPki(std::string dir, auth::CertificateAuthority ca, auth::IssuedCertificate server);

  std::string dir_;  // Empty once moved from.
  auth::CertificateAuthority ca_;
  auth::IssuedCertificate server_;
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_TEST_PKI_H_
