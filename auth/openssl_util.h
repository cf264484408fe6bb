// Internal plumbing shared by auth/pki.cc and auth/crl.cc: RAII for OpenSSL
// objects, turning OpenSSL's error queue into absl::Status, and the PEM
// parsing both need. Not a public API: nothing outside enlace_auth includes
// it, and it may change with those two files.
//
// OpenSSL reports errors through a thread-local queue. The public functions
// of pki.cc and crl.cc clear it on entry (ERR_clear_error()); the *WithOpenSsl
// helpers below drain it into the message of the Status they return, so no
// stale error leaks into a later, unrelated call.
#ifndef ENLACE_AUTH_OPENSSL_UTIL_H_
#define ENLACE_AUTH_OPENSSL_UTIL_H_

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace enlace::auth::openssl {

// ---------------------------------------------------------------------------
// RAII for OpenSSL objects.

// A std::unique_ptr deleter calling the OpenSSL free function `kFree`, e.g.
// std::unique_ptr<X509, OpenSslDeleter<X509_free>>. `kFree` must be a real
// function (OPENSSL_free is a macro and cannot be used).
template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

// The owners both pki.cc and crl.cc use; each file declares the others it
// alone needs with OpenSslDeleter.
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpenSslDeleter<ASN1_INTEGER_free>>;

// ---------------------------------------------------------------------------
// Errors.

// Empties this thread's OpenSSL error queue and returns its entries as one
// line, joined by "; " ("" if the queue was empty).
std::string DrainOpenSslErrors();

// `message`, followed by ": <OpenSSL errors>" if OpenSSL had queued any.
// Drains the queue.
std::string WithOpenSslErrors(absl::string_view message);

// InvalidArgument with WithOpenSslErrors(message): OpenSSL rejected input
// the caller supplied. Drains the queue.
absl::Status InvalidArgumentWithOpenSsl(absl::string_view message);

// Internal with WithOpenSslErrors(message): for failures of OpenSSL on
// inputs already validated (allocation, encoding), i.e. a broken invariant.
// Drains the queue.
absl::Status InternalWithOpenSsl(absl::string_view message);

// absl::ErrnoToStatus(error_number, "<what> <path>"), e.g.
// ErrnoStatus(errno, "cannot open", path). Does not touch the OpenSSL queue.
absl::Status ErrnoStatus(int error_number, absl::string_view what, absl::string_view path);

// `status` with the same message and code `code`; an OK `status` is
// returned unchanged.
absl::Status WithCode(absl::StatusCode code, const absl::Status& status);

// `status` with `prefix` prepended to its message and the same code; an OK
// `status` is returned unchanged.
absl::Status Annotate(absl::string_view prefix, const absl::Status& status);

// ---------------------------------------------------------------------------
// PEM and memory BIOs.

// A read-only memory BIO over `data` (which must outlive it); null if `data`
// is longer than INT_MAX bytes or OpenSSL cannot allocate the BIO.
BioPtr ReadBio(absl::string_view data);

// The bytes held by `bio`, a memory BIO (BIO_new(BIO_s_mem())) a PEM writer
// has just succeeded on. Internal "empty <what>" if it holds none: a PEM
// writer that succeeded always writes something, so an empty BIO is a
// broken invariant, never an empty result.
absl::StatusOr<std::string> MemBioContents(BIO* bio, absl::string_view what);

// A pem_password_cb that refuses to give a password, so reading an
// encrypted key fails instead of prompting on the terminal.
int NoPassword(char* buf, int size, int rwflag, void* u);

// The first certificate in `pem`. InvalidArgument "not a PEM certificate"
// (with OpenSSL's errors) if there is none or it does not decode; Internal
// if `pem` cannot be read at all (see ReadBio).
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem);

// The first private key in `pem`, which must not be encrypted (see
// NoPassword). InvalidArgument "not an unencrypted PEM private key" (with
// OpenSSL's errors) otherwise; Internal if `pem` cannot be read at all.
absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem);

// ---------------------------------------------------------------------------
// Signing and time.

// The digest to sign with using `key`: matched to the curve's strength for
// EC (SHA-256 below 384 bits, SHA-384 below 512, else SHA-512), SHA-256 for
// RSA and anything else, null for EdDSA (Ed25519/Ed448 hash internally).
// Suitable as the digest argument of X509_sign, X509_REQ_sign and
// X509_CRL_sign.
const EVP_MD* DigestFor(const EVP_PKEY* key);

// `time` as an absl::Time (UTC, whole seconds). InvalidArgument
// "malformed <what>" (with OpenSSL's errors) if `time` is null or does not
// decode.
absl::StatusOr<absl::Time> TimeFromAsn1(const ASN1_TIME* time, absl::string_view what);

}  // namespace enlace::auth::openssl

#endif  // ENLACE_AUTH_OPENSSL_UTIL_H_
