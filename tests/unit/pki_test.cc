// Tests of the platform PKI (auth/pki.h) and of the TestPki helper: the
// certificates are checked with OpenSSL's own verifier (X509_verify_cert, in
// strict mode, at a fixed time) and by reading their extensions back, not
// only through our ReadCertificate().
#include "auth/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/identity.h"
#include "auth/openssl_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_pki.h"

namespace enlace::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

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
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using AkidPtr = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

X509Ptr ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

EvpPkeyPtr ParseKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string CsrToPem(X509_REQ* req) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// A CSR carrying `public_key`, CN=`common_name`, requesting `extensions`
// ({nid, OpenSSL config value}), signed by `signer`.
std::string HandmadeCsr(EVP_PKEY* public_key, EVP_PKEY* signer, const std::string& common_name,
                        const std::vector<std::pair<int, const char*>>& extensions = {}) {
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_REQ_set_pubkey(req.get(), public_key);
  if (!extensions.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    for (const auto& [nid, value] : extensions) {
      sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, nid, value));
    }
    X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  EXPECT_GT(
      X509_REQ_sign(req.get(), signer,
                    EVP_PKEY_get_base_id(signer) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256()),
      0);
  return CsrToPem(req.get());
}

// The result of OpenSSL's verification of `leaf` against the single trust
// anchor `ca`, for `purpose`, at `when`, in strict RFC 5280 mode.
int Verify(const std::string& ca_pem, const std::string& leaf_pem, int purpose, absl::Time when) {
  X509Ptr ca = ParseCert(ca_pem);
  X509Ptr leaf = ParseCert(leaf_pem);
  if (ca == nullptr || leaf == nullptr) return -1;
  StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(when));
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

std::string VerifyErrorString(int error) {
  return error < 0 ? "unparsable" : X509_verify_cert_error_string(error);
}

// Whether `cert` has extension `nid` marked critical (-1 if absent).
int Criticality(X509* cert, int nid) {
  int index = X509_get_ext_by_NID(cert, nid, -1);
  if (index < 0) return -1;
  return X509_EXTENSION_get_critical(X509_get_ext(cert, index));
}

// ---------------------------------------------------------------------------
// Fixtures.

const absl::Time kT0 =
    absl::FromCivil(absl::CivilSecond(2030, 1, 15, 12, 0, 0), absl::UTCTimeZone());

LeafProfile AgencyProfile(const std::string& code) {
  LeafProfile profile;
  profile.common_name = absl::StrCat("agency ", code);
  profile.uri_sans = {AgencySpiffeId(code)};
  profile.not_before = kT0;
  profile.not_after = kT0 + absl::Hours(24 * 365);
  return profile;
}

class PkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<CertificateAuthority> ca =
        CreateCertificateAuthority("Test CA", kT0 - absl::Hours(24), kT0 + absl::Hours(24 * 3650));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = new CertificateAuthority(*std::move(ca));
    absl::StatusOr<CertificateAuthority> other =
        CreateCertificateAuthority("Other CA", kT0 - absl::Hours(24), kT0 + absl::Hours(24 * 3650));
    ASSERT_TRUE(other.ok()) << other.status();
    other_ca_ = new CertificateAuthority(*std::move(other));
  }
  static void TearDownTestSuite() {
    delete ca_;
    delete other_ca_;
  }

  static std::string NewCsr(KeyType type, const std::string& cn = "x") {
    absl::StatusOr<std::string> key = GeneratePrivateKeyPem(type);
    EXPECT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::string> csr = CreateCsrPem(*key, cn);
    EXPECT_TRUE(csr.ok()) << csr.status();
    return *csr;
  }

  static CertificateAuthority* ca_;
  static CertificateAuthority* other_ca_;
};

CertificateAuthority* PkiTest::ca_ = nullptr;
CertificateAuthority* PkiTest::other_ca_ = nullptr;

// ---------------------------------------------------------------------------
// Keys and CSRs.

TEST_F(PkiTest, GeneratesPkcs8KeysOfEachType) {
  struct Case {
    KeyType type;
    int base_id;
    int bits;
  };
  for (const Case& c :
       {Case{KeyType::kEcP256, EVP_PKEY_EC, 256}, Case{KeyType::kEcP384, EVP_PKEY_EC, 384},
        Case{KeyType::kRsa2048, EVP_PKEY_RSA, 2048}, Case{KeyType::kRsa3072, EVP_PKEY_RSA, 3072}}) {
    absl::StatusOr<std::string> pem = GeneratePrivateKeyPem(c.type);
    ASSERT_TRUE(pem.ok()) << pem.status();
    EXPECT_TRUE(absl::StartsWith(*pem, "-----BEGIN PRIVATE KEY-----\n"));
    EvpPkeyPtr key = ParseKey(*pem);
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), c.base_id);
    EXPECT_EQ(EVP_PKEY_get_bits(key.get()), c.bits);
  }
}

