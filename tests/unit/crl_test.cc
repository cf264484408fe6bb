// Tests of certificate revocation lists (auth/crl.h). CRLs are read back with
// libcrypto, and the published directory is checked with OpenSSL's own
// verifier reading it through X509_LOOKUP_hash_dir(), exactly as gRPC's
// set_crl_directory() does: a store that stays alive plays a running server,
// a new store a restarted one.
#include "auth/crl.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/openssl_util.h"
#include "auth/pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace enlace::auth {
namespace {

using ::enlace::testing::StatusIs;
using ::enlace::testing::TestPki;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::UnorderedElementsAre;

// ---------------------------------------------------------------------------
// OpenSSL helpers for checking what we made.

// The owners auth/ itself uses; the others below are the tests' own.
using openssl::Asn1IntegerPtr;
using openssl::BignumPtr;
using openssl::BioPtr;
using openssl::EvpPkeyPtr;
using openssl::X509Ptr;
template <auto kFree>
using Deleter = openssl::OpenSslDeleter<kFree>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using AkidPtr = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;

X509Ptr ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

X509CrlPtr ParseCrl(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509CrlPtr(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
}

std::string ReadFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  EXPECT_TRUE(content.ok()) << content.status();
  return content.ok() ? *content : std::string();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

absl::Time TimeOf(const ASN1_TIME* time) {
  struct tm tm = {};
  EXPECT_EQ(ASN1_TIME_to_tm(time, &tm), 1);
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                           tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

// serial_hex form (pki.h) of an ASN1_INTEGER.
std::string HexOf(const ASN1_INTEGER* serial) {
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (BN_is_zero(bn.get())) return "0";
  char* hex = BN_bn2hex(bn.get());
  std::string out = absl::AsciiStrToLower(hex);
  OPENSSL_free(hex);
  out.erase(0, std::min(out.find_first_not_of('0'), out.size()));
  return out;
}

// Serial -> revocation date of every entry.
std::map<std::string, absl::Time> EntriesOf(X509_CRL* crl) {
  std::map<std::string, absl::Time> entries;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    entries[HexOf(X509_REVOKED_get0_serialNumber(entry))] =
        TimeOf(X509_REVOKED_get0_revocationDate(entry));
  }
  return entries;
}

int64_t CrlNumberOf(X509_CRL* crl) {
  Asn1IntegerPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr)));
  int64_t value = -1;
  EXPECT_NE(number, nullptr);
  if (number != nullptr) {
    EXPECT_EQ(ASN1_INTEGER_get_int64(&value, number.get()), 1);
  }
  return value;
}

std::string SerialOf(const IssuedCertificate& cert) {
  absl::StatusOr<CertificateInfo> info = ReadCertificate(cert.certificate_pem);
  EXPECT_TRUE(info.ok()) << info.status();
  return info.ok() ? info->serial_hex : std::string();
}

// OpenSSL's verifier over a CRL directory, as a TLS server uses it: the CA as
// the only trust anchor and the directory read through the hashed-directory
// lookup. Keep one alive to play a running server (OpenSSL remembers where
// it stopped reading); make a new one to play a restarted server.
class DirVerifier {
 public:
  // `flags`: X509_V_FLAG_CRL_CHECK, or gRPC 1.51's
  // X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL.
  DirVerifier(const std::string& ca_cert_pem, const std::string& dir,
              unsigned long flags = X509_V_FLAG_CRL_CHECK, bool as_grpc = false)
      : store_(X509_STORE_new()) {
    X509Ptr ca = ParseCert(ca_cert_pem);
    EXPECT_EQ(X509_STORE_add_cert(store_.get(), ca.get()), 1);
    if (as_grpc) {
      // ssl_transport_security.cc, 1.51, word for word.
      EXPECT_EQ(X509_STORE_load_locations(store_.get(), nullptr, dir.c_str()), 1);
    } else {
      X509_LOOKUP* lookup = X509_STORE_add_lookup(store_.get(), X509_LOOKUP_hash_dir());
      EXPECT_NE(lookup, nullptr);
      EXPECT_EQ(X509_LOOKUP_add_dir(lookup, dir.c_str(), X509_FILETYPE_PEM), 1);
    }
    X509_STORE_set_flags(store_.get(), flags);
  }

