// The platform PKI on OpenSSL 3 libcrypto: keys, CSRs, the CA, leaf
// certificates, and the development PKI of `enlacectl pki`. See pki.h.
//
// OpenSSL reports errors through a thread-local queue; every public function
// clears it on entry and drains it into the message of the Status it returns,
// so no stale error leaks into a later, unrelated call. The helpers for that,
// and the OpenSSL plumbing crl.cc needs too, are in openssl_util.h.
#include "auth/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "auth/openssl_util.h"

namespace enlace::auth {
namespace {

// The shared OpenSSL plumbing (openssl_util.h), and the owners only this
// file needs.

using openssl::Annotate;
using openssl::Asn1IntegerPtr;
using openssl::BignumPtr;
using openssl::BioPtr;
using openssl::DigestFor;
using openssl::DrainOpenSslErrors;
using openssl::ErrnoStatus;
using openssl::EvpPkeyPtr;
using openssl::InternalWithOpenSsl;
using openssl::InvalidArgumentWithOpenSsl;
using openssl::MemBioContents;
using openssl::NoPassword;
using openssl::OpenSslDeleter;
using openssl::ParseCertificate;
using openssl::ParsePrivateKey;
using openssl::ReadBio;
using openssl::TimeFromAsn1;
using openssl::WithCode;
using openssl::X509Ptr;

using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, OpenSslDeleter<ASN1_STRING_free>>;

// OPENSSL_free is a macro, so it cannot be a template argument.
struct OpenSslStringDeleter {
  void operator()(char* p) const { OPENSSL_free(p); }
};
struct OpenSslBytesDeleter {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using OpenSslString = std::unique_ptr<char, OpenSslStringDeleter>;
using OpenSslBytes = std::unique_ptr<unsigned char, OpenSslBytesDeleter>;

// ---------------------------------------------------------------------------
// PEM <-> objects (certificates and private keys: openssl_util.h).

absl::StatusOr<X509ReqPtr> ParseCsr(absl::string_view pem) {
  BioPtr bio = ReadBio(pem);
  if (bio == nullptr) return InternalWithOpenSsl("cannot read CSR");
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, &NoPassword, nullptr));
  if (req == nullptr) {
    return InvalidArgumentWithOpenSsl("not a PEM certificate signing request");
  }
  return req;
}

absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return InternalWithOpenSsl("cannot encode private key as PKCS#8 PEM");
  }
  return MemBioContents(bio.get(), "private key PEM");
}

absl::StatusOr<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return InternalWithOpenSsl("cannot encode certificate as PEM");
  }
  return MemBioContents(bio.get(), "certificate PEM");
}

// ---------------------------------------------------------------------------
// Keys.

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcP256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyType::kEcP384: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyType::kRsa2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
    case KeyType::kRsa3072: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072}); break;
  }
  if (key == nullptr) return InternalWithOpenSsl("key generation failed");
  return EvpPkeyPtr(key);
}

// The NID of an EC key's named curve, or NID_undef (also for keys decoded
// from explicit curve parameters, which we never accept).
int EcCurveNid(const EVP_PKEY* key) {
  int explicit_params = 0;
  if (EVP_PKEY_get_int_param(key, OSSL_PKEY_PARAM_EC_DECODED_FROM_EXPLICIT_PARAMS,
                             &explicit_params) == 1 &&
      explicit_params != 0) {
    return NID_undef;
  }
  char name[80];
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1) {
    ERR_clear_error();
    return NID_undef;
  }
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid;
}

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;  // Bounds the cost of verifying a CSR.

// OK if the platform accepts `key` in a certificate it issues.
absl::Status CheckLeafKey(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      int nid = EcCurveNid(key);
      if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1) {
        return absl::InvalidArgumentError(
            "CSR key: only EC keys on the named curves P-256 and P-384 are "
            "accepted");
      }
      break;
    }
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(key);
      if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return absl::InvalidArgumentError(absl::StrCat("CSR key: RSA key of ", bits,
                                                       " bits; accepted are ", kMinRsaBits, " to ",
                                                       kMaxRsaBits, " bits"));
      }
      break;
    }
    default:
      return absl::InvalidArgumentError(
          "CSR key: unsupported key type; accepted are EC P-256, EC P-384 "
          "and RSA >= 2048 bits");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (ctx == nullptr) return InternalWithOpenSsl("EVP_PKEY_CTX_new");
  if (EVP_PKEY_public_check(ctx.get()) != 1) {
    return InvalidArgumentWithOpenSsl("CSR key: invalid public key");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Certificate fields.

absl::Status CheckCommonName(absl::string_view common_name) {
  if (common_name.empty() || common_name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("common name must be 1 to 64 bytes, got ", common_name.size()));
  }
  for (char c : common_name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError("common name contains a control character");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<X509NamePtr> MakeName(absl::string_view common_name) {
  absl::Status status = CheckCommonName(common_name);
  if (!status.ok()) return status;
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr) return InternalWithOpenSsl("X509_NAME_new");
  if (X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return InvalidArgumentWithOpenSsl(absl::StrCat("invalid common name \"", common_name, "\""));
  }
  return name;
}

absl::Status CheckValidity(absl::Time not_before, absl::Time not_after) {
  if (not_before == absl::InfinitePast() || not_before == absl::InfiniteFuture() ||
      not_after == absl::InfinitePast() || not_after == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("validity times must be finite");
  }
  if (absl::ToTimeT(not_after) <= absl::ToTimeT(not_before)) {
    return absl::InvalidArgumentError(absl::StrCat("not_after (", absl::FormatTime(not_after),
                                                   ") must be after not_before (",
                                                   absl::FormatTime(not_before), ")"));
  }
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before, absl::Time not_after) {
  absl::Status status = CheckValidity(not_before, not_after);
  if (!status.ok()) return status;
  // ASN1_TIME_set picks UTCTime through 2049 and GeneralizedTime after, as
  // RFC 5280 requires.
  if (ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after)) == nullptr) {
    return InvalidArgumentWithOpenSsl("validity time out of range");
  }
  return absl::OkStatus();
}

