// The platform PKI: private keys, certificate signing requests, the platform
// certificate authority, and the certificates it issues to agencies,
// administrators and the server. Every caller's identity is the URI SAN
// (a SPIFFE ID) of a certificate made here, so the signing rules live in one
// place: SignCsr() takes the subject and SANs from the platform's own profile,
// never from the requester.
//
// Example:
//
//   absl::Time now = absl::Now();
//   absl::StatusOr<CertificateAuthority> ca = CreateCertificateAuthority(
//       "Enlace dev CA", now, now + absl::Hours(24 * 3650));
//   if (!ca.ok()) return ca.status();
//   // The agency makes its key and CSR locally; only the CSR travels.
//   absl::StatusOr<std::string> key = GeneratePrivateKeyPem(KeyType::kEcP256);
//   absl::StatusOr<std::string> csr = CreateCsrPem(*key, "iom");
//   LeafProfile profile;
//   profile.common_name = "agency iom";
//   profile.uri_sans = {"spiffe://enlace/agency/iom"};
//   profile.not_before = now;
//   profile.not_after = now + absl::Hours(24 * 365);
//   absl::StatusOr<std::string> cert = SignCsr(*ca, *csr, profile);
//
// All functions are thread-safe (they share no state; OpenSSL 3 is
// thread-safe). PEM inputs are unencrypted; an encrypted private key is
// rejected rather than prompting for a passphrase.
#ifndef ENLACE_AUTH_PKI_H_
#define ENLACE_AUTH_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/identity.h"

