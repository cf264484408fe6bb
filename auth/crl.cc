// Certificate revocation lists on OpenSSL 3 libcrypto: making and signing a
// CRL, and publishing CRLs into a hashed directory for gRPC. See crl.h.
//
// As in pki.cc, every public function clears this thread's OpenSSL error
// queue on entry and drains it into the message of the Status it returns
// (the helpers for that are shared with pki.cc in openssl_util.h).
#include "auth/crl.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
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
using openssl::ErrnoStatus;
using openssl::EvpPkeyPtr;
using openssl::InternalWithOpenSsl;
using openssl::InvalidArgumentWithOpenSsl;
using openssl::MemBioContents;
using openssl::OpenSslDeleter;
using openssl::ParseCertificate;
using openssl::ParsePrivateKey;
using openssl::TimeFromAsn1;
using openssl::X509Ptr;

using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter<X509_CRL_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, OpenSslDeleter<X509_REVOKED_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter<ASN1_TIME_free>>;
using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, OpenSslDeleter<AUTHORITY_KEYID_free>>;

// ---------------------------------------------------------------------------
// Encoding and time.

absl::StatusOr<std::string> CrlToPem(X509_CRL* crl) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_CRL(bio.get(), crl) != 1) {
    return InternalWithOpenSsl("cannot encode CRL as PEM");
  }
  return MemBioContents(bio.get(), "CRL PEM");
}

bool IsFinite(absl::Time t) { return t != absl::InfinitePast() && t != absl::InfiniteFuture(); }

// An ASN1_TIME for `t` (UTCTime through 2049, GeneralizedTime after).
absl::StatusOr<Asn1TimePtr> MakeAsn1Time(absl::Time t, absl::string_view what) {
  if (!IsFinite(t)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be finite"));
  }
  Asn1TimePtr asn1(ASN1_TIME_set(nullptr, absl::ToTimeT(t)));
  if (asn1 == nullptr) {
    return InvalidArgumentWithOpenSsl(absl::StrCat(what, " out of range: ", absl::FormatTime(t)));
  }
  return asn1;
}

// ---------------------------------------------------------------------------
// The CRL.

// The CA, parsed and checked for issuing CRLs.
struct Issuer {
  X509Ptr cert;
  EvpPkeyPtr key;
};

absl::StatusOr<Issuer> ParseIssuer(const CertificateAuthority& ca) {
  absl::Status status = ValidateCertificateAuthority(ca);
  if (!status.ok()) return status;
  absl::StatusOr<X509Ptr> cert = ParseCertificate(ca.certificate_pem);
  if (!cert.ok()) return Annotate("CA certificate: ", cert.status());
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(ca.private_key_pem);
  if (!key.ok()) return Annotate("CA private key: ", key.status());
  // Without cRLSign, OpenSSL fails the CRL check (KEYUSAGE_NO_CRL_SIGN), and
  // gRPC would reject every client. X509_get_key_usage() is all ones when
  // the certificate has no keyUsage extension.
  if ((X509_get_key_usage(cert->get()) & KU_CRL_SIGN) == 0) {
    return absl::InvalidArgumentError(
        "CA certificate: keyUsage lacks cRLSign, so its CRLs would make "
        "OpenSSL reject every client");
  }
  return Issuer{*std::move(cert), *std::move(key)};
}