// A random serial in [1, 2^128).
absl::StatusOr<Asn1IntegerPtr> RandomSerial() {
  for (int attempt = 0; attempt < 8; ++attempt) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      return InternalWithOpenSsl("RAND_bytes");
    }
    BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
    if (bn == nullptr) return InternalWithOpenSsl("BN_bin2bn");
    if (BN_is_zero(bn.get())) continue;
    Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    if (serial == nullptr) return InternalWithOpenSsl("BN_to_ASN1_INTEGER");
    return serial;
  }
  return absl::InternalError("RAND_bytes returned zero repeatedly");
}

absl::StatusOr<std::string> SerialHexOf(const X509* cert) {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (bn == nullptr) return InvalidArgumentWithOpenSsl("malformed serial");
  if (BN_is_negative(bn.get())) {
    return absl::InvalidArgumentError("certificate has a negative serial");
  }
  if (BN_is_zero(bn.get())) return std::string("0");
  OpenSslString hex(BN_bn2hex(bn.get()));
  if (hex == nullptr) return InternalWithOpenSsl("BN_bn2hex");
  std::string out = absl::AsciiStrToLower(hex.get());
  out.erase(0, std::min(out.find_first_not_of('0'), out.size()));
  return out;
}

// Adds an extension given in OpenSSL's configuration syntax. Only ever called
// with constant values, never with caller-supplied text.
absl::Status AddExtension(X509V3_CTX* ctx, X509* cert, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return InternalWithOpenSsl(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

bool IsPrintableAsciiNoSpace(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

absl::Status CheckUri(absl::string_view uri) {
  size_t colon = uri.find(':');
  bool scheme_ok = colon != absl::string_view::npos && colon > 0 &&
                   absl::ascii_isalpha(static_cast<unsigned char>(uri[0]));
  for (size_t i = 1; scheme_ok && i < colon; ++i) {
    char c = uri[i];
    scheme_ok =
        absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok || colon + 1 >= uri.size() || uri.size() > 2048 || !IsPrintableAsciiNoSpace(uri)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid URI SAN \"", absl::CEscape(uri), "\""));
  }
  return absl::OkStatus();
}

bool IsValidDnsName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::vector<absl::string_view> labels = absl::StrSplit(name, '.');
  for (size_t i = 0; i < labels.size(); ++i) {
    absl::string_view label = labels[i];
    if (label.empty() || label.size() > 63) return false;
    if (i == 0 && label == "*" && labels.size() > 1) continue;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return false;
      }
    }
    if (label.front() == '-' || label.back() == '-') return false;
  }
  return true;
}

// Parses an IPv4 or IPv6 address into its 4 or 16 network-order bytes.
bool ParseIp(absl::string_view text, std::string* bytes) {
  std::string s(text);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    if (bytes != nullptr) bytes->assign(reinterpret_cast<char*>(buf), 4);
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    if (bytes != nullptr) bytes->assign(reinterpret_cast<char*>(buf), 16);
    return true;
  }
  return false;
}

absl::Status PushGeneralName(GENERAL_NAMES* names, int type, absl::string_view value) {
  Asn1StringPtr str(type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new());
  GeneralNamePtr name(GENERAL_NAME_new());
  if (str == nullptr || name == nullptr ||
      ASN1_STRING_set(str.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return InternalWithOpenSsl("cannot build subjectAltName");
  }
  GENERAL_NAME_set0_value(name.get(), type, str.release());
  if (sk_GENERAL_NAME_push(names, name.get()) <= 0) {
    return InternalWithOpenSsl("cannot build subjectAltName");
  }
  // NOLINTNEXTLINE(bugprone-unused-return-value): sk_GENERAL_NAME_push took it.
  name.release();  // owned by `names` now
  return absl::OkStatus();
}

// Builds the subjectAltName of `profile` from typed values (no configuration
// string parsing, so a SAN cannot smuggle in another one). Null if none.
absl::StatusOr<GeneralNamesPtr> MakeSubjectAltNames(const LeafProfile& profile) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return InternalWithOpenSsl("sk_GENERAL_NAME_new_null");
  for (const std::string& uri : profile.uri_sans) {
    absl::Status status = CheckUri(uri);
    if (!status.ok()) return status;
    status = PushGeneralName(names.get(), GEN_URI, uri);
    if (!status.ok()) return status;
  }
  for (const std::string& dns : profile.dns_sans) {
    if (!IsValidDnsName(dns)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid DNS SAN \"", absl::CEscape(dns), "\""));
    }
    absl::Status status = PushGeneralName(names.get(), GEN_DNS, dns);
    if (!status.ok()) return status;
  }
  for (const std::string& ip : profile.ip_sans) {
    std::string bytes;
    if (!ParseIp(ip, &bytes)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid IP SAN \"", absl::CEscape(ip), "\""));
    }
    absl::Status status = PushGeneralName(names.get(), GEN_IPADD, bytes);
    if (!status.ok()) return status;
  }
  if (sk_GENERAL_NAME_num(names.get()) == 0) return GeneralNamesPtr();
  return names;
}