  // X509_V_OK, or the verification error of `cert_pem` at `at`.
  int Verify(const std::string& cert_pem, absl::Time at) {
    X509Ptr cert = ParseCert(cert_pem);
    StoreCtxPtr ctx(X509_STORE_CTX_new());
    EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store_.get(), cert.get(), nullptr), 1);
    X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(at));
    int ok = X509_verify_cert(ctx.get());
    int error = X509_STORE_CTX_get_error(ctx.get());
    EXPECT_EQ(ok == 1, error == X509_V_OK) << X509_verify_cert_error_string(error);
    return error;
  }

 private:
  StorePtr store_;
};

// A self-signed CA that ValidateCertificateAuthority() accepts but whose
// keyUsage is keyCertSign only (no cRLSign), as an imported CA might be.
CertificateAuthority CaWithoutCrlSign() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  EXPECT_NE(key, nullptr);
  EXPECT_EQ(X509_set_version(cert.get(), X509_VERSION_3), 1);
  EXPECT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7), 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  EXPECT_EQ(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>("No cRLSign CA"), -1,
                                       -1, 0),
            1);
  EXPECT_EQ(X509_set_issuer_name(cert.get(), name), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  EXPECT_EQ(X509_set_pubkey(cert.get(), key.get()), 1);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair<int, const char*>{NID_basic_constraints, "critical,CA:TRUE"},
                            {NID_key_usage, "critical,keyCertSign"},
                            {NID_subject_key_identifier, "hash"}}) {
    X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
    EXPECT_NE(ext, nullptr);
    EXPECT_EQ(X509_add_ext(cert.get(), ext, -1), 1);
    X509_EXTENSION_free(ext);
  }
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_X509(cert_bio.get(), cert.get()), 1);
  EXPECT_EQ(
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  CertificateAuthority ca;
  long len = BIO_get_mem_data(cert_bio.get(), &data);
  ca.certificate_pem.assign(data, static_cast<size_t>(len));
  len = BIO_get_mem_data(key_bio.get(), &data);
  ca.private_key_pem.assign(data, static_cast<size_t>(len));
  return ca;
}

// A time in whole seconds, so that CRL times compare exactly.
absl::Time WholeSecondsNow() { return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())); }

// ---------------------------------------------------------------------------
// CreateCrlPem().

TEST(CreateCrlPemTest, IsSignedByTheCaAndListsExactlyTheGivenSerials) {
  TestPki pki = TestPki::Create();
  IssuedCertificate iom = pki.Agency("iom");
  IssuedCertificate mfa = pki.Agency("mfa");
  IssuedCertificate undp = pki.Agency("undp");
  const absl::Time this_update = absl::FromUnixSeconds(1'750'000'000);
  const absl::Time next_update = this_update + absl::Hours(24 * 7);
  const absl::Time iom_revoked = this_update - absl::Hours(3);
  const absl::Time mfa_revoked = this_update - absl::Hours(1);

  absl::StatusOr<std::string> pem =
      CreateCrlPem(pki.ca(), {{SerialOf(iom), iom_revoked}, {SerialOf(mfa), mfa_revoked}},
                   this_update + absl::Milliseconds(700), next_update, 42);
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_TRUE(absl::StartsWith(*pem, "-----BEGIN X509 CRL-----")) << *pem;
  X509CrlPtr crl = ParseCrl(*pem);
  ASSERT_NE(crl, nullptr);
  X509Ptr ca = ParseCert(pki.ca_cert_pem());

  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_EQ(X509_CRL_get_signature_nid(crl.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())), 0);
  EXPECT_EQ(TimeOf(X509_CRL_get0_lastUpdate(crl.get())), this_update);
  EXPECT_EQ(TimeOf(X509_CRL_get0_nextUpdate(crl.get())), next_update);
  EXPECT_EQ(CrlNumberOf(crl.get()), 42);

  // The authorityKeyIdentifier is the CA's key id (OpenSSL scores a CRL by
  // it when choosing among CRLs of CAs with the same name).
  AkidPtr akid(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, nullptr, nullptr)));
  ASSERT_NE(akid, nullptr);
  ASSERT_NE(akid->keyid, nullptr);
  ASSERT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(ca.get())), 0);

  std::map<std::string, absl::Time> entries = EntriesOf(crl.get());
  EXPECT_THAT(entries, UnorderedElementsAre(std::pair(SerialOf(iom), iom_revoked),
                                            std::pair(SerialOf(mfa), mfa_revoked)));
  EXPECT_EQ(entries.count(SerialOf(undp)), 0u);
}