// True if `hex` is in CertificateInfo::serial_hex form, at most 40 digits
// (RFC 5280 serials are at most 20 octets).
bool IsSerialHex(absl::string_view hex) {
  if (hex.empty() || hex.size() > 40) return false;
  if (hex.size() > 1 && hex[0] == '0') return false;
  return std::all_of(hex.begin(), hex.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Serial (canonical hex) -> earliest revocation time. The canonical form
// makes string equality numeric equality.
using Entries = std::map<std::string, absl::Time>;

absl::StatusOr<Entries> ParseEntries(const std::vector<RevokedEntry>& revoked) {
  Entries entries;
  for (const RevokedEntry& entry : revoked) {
    if (!IsSerialHex(entry.serial_hex)) {
      return absl::InvalidArgumentError(
          absl::StrCat("revoked serial \"", absl::CEscape(entry.serial_hex),
                       "\" is not lower-case hex without leading zeros (at "
                       "most 40 digits)"));
    }
    if (!IsFinite(entry.revoked_at)) {
      return absl::InvalidArgumentError(
          absl::StrCat("revocation time of serial ", entry.serial_hex, " must be finite"));
    }
    auto [it, inserted] = entries.emplace(entry.serial_hex, entry.revoked_at);
    if (!inserted) it->second = std::min(it->second, entry.revoked_at);
  }
  return entries;
}

absl::Status CheckUpdateTimes(absl::Time this_update, absl::Time next_update) {
  if (!IsFinite(this_update) || !IsFinite(next_update)) {
    return absl::InvalidArgumentError("this_update and next_update must be finite");
  }
  if (absl::ToTimeT(next_update) <= absl::ToTimeT(this_update)) {
    return absl::InvalidArgumentError(absl::StrCat("next_update (", absl::FormatTime(next_update),
                                                   ") must be after this_update (",
                                                   absl::FormatTime(this_update), ")"));
  }
  return absl::OkStatus();
}

// The CA's key identifier: its subjectKeyIdentifier, or else the SHA-1 of
// its public key (RFC 5280 4.2.1.2 method 1, what "hash" makes).
absl::StatusOr<Asn1OctetStringPtr> CaKeyId(X509* ca) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca);
  if (ski != nullptr) {
    Asn1OctetStringPtr copy(ASN1_OCTET_STRING_dup(ski));
    if (copy == nullptr) return InternalWithOpenSsl("ASN1_OCTET_STRING_dup");
    return copy;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Asn1OctetStringPtr id(ASN1_OCTET_STRING_new());
  if (id == nullptr || X509_pubkey_digest(ca, EVP_sha1(), digest, &len) != 1 ||
      ASN1_OCTET_STRING_set(id.get(), digest, static_cast<int>(len)) != 1) {
    return InternalWithOpenSsl("cannot compute the CA key identifier");
  }
  return id;
}

absl::StatusOr<std::string> SignCrl(const Issuer& issuer, const Entries& entries,
                                    absl::Time this_update, absl::Time next_update,
                                    int64_t crl_number) {
  absl::Status status = CheckUpdateTimes(this_update, next_update);
  if (!status.ok()) return status;
  if (crl_number < 0) {
    return absl::InvalidArgumentError(absl::StrCat("crl_number must be >= 0, got ", crl_number));
  }
  absl::StatusOr<Asn1TimePtr> last = MakeAsn1Time(this_update, "this_update");
  if (!last.ok()) return last.status();
  absl::StatusOr<Asn1TimePtr> next = MakeAsn1Time(next_update, "next_update");
  if (!next.ok()) return next.status();

  X509* ca = issuer.cert.get();
  X509CrlPtr crl(X509_CRL_new());
  if (crl == nullptr || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last->get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next->get()) != 1) {
    return InternalWithOpenSsl("cannot build CRL");
  }

  for (const auto& [serial_hex, revoked_at] : entries) {
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, serial_hex.c_str()) != static_cast<int>(serial_hex.size())) {
      BN_free(raw);
      return InternalWithOpenSsl(absl::StrCat("BN_hex2bn ", serial_hex));
    }
    BignumPtr bn(raw);
    Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    absl::StatusOr<Asn1TimePtr> when =
        MakeAsn1Time(revoked_at, absl::StrCat("revocation time of serial ", serial_hex));
    if (!when.ok()) return when.status();
    X509RevokedPtr revoked(X509_REVOKED_new());
    if (serial == nullptr || revoked == nullptr ||
        X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), when->get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return InternalWithOpenSsl("cannot add a revoked entry");
    }
    // NOLINTNEXTLINE(bugprone-unused-return-value): X509_CRL_add0_revoked took it.
    revoked.release();  // Owned by the CRL now.
  }
  if (X509_CRL_sort(crl.get()) != 1) {
    return InternalWithOpenSsl("X509_CRL_sort");
  }

  Asn1IntegerPtr number(ASN1_INTEGER_new());
  if (number == nullptr || ASN1_INTEGER_set_int64(number.get(), crl_number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return InternalWithOpenSsl("cannot add the cRLNumber extension");
  }
  absl::StatusOr<Asn1OctetStringPtr> key_id = CaKeyId(ca);
  if (!key_id.ok()) return key_id.status();
  AuthorityKeyIdPtr akid(AUTHORITY_KEYID_new());
  if (akid == nullptr) return InternalWithOpenSsl("AUTHORITY_KEYID_new");
  akid->keyid = key_id->release();
  if (X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, akid.get(), 0,
                            X509V3_ADD_DEFAULT) != 1) {
    return InternalWithOpenSsl("cannot add the authorityKeyIdentifier extension");
  }

  EVP_PKEY* key = issuer.key.get();
  if (X509_CRL_sign(crl.get(), key, DigestFor(key)) <= 0) {
    return InternalWithOpenSsl("cannot sign CRL");
  }
  return CrlToPem(crl.get());
}