std::string IpToText(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  int len = ASN1_STRING_length(ip);
  if (len == 4 && inet_ntop(AF_INET, data, buf, sizeof(buf)) != nullptr) {
    return buf;
  }
  if (len == 16 && inet_ntop(AF_INET6, data, buf, sizeof(buf)) != nullptr) {
    return buf;
  }
  return absl::StrCat("<", len, "-byte address>");
}

// ---------------------------------------------------------------------------
// The CA, parsed.

struct ParsedCa {
  X509Ptr cert;
  EvpPkeyPtr key;
};

absl::StatusOr<ParsedCa> ParseCa(const CertificateAuthority& ca) {
  absl::StatusOr<X509Ptr> cert = ParseCertificate(ca.certificate_pem);
  if (!cert.ok()) return Annotate("CA certificate: ", cert.status());
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(ca.private_key_pem);
  if (!key.ok()) return Annotate("CA private key: ", key.status());
  if (X509_check_ca(cert->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CA certificate: lacks basicConstraints CA:TRUE");
  }
  if ((X509_get_extension_flags(cert->get()) & EXFLAG_INVALID) != 0) {
    return absl::InvalidArgumentError("CA certificate: has malformed extensions");
  }
  if ((X509_get_key_usage(cert->get()) & KU_KEY_CERT_SIGN) == 0) {
    return absl::InvalidArgumentError("CA certificate: keyUsage lacks keyCertSign");
  }
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return InvalidArgumentWithOpenSsl("CA private key does not match the CA certificate");
  }
  return ParsedCa{*std::move(cert), *std::move(key)};
}

absl::StatusOr<std::string> CreateCsrForKey(EVP_PKEY* key, absl::string_view common_name) {
  absl::StatusOr<X509NamePtr> name = MakeName(common_name);
  if (!name.ok()) return name.status();
  X509ReqPtr req(X509_REQ_new());
  if (req == nullptr || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_subject_name(req.get(), name->get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1) {
    return InternalWithOpenSsl("cannot build CSR");
  }
  if (X509_REQ_sign(req.get(), key, DigestFor(key)) <= 0) {
    return InvalidArgumentWithOpenSsl("cannot sign CSR with this key");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return InternalWithOpenSsl("cannot encode CSR as PEM");
  }
  return MemBioContents(bio.get(), "CSR PEM");
}

absl::Status CheckProfile(const LeafProfile& profile) {
  absl::Status status = CheckCommonName(profile.common_name);
  if (!status.ok()) return Annotate("profile: ", status);
  if (!profile.client_auth && !profile.server_auth) {
    return absl::InvalidArgumentError("profile: asks for neither clientAuth nor serverAuth");
  }
  return Annotate("profile: ", CheckValidity(profile.not_before, profile.not_after));
}

}  // namespace

// ---------------------------------------------------------------------------
// Keys, CSRs, certificates.

absl::StatusOr<std::string> GeneratePrivateKeyPem(KeyType type) {
  ERR_clear_error();
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type);
  if (!key.ok()) return key.status();
  return PrivateKeyToPem(key->get());
}

absl::StatusOr<std::string> CreateCsrPem(absl::string_view private_key_pem,
                                         absl::string_view common_name) {
  ERR_clear_error();
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(private_key_pem);
  if (!key.ok()) return key.status();
  return CreateCsrForKey(key->get(), common_name);
}

absl::StatusOr<CertificateAuthority> CreateCertificateAuthority(absl::string_view common_name,
                                                                absl::Time not_before,
                                                                absl::Time not_after,
                                                                KeyType key_type) {
  ERR_clear_error();
  absl::StatusOr<X509NamePtr> name = MakeName(common_name);
  if (!name.ok()) return name.status();
  absl::Status status = CheckValidity(not_before, not_after);
  if (!status.ok()) return status;
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(key_type);
  if (!key.ok()) return key.status();
  absl::StatusOr<Asn1IntegerPtr> serial = RandomSerial();
  if (!serial.ok()) return serial.status();

  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial->get()) != 1 ||
      X509_set_subject_name(cert.get(), name->get()) != 1 ||
      X509_set_issuer_name(cert.get(), name->get()) != 1 ||
      X509_set_pubkey(cert.get(), key->get()) != 1) {
    return InternalWithOpenSsl("cannot build CA certificate");
  }
  status = SetValidity(cert.get(), not_before, not_after);
  if (!status.ok()) return status;

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : std::vector<std::pair<int, const char*>>{
           {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
           {NID_key_usage, "critical,keyCertSign,cRLSign"},
           {NID_subject_key_identifier, "hash"},
           // After the SKI, which it copies (the CA is its own issuer).
           {NID_authority_key_identifier, "keyid:always"},
       }) {
    status = AddExtension(&ctx, cert.get(), nid, value);
    if (!status.ok()) return status;
  }
  if (X509_sign(cert.get(), key->get(), DigestFor(key->get())) <= 0) {
    return InternalWithOpenSsl("cannot sign CA certificate");
  }

  absl::StatusOr<std::string> cert_pem = CertificateToPem(cert.get());
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = PrivateKeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return CertificateAuthority{*std::move(cert_pem), *std::move(key_pem)};
}