TEST(CreateCrlPemTest, DigestFollowsTheCaKeyAsSignCsrDoes) {
  const absl::Time now = WholeSecondsNow();
  for (auto [key_type, nid] : {std::pair{KeyType::kEcP384, NID_ecdsa_with_SHA384},
                               std::pair{KeyType::kRsa2048, NID_sha256WithRSAEncryption}}) {
    absl::StatusOr<CertificateAuthority> ca = CreateCertificateAuthority(
        "Digest CA", now - absl::Hours(1), now + absl::Hours(24), key_type);
    ASSERT_TRUE(ca.ok()) << ca.status();
    absl::StatusOr<std::string> pem =
        CreateCrlPem(*ca, {{"1f", now}}, now, now + absl::Hours(1), 1);
    ASSERT_TRUE(pem.ok()) << pem.status();
    X509CrlPtr crl = ParseCrl(*pem);
    X509Ptr cert = ParseCert(ca->certificate_pem);
    EXPECT_EQ(X509_CRL_get_signature_nid(crl.get()), nid);
    EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(cert.get())), 1);
  }
}

TEST(CreateCrlPemTest, EmptyListMakesAValidCrl) {
  TestPki pki = TestPki::Create();
  const absl::Time now = WholeSecondsNow();
  absl::StatusOr<std::string> pem = CreateCrlPem(pki.ca(), {}, now, now + absl::Hours(1), 0);
  ASSERT_TRUE(pem.ok()) << pem.status();
  X509CrlPtr crl = ParseCrl(*pem);
  ASSERT_NE(crl, nullptr);
  X509Ptr ca = ParseCert(pki.ca_cert_pem());
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_THAT(EntriesOf(crl.get()), IsEmpty());
  EXPECT_EQ(CrlNumberOf(crl.get()), 0);
}

TEST(CreateCrlPemTest, SerialGivenTwiceIsListedOnceWithItsEarliestTime) {
  TestPki pki = TestPki::Create();
  const absl::Time now = WholeSecondsNow();
  absl::StatusOr<std::string> pem = CreateCrlPem(
      pki.ca(), {{"abc", now - absl::Hours(1)}, {"0", now}, {"abc", now - absl::Hours(2)}}, now,
      now + absl::Hours(1), 1);
  ASSERT_TRUE(pem.ok()) << pem.status();
  X509CrlPtr crl = ParseCrl(*pem);
  EXPECT_THAT(EntriesOf(crl.get()),
              ElementsAre(std::pair(std::string("0"), now),
                          std::pair(std::string("abc"), now - absl::Hours(2))));
}