// ---------------------------------------------------------------------------
// The directory.

constexpr absl::Duration kClockSkew = absl::Minutes(5);
// Bounds the work of one Publish() on a damaged directory.
constexpr int kMaxRepairs = 1000;
// OpenSSL counts suffixes in an int; we stop far below. A file above this is
// ignored (no reader reaches it through an unbroken run anyway).
constexpr int kMaxSuffix = 10'000'000;
constexpr int kCrlFileMode = 0644;
constexpr mode_t kDirectoryMode = 0755;

std::string PathIn(const std::string& dir, absl::string_view name) {
  if (!dir.empty() && dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

// Creates `dir` with mode 0755 (whatever the umask) if missing.
absl::Status EnsureDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), kDirectoryMode) == 0) {
    if (::chmod(dir.c_str(), kDirectoryMode) != 0) {
      return ErrnoStatus(errno, "cannot chmod", dir);
    }
    return absl::OkStatus();
  }
  int error = errno;
  struct stat st;
  if (error == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::OkStatus();
  }
  if (error == EEXIST) error = ENOTDIR;
  return ErrnoStatus(error, "cannot create directory", dir);
}

// The suffix N if `name` is "<stem>.r<N>" as OpenSSL spells it ("%d": no
// sign, no leading zeros), else -1.
int SuffixOf(absl::string_view name, absl::string_view stem) {
  if (!absl::ConsumePrefix(&name, stem) || !absl::ConsumePrefix(&name, ".r") || name.empty() ||
      name.size() > 9 || (name.size() > 1 && name[0] == '0') ||
      !std::all_of(name.begin(), name.end(), absl::ascii_isdigit)) {
    return -1;
  }
  int suffix = 0;
  if (!absl::SimpleAtoi(name, &suffix) || suffix > kMaxSuffix) return -1;
  return suffix;
}

// What Publish() needs to know about the directory.
struct DirectoryState {
  int next_suffix = 0;  // One more than the highest suffix present.
  std::vector<int> missing;  // Suffixes below next_suffix with no file.
  std::vector<int> unloadable;  // ... whose file OpenSSL cannot load.
  // Over the CRLs there signed by our CA (InfinitePast / -1 if none):
  absl::Time latest_this_update = absl::InfinitePast();
  int64_t max_crl_number = -1;
};