absl::Status ValidateCertificateAuthority(const CertificateAuthority& ca) {
  ERR_clear_error();
  return ParseCa(ca).status();
}

absl::StatusOr<std::string> SignCsr(const CertificateAuthority& ca, absl::string_view csr_pem,
                                    const LeafProfile& profile) {
  ERR_clear_error();
  // The requester's input first: key type before the (costly) signature.
  absl::StatusOr<X509ReqPtr> req = ParseCsr(csr_pem);
  if (!req.ok()) return req.status();
  EVP_PKEY* leaf_key = X509_REQ_get0_pubkey(req->get());
  if (leaf_key == nullptr) {
    return InvalidArgumentWithOpenSsl("CSR: unreadable public key");
  }
  absl::Status status = CheckLeafKey(leaf_key);
  if (!status.ok()) return status;
  if (X509_REQ_verify(req->get(), leaf_key) != 1) {
    return InvalidArgumentWithOpenSsl("CSR: signature does not verify with the CSR's public key");
  }

  absl::StatusOr<ParsedCa> parsed_ca = ParseCa(ca);
  if (!parsed_ca.ok()) return parsed_ca.status();
  status = CheckProfile(profile);
  if (!status.ok()) return status;
  absl::StatusOr<X509NamePtr> subject = MakeName(profile.common_name);
  if (!subject.ok()) return subject.status();
  absl::StatusOr<GeneralNamesPtr> sans = MakeSubjectAltNames(profile);
  if (!sans.ok()) return Annotate("profile: ", sans.status());
  absl::StatusOr<Asn1IntegerPtr> serial = RandomSerial();
  if (!serial.ok()) return serial.status();

  X509* ca_cert = parsed_ca->cert.get();
  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial->get()) != 1 ||
      X509_set_subject_name(cert.get(), subject->get()) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert)) != 1 ||
      X509_set_pubkey(cert.get(), leaf_key) != 1) {
    return InternalWithOpenSsl("cannot build certificate");
  }
  status = SetValidity(cert.get(), profile.not_before, profile.not_after);
  if (!status.ok()) return Annotate("profile: ", status);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca_cert, cert.get(), nullptr, nullptr, 0);
  const bool rsa = EVP_PKEY_get_base_id(leaf_key) == EVP_PKEY_RSA;
  std::string eku;
  if (profile.client_auth) eku = "clientAuth";
  if (profile.server_auth) absl::StrAppend(&eku, eku.empty() ? "" : ",", "serverAuth");
  for (const auto& [nid, value] : std::vector<std::pair<int, const char*>>{
           {NID_basic_constraints, "critical,CA:FALSE"},
           {NID_key_usage,
            rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"},
           {NID_ext_key_usage, eku.c_str()},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, "keyid:always"},
       }) {
    status = AddExtension(&ctx, cert.get(), nid, value);
    if (!status.ok()) return status;
  }
  if (*sans != nullptr && X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans->get(), 0,
                                            X509V3_ADD_DEFAULT) != 1) {
    return InternalWithOpenSsl("cannot add subjectAltName");
  }

  EVP_PKEY* ca_key = parsed_ca->key.get();
  if (X509_sign(cert.get(), ca_key, DigestFor(ca_key)) <= 0) {
    return InternalWithOpenSsl("cannot sign certificate");
  }
  return CertificateToPem(cert.get());
}

absl::StatusOr<IssuedCertificate> IssueCertificate(const CertificateAuthority& ca,
                                                   const LeafProfile& profile, KeyType key_type) {
  ERR_clear_error();
  absl::StatusOr<std::string> key_pem = GeneratePrivateKeyPem(key_type);
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::string> csr = CreateCsrPem(*key_pem, profile.common_name);
  if (!csr.ok()) return Annotate("profile: ", csr.status());
  absl::StatusOr<std::string> cert_pem = SignCsr(ca, *csr, profile);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> serial = CertificateSerialHex(*cert_pem);
  if (!serial.ok()) return serial.status();
  return IssuedCertificate{*std::move(cert_pem), *std::move(key_pem), *std::move(serial)};
}

