// Internal OpenSSL plumbing for pki.cc and crl.cc. See openssl_util.h.
#include "auth/openssl_util.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <ctime>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace enlace::auth::openssl {

// ---------------------------------------------------------------------------
// Errors.

std::string DrainOpenSslErrors() {
  std::vector<std::string> errors;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    errors.emplace_back(buf);
  }
  return absl::StrJoin(errors, "; ");
}

std::string WithOpenSslErrors(absl::string_view message) {
  std::string errors = DrainOpenSslErrors();
  if (errors.empty()) return std::string(message);
  return absl::StrCat(message, ": ", errors);
}

absl::Status InvalidArgumentWithOpenSsl(absl::string_view message) {
  return absl::InvalidArgumentError(WithOpenSslErrors(message));
}

absl::Status InternalWithOpenSsl(absl::string_view message) {
  return absl::InternalError(WithOpenSslErrors(message));
}

absl::Status ErrnoStatus(int error_number, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(error_number, absl::StrCat(what, " ", path));
}

absl::Status WithCode(absl::StatusCode code, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(code, status.message());
}

absl::Status Annotate(absl::string_view prefix, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

// ---------------------------------------------------------------------------
// PEM and memory BIOs.

BioPtr ReadBio(absl::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

absl::StatusOr<std::string> MemBioContents(BIO* bio, absl::string_view what) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) {
    return InternalWithOpenSsl(absl::StrCat("empty ", what));
  }
  return std::string(data, static_cast<size_t>(len));
}

int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem) {
  BioPtr bio = ReadBio(pem);
  if (bio == nullptr) return InternalWithOpenSsl("cannot read certificate");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, &NoPassword, nullptr));
  if (cert == nullptr) {
    return InvalidArgumentWithOpenSsl("not a PEM certificate");
  }
  return cert;
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem) {
  BioPtr bio = ReadBio(pem);
  if (bio == nullptr) return InternalWithOpenSsl("cannot read private key");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassword, nullptr));
  if (key == nullptr) {
    return InvalidArgumentWithOpenSsl("not an unencrypted PEM private key");
  }
  return key;
}

// ---------------------------------------------------------------------------
// Signing and time.

const EVP_MD* DigestFor(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448: return nullptr;
    case EVP_PKEY_EC: {
      int bits = EVP_PKEY_get_bits(key);
      if (bits >= 512) return EVP_sha512();
      if (bits >= 384) return EVP_sha384();
      return EVP_sha256();
    }
    default: return EVP_sha256();
  }
}

absl::StatusOr<absl::Time> TimeFromAsn1(const ASN1_TIME* time, absl::string_view what) {
  struct tm tm = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return InvalidArgumentWithOpenSsl(absl::StrCat("malformed ", what));
  }
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                           tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

}  // namespace enlace::auth::openssl
