// A throwaway PKI for tests. See test_pki.h.
#include "tests/testing/test_pki.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki.h"

namespace enlace::testing {
namespace {

// There is no absl/log here: print and abort, as a failed CHECK would.
[[noreturn]] void Die(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "TestPki: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               status.ToString().c_str());
  std::fflush(stderr);
  std::abort();
}

template <typename T>
T ValueOrDie(absl::StatusOr<T> value, absl::string_view what) {
  if (!value.ok()) Die(what, value.status());
  return *std::move(value);
}

void OkOrDie(const absl::Status& status, absl::string_view what) {
  if (!status.ok()) Die(what, status);
}

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
  if (base == nullptr || *base == '\0') base = "/tmp";
  std::string dir = absl::StrCat(base, "/enlace-test-pki-XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    Die("mkdtemp", absl::ErrnoToStatus(errno, dir));
  }
  return dir;
}

auth::LeafProfile ClientProfile(std::vector<std::string> uris, absl::Time not_before,
                                absl::Time not_after) {
  auth::LeafProfile profile;
  profile.common_name = "test client";
  profile.uri_sans = std::move(uris);
  profile.client_auth = true;
  profile.not_before = not_before;
  profile.not_after = not_after;
  return profile;
}

}  // namespace

TestPki TestPki::Create(absl::string_view ca_common_name) {
  const absl::Time now = absl::Now();
  const absl::Duration ten_years = absl::Hours(24 * 3650);
  auth::CertificateAuthority ca =
      ValueOrDie(auth::CreateCertificateAuthority(ca_common_name, now - ten_years, now + ten_years),
                 "CreateCertificateAuthority");
  auth::LeafProfile server_profile;
  server_profile.common_name = "test server";
  server_profile.dns_sans = {"localhost"};
  server_profile.ip_sans = {"127.0.0.1", "::1"};
  server_profile.client_auth = false;
  server_profile.server_auth = true;
  server_profile.not_before = now - absl::Hours(1);
  server_profile.not_after = now + absl::Hours(24);
  auth::IssuedCertificate server =
      ValueOrDie(auth::IssueCertificate(ca, server_profile), "server certificate");

  TestPki pki(MakeTempDir(), std::move(ca), std::move(server));
  OkOrDie(auth::WriteFileAtomically(pki.ca_cert_path(), pki.ca_cert_pem(), 0644), "write ca.crt");
  OkOrDie(auth::WriteFileAtomically(pki.server_cert_path(), pki.server_cert_pem(), 0644),
          "write server.crt");
  OkOrDie(auth::WriteFileAtomically(pki.server_key_path(), pki.server_key_pem(), 0600),
          "write server.key");
  return pki;
}

TestPki::TestPki(std::string dir, auth::CertificateAuthority ca, auth::IssuedCertificate server)
    : dir_(std::move(dir)), ca_(std::move(ca)), server_(std::move(server)) {}

TestPki::TestPki(TestPki&& other) noexcept
    : dir_(std::exchange(other.dir_, std::string())),
      ca_(std::move(other.ca_)),
      server_(std::move(other.server_)) {}

TestPki& TestPki::operator=(TestPki&& other) noexcept {
  if (this != &other) {
    TestPki old(std::move(*this));  // Removes our directory on return.
    dir_ = std::exchange(other.dir_, std::string());
    ca_ = std::move(other.ca_);
    server_ = std::move(other.server_);
  }
  return *this;
}

TestPki::~TestPki() {
  if (dir_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string TestPki::ca_cert_path() const { return dir_ + "/ca.crt"; }
std::string TestPki::server_cert_path() const { return dir_ + "/server.crt"; }
std::string TestPki::server_key_path() const { return dir_ + "/server.key"; }

auth::IssuedCertificate TestPki::Agency(absl::string_view code) const {
  return WithUris({auth::AgencySpiffeId(code)});
}

auth::IssuedCertificate TestPki::Admin(absl::string_view name) const {
  return WithUris({auth::AdminSpiffeId(name)});
}

auth::IssuedCertificate TestPki::WithUris(std::vector<std::string> uris) const {
  const absl::Time now = absl::Now();
  return WithUris(std::move(uris), now - absl::Hours(1), now + absl::Hours(24));
}

auth::IssuedCertificate TestPki::WithUris(std::vector<std::string> uris, absl::Time not_before,
                                          absl::Time not_after) const {
  return Issue(ClientProfile(std::move(uris), not_before, not_after));
}

auth::IssuedCertificate TestPki::Issue(const auth::LeafProfile& profile) const {
  return ValueOrDie(auth::IssueCertificate(ca_, profile), "IssueCertificate");
}

std::string TestPki::WriteFile(absl::string_view name, absl::string_view content) const {
  if (name.empty() || name.find('/') != absl::string_view::npos) {
    Die("WriteFile", absl::InvalidArgumentError(absl::StrCat("not a plain file name: ", name)));
  }
  std::string path = absl::StrCat(dir_, "/", name);
  OkOrDie(auth::WriteFileAtomically(path, content, 0600), path);
  return path;
}

TestPki::Files TestPki::WriteCertificate(absl::string_view name,
                                         const auth::IssuedCertificate& cert) const {
  Files files;
  files.private_key_path = WriteFile(absl::StrCat(name, ".key"), cert.private_key_pem);
  files.certificate_path = WriteFile(absl::StrCat(name, ".crt"), cert.certificate_pem);
  return files;
}

}  // namespace enlace::testing