absl::StatusOr<CertificateInfo> ReadCertificate(absl::string_view certificate_pem) {
  ERR_clear_error();
  absl::StatusOr<X509Ptr> cert = ParseCertificate(certificate_pem);
  if (!cert.ok()) return cert.status();
  CertificateInfo info;

  absl::StatusOr<std::string> serial = SerialHexOf(cert->get());
  if (!serial.ok()) return serial.status();
  info.serial_hex = *std::move(serial);

  int critical = -1;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, &critical, nullptr)));
  if (names == nullptr && critical != -1) {
    // -2: the extension occurs more than once; >= 0: it does not decode.
    return InvalidArgumentWithOpenSsl(critical == -2
                                          ? "certificate has more than one subjectAltName"
                                          : "certificate has a malformed subjectAltName");
  }
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const ASN1_STRING* value =
        static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    if (type == GEN_IPADD) {
      info.ip_sans.push_back(IpToText(value));
      continue;
    }
    if (type != GEN_URI && type != GEN_DNS) continue;
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
    if (text.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("certificate has a subjectAltName with a NUL byte");
    }
    (type == GEN_URI ? info.uri_sans : info.dns_sans).push_back(std::move(text));
  }

  X509_NAME* subject = X509_get_subject_name(cert->get());
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, cn);
    if (len < 0) return InvalidArgumentWithOpenSsl("malformed common name");
    OpenSslBytes owner(utf8);
    info.common_name.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  }

  absl::StatusOr<absl::Time> not_before =
      TimeFromAsn1(X509_get0_notBefore(cert->get()), "validity time");
  if (!not_before.ok()) return not_before.status();
  absl::StatusOr<absl::Time> not_after =
      TimeFromAsn1(X509_get0_notAfter(cert->get()), "validity time");
  if (!not_after.ok()) return not_after.status();
  info.not_before = *not_before;
  info.not_after = *not_after;
  return info;
}

absl::StatusOr<std::string> CertificateSerialHex(absl::string_view certificate_pem) {
  ERR_clear_error();
  absl::StatusOr<X509Ptr> cert = ParseCertificate(certificate_pem);
  if (!cert.ok()) return cert.status();
  return SerialHexOf(cert->get());
}

// ---------------------------------------------------------------------------
// Files.

namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::Status WriteAll(int fd, absl::string_view content, const std::string& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write", path);
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Best effort: some file systems refuse fsync on a directory.
void SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// Whether `path` exists (following symlinks); an error if stat fails for
// another reason than its absence, or it is not a regular file.
absl::StatusOr<bool> RegularFileExists(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return ErrnoStatus(errno, "cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a regular file"));
  }
  return true;
}