namespace enlace::auth {

// The kinds of key the platform makes and accepts.
enum class KeyType { kEcP256, kEcP384, kRsa2048, kRsa3072 };

// Returns a new private key of `type` as unencrypted PKCS#8 PEM
// ("-----BEGIN PRIVATE KEY-----").
absl::StatusOr<std::string> GeneratePrivateKeyPem(KeyType type);

// Returns a PKCS#10 certificate signing request (PEM, "CERTIFICATE REQUEST")
// for the public half of `private_key_pem`, signed by that key, with subject
// CN=`common_name` and no extensions. Agencies make these locally; the CSR is
// all that reaches the platform. Accepts any EC, RSA or EdDSA key OpenSSL can
// sign with: whether the key is acceptable is SignCsr()'s decision.
// Errors: InvalidArgument for an unreadable or encrypted key or a bad name.
absl::StatusOr<std::string> CreateCsrPem(absl::string_view private_key_pem,
                                         absl::string_view common_name);

// A certificate authority: its self-signed certificate and its private key,
// both PEM. The key is secret: write it only with mode 0600.
struct CertificateAuthority {
  std::string certificate_pem;
  std::string private_key_pem;
};

// Returns a new self-signed CA with subject CN=`common_name`, valid from
// `not_before` to `not_after` (truncated to whole seconds), with a new key of
// `key_type`. Extensions: basicConstraints CA:TRUE, pathlen:0 (critical: it
// issues leaf certificates only), keyUsage keyCertSign+cRLSign (critical),
// subjectKeyIdentifier and authorityKeyIdentifier. Signed with SHA-384 for a
// P-384 key, SHA-256 otherwise.
// Errors: InvalidArgument if `common_name` is empty or longer than 64 bytes,
// a time is infinite, or `not_after` <= `not_before`.
absl::StatusOr<CertificateAuthority> CreateCertificateAuthority(
    absl::string_view common_name, absl::Time not_before, absl::Time not_after,
    KeyType key_type = KeyType::kEcP256);

// Checks that `ca` is usable for signing: both PEMs parse, the certificate
// has basicConstraints CA:TRUE (and keyCertSign if it has a keyUsage), and the
// private key belongs to the certificate. Does not check the validity period.
// Errors: InvalidArgument, naming what is wrong.
absl::Status ValidateCertificateAuthority(const CertificateAuthority& ca);

// What the platform puts in a leaf (end-entity) certificate.
struct LeafProfile {
  // Subject CN; required, at most 64 bytes. Informational only: identity is
  // the URI SAN.
  std::string common_name;
  // URI SANs, e.g. "spiffe://enlace/agency/iom". Each must look like
  // "scheme:rest" in printable ASCII.
  std::vector<std::string> uri_sans;
  // DNS SANs, e.g. "localhost".
  std::vector<std::string> dns_sans;
  // IP SANs in text form, IPv4 ("127.0.0.1") or IPv6 ("::1").
  std::vector<std::string> ip_sans;
  // extendedKeyUsage clientAuth / serverAuth. At least one must be set.
  bool client_auth = true;
  bool server_auth = false;
  // Validity period, truncated to whole seconds; not_after > not_before is
  // required (so a default-constructed profile is rejected). It need not lie
  // inside the CA's validity, so tests can make expired certificates; a
  // certificate outside its CA's period does not verify.
  absl::Time not_before;
  absl::Time not_after;
};

// Signs the certificate signing request `csr_pem` with `ca` according to
// `profile`, and returns the certificate PEM.
//
// Checks first, in this order, each failure being InvalidArgument:
//   - the CSR parses, and its key is EC P-256, EC P-384, or RSA with 2048 to
//     8192 bits (other curves, EdDSA, DSA, RSA-PSS, short RSA are rejected);
//   - the CSR's self-signature verifies with that key (proof of possession);
//   - `ca` is valid (see ValidateCertificateAuthority()) and `profile` is
//     well-formed.
// The certificate is X.509 v3 with the CSR's public key and NOTHING else from
// the CSR: subject CN and SANs come only from `profile`; the CSR's subject and
// requested extensions are ignored. Extensions: basicConstraints CA:FALSE
// (critical), keyUsage digitalSignature, plus keyEncipherment for an RSA key
// (critical), extendedKeyUsage as `profile` asks, subjectKeyIdentifier,
// authorityKeyIdentifier (the CA's key id), subjectAltName (absent if the
// profile has no SANs). The serial is a fresh random positive integer of at
// most 128 bits. Signed with SHA-384 for a P-384 CA key, SHA-256 otherwise.
absl::StatusOr<std::string> SignCsr(const CertificateAuthority& ca, absl::string_view csr_pem,
                                    const LeafProfile& profile);

// A certificate with its private key, as issued by IssueCertificate().
struct IssuedCertificate {
  std::string certificate_pem;
  std::string private_key_pem;  // PKCS#8 PEM; secret.
  std::string serial_hex;  // As CertificateInfo::serial_hex.
};

// Convenience for the platform's own keys and for tests: a new key of
// `key_type`, a CSR for it, and SignCsr(ca, csr, profile).
absl::StatusOr<IssuedCertificate> IssueCertificate(const CertificateAuthority& ca,
                                                   const LeafProfile& profile,
                                                   KeyType key_type = KeyType::kEcP256);

// Facts read back from a certificate.
struct CertificateInfo {
  // The serial number as lowercase hexadecimal digits of its integer value:
  // no "0x", no colons, no leading zeros (so "1a2b", never "01a2b" or
  // "1A:2B"); zero is "0". This is the form the platform stores, lists and
  // revokes by. Certificates with a negative serial are rejected.
  std::string serial_hex;
  // URI SANs in certificate order (the caller's SPIFFE ID is among them).
  std::vector<std::string> uri_sans;
  // DNS SANs, and IP SANs in text form ("127.0.0.1", "::1").
  std::vector<std::string> dns_sans;
  std::vector<std::string> ip_sans;
  // Subject CN as UTF-8; empty if the subject has none.
  std::string common_name;
  absl::Time not_before;
  absl::Time not_after;
};

// Parses the first certificate in `certificate_pem` and returns its facts.
// Does NOT verify the certificate (signature, chain, time): the TLS layer did
// that; this only reads it.
// Errors: InvalidArgument if no certificate parses, the serial is negative,
// the subjectAltName extension is malformed or repeated, or a URI SAN contains
// a NUL byte.
absl::StatusOr<CertificateInfo> ReadCertificate(absl::string_view certificate_pem);

// Returns the serial of a certificate in the serial_hex form described above.
// Same errors as ReadCertificate().
absl::StatusOr<std::string> CertificateSerialHex(absl::string_view certificate_pem);

// ---------------------------------------------------------------------------
// Files.

// What WriteFileAtomically() does when `path` already exists.
enum class IfExists { kReplace, kFail };

// Writes `content` to `path` so that readers see either the old file or the
// whole new one: a temporary file in the same directory is written, given
// `mode` (e.g. 0600; the umask does not apply), fsync'ed, then moved to `path`,
// and the directory is fsync'ed (best effort). The temporary file is created
// with mode 0600, so a secret is never readable by others, even briefly.
// kReplace: rename() over an existing file. kFail: link() the temporary file
// to `path`, so that of two concurrent writers exactly one wins and the other
// gets AlreadyExists; nothing is ever overwritten.
// Errors: from errno (NotFound for a missing directory, PermissionDenied,
// AlreadyExists, ...), with the path in the message. On error no temporary
// file is left behind.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, int mode,
                                 IfExists if_exists = IfExists::kReplace);