TEST(CreateCrlPemTest, RejectsBadInput) {
  TestPki pki = TestPki::Create();
  TestPki other = TestPki::Create("Other CA");
  const absl::Time now = WholeSecondsNow();
  const absl::Time later = now + absl::Hours(1);

  CertificateAuthority mismatched{pki.ca_cert_pem(), other.ca().private_key_pem};
  EXPECT_THAT(CreateCrlPem(mismatched, {}, now, later, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(CreateCrlPem({"garbage", pki.ca().private_key_pem}, {}, now, later, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));

  for (const char* serial :
       {"", "01", "1A", "0x1f", "-1", "1f ", "g", "1234567890123456789012345678901234567890a"}) {
    EXPECT_THAT(CreateCrlPem(pki.ca(), {{serial, now}}, now, later, 1),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("serial")))
        << "serial \"" << serial << "\"";
  }
  EXPECT_TRUE(
      CreateCrlPem(pki.ca(), {{"1234567890123456789012345678901234567890", now}}, now, later, 1)
          .ok());
  EXPECT_THAT(CreateCrlPem(pki.ca(), {{"1f", absl::InfiniteFuture()}}, now, later, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));

  EXPECT_THAT(CreateCrlPem(pki.ca(), {}, now, now, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("next_update")));
  // Equal once truncated to whole seconds.
  EXPECT_THAT(CreateCrlPem(pki.ca(), {}, now, now + absl::Milliseconds(500), 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CreateCrlPem(pki.ca(), {}, later, now, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CreateCrlPem(pki.ca(), {}, absl::InfinitePast(), later, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CreateCrlPem(pki.ca(), {}, now, later, -1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("crl_number")));
}

TEST(CreateCrlPemTest, RejectsACaWithoutCrlSign) {
  CertificateAuthority ca = CaWithoutCrlSign();
  ASSERT_TRUE(ValidateCertificateAuthority(ca).ok()) << ValidateCertificateAuthority(ca);
  const absl::Time now = WholeSecondsNow();
  EXPECT_THAT(CreateCrlPem(ca, {}, now, now + absl::Hours(1), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cRLSign")));
}

// ---------------------------------------------------------------------------
// CrlFileStem().

TEST(CrlFileStemTest, IsOpenSslSubjectNameHash) {
  TestPki pki = TestPki::Create();
  absl::StatusOr<std::string> stem = CrlFileStem(pki.ca_cert_pem());
  ASSERT_TRUE(stem.ok()) << stem.status();
  X509Ptr ca = ParseCert(pki.ca_cert_pem());
  char expected[32];
  std::snprintf(expected, sizeof(expected), "%08lx", X509_subject_name_hash(ca.get()));
  EXPECT_EQ(*stem, expected);
  EXPECT_THAT(*stem, MatchesRegex("[0-9a-f]{8}"));

  // Same subject name, same stem; another name, (almost surely) another.
  TestPki same_name = TestPki::Create();
  TestPki other = TestPki::Create("Other CA");
  EXPECT_EQ(CrlFileStem(same_name.ca_cert_pem()).value(), *stem);
  EXPECT_NE(CrlFileStem(other.ca_cert_pem()).value(), *stem);

  EXPECT_THAT(CrlFileStem("not a certificate"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------
// CrlPublisher.

class CrlPublisherTest : public ::testing::Test {
 protected:
  CrlPublisherTest()
      : pki_(TestPki::Create()),
        dir_(pki_.dir() + "/crl"),  // Removed with pki_.
        stem_(CrlFileStem(pki_.ca_cert_pem()).value()),
        iom_(pki_.Agency("iom")),
        mfa_(pki_.Agency("mfa")),
        undp_(pki_.Agency("undp")),
        now_(WholeSecondsNow()) {}

  RevokedEntry Revoked(const IssuedCertificate& cert) {
    return RevokedEntry{SerialOf(cert), now_ - absl::Minutes(1)};
  }

  std::string PathOf(int suffix) const { return absl::StrCat(dir_, "/", stem_, ".r", suffix); }

  X509CrlPtr CrlAt(int suffix) const { return ParseCrl(ReadFile(PathOf(suffix))); }

  // The names in dir_, sorted.
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<std::string> Names(std::vector<int> suffixes) const {
    std::vector<std::string> names;
    for (int suffix : suffixes) names.push_back(absl::StrCat(stem_, ".r", suffix));
    std::sort(names.begin(), names.end());
    return names;
  }

  DirVerifier Verifier() const { return DirVerifier(pki_.ca_cert_pem(), dir_); }

  TestPki pki_;
  std::string dir_;
  std::string stem_;
  IssuedCertificate iom_, mfa_, undp_;
  absl::Time now_;
};

TEST_F(CrlPublisherTest, PublishWritesTheFileOpenSslLooksUp) {
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_).ok());

  EXPECT_THAT(Files(), ElementsAre(stem_ + ".r0"));
  EXPECT_EQ(publisher.last_path(), PathOf(0));
  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat(PathOf(0).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  X509CrlPtr crl = CrlAt(0);
  ASSERT_NE(crl, nullptr);
  X509Ptr ca = ParseCert(pki_.ca_cert_pem());
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_THAT(EntriesOf(crl.get()),
              ElementsAre(std::pair(SerialOf(iom_), now_ - absl::Minutes(1))));
  EXPECT_EQ(TimeOf(X509_CRL_get0_lastUpdate(crl.get())), now_ - absl::Minutes(5));
  EXPECT_EQ(TimeOf(X509_CRL_get0_nextUpdate(crl.get())), now_ + absl::Hours(24 * 7));
  EXPECT_EQ(publisher.last_next_update(), now_ + absl::Hours(24 * 7));
  EXPECT_EQ(CrlNumberOf(crl.get()), publisher.last_crl_number());

  // OpenSSL, reading the directory by hash as gRPC does.
  DirVerifier verifier = Verifier();
  EXPECT_EQ(verifier.Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(verifier.Verify(mfa_.certificate_pem, now_), X509_V_OK);
  // gRPC 1.51's exact calls and flags (also checks the CA against the CRL).
  DirVerifier grpc(pki_.ca_cert_pem(), dir_, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL,
                   /*as_grpc=*/true);
  EXPECT_EQ(grpc.Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(grpc.Verify(mfa_.certificate_pem, now_), X509_V_OK);
}

TEST_F(CrlPublisherTest, WithoutACrlOpenSslCannotCheck) {
  // What gRPC's verify callback turns into "accept" (fail open).
  std::filesystem::create_directory(dir_);
  EXPECT_EQ(Verifier().Verify(iom_.certificate_pem, now_), X509_V_ERR_UNABLE_TO_GET_CRL);
}

TEST_F(CrlPublisherTest, EmptyListIsAValidCrlThatRejectsNobody) {
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({}, now_).ok());
  X509CrlPtr crl = CrlAt(0);
  ASSERT_NE(crl, nullptr);
  EXPECT_THAT(EntriesOf(crl.get()), IsEmpty());
  EXPECT_EQ(Verifier().Verify(iom_.certificate_pem, now_), X509_V_OK);
}

TEST_F(CrlPublisherTest, NewCrlsReachRunningAndRestartedReaders) {
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_).ok());
  DirVerifier running = Verifier();
  EXPECT_EQ(running.Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(running.Verify(mfa_.certificate_pem, now_), X509_V_OK);

  const absl::Time later = now_ + absl::Minutes(1);
  ASSERT_TRUE(publisher.Publish({Revoked(iom_), Revoked(mfa_)}, later).ok());
  // A new, higher suffix; the old file stays (see crl.h).
  EXPECT_EQ(Files(), Names({0, 1}));
  EXPECT_EQ(publisher.last_path(), PathOf(1));
  X509CrlPtr first = CrlAt(0);
  X509CrlPtr second = CrlAt(1);
  EXPECT_GT(CrlNumberOf(second.get()), CrlNumberOf(first.get()));
  EXPECT_EQ(TimeOf(X509_CRL_get0_lastUpdate(second.get())), later - absl::Minutes(5));

  EXPECT_EQ(running.Verify(mfa_.certificate_pem, later), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(running.Verify(undp_.certificate_pem, later), X509_V_OK);
  DirVerifier restarted = Verifier();
  EXPECT_EQ(restarted.Verify(mfa_.certificate_pem, later), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(restarted.Verify(iom_.certificate_pem, later), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(restarted.Verify(undp_.certificate_pem, later), X509_V_OK);

  // A new publisher (a restarted process) continues the numbering.
  CrlPublisher again(dir_, pki_.ca());
  const absl::Time even_later = now_ + absl::Minutes(2);
  ASSERT_TRUE(again.Publish({Revoked(undp_)}, even_later).ok());
  EXPECT_EQ(again.last_path(), PathOf(2));
  EXPECT_GT(CrlNumberOf(CrlAt(2).get()), CrlNumberOf(second.get()));
  EXPECT_EQ(again.last_crl_number(), CrlNumberOf(CrlAt(2).get()));
  // Un-revoking works too: the newest CRL wins, in both kinds of reader.
  EXPECT_EQ(running.Verify(iom_.certificate_pem, even_later), X509_V_OK);
  EXPECT_EQ(running.Verify(undp_.certificate_pem, even_later), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(Verifier().Verify(iom_.certificate_pem, even_later), X509_V_OK);
  EXPECT_EQ(Verifier().Verify(undp_.certificate_pem, even_later), X509_V_ERR_CERT_REVOKED);
}

TEST_F(CrlPublisherTest, PublishingTwiceInOneSecondStillMakesTheNewCrlWin) {
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({}, now_).ok());
  DirVerifier running = Verifier();
  EXPECT_EQ(running.Verify(iom_.certificate_pem, now_), X509_V_OK);

  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_).ok());
  // OpenSSL prefers the strictly later lastUpdate; on a tie the old CRL could
  // stay in use, so lastUpdate is moved on by a second.
  EXPECT_EQ(TimeOf(X509_CRL_get0_lastUpdate(CrlAt(1).get())),
            TimeOf(X509_CRL_get0_lastUpdate(CrlAt(0).get())) + absl::Seconds(1));
  EXPECT_GT(CrlNumberOf(CrlAt(1).get()), CrlNumberOf(CrlAt(0).get()));
  EXPECT_EQ(running.Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(Verifier().Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
}

TEST_F(CrlPublisherTest, DeletedOldFileIsRefilledSoRestartedReadersSeeTheNewest) {
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_).ok());
  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_ + absl::Seconds(10)).ok());
  // The clean-up the layout forbids: OpenSSL starts at .r0 and stops at the
  // first gap, so a restarted server finds no CRL (and gRPC fails open).
  ASSERT_TRUE(std::filesystem::remove(PathOf(0)));
  EXPECT_EQ(Verifier().Verify(iom_.certificate_pem, now_ + absl::Seconds(10)),
            X509_V_ERR_UNABLE_TO_GET_CRL);

  const absl::Time later = now_ + absl::Seconds(20);
  ASSERT_TRUE(publisher.Publish({Revoked(iom_), Revoked(mfa_)}, later).ok());
  EXPECT_EQ(Files(), Names({0, 1, 2}));
  EXPECT_EQ(publisher.last_path(), PathOf(2));
  EXPECT_EQ(ReadFile(PathOf(0)), ReadFile(PathOf(2)));  // The repair copy.
  DirVerifier restarted = Verifier();
  EXPECT_EQ(restarted.Verify(mfa_.certificate_pem, later), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(restarted.Verify(undp_.certificate_pem, later), X509_V_OK);
}

TEST_F(CrlPublisherTest, UnloadableFileIsReplaced) {
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({}, now_).ok());
  WriteFile(PathOf(1), "not a CRL\n");
  // OpenSSL stops at the broken file and remembers that suffix.
  DirVerifier running = Verifier();
  EXPECT_EQ(running.Verify(iom_.certificate_pem, now_), X509_V_OK);

  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_).ok());
  EXPECT_EQ(Files(), Names({0, 1, 2}));
  EXPECT_NE(CrlAt(1), nullptr);
  EXPECT_EQ(running.Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(Verifier().Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
}

TEST_F(CrlPublisherTest, IgnoresFilesThatAreNotThisCasCrls) {
  std::filesystem::create_directory(dir_);
  const std::string other_stem =
      stem_ == "00000000" ? std::string("00000001") : std::string("00000000");
  for (const std::string& name :
       {std::string("README"), stem_ + ".0", stem_ + ".r01", stem_ + ".r-1", stem_ + ".r",
        "." + stem_ + ".r0.tmp-abc", other_stem + ".r7"}) {
    WriteFile(dir_ + "/" + name, "x\n");
  }
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_).ok());
  EXPECT_EQ(publisher.last_path(), PathOf(0));
  EXPECT_EQ(Verifier().Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
}

TEST_F(CrlPublisherTest, CrlsOfAnEarlierCaWithTheSameNameDoNotInterfere) {
  // A regenerated CA with the same subject name shares the stem.
  TestPki old_pki = TestPki::Create();
  ASSERT_EQ(CrlFileStem(old_pki.ca_cert_pem()).value(), stem_);
  IssuedCertificate old_iom = old_pki.Agency("iom");
  CrlPublisher old_publisher(dir_, old_pki.ca());
  ASSERT_TRUE(
      old_publisher.Publish({RevokedEntry{SerialOf(old_iom), now_}}, now_ + absl::Minutes(3)).ok());

  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_).ok());
  EXPECT_EQ(publisher.last_path(), PathOf(1));
  // Its lastUpdate is not held back by the old CA's later one.
  EXPECT_EQ(publisher.last_this_update(), now_ - absl::Minutes(5));
  DirVerifier verifier = Verifier();
  EXPECT_EQ(verifier.Verify(iom_.certificate_pem, now_), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(verifier.Verify(mfa_.certificate_pem, now_), X509_V_OK);
}

TEST_F(CrlPublisherTest, CrlNumberIsNeverBelowUnixTime) {
  // So that it keeps growing even if the directory is emptied.
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({}, now_).ok());
  EXPECT_EQ(publisher.last_crl_number(), absl::ToUnixSeconds(now_ - absl::Minutes(5)));
  std::filesystem::remove_all(dir_);
  CrlPublisher fresh(dir_, pki_.ca());
  ASSERT_TRUE(fresh.Publish({}, now_ + absl::Minutes(1)).ok());
  EXPECT_GT(fresh.last_crl_number(), publisher.last_crl_number());
}

TEST_F(CrlPublisherTest, ClockGoneBackIsAnErrorThatWritesNothing) {
  CrlPublisher publisher(dir_, pki_.ca());
  ASSERT_TRUE(publisher.Publish({}, now_).ok());
  // Its lastUpdate is now - 5 min; a clock 10 min behind cannot beat it.
  EXPECT_THAT(publisher.Publish({Revoked(iom_)}, now_ - absl::Minutes(10)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("clock")));
  EXPECT_EQ(Files(), Names({0}));
  // 2 minutes behind is fine: lastUpdate moves on by a second.
  ASSERT_TRUE(publisher.Publish({Revoked(iom_)}, now_ - absl::Minutes(2)).ok());
  EXPECT_EQ(publisher.last_this_update(), now_ - absl::Minutes(5) + absl::Seconds(1));
}

TEST_F(CrlPublisherTest, NeedsRefresh) {
  CrlPublisher publisher(dir_, pki_.ca(), absl::Hours(24 * 7));
  EXPECT_TRUE(publisher.NeedsRefresh(now_, absl::Hours(24)));  // Never published.
  ASSERT_TRUE(publisher.Publish({}, now_).ok());
  EXPECT_FALSE(publisher.NeedsRefresh(now_, absl::Hours(24)));
  EXPECT_FALSE(
      publisher.NeedsRefresh(now_ + absl::Hours(24 * 6) - absl::Seconds(1), absl::Hours(24)));
  EXPECT_TRUE(publisher.NeedsRefresh(now_ + absl::Hours(24 * 6), absl::Hours(24)));
  EXPECT_TRUE(publisher.NeedsRefresh(now_ + absl::Hours(24 * 8), absl::ZeroDuration()));
  // A new publisher (restarted process) republishes at once.
  EXPECT_TRUE(CrlPublisher(dir_, pki_.ca()).NeedsRefresh(now_, absl::Hours(1)));
}

TEST_F(CrlPublisherTest, ExpiredCrlRejectsEveryone) {
  // Why NeedsRefresh() matters: past nextUpdate, not even a certificate that
  // was never revoked verifies.
  CrlPublisher publisher(dir_, pki_.ca(), absl::Hours(1));
  ASSERT_TRUE(publisher.Publish({}, now_).ok());
  EXPECT_EQ(Verifier().Verify(mfa_.certificate_pem, now_ + absl::Minutes(59)), X509_V_OK);
  EXPECT_EQ(Verifier().Verify(mfa_.certificate_pem, now_ + absl::Hours(2)),
            X509_V_ERR_CRL_HAS_EXPIRED);
}

TEST_F(CrlPublisherTest, InvalidCaIsAnErrorThatWritesNothing) {
  TestPki other = TestPki::Create("Other CA");
  CrlPublisher publisher(dir_,
                         CertificateAuthority{pki_.ca_cert_pem(), other.ca().private_key_pem});
  EXPECT_THAT(publisher.Publish({Revoked(iom_)}, now_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_FALSE(std::filesystem::exists(dir_));
  EXPECT_TRUE(publisher.NeedsRefresh(now_, absl::Hours(1)));

  CrlPublisher no_crl_sign(dir_, CaWithoutCrlSign());
  EXPECT_THAT(no_crl_sign.Publish({}, now_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cRLSign")));
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

TEST_F(CrlPublisherTest, BadArgumentsAreErrorsThatWriteNothing) {
  EXPECT_THAT(CrlPublisher(dir_, pki_.ca(), absl::ZeroDuration()).Publish({}, now_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CrlPublisher(dir_, pki_.ca(), -absl::Hours(1)).Publish({}, now_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  CrlPublisher publisher(dir_, pki_.ca());
  EXPECT_THAT(publisher.Publish({{"01", now_}}, now_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(publisher.Publish({}, absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

TEST_F(CrlPublisherTest, DirectoryModeIgnoresUmaskAndPathMustBeADirectory) {
  mode_t old_umask = ::umask(077);
  absl::Status status = CrlPublisher(dir_, pki_.ca()).Publish({}, now_);
  ::umask(old_umask);
  ASSERT_TRUE(status.ok()) << status;
  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat(PathOf(0).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  const std::string file = pki_.dir() + "/plain-file";
  WriteFile(file, "x");
  EXPECT_FALSE(CrlPublisher(file, pki_.ca()).Publish({}, now_).ok());
  EXPECT_FALSE(CrlPublisher(pki_.dir() + "/missing/crl", pki_.ca()).Publish({}, now_).ok());
}

}  // namespace
}  // namespace enlace::auth