// Creates `dir` with mode 0700 unless it is already a directory.
absl::Status EnsureDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return absl::OkStatus();
  int error = errno;
  struct stat st;
  if (error == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::OkStatus();
  }
  return ErrnoStatus(error, "cannot create directory", dir);
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, int mode,
                                 IfExists if_exists) {
  const std::string dir = DirName(path);
  std::string tmp = absl::StrCat(dir, "/.", BaseName(path), ".tmp-XXXXXX");
  int fd = ::mkstemp(tmp.data());  // Mode 0600.
  if (fd < 0) return ErrnoStatus(errno, "cannot create a temporary file in", dir);
  absl::Status status = WriteAll(fd, content, tmp);
  if (status.ok() && ::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    status = ErrnoStatus(errno, "cannot chmod", tmp);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = ErrnoStatus(errno, "cannot fsync", tmp);
  }
  if (::close(fd) != 0 && status.ok()) {
    status = ErrnoStatus(errno, "cannot close", tmp);
  }
  if (status.ok()) {
    if (if_exists == IfExists::kReplace) {
      if (::rename(tmp.c_str(), path.c_str()) != 0) {
        status = ErrnoStatus(errno, "cannot rename a temporary file to", path);
      }
    } else if (::link(tmp.c_str(), path.c_str()) != 0) {
      status =
          errno == EEXIST
              ? absl::AlreadyExistsError(absl::StrCat(path, " already exists; not overwritten"))
              : ErrnoStatus(errno, "cannot link a temporary file to", path);
    }
  }
  // After rename there is nothing to remove; after link (or an error) the
  // temporary name goes.
  if (!status.ok() || if_exists == IfExists::kFail) ::unlink(tmp.c_str());
  if (status.ok()) SyncDirectory(dir);
  return status;
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  std::string content;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      return ErrnoStatus(error, "cannot read", path);
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

absl::StatusOr<CertificateAuthority> LoadCertificateAuthority(const std::string& cert_path,
                                                              const std::string& key_path) {
  absl::StatusOr<std::string> cert = ReadFileToString(cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFileToString(key_path);
  if (!key.ok()) return key.status();
  CertificateAuthority ca{*std::move(cert), *std::move(key)};
  absl::Status status = ValidateCertificateAuthority(ca);
  if (!status.ok()) {
    return Annotate(absl::StrCat(cert_path, ", ", key_path, ": "), status);
  }
  return ca;
}

// ---------------------------------------------------------------------------
// The development PKI.

namespace {

constexpr absl::string_view kDevCaName = "Enlace dev CA";
constexpr int kDevCaValidityYears = 10;
constexpr int kMaxLeafValidityDays = 3650;
constexpr absl::Duration kClockSkew = absl::Minutes(5);
constexpr int kKeyMode = 0600;
constexpr int kCertMode = 0644;

std::string Day(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

std::string PathIn(const std::string& dir, absl::string_view file) {
  return absl::StrCat(dir, "/", file);
}

// One certificate+key pair of the layout.
struct PairSpec {
  std::string stem;  // "ca", "server", "iom", ...
  LeafProfile profile;
  std::string what;  // Shown in log lines: the SPIFFE ID, or the SANs.
};

// Reports which of the pair's files exist; FailedPrecondition if only one.
absl::StatusOr<bool> PairExists(const std::string& cert_path, const std::string& key_path) {
  absl::StatusOr<bool> cert = RegularFileExists(cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<bool> key = RegularFileExists(key_path);
  if (!key.ok()) return key.status();
  if (*cert != *key) {
    const std::string& present = *cert ? cert_path : key_path;
    const std::string& missing = *cert ? key_path : cert_path;
    return absl::FailedPreconditionError(absl::StrCat(
        present, " exists without ", missing, " (an interrupted run?): delete it and run again"));
  }
  return *cert;
}

std::string KeyModeNote(const std::string& key_path) {
  struct stat st;
  if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return absl::StrCat(" (warning: mode ", mode, ", expected 0600)");
  }
  return "";
}

std::string Describe(const CertificateInfo& info, absl::string_view what, absl::Time now) {
  return absl::StrCat("(", what, ", serial ", info.serial_hex,
                      info.not_after <= now ? ", EXPIRED " : ", expires ", Day(info.not_after),
                      ")");
}

std::string DescribeServerNames(const std::vector<std::string>& dns,
                                const std::vector<std::string>& ips) {
  std::vector<std::string> parts;
  parts.reserve(dns.size() + ips.size());
  for (const std::string& d : dns) parts.push_back(absl::StrCat("DNS:", d));
  for (const std::string& ip : ips) parts.push_back(absl::StrCat("IP:", ip));
  return absl::StrJoin(parts, ", ");
}

// Checks that an existing leaf pair belongs to `ca` and to `spec`, and logs it.
absl::Status KeepLeaf(const ParsedCa& ca, const PairSpec& spec, const std::string& cert_path,
                      const std::string& key_path, absl::Time now, std::vector<std::string>* log) {
  auto fail = [&](absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(cert_path, " ", why, ": delete ", cert_path,
                                                      " and ", key_path, " to issue a new one"));
  };
  absl::StatusOr<std::string> cert_pem = ReadFileToString(cert_path);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFileToString(key_path);
  if (!key_pem.ok()) return key_pem.status();
  ERR_clear_error();
  absl::StatusOr<X509Ptr> cert = ParseCertificate(*cert_pem);
  if (!cert.ok()) return fail("is not a PEM certificate");
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(*key_pem);
  if (!key.ok()) return fail(absl::StrCat("has an unreadable key ", key_path));
  EVP_PKEY* ca_public = X509_get0_pubkey(ca.cert.get());
  if (X509_check_issued(ca.cert.get(), cert->get()) != X509_V_OK || ca_public == nullptr ||
      X509_verify(cert->get(), ca_public) != 1) {
    ERR_clear_error();
    return fail("was not issued by the CA in this directory");
  }
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return fail(absl::StrCat("does not match ", key_path));
  }
  absl::StatusOr<CertificateInfo> info = ReadCertificate(*cert_pem);
  if (!info.ok()) return fail(info.status().message());

  std::string note;
  if (spec.profile.server_auth) {
    std::set<std::string> want(spec.profile.dns_sans.begin(), spec.profile.dns_sans.end());
    std::set<std::string> have(info->dns_sans.begin(), info->dns_sans.end());
    std::set<std::string> want_ip, have_ip;
    for (const std::string& ip : spec.profile.ip_sans) {
      std::string bytes;
      ParseIp(ip, &bytes);
      want_ip.insert(bytes);
    }
    for (const std::string& ip : info->ip_sans) {
      std::string bytes;
      ParseIp(ip, &bytes);
      have_ip.insert(bytes);
    }
    if (want != have || want_ip != have_ip) {
      note = absl::StrCat(" (note: it is for ", DescribeServerNames(info->dns_sans, info->ip_sans),
                          "; delete it to issue one for ", spec.what, ")");
    }
  } else if (info->uri_sans != spec.profile.uri_sans) {
    return fail(absl::StrCat("is for ", absl::StrJoin(info->uri_sans, ", "), ", not ", spec.what));
  }
  log->push_back(absl::StrCat("kept ", key_path, KeyModeNote(key_path)));
  log->push_back(absl::StrCat(
      "kept ", cert_path, " ",
      Describe(
          *info,
          spec.profile.server_auth ? DescribeServerNames(info->dns_sans, info->ip_sans) : spec.what,
          now),
      note));
  return absl::OkStatus();
}

// Writes a new key then its certificate (so a certificate never exists
// without its key), never overwriting either.
absl::Status WritePair(const std::string& cert_path, const std::string& key_path,
                       const std::string& cert_pem, const std::string& key_pem,
                       std::vector<std::string>* log) {
  absl::Status status = WriteFileAtomically(key_path, key_pem, kKeyMode, IfExists::kFail);
  if (!status.ok()) return status;
  log->push_back(absl::StrCat("created ", key_path));
  return WriteFileAtomically(cert_path, cert_pem, kCertMode, IfExists::kFail);
}

absl::StatusOr<IssuedCertificate> IssueAndWrite(const CertificateAuthority& ca,
                                                const PairSpec& spec, const std::string& cert_path,
                                                const std::string& key_path, absl::Time now,
                                                std::vector<std::string>* log) {
  absl::StatusOr<IssuedCertificate> issued = IssueCertificate(ca, spec.profile);
  if (!issued.ok()) return issued.status();
  absl::Status status =
      WritePair(cert_path, key_path, issued->certificate_pem, issued->private_key_pem, log);
  if (!status.ok()) return status;
  absl::StatusOr<CertificateInfo> info = ReadCertificate(issued->certificate_pem);
  if (!info.ok()) return info.status();
  log->push_back(absl::StrCat("created ", cert_path, " ", Describe(*info, spec.what, now)));
  return issued;
}

absl::Status CheckValidityDays(int days) {
  if (days < 1 || days > kMaxLeafValidityDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity days must be 1 to ", kMaxLeafValidityDays, ", got ", days));
  }
  return absl::OkStatus();
}

LeafProfile ClientProfile(std::string common_name, std::string spiffe_id, absl::Time not_before,
                          absl::Time not_after) {
  LeafProfile profile;
  profile.common_name = std::move(common_name);
  profile.uri_sans = {std::move(spiffe_id)};
  profile.client_auth = true;
  profile.server_auth = false;
  profile.not_before = not_before;
  profile.not_after = not_after;
  return profile;
}

// The leaf validity window for a CA: from now - skew to now + days, capped at
// the CA's not_after. FailedPrecondition if the CA has expired.
absl::Status LeafWindow(const CertificateAuthority& ca, absl::Time now, int validity_days,
                        absl::Time* not_before, absl::Time* not_after) {
  absl::StatusOr<CertificateInfo> ca_info = ReadCertificate(ca.certificate_pem);
  if (!ca_info.ok()) return ca_info.status();
  *not_before = now - kClockSkew;
  *not_after = std::min(now + absl::Hours(24) * validity_days, ca_info->not_after);
  if (*not_after <= now) {
    return absl::FailedPreconditionError(absl::StrCat("the CA expired on ", Day(ca_info->not_after),
                                                      ": start a new PKI in another directory"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePrincipalName(absl::string_view what, absl::string_view name) {
  if (IsValidName(name)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid ", what, " \"", absl::CEscape(name),
                                                 "\": must match [a-z][a-z0-9_-]{0,31}"));
}

std::string AgencySpiffeId(absl::string_view code) {
  return Principal{PrincipalKind::kAgency, std::string(code)}.SpiffeId();
}

std::string AdminSpiffeId(absl::string_view name) {
  return Principal{PrincipalKind::kAdmin, std::string(name)}.SpiffeId();
}

absl::Status ValidateDevPkiOptions(const DevPkiOptions& options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("a directory is required");
  }
  absl::Status status = CheckValidityDays(options.validity_days);
  if (!status.ok()) return status;
  // Every pair is <stem>.crt/.key in one directory: stems must be unique.
  std::set<std::string> stems;
  for (const auto& [what, names] :
       {std::pair<const char*, const std::vector<std::string>*>{"agency code", &options.agencies},
        {"admin name", &options.admins}}) {
    for (const std::string& name : *names) {
      status = ValidatePrincipalName(what, name);
      if (!status.ok()) return status;
      if (name == "ca" || name == "server") {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " \"", name, "\" is reserved: ", name, ".crt is the ",
                         name == "ca" ? "CA's" : "server's", " certificate"));
      }
      if (!stems.insert(name).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"", name, "\" is given twice (agencies and admins share the ",
                         "directory: one ", name, ".crt each)"));
      }
    }
  }
  if (options.server_names.empty()) {
    return absl::InvalidArgumentError("at least one server name is required");
  }
  for (const std::string& name : options.server_names) {
    if (!ParseIp(name, nullptr) && !IsValidDnsName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid server name \"", absl::CEscape(name),
                                                     "\": not an IP address or DNS name"));
    }
  }
  return absl::OkStatus();
}