// Reads a whole file. Errors: from errno, with the path in the message.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Reads and validates (ValidateCertificateAuthority()) the CA in `cert_path`
// and `key_path`.
// OK when `certificate_pem` is signed by `ca`'s key (signature only: not
// validity, not revocation); InvalidArgument otherwise.
absl::Status VerifyIssuedBy(absl::string_view certificate_pem, const CertificateAuthority& ca);

absl::StatusOr<CertificateAuthority> LoadCertificateAuthority(const std::string& cert_path,
                                                              const std::string& key_path);

// ---------------------------------------------------------------------------
// The development PKI that `enlacectl pki init` and `pki issue` write.
//
// Layout of the directory:
//   ca.crt, ca.key            CA "Enlace dev CA", 10 years
//   server.crt, server.key    serverAuth, DNS/IP SANs from server_names
//   <code>.crt, <code>.key    clientAuth, spiffe://enlace/agency/<code>
//   <name>.crt, <name>.key    clientAuth, spiffe://enlace/admin/<name>
// .key files have mode 0600, .crt files 0644. All keys are EC P-256.

// Returns OK if `name` is a valid agency code or administrator name
// (IsValidName() of auth/identity.h: [a-z][a-z0-9_-]{0,31}). Otherwise
// InvalidArgument naming `what` and `name`.
absl::Status ValidatePrincipalName(absl::string_view what, absl::string_view name);

// The SPIFFE IDs of the platform's principals, as Principal::SpiffeId()
// prints them: spiffe://enlace/agency/<code>, spiffe://enlace/admin/<name>.
// No validation, so tests can make odd ones.
std::string AgencySpiffeId(absl::string_view code);
std::string AdminSpiffeId(absl::string_view name);

struct DevPkiOptions {
  std::string dir;  // Created (mode 0700) if missing; its parent must exist.
  std::vector<std::string> agencies = {"mfa", "iom", "unhcr", "undp"};
  std::vector<std::string> admins = {"admin"};
  // DNS names and IP addresses of the server; each entry that parses as an
  // IPv4 or IPv6 address becomes an IP SAN, any other a DNS SAN.
  std::vector<std::string> server_names = {"localhost", "127.0.0.1"};
  int validity_days = 365;  // Of the leaf certificates: 1..3650.
  // The clock. Certificates are valid from now - 5 minutes (clock skew).
  absl::Time now = absl::Now();
};

// Checks `options` as InitDevPki() does before touching the file system:
// InvalidArgument for the option errors listed there.
absl::Status ValidateDevPkiOptions(const DevPkiOptions& options);

// Creates in `options.dir` every file of the layout above that is missing and
// keeps every one that exists, so running it again is harmless. Appends one
// human-readable line per file to `*log` ("created /d/iom.crt (spiffe://...,
// serial ..., expires ...)", "kept /d/ca.crt ..."), also for the files done
// before an error. A leaf's not_after is capped at the CA's.
//
// Never overwrites a file. Fails rather than leave an inconsistent PKI:
//   - InvalidArgument: a bad name, a name used twice or clashing with "ca" or
//     "server" (agencies and admins share the directory), a bad server name,
//     validity_days out of range, no server names;
//   - FailedPrecondition: a .crt without its .key or the reverse (an
//     interrupted run: delete the survivor), a kept certificate not issued by
//     the kept CA, not matching its key, or with another SPIFFE ID, or a kept
//     CA that is not a valid CA;
//   - AlreadyExists: another process created a file at the same time;
//   - errno-derived codes for I/O errors.
// REQUIRES: log != nullptr.
absl::Status InitDevPki(const DevPkiOptions& options, std::vector<std::string>* log);

struct DevIssueOptions {
  std::string dir;  // Holds ca.crt and ca.key.
  PrincipalKind kind = PrincipalKind::kAgency;
  std::string name;  // Agency code or admin name.
  std::string out_dir;  // Where <name>.crt/.key go; empty means `dir`.
  int validity_days = 365;
  absl::Time now = absl::Now();
};

// Issues one more client certificate offline with the CA in `options.dir` and
// writes `<out_dir>/<name>.crt` and `.key` (never overwriting: AlreadyExists).
// Returns the certificate; appends "created ..." lines to `*log`.
// REQUIRES: log != nullptr.
absl::StatusOr<IssuedCertificate> IssueDevCertificate(const DevIssueOptions& options,
                                                      std::vector<std::string>* log);

}  // namespace enlace::auth

#endif  // ENLACE_AUTH_PKI_H_