TEST_F(PkiTest, CsrIsSignedByTheKeyAndNamesTheSubject) {
  absl::StatusOr<std::string> key_pem = GeneratePrivateKeyPem(KeyType::kEcP256);
  ASSERT_TRUE(key_pem.ok());
  absl::StatusOr<std::string> csr_pem = CreateCsrPem(*key_pem, "iom");
  ASSERT_TRUE(csr_pem.ok()) << csr_pem.status();
  BioPtr bio(BIO_new_mem_buf(csr_pem->data(), static_cast<int>(csr_pem->size())));
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(req, nullptr);
  EvpPkeyPtr key = ParseKey(*key_pem);
  EXPECT_EQ(X509_REQ_verify(req.get(), key.get()), 1);
  EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(req.get()), key.get()), 1);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "iom");
}

TEST_F(PkiTest, CreateCsrRejectsGarbageAndEncryptedKeysWithoutPrompting) {
  EXPECT_EQ(CreateCsrPem("not a key", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  BioPtr bio(BIO_new(BIO_s_mem()));
  char passphrase[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), passphrase, 6,
                                          nullptr, nullptr),
            1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  absl::StatusOr<std::string> csr = CreateCsrPem(std::string(data, static_cast<size_t>(len)), "x");
  EXPECT_EQ(csr.status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// The CA.

TEST_F(PkiTest, CaIsACa) {
  X509Ptr ca = ParseCert(ca_->certificate_pem);
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_get_version(ca.get()), X509_VERSION_3);
  EXPECT_EQ(Criticality(ca.get(), NID_basic_constraints), 1);
  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(ca.get(), NID_basic_constraints, nullptr, nullptr)));
  ASSERT_NE(bc, nullptr);
  EXPECT_NE(bc->ca, 0);
  EXPECT_EQ(Criticality(ca.get(), NID_key_usage), 1);
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  // Self-signed, and the key is the CA's.
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK);
  EXPECT_EQ(X509_verify(ca.get(), X509_get0_pubkey(ca.get())), 1);
  EvpPkeyPtr key = ParseKey(ca_->private_key_pem);
  EXPECT_EQ(X509_check_private_key(ca.get(), key.get()), 1);
  EXPECT_EQ(X509_get_signature_nid(ca.get()), NID_ecdsa_with_SHA256);
  EXPECT_TRUE(ValidateCertificateAuthority(*ca_).ok());
  // Trusting itself, it verifies strictly.
  EXPECT_EQ(Verify(ca_->certificate_pem, ca_->certificate_pem, X509_PURPOSE_ANY, kT0), X509_V_OK);
}