absl::Status InitDevPki(const DevPkiOptions& options, std::vector<std::string>* log) {
  absl::Status status = ValidateDevPkiOptions(options);
  if (!status.ok()) return status;
  const std::string& dir = options.dir;
  status = EnsureDirectory(dir);
  if (!status.ok()) return status;
  const absl::Time now = options.now;

  // The CA.
  const std::string ca_cert_path = PathIn(dir, "ca.crt");
  const std::string ca_key_path = PathIn(dir, "ca.key");
  absl::StatusOr<bool> ca_exists = PairExists(ca_cert_path, ca_key_path);
  if (!ca_exists.ok()) return ca_exists.status();
  CertificateAuthority ca;
  if (*ca_exists) {
    absl::StatusOr<CertificateAuthority> loaded =
        LoadCertificateAuthority(ca_cert_path, ca_key_path);
    if (!loaded.ok()) {
      return WithCode(absl::StatusCode::kFailedPrecondition, loaded.status());
    }
    ca = *std::move(loaded);
    absl::StatusOr<CertificateInfo> info = ReadCertificate(ca.certificate_pem);
    if (!info.ok()) return info.status();
    log->push_back(absl::StrCat("kept ", ca_key_path, KeyModeNote(ca_key_path)));
    log->push_back(
        absl::StrCat("kept ", ca_cert_path, " ", Describe(*info, info->common_name, now)));
  } else {
    const absl::CivilSecond start = absl::ToCivilSecond(now, absl::UTCTimeZone());
    const absl::Time end = absl::FromCivil(
        absl::CivilSecond(start.year() + kDevCaValidityYears, start.month(), start.day(),
                          start.hour(), start.minute(), start.second()),
        absl::UTCTimeZone());
    absl::StatusOr<CertificateAuthority> created =
        CreateCertificateAuthority(kDevCaName, now - kClockSkew, end);
    if (!created.ok()) return created.status();
    ca = *std::move(created);
    status = WritePair(ca_cert_path, ca_key_path, ca.certificate_pem, ca.private_key_pem, log);
    if (!status.ok()) return status;
    absl::StatusOr<CertificateInfo> info = ReadCertificate(ca.certificate_pem);
    if (!info.ok()) return info.status();
    log->push_back(absl::StrCat("created ", ca_cert_path, " ", Describe(*info, kDevCaName, now)));
  }
  absl::StatusOr<ParsedCa> parsed_ca = ParseCa(ca);
  if (!parsed_ca.ok()) return parsed_ca.status();

  // The leaves.
  absl::Time not_before, not_after;
  status = LeafWindow(ca, now, options.validity_days, &not_before, &not_after);
  if (!status.ok()) return status;
  std::vector<PairSpec> specs;
  {
    PairSpec server;
    server.stem = "server";
    server.profile.common_name = "Enlace server";
    for (const std::string& name : options.server_names) {
      (ParseIp(name, nullptr) ? server.profile.ip_sans : server.profile.dns_sans).push_back(name);
    }
    server.profile.client_auth = false;
    server.profile.server_auth = true;
    server.profile.not_before = not_before;
    server.profile.not_after = not_after;
    server.what = DescribeServerNames(server.profile.dns_sans, server.profile.ip_sans);
    specs.push_back(std::move(server));
  }
  for (const std::string& code : options.agencies) {
    std::string id = AgencySpiffeId(code);
    specs.push_back(PairSpec{
        code, ClientProfile(absl::StrCat("agency ", code), id, not_before, not_after), id});
  }
  for (const std::string& name : options.admins) {
    std::string id = AdminSpiffeId(name);
    specs.push_back(
        PairSpec{name, ClientProfile(absl::StrCat("admin ", name), id, not_before, not_after), id});
  }
  for (const PairSpec& spec : specs) {
    const std::string cert_path = PathIn(dir, absl::StrCat(spec.stem, ".crt"));
    const std::string key_path = PathIn(dir, absl::StrCat(spec.stem, ".key"));
    absl::StatusOr<bool> exists = PairExists(cert_path, key_path);
    if (!exists.ok()) return exists.status();
    if (*exists) {
      status = KeepLeaf(*parsed_ca, spec, cert_path, key_path, now, log);
    } else {
      status = IssueAndWrite(ca, spec, cert_path, key_path, now, log).status();
    }
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<IssuedCertificate> IssueDevCertificate(const DevIssueOptions& options,
                                                      std::vector<std::string>* log) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("a directory is required");
  }
  const bool agency = options.kind == PrincipalKind::kAgency;
  absl::Status status = ValidatePrincipalName(agency ? "agency code" : "admin name", options.name);
  if (!status.ok()) return status;
  status = CheckValidityDays(options.validity_days);
  if (!status.ok()) return status;

  absl::StatusOr<CertificateAuthority> ca =
      LoadCertificateAuthority(PathIn(options.dir, "ca.crt"), PathIn(options.dir, "ca.key"));
  if (!ca.ok()) return ca.status();
  const std::string out_dir = options.out_dir.empty() ? options.dir : options.out_dir;
  status = EnsureDirectory(out_dir);
  if (!status.ok()) return status;
  const std::string cert_path = PathIn(out_dir, absl::StrCat(options.name, ".crt"));
  const std::string key_path = PathIn(out_dir, absl::StrCat(options.name, ".key"));
  for (const std::string& path : {cert_path, key_path}) {
    absl::StatusOr<bool> exists = RegularFileExists(path);
    if (!exists.ok()) return exists.status();
    if (*exists) {
      return absl::AlreadyExistsError(
          absl::StrCat(path, " already exists; not overwritten (use another --out-dir)"));
    }
  }

  absl::Time not_before, not_after;
  status = LeafWindow(*ca, options.now, options.validity_days, &not_before, &not_after);
  if (!status.ok()) return status;
  std::string id = agency ? AgencySpiffeId(options.name) : AdminSpiffeId(options.name);
  PairSpec spec{options.name,
                ClientProfile(absl::StrCat(agency ? "agency " : "admin ", options.name), id,
                              not_before, not_after),
                id};
  return IssueAndWrite(*ca, spec, cert_path, key_path, options.now, log);
}

absl::Status VerifyIssuedBy(absl::string_view certificate_pem, const CertificateAuthority& ca) {
  ERR_clear_error();  // as every public function here: report only this call's errors
  absl::StatusOr<X509Ptr> cert = ParseCertificate(certificate_pem);
  if (!cert.ok()) return WithCode(absl::StatusCode::kInvalidArgument, cert.status());
  absl::StatusOr<X509Ptr> ca_cert = ParseCertificate(ca.certificate_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  EVP_PKEY* ca_key = X509_get0_pubkey(ca_cert->get());
  if (ca_key == nullptr || X509_verify(cert->get(), ca_key) != 1) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("the certificate was not signed by the platform CA");
  }
  return absl::OkStatus();
}

}  // namespace enlace::auth