absl::StatusOr<DirectoryState> ScanDirectory(const std::string& dir, absl::string_view stem,
                                             const Issuer& issuer) {
  std::set<int> present;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    int suffix = SuffixOf(it->path().filename().string(), stem);
    if (suffix >= 0) present.insert(suffix);
  }
  if (ec) return ErrnoStatus(ec.value(), "cannot list directory", dir);

  DirectoryState state;
  if (present.empty()) return state;
  state.next_suffix = *present.rbegin() + 1;
  // Load each file exactly as the hashed-directory lookup does
  // (X509_load_crl_file(), PEM), into a scratch store.
  X509StorePtr store(X509_STORE_new());
  X509_LOOKUP* lookup =
      store == nullptr ? nullptr : X509_STORE_add_lookup(store.get(), X509_LOOKUP_file());
  if (lookup == nullptr) {
    return InternalWithOpenSsl("cannot make an X509_STORE");
  }
  for (int suffix = 0; suffix < state.next_suffix; ++suffix) {
    if (state.missing.size() + state.unloadable.size() > static_cast<size_t>(kMaxRepairs)) {
      break;  // Publish() gives up; no need to look further.
    }
    if (present.count(suffix) == 0) {
      state.missing.push_back(suffix);
      continue;
    }
    std::string path = PathIn(dir, absl::StrCat(stem, ".r", suffix));
    if (X509_load_crl_file(lookup, path.c_str(), X509_FILETYPE_PEM) <= 0) {
      state.unloadable.push_back(suffix);
    }
    ERR_clear_error();
  }

  EVP_PKEY* ca_key = X509_get0_pubkey(issuer.cert.get());
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store.get());
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_CRL* crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objects, i));
    if (crl == nullptr || ca_key == nullptr || X509_CRL_verify(crl, ca_key) != 1) {
      ERR_clear_error();
      continue;  // Not ours (e.g. an older CA with the same subject name).
    }
    absl::StatusOr<absl::Time> last = TimeFromAsn1(X509_CRL_get0_lastUpdate(crl), "time");
    if (last.ok()) {
      state.latest_this_update = std::max(state.latest_this_update, *last);
    }
    int crit = 0;
    Asn1IntegerPtr number(
        static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, nullptr)));
    int64_t value = 0;
    if (number != nullptr && ASN1_INTEGER_get_int64(&value, number.get()) == 1) {
      state.max_crl_number = std::max(state.max_crl_number, value);
    }
    ERR_clear_error();
  }
  return state;
}

}  // namespace

// ---------------------------------------------------------------------------

absl::StatusOr<std::string> CreateCrlPem(const CertificateAuthority& ca,
                                         const std::vector<RevokedEntry>& revoked,
                                         absl::Time this_update, absl::Time next_update,
                                         int64_t crl_number) {
  ERR_clear_error();
  absl::StatusOr<Issuer> issuer = ParseIssuer(ca);
  if (!issuer.ok()) return issuer.status();
  absl::StatusOr<Entries> entries = ParseEntries(revoked);
  if (!entries.ok()) return entries.status();
  return SignCrl(*issuer, *entries, this_update, next_update, crl_number);
}

absl::StatusOr<std::string> CrlFileStem(absl::string_view ca_certificate_pem) {
  ERR_clear_error();
  absl::StatusOr<X509Ptr> cert = ParseCertificate(ca_certificate_pem);
  if (!cert.ok()) return Annotate("CA certificate: ", cert.status());
  // Exactly the call of by_dir.c (default library context).
  int ok = 0;
  unsigned long hash = X509_NAME_hash_ex(X509_get_subject_name(cert->get()), nullptr, nullptr, &ok);
  if (ok == 0) return InternalWithOpenSsl("X509_NAME_hash_ex");
  char stem[32];
  std::snprintf(stem, sizeof(stem), "%08lx", hash);
  return std::string(stem);
}

CrlPublisher::CrlPublisher(std::string directory, CertificateAuthority ca, absl::Duration validity)
    : directory_(std::move(directory)), ca_(std::move(ca)), validity_(validity) {}