TEST_F(PkiTest, CaRejectsBadArguments) {
  EXPECT_EQ(CreateCertificateAuthority("", kT0, kT0 + absl::Hours(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      CreateCertificateAuthority(std::string(65, 'x'), kT0, kT0 + absl::Hours(1)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCertificateAuthority("CA", kT0, kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCertificateAuthority("CA", kT0, absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, ValidateCertificateAuthorityRejectsMismatchAndNonCa) {
  CertificateAuthority mixed{ca_->certificate_pem, other_ca_->private_key_pem};
  absl::Status status = ValidateCertificateAuthority(mixed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("does not match"));
  EXPECT_EQ(SignCsr(mixed, NewCsr(KeyType::kEcP256), AgencyProfile("iom")).status().code(),
            absl::StatusCode::kInvalidArgument);

  absl::StatusOr<IssuedCertificate> leaf = IssueCertificate(*ca_, AgencyProfile("iom"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  CertificateAuthority not_a_ca{leaf->certificate_pem, leaf->private_key_pem};
  status = ValidateCertificateAuthority(not_a_ca);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("CA:TRUE"));
}

// ---------------------------------------------------------------------------
// Signing.

TEST_F(PkiTest, SignedLeafVerifiesAgainstItsCaOnly) {
  absl::StatusOr<std::string> cert = SignCsr(*ca_, NewCsr(KeyType::kEcP256), AgencyProfile("iom"));
  ASSERT_TRUE(cert.ok()) << cert.status();
  const absl::Time during = kT0 + absl::Hours(1);

  int result = Verify(ca_->certificate_pem, *cert, X509_PURPOSE_SSL_CLIENT, during);
  EXPECT_EQ(result, X509_V_OK) << VerifyErrorString(result);
  EXPECT_EQ(Verify(other_ca_->certificate_pem, *cert, X509_PURPOSE_SSL_CLIENT, during),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  // A client certificate is no server certificate.
  EXPECT_EQ(Verify(ca_->certificate_pem, *cert, X509_PURPOSE_SSL_SERVER, during),
            X509_V_ERR_INVALID_PURPOSE);
  EXPECT_EQ(
      Verify(ca_->certificate_pem, *cert, X509_PURPOSE_SSL_CLIENT, kT0 + absl::Hours(24 * 366)),
      X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(Verify(ca_->certificate_pem, *cert, X509_PURPOSE_SSL_CLIENT, kT0 - absl::Hours(1)),
            X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST_F(PkiTest, LeafHasTheRequiredExtensions) {
  absl::StatusOr<std::string> pem = SignCsr(*ca_, NewCsr(KeyType::kEcP256), AgencyProfile("iom"));
  ASSERT_TRUE(pem.ok()) << pem.status();
  X509Ptr cert = ParseCert(*pem);
  X509Ptr ca = ParseCert(ca_->certificate_pem);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(Criticality(cert.get(), NID_basic_constraints), 1);
  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, nullptr, nullptr)));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(bc->ca, 0);
  EXPECT_EQ(Criticality(cert.get(), NID_key_usage), 1);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(Criticality(cert.get(), NID_subject_alt_name), 0);
  ASSERT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  ASSERT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert.get()),
                                  X509_get0_subject_key_id(ca.get())),
            0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca.get())), 0);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
}

TEST_F(PkiTest, ServerProfileGetsServerAuthAndDnsAndIpSans) {
  LeafProfile profile;
  profile.common_name = "server";
  profile.dns_sans = {"localhost"};
  profile.ip_sans = {"127.0.0.1", "::1"};
  profile.client_auth = false;
  profile.server_auth = true;
  profile.not_before = kT0;
  profile.not_after = kT0 + absl::Hours(24);
  absl::StatusOr<IssuedCertificate> issued = IssueCertificate(*ca_, profile);
  ASSERT_TRUE(issued.ok()) << issued.status();
  X509Ptr cert = ParseCert(issued->certificate_pem);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.2", 0), 0);
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(Verify(ca_->certificate_pem, issued->certificate_pem, X509_PURPOSE_SSL_SERVER,
                   kT0 + absl::Hours(1)),
            X509_V_OK);
}

TEST_F(PkiTest, SubjectAndSansComeOnlyFromTheProfile) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  // The requester asks to be the ministry, and a CA.
  std::string csr = HandmadeCsr(
      key.get(), key.get(), "mfa",
      {{NID_subject_alt_name, "URI:spiffe://enlace/agency/mfa,DNS:evil.example,IP:10.0.0.1"},
       {NID_basic_constraints, "critical,CA:TRUE"}});
  absl::StatusOr<std::string> pem = SignCsr(*ca_, csr, AgencyProfile("iom"));
  ASSERT_TRUE(pem.ok()) << pem.status();

  absl::StatusOr<CertificateInfo> info = ReadCertificate(*pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->uri_sans, ElementsAre("spiffe://enlace/agency/iom"));
  EXPECT_THAT(info->dns_sans, IsEmpty());
  EXPECT_THAT(info->ip_sans, IsEmpty());
  EXPECT_EQ(info->common_name, "agency iom");

  // Checked again with OpenSSL alone: one SAN extension with one name.
  X509Ptr cert = ParseCert(*pem);
  EXPECT_EQ(X509_get_ext_by_NID(cert.get(), NID_subject_alt_name,
                                X509_get_ext_by_NID(cert.get(), NID_subject_alt_name, -1)),
            -1);
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(sk_GENERAL_NAME_num(names.get()), 1);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_ext_count(cert.get()), 6);  // BC, KU, EKU, SKI, AKI, SAN
}

TEST_F(PkiTest, RejectsCsrWithBrokenSignature) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  std::string pem = HandmadeCsr(key.get(), key.get(), "iom");
  // Flip a bit in the last byte of the DER: inside the signature.
  BioPtr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509ReqPtr req(PEM_read_bio_X509_REQ(in.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(req, nullptr);
  unsigned char* der = nullptr;
  int der_len = i2d_X509_REQ(req.get(), &der);
  ASSERT_GT(der_len, 0);
  der[der_len - 1] ^= 0x01;
  BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio(out.get(), "CERTIFICATE REQUEST", "", der, der_len);
  OPENSSL_free(der);
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  std::string broken(data, static_cast<size_t>(len));

  absl::StatusOr<std::string> cert = SignCsr(*ca_, broken, AgencyProfile("iom"));
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cert.status().message(), HasSubstr("signature"));
}

TEST_F(PkiTest, RejectsCsrSignedByAnotherKey) {
  EvpPkeyPtr victim(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EvpPkeyPtr attacker(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  std::string csr = HandmadeCsr(victim.get(), attacker.get(), "iom");
  absl::StatusOr<std::string> cert = SignCsr(*ca_, csr, AgencyProfile("iom"));
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cert.status().message(), HasSubstr("signature"));
}

TEST_F(PkiTest, RejectsGarbageCsr) {
  EXPECT_EQ(SignCsr(*ca_, "hello", AgencyProfile("iom")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignCsr(*ca_, ca_->certificate_pem, AgencyProfile("iom")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, RejectsWeakOrUnsupportedKeys) {
  EvpPkeyPtr rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  ASSERT_NE(rsa1024, nullptr);
  absl::StatusOr<std::string> csr = CreateCsrPem(KeyPem(rsa1024.get()), "x");
  ASSERT_TRUE(csr.ok()) << csr.status();  // Making it is the requester's business.
  absl::StatusOr<std::string> cert = SignCsr(*ca_, *csr, AgencyProfile("iom"));
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cert.status().message(), HasSubstr("1024"));

  EvpPkeyPtr k256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1"));
  ASSERT_NE(k256, nullptr);
  EXPECT_EQ(
      SignCsr(*ca_, HandmadeCsr(k256.get(), k256.get(), "x"), AgencyProfile("iom")).status().code(),
      absl::StatusCode::kInvalidArgument);

  EvpPkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(ed, nullptr);
  csr = CreateCsrPem(KeyPem(ed.get()), "x");
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_EQ(SignCsr(*ca_, *csr, AgencyProfile("iom")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, AcceptsP384AndRsaKeys) {
  absl::StatusOr<std::string> cert = SignCsr(*ca_, NewCsr(KeyType::kEcP384), AgencyProfile("iom"));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(Verify(ca_->certificate_pem, *cert, X509_PURPOSE_SSL_CLIENT, kT0 + absl::Hours(1)),
            X509_V_OK);

  cert = SignCsr(*ca_, NewCsr(KeyType::kRsa2048), AgencyProfile("iom"));
  ASSERT_TRUE(cert.ok()) << cert.status();
  X509Ptr rsa = ParseCert(*cert);
  EXPECT_EQ(X509_get_key_usage(rsa.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(Verify(ca_->certificate_pem, *cert, X509_PURPOSE_SSL_CLIENT, kT0 + absl::Hours(1)),
            X509_V_OK);
}

TEST_F(PkiTest, P384CaSignsWithSha384) {
  absl::StatusOr<CertificateAuthority> ca =
      CreateCertificateAuthority("P-384 CA", kT0, kT0 + absl::Hours(24 * 3650), KeyType::kEcP384);
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<IssuedCertificate> leaf = IssueCertificate(*ca, AgencyProfile("iom"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(X509_get_signature_nid(ParseCert(ca->certificate_pem).get()), NID_ecdsa_with_SHA384);
  EXPECT_EQ(X509_get_signature_nid(ParseCert(leaf->certificate_pem).get()), NID_ecdsa_with_SHA384);
  EXPECT_EQ(Verify(ca->certificate_pem, leaf->certificate_pem, X509_PURPOSE_SSL_CLIENT,
                   kT0 + absl::Hours(1)),
            X509_V_OK);
}

TEST_F(PkiTest, RejectsBadProfiles) {
  std::string csr = NewCsr(KeyType::kEcP256);
  auto code = [&](const LeafProfile& profile) {
    return SignCsr(*ca_, csr, profile).status().code();
  };
  LeafProfile p = AgencyProfile("iom");
  p.common_name = "";
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
  p = AgencyProfile("iom");
  p.client_auth = p.server_auth = false;
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
  p = AgencyProfile("iom");
  p.not_after = p.not_before;
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(LeafProfile{}), absl::StatusCode::kInvalidArgument);
  for (const char* uri : {"", "no-scheme", "spiffe://enlace/agency/a b", "spiffe:", "1x:y"}) {
    p = AgencyProfile("iom");
    p.uri_sans = {uri};
    EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument) << uri;
  }
  // A comma must not smuggle a second SAN in (it is data, not syntax).
  p = AgencyProfile("iom");
  p.uri_sans = {"spiffe://enlace/agency/iom,URI:spiffe://enlace/agency/mfa"};
  absl::StatusOr<std::string> cert = SignCsr(*ca_, csr, p);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_THAT(ReadCertificate(*cert)->uri_sans, ElementsAre(p.uri_sans[0]));
  p = AgencyProfile("iom");
  p.ip_sans = {"300.1.1.1"};
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
  p = AgencyProfile("iom");
  p.dns_sans = {"bad name"};
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, SerialsAreRandomPositiveAndDistinct) {
  std::set<std::string> serials;
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<IssuedCertificate> issued = IssueCertificate(*ca_, AgencyProfile("iom"));
    ASSERT_TRUE(issued.ok()) << issued.status();
    EXPECT_THAT(issued->serial_hex, MatchesRegex("[1-9a-f][0-9a-f]{0,31}"));
    serials.insert(issued->serial_hex);
    // The same number as OpenSSL reads it.
    X509Ptr cert = ParseCert(issued->certificate_pem);
    BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    BIGNUM* parsed = nullptr;
    ASSERT_GT(BN_hex2bn(&parsed, issued->serial_hex.c_str()), 0);
    BignumPtr owner(parsed);
    EXPECT_EQ(BN_cmp(bn.get(), parsed), 0);
    EXPECT_FALSE(BN_is_negative(bn.get()));
    EXPECT_LE(BN_num_bits(bn.get()), 128);
  }
  EXPECT_EQ(serials.size(), 50u);
}

TEST_F(PkiTest, ReadCertificateRoundTrips) {
  LeafProfile profile;
  profile.common_name = "dual ñ";
  profile.uri_sans = {"spiffe://enlace/agency/unhcr", "urn:example:second"};
  profile.dns_sans = {"localhost", "a.example.org"};
  profile.ip_sans = {"192.0.2.7", "2001:db8::1"};
  profile.server_auth = true;
  profile.not_before = kT0 + absl::Seconds(7);
  profile.not_after = absl::FromCivil(absl::CivilSecond(2051, 3, 4, 5, 6, 7),
                                      absl::UTCTimeZone());  // GeneralizedTime
  absl::StatusOr<IssuedCertificate> issued = IssueCertificate(*ca_, profile);
  ASSERT_TRUE(issued.ok()) << issued.status();
  absl::StatusOr<CertificateInfo> info = ReadCertificate(issued->certificate_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->serial_hex, issued->serial_hex);
  EXPECT_EQ(info->uri_sans, profile.uri_sans);
  EXPECT_EQ(info->dns_sans, profile.dns_sans);
  EXPECT_EQ(info->ip_sans, profile.ip_sans);
  EXPECT_EQ(info->common_name, profile.common_name);
  EXPECT_EQ(info->not_before, profile.not_before);
  EXPECT_EQ(info->not_after, profile.not_after);
  EXPECT_EQ(*CertificateSerialHex(issued->certificate_pem), issued->serial_hex);

  // Sub-second times are truncated.
  profile.not_before = kT0 + absl::Milliseconds(1500);
  issued = IssueCertificate(*ca_, profile);
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(ReadCertificate(issued->certificate_pem)->not_before, kT0 + absl::Seconds(1));

  EXPECT_EQ(ReadCertificate("nope").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, ReadCertificateOfCertificateWithoutSans) {
  absl::StatusOr<CertificateInfo> info = ReadCertificate(ca_->certificate_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->uri_sans, IsEmpty());
  EXPECT_EQ(info->common_name, "Test CA");
}

// ---------------------------------------------------------------------------
// Files and the development PKI.

// A fresh directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    path_ = absl::StrCat(base != nullptr ? base : "/tmp", "/pki_test-XXXXXX");
    EXPECT_NE(::mkdtemp(path_.data()), nullptr);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

int ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(WriteFileAtomicallyTest, WritesWithModeAndNeverClobbersInFailMode) {
  TempDir dir;
  const std::string path = dir / "secret.key";
  ASSERT_TRUE(WriteFileAtomically(path, "one", 0600, IfExists::kFail).ok());
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(*ReadFileToString(path), "one");

  absl::Status status = WriteFileAtomically(path, "two", 0600, IfExists::kFail);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*ReadFileToString(path), "one");

  ASSERT_TRUE(WriteFileAtomically(path, "three", 0644).ok());
  EXPECT_EQ(*ReadFileToString(path), "three");
  EXPECT_EQ(ModeOf(path), 0644);
  EXPECT_THAT(Listing(dir.path()), ElementsAre("secret.key"));  // no temp files

  EXPECT_EQ(WriteFileAtomically(dir / "missing/x", "", 0600).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadFileToString(dir / "missing").status().code(), absl::StatusCode::kNotFound);
}

bool HasLine(const std::vector<std::string>& log, const std::string& prefix) {
  for (const std::string& line : log) {
    if (absl::StartsWith(line, prefix)) return true;
  }
  return false;
}

DevPkiOptions InitOptions(const std::string& dir) {
  DevPkiOptions options;
  options.dir = dir;
  options.now = kT0;
  return options;
}

TEST(InitDevPkiTest, CreatesTheWholeLayout) {
  TempDir tmp;
  const std::string dir = tmp / "pki";
  std::vector<std::string> log;
  absl::Status status = InitDevPki(InitOptions(dir), &log);
  ASSERT_TRUE(status.ok()) << status;

  EXPECT_THAT(Listing(dir), ElementsAre("admin.crt", "admin.key", "ca.crt", "ca.key", "iom.crt",
                                        "iom.key", "mfa.crt", "mfa.key", "server.crt", "server.key",
                                        "undp.crt", "undp.key", "unhcr.crt", "unhcr.key"));
  EXPECT_EQ(ModeOf(dir), 0700);
  for (const char* stem : {"ca", "server", "mfa", "iom", "unhcr", "undp", "admin"}) {
    EXPECT_EQ(ModeOf(dir + "/" + stem + ".key"), 0600) << stem;
    EXPECT_EQ(ModeOf(dir + "/" + stem + ".crt"), 0644) << stem;
  }

  std::string ca_pem = *ReadFileToString(dir + "/ca.crt");
  absl::StatusOr<CertificateInfo> ca = ReadCertificate(ca_pem);
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(ca->common_name, "Enlace dev CA");
  EXPECT_GE(ca->not_after, kT0 + absl::Hours(24 * 3650));
  EXPECT_TRUE(LoadCertificateAuthority(dir + "/ca.crt", dir + "/ca.key").ok());

  const absl::Time during = kT0 + absl::Hours(1);
  for (const char* code : {"mfa", "iom", "unhcr", "undp"}) {
    std::string pem = *ReadFileToString(absl::StrCat(dir, "/", code, ".crt"));
    EXPECT_THAT(ReadCertificate(pem)->uri_sans,
                ElementsAre(absl::StrCat("spiffe://enlace/agency/", code)));
    EXPECT_EQ(Verify(ca_pem, pem, X509_PURPOSE_SSL_CLIENT, during), X509_V_OK);
    // What the server will do with it: the identity parser accepts it.
    absl::StatusOr<Principal> principal = ParseSpiffeId(ReadCertificate(pem)->uri_sans.at(0));
    ASSERT_TRUE(principal.ok()) << principal.status();
    EXPECT_EQ(*principal, (Principal{PrincipalKind::kAgency, code}));
    X509Ptr cert = ParseCert(pem);
    EvpPkeyPtr key = ParseKey(*ReadFileToString(absl::StrCat(dir, "/", code, ".key")));
    EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  }
  std::string admin = *ReadFileToString(dir + "/admin.crt");
  EXPECT_THAT(ReadCertificate(admin)->uri_sans, ElementsAre("spiffe://enlace/admin/admin"));
  std::string server = *ReadFileToString(dir + "/server.crt");
  EXPECT_EQ(Verify(ca_pem, server, X509_PURPOSE_SSL_SERVER, during), X509_V_OK);
  EXPECT_THAT(ReadCertificate(server)->dns_sans, ElementsAre("localhost"));
  EXPECT_THAT(ReadCertificate(server)->ip_sans, ElementsAre("127.0.0.1"));
  EXPECT_EQ(ReadCertificate(server)->not_after, kT0 + absl::Hours(24 * 365));

  EXPECT_TRUE(HasLine(log, absl::StrCat("created ", dir, "/ca.key")));
  EXPECT_TRUE(HasLine(log, absl::StrCat("created ", dir,
                                        "/iom.crt (spiffe://enlace/agency/iom, "
                                        "serial ")));
  EXPECT_EQ(log.size(), 14u);
}

TEST(InitDevPkiTest, SecondRunKeepsEverythingAndAddsOnlyWhatIsNew) {
  TempDir tmp;
  const std::string dir = tmp / "pki";
  std::vector<std::string> log;
  ASSERT_TRUE(InitDevPki(InitOptions(dir), &log).ok());
  const std::string ca_before = *ReadFileToString(dir + "/ca.crt");
  const std::string key_before = *ReadFileToString(dir + "/iom.key");

  log.clear();
  DevPkiOptions options = InitOptions(dir);
  options.now = kT0 + absl::Hours(2);
  options.agencies.push_back("wfp");
  absl::Status status = InitDevPki(options, &log);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(*ReadFileToString(dir + "/ca.crt"), ca_before);
  EXPECT_EQ(*ReadFileToString(dir + "/iom.key"), key_before);
  EXPECT_TRUE(HasLine(log, absl::StrCat("kept ", dir, "/ca.crt")));
  EXPECT_TRUE(HasLine(log, absl::StrCat("kept ", dir, "/iom.crt")));
  EXPECT_TRUE(HasLine(log, absl::StrCat("created ", dir, "/wfp.crt")));
  int created = 0;
  for (const std::string& line : log) created += absl::StartsWith(line, "created");
  EXPECT_EQ(created, 2);
  EXPECT_EQ(ModeOf(dir + "/wfp.key"), 0600);
}

TEST(InitDevPkiTest, RejectsBadOptions) {
  TempDir tmp;
  std::vector<std::string> log;
  auto code = [&](DevPkiOptions options) { return InitDevPki(options, &log).code(); };
  DevPkiOptions options = InitOptions(tmp / "pki");
  options.agencies = {"IOM"};
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.agencies = {"1om"};
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.agencies = {std::string(33, 'a')};
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.agencies = {"../x"};
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.agencies = {"server"};  // would clash with server.crt
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.agencies = {"ca"};
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.agencies = {"iom", "iom"};
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.agencies = {"iom"};
  options.admins = {"iom"};  // iom.crt twice
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options = InitOptions(tmp / "pki");
  options.server_names = {};
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.server_names = {"bad name"};
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options = InitOptions(tmp / "pki");
  options.validity_days = 0;
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options.validity_days = 3651;
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Listing(tmp.path()), IsEmpty());  // nothing touched
  options = InitOptions(tmp / "pki");
  options.agencies = {"a-b_9"};
  options.admins = {};
  options.server_names = {"::1", "enlace.example.org"};
  EXPECT_EQ(code(options), absl::StatusCode::kOk);
}

TEST(InitDevPkiTest, RefusesHalfPairsAndForeignCertificates) {
  TempDir tmp;
  const std::string dir = tmp / "pki";
  std::vector<std::string> log;
  ASSERT_TRUE(InitDevPki(InitOptions(dir), &log).ok());

  // A key whose certificate is gone: not silently replaced.
  ASSERT_EQ(::unlink((dir + "/iom.crt").c_str()), 0);
  const std::string key = *ReadFileToString(dir + "/iom.key");
  absl::Status status = InitDevPki(InitOptions(dir), &log);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("iom.key exists without"));
  EXPECT_EQ(*ReadFileToString(dir + "/iom.key"), key);

  // A certificate from another CA.
  ASSERT_EQ(::unlink((dir + "/iom.key").c_str()), 0);
  testing::TestPki other = testing::TestPki::Create("Other CA");
  IssuedCertificate foreign = other.Agency("iom");
  ASSERT_TRUE(WriteFileAtomically(dir + "/iom.crt", foreign.certificate_pem, 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/iom.key", foreign.private_key_pem, 0600).ok());
  status = InitDevPki(InitOptions(dir), &log);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("not issued by the CA"));

  // Our CA's certificate for another identity under this name.
  CertificateAuthority ca = *LoadCertificateAuthority(dir + "/ca.crt", dir + "/ca.key");
  IssuedCertificate mfa = *IssueCertificate(ca, AgencyProfile("mfa"));
  ASSERT_TRUE(WriteFileAtomically(dir + "/iom.crt", mfa.certificate_pem, 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/iom.key", mfa.private_key_pem, 0600).ok());
  status = InitDevPki(InitOptions(dir), &log);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("spiffe://enlace/agency/mfa"));

  // A certificate with someone else's key.
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/iom.key", *ReadFileToString(dir + "/undp.key"), 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/iom.crt",
                                  IssueCertificate(ca, AgencyProfile("iom"))->certificate_pem, 0644)
                  .ok());
  status = InitDevPki(InitOptions(dir), &log);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("does not match"));
}

TEST(InitDevPkiTest, CapsLeavesAtTheCaExpiry) {
  TempDir tmp;
  const std::string dir = tmp / "pki";
  std::vector<std::string> log;
  ASSERT_TRUE(InitDevPki(InitOptions(dir), &log).ok());
  absl::Time ca_end = ReadCertificate(*ReadFileToString(dir + "/ca.crt"))->not_after;
  DevPkiOptions options = InitOptions(dir);
  options.now = ca_end - absl::Hours(24);
  options.agencies = {"wfp"};
  ASSERT_TRUE(InitDevPki(options, &log).ok());
  EXPECT_EQ(ReadCertificate(*ReadFileToString(dir + "/wfp.crt"))->not_after, ca_end);
  options.now = ca_end + absl::Hours(1);
  options.agencies = {"fao"};
  EXPECT_EQ(InitDevPki(options, &log).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(IssueDevCertificateTest, IssuesIntoOutDirAndNeverOverwrites) {
  TempDir tmp;
  const std::string dir = tmp / "pki";
  std::vector<std::string> log;
  ASSERT_TRUE(InitDevPki(InitOptions(dir), &log).ok());

  DevIssueOptions options;
  options.dir = dir;
  options.kind = PrincipalKind::kAdmin;
  options.name = "alice";
  options.now = kT0;
  log.clear();
  absl::StatusOr<IssuedCertificate> issued = IssueDevCertificate(options, &log);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_THAT(ReadCertificate(*ReadFileToString(dir + "/alice.crt"))->uri_sans,
              ElementsAre("spiffe://enlace/admin/alice"));
  EXPECT_EQ(ModeOf(dir + "/alice.key"), 0600);
  EXPECT_TRUE(HasLine(log, absl::StrCat("created ", dir, "/alice.crt (")));

  // A second iom certificate must go elsewhere.
  options.kind = PrincipalKind::kAgency;
  options.name = "iom";
  EXPECT_EQ(IssueDevCertificate(options, &log).status().code(), absl::StatusCode::kAlreadyExists);
  options.out_dir = tmp / "iom-2";
  issued = IssueDevCertificate(options, &log);
  ASSERT_TRUE(issued.ok()) << issued.status();
  std::string ca_pem = *ReadFileToString(dir + "/ca.crt");
  EXPECT_EQ(Verify(ca_pem, *ReadFileToString(tmp / "iom-2/iom.crt"), X509_PURPOSE_SSL_CLIENT,
                   kT0 + absl::Hours(1)),
            X509_V_OK);
  EXPECT_NE(issued->serial_hex, ReadCertificate(*ReadFileToString(dir + "/iom.crt"))->serial_hex);

  options.name = "Bad";
  EXPECT_EQ(IssueDevCertificate(options, &log).status().code(), absl::StatusCode::kInvalidArgument);
  options.name = "x";
  options.dir = tmp / "nowhere";
  EXPECT_EQ(IssueDevCertificate(options, &log).status().code(), absl::StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------
// The TestPki helper.

TEST(TestPkiTest, MakesAWorkingPkiAndCleansUp) {
  std::string dir;
  {
    testing::TestPki pki = testing::TestPki::Create();
    dir = pki.dir();
    EXPECT_EQ(*ReadFileToString(pki.ca_cert_path()), pki.ca_cert_pem());
    EXPECT_EQ(*ReadFileToString(pki.server_key_path()), pki.server_key_pem());
    EXPECT_EQ(ModeOf(pki.server_key_path()), 0600);
    const absl::Time now = absl::Now();
    EXPECT_EQ(Verify(pki.ca_cert_pem(), pki.server_cert_pem(), X509_PURPOSE_SSL_SERVER, now),
              X509_V_OK);
    X509Ptr server = ParseCert(pki.server_cert_pem());
    EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);

    IssuedCertificate iom = pki.Agency("iom");
    EXPECT_EQ(Verify(pki.ca_cert_pem(), iom.certificate_pem, X509_PURPOSE_SSL_CLIENT, now),
              X509_V_OK);
    EXPECT_THAT(ReadCertificate(iom.certificate_pem)->uri_sans,
                ElementsAre("spiffe://enlace/agency/iom"));
    EXPECT_THAT(ReadCertificate(pki.Admin("root").certificate_pem)->uri_sans,
                ElementsAre("spiffe://enlace/admin/root"));
    EXPECT_THAT(ReadCertificate(pki.WithUris({}).certificate_pem)->uri_sans, IsEmpty());
    IssuedCertificate expired =
        pki.WithUris({"spiffe://enlace/agency/iom"}, now - absl::Hours(48), now - absl::Hours(24));
    EXPECT_EQ(Verify(pki.ca_cert_pem(), expired.certificate_pem, X509_PURPOSE_SSL_CLIENT, now),
              X509_V_ERR_CERT_HAS_EXPIRED);

    testing::TestPki other = testing::TestPki::Create("Other CA");
    EXPECT_NE(other.dir(), pki.dir());
    EXPECT_EQ(Verify(pki.ca_cert_pem(), other.Agency("iom").certificate_pem,
                     X509_PURPOSE_SSL_CLIENT, now),
              X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

    testing::TestPki::Files files = pki.WriteCertificate("iom", iom);
    EXPECT_EQ(*ReadFileToString(files.certificate_path), iom.certificate_pem);
    EXPECT_EQ(files.private_key_path, pki.dir() + "/iom.key");

    // Moving keeps the directory alive with its new owner.
    testing::TestPki moved = std::move(pki);
    EXPECT_EQ(moved.dir(), dir);
    EXPECT_TRUE(std::filesystem::exists(moved.ca_cert_path()));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace enlace::auth
