// Fuzz harness: certificate signing requests as the admin service receives
// them (IssueCertificate's csr_pem, auth::SignCsr with the profile it builds),
// and certificates as the call gate reads them (auth::ReadCertificate).
// Input starting with "-----BEGIN" is used as PEM; anything else as DER,
// wrapped in a CERTIFICATE REQUEST (and a CERTIFICATE) PEM, so the fuzzer
// mutates the ASN.1 itself rather than its base64.
// Invariants: SignCsr refuses with INVALID_ARGUMENT only (the service turns
// that, and only that, into a csr_pem error); a certificate it issues reads
// back, is signed by the CA, and carries exactly the profile's name and
// SPIFFE ID whatever the CSR asked for; a certificate read has a canonical
// serial (lower-case hex, no leading zero) and no NUL in a URI SAN.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "auth/identity.h"
#include "auth/pki.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using enlace::auth::CertificateAuthority;

absl::Time Now() {
  return absl::FromCivil(absl::CivilSecond(2026, 6, 1, 12, 0, 0), absl::UTCTimeZone());
}

const CertificateAuthority& Ca() {
  static const CertificateAuthority* ca = [] {
    absl::StatusOr<CertificateAuthority> made = enlace::auth::CreateCertificateAuthority(
        "Enlace fuzz CA", Now() - absl::Hours(24), Now() + absl::Hours(24 * 3650));
    if (!made.ok()) std::abort();
    return new CertificateAuthority(*std::move(made));
  }();
  return *ca;
}

std::string Pem(absl::string_view label, absl::string_view der) {
  std::string base64 = absl::Base64Escape(der);
  std::string pem = absl::StrCat("-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < base64.size(); i += 64) absl::StrAppend(&pem, base64.substr(i, 64), "\n");
  absl::StrAppend(&pem, "-----END ", label, "-----\n");
  return pem;
}

bool CanonicalSerial(absl::string_view serial) {
  if (serial.empty() || (serial.size() > 1 && serial[0] == '0')) return false;
  for (char c : serial) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void FuzzSign(const std::string& csr_pem) {
  enlace::auth::LeafProfile profile;  // as AdminServiceImpl::IssueCertificate
  profile.common_name = "iom";
  profile.uri_sans = {"spiffe://enlace/agency/iom"};
  profile.client_auth = true;
  profile.not_before = Now() - absl::Minutes(5);
  profile.not_after = Now() + absl::Hours(24 * 90);
  absl::StatusOr<std::string> pem = enlace::auth::SignCsr(Ca(), csr_pem, profile);
  if (!pem.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(pem.status()),
               "a bad CSR is not INVALID_ARGUMENT: " + pem.status().ToString());
    return;
  }
  absl::StatusOr<enlace::auth::CertificateInfo> info = enlace::auth::ReadCertificate(*pem);
  FUZZ_CHECK(info.ok(), "an issued certificate does not read back: " + info.status().ToString());
  FUZZ_CHECK(info->uri_sans == profile.uri_sans && info->dns_sans.empty() && info->ip_sans.empty(),
             "the certificate's SANs are not the profile's");
  FUZZ_CHECK(info->common_name == "iom", "the certificate's name is not the profile's");
  FUZZ_CHECK(CanonicalSerial(info->serial_hex), "serial " + info->serial_hex);
  FUZZ_CHECK(enlace::auth::VerifyIssuedBy(*pem, Ca()).ok(),
             "an issued certificate is not the CA's");
  absl::StatusOr<enlace::auth::Principal> principal =
      enlace::auth::ParseSpiffeId(info->uri_sans[0]);
  FUZZ_CHECK(principal.ok() && principal->is_agency() && principal->name == "iom",
             "the certificate's identity is not the profile's");
}

void FuzzRead(const std::string& certificate_pem) {
  absl::StatusOr<enlace::auth::CertificateInfo> info =
      enlace::auth::ReadCertificate(certificate_pem);
  if (!info.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(info.status()), info.status().ToString());
    return;
  }
  FUZZ_CHECK(CanonicalSerial(info->serial_hex), "serial " + info->serial_hex);
  for (const std::string& uri : info->uri_sans) {
    FUZZ_CHECK(uri.find('\0') == std::string::npos, "a URI SAN with a NUL byte");
  }
  absl::StatusOr<std::string> serial = enlace::auth::CertificateSerialHex(certificate_pem);
  FUZZ_CHECK(serial.ok() && *serial == info->serial_hex, "two readings of one serial differ");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // the service refuses larger CSRs before parsing
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (absl::StartsWith(bytes, "-----BEGIN")) {
    FuzzSign(std::string(bytes));
    FuzzRead(std::string(bytes));
  } else {
    FuzzSign(Pem("CERTIFICATE REQUEST", bytes));
    FuzzRead(Pem("CERTIFICATE", bytes));
  }
  return 0;
}