absl::Status CrlPublisher::Publish(const std::vector<RevokedEntry>& revoked, absl::Time now) {
  ERR_clear_error();
  // Everything that does not need the directory first, so a bad call writes
  // nothing.
  if (!IsFinite(now)) return absl::InvalidArgumentError("now must be finite");
  if (validity_ <= absl::ZeroDuration() || validity_ == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("CRL validity must be positive and finite, got ",
                                                   absl::FormatDuration(validity_)));
  }
  absl::StatusOr<Issuer> issuer = ParseIssuer(ca_);
  if (!issuer.ok()) return issuer.status();
  absl::StatusOr<Entries> entries = ParseEntries(revoked);
  if (!entries.ok()) return entries.status();
  absl::StatusOr<std::string> stem = CrlFileStem(ca_.certificate_pem);
  if (!stem.ok()) return stem.status();
  absl::Status status = EnsureDirectory(directory_);
  if (!status.ok()) return status;

  // Another process publishing at the same time makes link() fail with
  // AlreadyExists: rescan and take the next suffix.
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<DirectoryState> state = ScanDirectory(directory_, *stem, *issuer);
    if (!state.ok()) return state.status();
    if (state->missing.size() + state->unloadable.size() > static_cast<size_t>(kMaxRepairs)) {
      return absl::FailedPreconditionError(absl::StrCat(
          directory_, " has ", state->missing.size(), " missing and ", state->unloadable.size(),
          " unloadable CRL files below ", *stem, ".r", state->next_suffix,
          "; stop the servers reading it, remove its ", *stem, ".r* files, and publish again"));
    }

    // Whole seconds, as the CRL stores them.
    const int64_t now_s = absl::ToUnixSeconds(now);
    int64_t this_update_s = absl::ToUnixSeconds(now - kClockSkew);
    if (state->latest_this_update != absl::InfinitePast()) {
      const int64_t latest_s = absl::ToUnixSeconds(state->latest_this_update);
      if (latest_s >= now_s) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the newest CRL in ", directory_, " has lastUpdate ",
            absl::FormatTime(state->latest_this_update), ", not before now (",
            absl::FormatTime(now), "): the clock went back; a CRL published now would lose to it"));
      }
      this_update_s = std::max(this_update_s, latest_s + 1);
    }
    const absl::Time this_update = absl::FromUnixSeconds(this_update_s);
    const absl::Time next_update = now + validity_;
    const int64_t crl_number = std::max(state->max_crl_number + 1, this_update_s);
    absl::StatusOr<std::string> pem =
        SignCrl(*issuer, *entries, this_update, next_update, crl_number);
    if (!pem.ok()) return pem.status();

    // The new file first (running servers look there), then the repairs
    // (restarted servers need the unbroken run).
    const std::string path = PathIn(directory_, absl::StrCat(*stem, ".r", state->next_suffix));
    status = WriteFileAtomically(path, *pem, kCrlFileMode, IfExists::kFail);
    if (absl::IsAlreadyExists(status) && attempt < kAttempts) continue;
    if (!status.ok()) return status;
    last_path_ = path;
    last_crl_number_ = crl_number;
    last_this_update_ = this_update;
    last_next_update_ = absl::FromUnixSeconds(absl::ToUnixSeconds(next_update));

    for (int suffix : state->missing) {
      status = WriteFileAtomically(PathIn(directory_, absl::StrCat(*stem, ".r", suffix)), *pem,
                                   kCrlFileMode, IfExists::kFail);
      // Someone else filled it: a loadable CRL is all that is needed.
      if (!status.ok() && !absl::IsAlreadyExists(status)) return status;
    }
    for (int suffix : state->unloadable) {
      status = WriteFileAtomically(PathIn(directory_, absl::StrCat(*stem, ".r", suffix)), *pem,
                                   kCrlFileMode, IfExists::kReplace);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }
}

bool CrlPublisher::NeedsRefresh(absl::Time now, absl::Duration margin) const {
  if (last_next_update_ == absl::InfinitePast()) return true;
  return now + margin >= last_next_update_;
}

}  // namespace enlace::auth
