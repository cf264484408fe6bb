// End to end for certificate administration: an agency's whole lifecycle
// (request -> issue -> call -> rotate -> revoke), revocation that reaches
// already-open connections and streams within seconds, refusal of expired,
// not-yet-valid and revoked certificates, identities taken from the admin's
// request and never from the CSR, admin-only access, and rotation of the
// server's own certificate under load without a failed call.
//
// As in production, the CA key is held by the CA role alone (a second server,
// --role=ca, on the same database): certificates are issued there, the
// serving replica refuses to issue and says where issuance runs, a
// revocation made on the serving replica holds on both, and the CA role
// publishes the CRLs that the serving replica's TLS layer reads.
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/pki.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::TestPki;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using v1::AdminService;
using v1::ArrivalService;

// A CSR for `key_pem` that asks, in a subjectAltName extension, for the URI
// `uri`: what a requester trying to pass as another agency would send.
std::string CsrAskingForUri(const std::string& key_pem, const std::string& uri) {
  BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_pubkey(req, key);
  X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("mfa"), -1, -1, 0);
  STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
  std::string san = "URI:" + uri;
  sk_X509_EXTENSION_push(extensions,
                         X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str()));
  X509_REQ_add_extensions(req, extensions);
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  X509_REQ_sign(req, key, EVP_sha256());
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(out, req);
  char* data = nullptr;
  long length = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(out);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return pem;
}

constexpr char kCaRoleAddr[] = "ca.enlace.test:7446";  // named in the serving replica's refusal

class CertificatesTest : public ServerFixture {
 protected:
  // The serving replica (ServerFixture::SetUp), then the CA role.
  void SetUp() override {
    ServerFixture::SetUp();
    if (HasFatalFailure()) return;
    server::ServerConfig config;
    config.role = server::ServerRole::kCa;
    config.tls_addr = "127.0.0.1:0";
    config.health_addr = "";
    config.metrics_addr = "";
    config.db_dsn = database_->server_dsn_string();  // the same least-privilege user
    config.ca_cert = pki_.ca_cert_path();
    config.ca_key = pki_.WriteFile("ca.key", pki_.ca().private_key_pem);
    config.server_cert = pki_.server_cert_path();
    config.server_key = pki_.server_key_path();
    config.policy = policy_path_;
    config.token_keys = token_keys_path_;
    config.db_pool_size = 8;
    config.worker_threads = 2;
    ConfigureBoth(config);
    absl::StatusOr<std::unique_ptr<server::EnlaceServer>> ca = server::EnlaceServer::Start(config);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_server_ = *std::move(ca);
  }
  void TearDown() override { ca_server_.reset(); }

  // The serving replica's settings; ConfigureBoth() applies to the CA role too.
  void Configure(server::ServerConfig& config) override {
    config.ca_role_addr = kCaRoleAddr;
    ConfigureBoth(config);
  }
  virtual void ConfigureBoth(server::ServerConfig& config) { config.tls_refresh_seconds = 1; }

  // AdminService of the CA role, as the admin (or `cert`).
  std::unique_ptr<AdminService::Stub> CaAdmin(const auth::IssuedCertificate* cert = nullptr) {
    return AdminService::NewStub(ChannelTo(ca_server_->tls_port(), cert ? *cert : admin_cert_));
  }

  // What an agency does on its own machine: a key that never leaves it, and a CSR.
  struct Request {
    std::string key_pem;
    std::string csr_pem;
  };
  static Request MakeRequest(absl::string_view common_name) {
    absl::StatusOr<std::string> key = auth::GeneratePrivateKeyPem(auth::KeyType::kEcP256);
    EXPECT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::string> csr = auth::CreateCsrPem(*key, common_name);
    EXPECT_TRUE(csr.ok()) << csr.status();
    return {*key, *csr};
  }

  grpc::Status Register(const std::string& code) {
    v1::RegisterAgencyRequest request;
    request.set_code(code);
    request.set_display_name(absl::StrCat("Agency ", code));
    v1::Agency agency;
    return Admin()->RegisterAgency(Context().get(), request, &agency);
  }

  // Issues through the API as the admin; returns a certificate usable by a client.
  auth::IssuedCertificate Issue(const Request& request, v1::CertificateKind kind,
                                const std::string& name, grpc::Status* status = nullptr) {
    v1::IssueCertificateRequest issue;
    issue.set_kind(kind);
    issue.set_name(name);
    issue.set_csr_pem(request.csr_pem);
    v1::Certificate certificate;
    grpc::Status s = CaAdmin()->IssueCertificate(Context().get(), issue, &certificate);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return {certificate.certificate_pem(), request.key_pem, certificate.serial()};
  }

  grpc::Status Revoke(const std::string& serial, const std::string& reason = "key lost") {
    v1::RevokeCertificateRequest request;
    request.set_serial(serial);
    request.set_reason(reason);
    v1::Certificate certificate;
    return Admin()->RevokeCertificate(Context().get(), request, &certificate);
  }

  std::unique_ptr<server::EnlaceServer> ca_server_;

  static grpc::StatusCode ListWith(ArrivalService::Stub& stub) {
    v1::ListArrivalsResponse response;
    return stub.ListArrivals(Context().get(), {}, &response).error_code();
  }

  // Polls `stub` until it answers `expected` or 10 s pass; returns the time taken.
  static absl::Duration TimeUntil(ArrivalService::Stub& stub, grpc::StatusCode expected) {
    absl::Time start = absl::Now();
    while (absl::Now() - start < absl::Seconds(10)) {
      if (ListWith(stub) == expected) return absl::Now() - start;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return absl::InfiniteDuration();
  }
};

TEST_F(CertificatesTest, AgencyLifecycleFromRequestToRevocation) {
  ASSERT_TRUE(Register("wfp").ok());
  Request first_request = MakeRequest("wfp");
  auth::IssuedCertificate first = Issue(first_request, v1::CERTIFICATE_KIND_AGENCY, "wfp");
  absl::StatusOr<auth::CertificateInfo> info = auth::ReadCertificate(first.certificate_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->uri_sans, ::testing::ElementsAre("spiffe://enlace/agency/wfp"));
  EXPECT_NEAR(absl::ToDoubleHours(info->not_after - absl::Now()) / 24, 90, 1);

  auto first_stub = Arrivals(first);  // one connection, kept open throughout
  EXPECT_EQ(ListWith(*first_stub), grpc::StatusCode::OK);

  // Rotation: a new key and certificate; both work until the old one is revoked.
  auth::IssuedCertificate second = Issue(MakeRequest("wfp"), v1::CERTIFICATE_KIND_AGENCY, "wfp");
  auto second_stub = Arrivals(second);
  EXPECT_EQ(ListWith(*second_stub), grpc::StatusCode::OK);
  EXPECT_EQ(ListWith(*first_stub), grpc::StatusCode::OK);

  v1::ListCertificatesRequest list;
  list.set_name("wfp");
  v1::ListCertificatesResponse listed;
  ASSERT_TRUE(Admin()->ListCertificates(Context().get(), list, &listed).ok());
  ASSERT_THAT(listed.certificates(), SizeIs(2));
  EXPECT_EQ(listed.certificates(0).status(), v1::CERTIFICATE_STATUS_ACTIVE);
  EXPECT_EQ(listed.certificates(0).issued_by(), "spiffe://enlace/admin/ana");

  ASSERT_TRUE(Revoke(first.serial_hex).ok());
  // The already-open connection fails on its next call within 5 s.
  EXPECT_LT(TimeUntil(*first_stub, grpc::StatusCode::UNAUTHENTICATED), absl::Seconds(5));
  EXPECT_EQ(ListWith(*second_stub), grpc::StatusCode::OK);
  // A new connection with the revoked certificate is refused too.
  EXPECT_EQ(ListWith(*Arrivals(first)), grpc::StatusCode::UNAUTHENTICATED);

  list.set_status(v1::CERTIFICATE_STATUS_REVOKED);
  ASSERT_TRUE(Admin()->ListCertificates(Context().get(), list, &listed).ok());
  ASSERT_THAT(listed.certificates(), SizeIs(1));
  EXPECT_EQ(listed.certificates(0).serial(), first.serial_hex);
  EXPECT_EQ(listed.certificates(0).revocation_reason(), "key lost");
  EXPECT_EQ(Revoke(first.serial_hex).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // The refusals are audited as denials of wfp.
  v1::ListAuditEventsResponse events = AuditEvents("spiffe://enlace/agency/wfp");
  int denied = 0;
  for (const auto& e : events.events()) {
    if (e.decision() == v1::DECISION_DENY) {
      ++denied;
      EXPECT_EQ(e.status_code(), grpc::StatusCode::UNAUTHENTICATED);
    }
  }
  EXPECT_GE(denied, 2);
}

TEST_F(CertificatesTest, RevocationEndsAnOpenStream) {
  auth::IssuedCertificate mfa2 = Issue(MakeRequest("mfa"), v1::CERTIFICATE_KIND_AGENCY, "mfa");
  auto stub = Arrivals(mfa2);
  auto ctx = Context();
  auto stream = stub->RecordArrivals(ctx.get());
  v1::RecordArrivalsRequest request;
  *request.mutable_arrival() = MakeArrival("open-1");
  ASSERT_TRUE(stream->Write(request));
  v1::RecordArrivalsResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.outcome(), v1::OUTCOME_CREATED);

  absl::Time revoked_at = absl::Now();
  ASSERT_TRUE(Revoke(mfa2.serial_hex).ok());
  EXPECT_FALSE(stream->Read(&response));  // the server ends the stream
  grpc::Status status = stream->Finish();
  // Ended with the status a new call would get, and audited as a denial.
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_LT(absl::Now() - revoked_at, absl::Seconds(5));
  int denied_streams = 0;
  v1::ListAuditEventsResponse audit = AuditEvents("spiffe://enlace/agency/mfa");
  for (const auto& e : audit.events()) {
    if (e.method() == "/enlace.v1.ArrivalService/RecordArrivals" &&
        e.decision() == v1::DECISION_DENY && e.status_code() == grpc::StatusCode::UNAUTHENTICATED) {
      ++denied_streams;
    }
  }
  EXPECT_EQ(denied_streams, 1);
}

TEST_F(CertificatesTest, OfflineCertificatesCanBeRevokedByPresentingThem) {
  auth::IssuedCertificate offline = pki_.Agency("undp");  // signed by the CA, never recorded
  auto stub = Arrivals(offline);
  ASSERT_EQ(ListWith(*stub), grpc::StatusCode::OK);
  EXPECT_EQ(Revoke(offline.serial_hex).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::RevokeCertificateRequest request;
  request.set_serial(offline.serial_hex);
  request.set_reason("left the programme");
  request.set_certificate_pem(offline.certificate_pem);
  v1::Certificate revoked;
  ASSERT_TRUE(Admin()->RevokeCertificate(Context().get(), request, &revoked).ok());
  EXPECT_EQ(revoked.spiffe_id(), "spiffe://enlace/agency/undp");
  EXPECT_EQ(revoked.issued_by(), "offline");
  EXPECT_LT(TimeUntil(*stub, grpc::StatusCode::UNAUTHENTICATED), absl::Seconds(5));

  // A certificate of another CA cannot be slipped in this way.
  TestPki other = TestPki::Create("Other CA");
  auth::IssuedCertificate foreign = other.Agency("undp");
  request.set_serial(foreign.serial_hex);
  request.set_certificate_pem(foreign.certificate_pem);
  grpc::Status status = Admin()->RevokeCertificate(Context().get(), request, &revoked);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("certificate_pem"));
}

TEST_F(CertificatesTest, ExpiredAndNotYetValidCertificatesAreRefused) {
  absl::Time now = absl::Now();
  auth::IssuedCertificate expired =
      pki_.WithUris({"spiffe://enlace/agency/iom"}, now - absl::Hours(48), now - absl::Hours(24));
  auth::IssuedCertificate early =
      pki_.WithUris({"spiffe://enlace/agency/iom"}, now + absl::Hours(24), now + absl::Hours(48));
  EXPECT_EQ(ListWith(*Arrivals(expired)), grpc::StatusCode::UNAVAILABLE);  // TLS handshake
  EXPECT_EQ(ListWith(*Arrivals(early)), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(CertificatesTest, TheIdentityComesFromTheAdminNeverFromTheCsr) {
  ASSERT_TRUE(Register("wfp").ok());
  // The requester asks, through its CSR's subject and subjectAltName, to be
  // the ministry.
  Request impostor = MakeRequest("mfa");
  impostor.csr_pem = CsrAskingForUri(impostor.key_pem, "spiffe://enlace/agency/mfa");
  auth::IssuedCertificate issued = Issue(impostor, v1::CERTIFICATE_KIND_AGENCY, "wfp");
  absl::StatusOr<auth::CertificateInfo> info = auth::ReadCertificate(issued.certificate_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->uri_sans, ::testing::ElementsAre("spiffe://enlace/agency/wfp"));
  // And it is treated as wfp: recording arrivals is the ministry's alone.
  v1::RecordArrivalRequest request;
  *request.mutable_arrival() = MakeArrival("x-1");
  v1::RecordArrivalResponse response;
  EXPECT_EQ(Arrivals(issued)->RecordArrival(Context().get(), request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CertificatesTest, IssuingChecksItsInputs) {
  grpc::Status status;
  Issue(MakeRequest("acme"), v1::CERTIFICATE_KIND_AGENCY, "acme", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);  // not registered
  EXPECT_THAT(status.error_message(), HasSubstr("RegisterAgency"));

  Request garbage{"",
                  "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"};
  Issue(garbage, v1::CERTIFICATE_KIND_ADMIN, "bob", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("csr_pem"));

  v1::IssueCertificateRequest request;
  request.set_kind(v1::CERTIFICATE_KIND_ADMIN);
  request.set_name("bob");
  request.set_csr_pem(MakeRequest("bob").csr_pem);
  request.set_validity_days(399);
  v1::Certificate certificate;
  status = CaAdmin()->IssueCertificate(Context().get(), request, &certificate);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("validity_days"));

  EXPECT_EQ(Register("wfp").error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(Register("wfp").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Register("Bad Code").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CertificatesTest, OnlyAdministratorsMayAdminister) {
  auto as_iom = AdminService::NewStub(Channel(&iom_cert_, pki_.ca_cert_pem()));
  v1::IssueCertificateRequest request;
  request.set_kind(v1::CERTIFICATE_KIND_AGENCY);
  request.set_name("iom");
  request.set_csr_pem(MakeRequest("iom").csr_pem);
  v1::Certificate certificate;
  EXPECT_EQ(as_iom->IssueCertificate(Context().get(), request, &certificate).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(
      CaAdmin(&iom_cert_)->IssueCertificate(Context().get(), request, &certificate).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  v1::RevokeCertificateRequest revoke;
  revoke.set_serial(admin_cert_.serial_hex);
  revoke.set_reason("coup");
  EXPECT_EQ(as_iom->RevokeCertificate(Context().get(), revoke, &certificate).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListAgenciesResponse agencies;
  EXPECT_EQ(as_iom->ListAgencies(Context().get(), {}, &agencies).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CertificatesTest, ServerCertificateRotatesUnderLoadWithoutAFailedCall) {
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&, t] {
      auto long_lived = Arrivals(iom_cert_);
      while (!stop) {
        // Alternate a long-lived connection and brand-new ones, which
        // handshake with whatever certificate the server holds now.
        grpc::StatusCode code =
            (calls % 2 == 0) ? ListWith(*long_lived) : ListWith(*Arrivals(iom_cert_));
        ++calls;
        if (code != grpc::StatusCode::OK) ++failures;
      }
      (void)t;
    });
  }
  absl::SleepFor(absl::Milliseconds(500));
  auth::LeafProfile profile;
  profile.common_name = "localhost";
  profile.dns_sans = {"localhost"};
  profile.ip_sans = {"127.0.0.1"};
  profile.server_auth = true;
  profile.client_auth = false;
  profile.not_before = absl::Now() - absl::Minutes(5);
  profile.not_after = absl::Now() + absl::Hours(24);
  auth::IssuedCertificate rotated = pki_.Issue(profile);
  // Atomic renames, key first: the watcher never sees a half-written file.
  std::string dir = pki_.dir();
  pki_.WriteFile("server.key.new", rotated.private_key_pem);
  pki_.WriteFile("server.crt.new", rotated.certificate_pem);
  std::filesystem::rename(dir + "/server.key.new", pki_.server_key_path());
  std::filesystem::rename(dir + "/server.crt.new", pki_.server_cert_path());

  // Wait until new connections are served with the new certificate.
  absl::Time deadline = absl::Now() + absl::Seconds(15);
  std::string served;
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    v1::ListArrivalsResponse response;
    if (Arrivals(iom_cert_)->ListArrivals(&ctx, {}, &response).ok()) {
      std::vector<grpc::string_ref> pems = ctx.auth_context()->FindPropertyValues("x509_pem_cert");
      if (!pems.empty()) {
        absl::StatusOr<std::string> serial =
            auth::CertificateSerialHex(std::string(pems[0].data(), pems[0].size()));
        if (serial.ok() && *serial == rotated.serial_hex) {
          served = *serial;
          break;
        }
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  absl::SleepFor(absl::Milliseconds(500));  // keep the load on across the switch
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(served, rotated.serial_hex);
  EXPECT_GT(calls.load(), 20);
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(CertificatesTest, ServingReplicasRefuseToIssueAndSayWhereIssuanceRuns) {
  ASSERT_TRUE(Register("wfp").ok());
  v1::IssueCertificateRequest request;
  request.set_kind(v1::CERTIFICATE_KIND_AGENCY);
  request.set_name("wfp");
  request.set_csr_pem(MakeRequest("wfp").csr_pem);
  v1::Certificate certificate;
  grpc::Status status = Admin()->IssueCertificate(Context().get(), request, &certificate);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("enlace-server --role=ca"));
  EXPECT_THAT(status.error_message(), HasSubstr(kCaRoleAddr));
  EXPECT_THAT(status.error_message(), HasSubstr("ENLACE_CA_ADDR"));
  // Refused before anything else is looked at, even a request that is wrong.
  request.set_validity_days(9999);
  EXPECT_EQ(Admin()->IssueCertificate(Context().get(), request, &certificate).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // The same request, valid, at the CA role.
  request.set_validity_days(0);
  ASSERT_TRUE(CaAdmin()->IssueCertificate(Context().get(), request, &certificate).ok());
  v1::ListCertificatesRequest list;
  list.set_name("wfp");
  v1::ListCertificatesResponse listed;
  ASSERT_TRUE(Admin()->ListCertificates(Context().get(), list, &listed).ok());
  ASSERT_THAT(listed.certificates(), SizeIs(1));  // issued once, recorded for every replica
  EXPECT_EQ(listed.certificates(0).serial(), certificate.serial());
}

TEST_F(CertificatesTest, TheCaRoleServesIssuanceAndHealthOnly) {
  v1::ListCertificatesResponse listed;
  EXPECT_EQ(CaAdmin()->ListCertificates(Context().get(), {}, &listed).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  v1::RevokeCertificateRequest revoke;
  revoke.set_serial(iom_cert_.serial_hex);
  revoke.set_reason("wrong door");
  v1::Certificate certificate;
  EXPECT_EQ(CaAdmin()->RevokeCertificate(Context().get(), revoke, &certificate).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  v1::ListArrivalsResponse arrivals;
  EXPECT_EQ(ArrivalService::NewStub(ChannelTo(ca_server_->tls_port(), iom_cert_))
                ->ListArrivals(Context().get(), {}, &arrivals)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // Health, gated like every call: the CA role names its one service.
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse health;
  auto health_stub =
      grpc::health::v1::Health::NewStub(ChannelTo(ca_server_->tls_port(), iom_cert_));
  ASSERT_TRUE(health_stub->Check(Context().get(), check, &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  check.set_service("enlace.v1.AdminService");
  ASSERT_TRUE(health_stub->Check(Context().get(), check, &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  check.set_service("enlace.v1.ArrivalService");
  EXPECT_EQ(health_stub->Check(Context().get(), check, &health).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Nothing was revoked by the refused call.
  EXPECT_EQ(ListWith(*Arrivals(iom_cert_)), grpc::StatusCode::OK);
}

TEST_F(CertificatesTest, ARevocationOnAServingReplicaHoldsOnTheCaRoleToo) {
  auth::IssuedCertificate ops = Issue(MakeRequest("ops"), v1::CERTIFICATE_KIND_ADMIN, "ops");
  ASSERT_FALSE(ops.certificate_pem.empty());
  // The new administrator can issue at the CA role...
  v1::IssueCertificateRequest request;
  request.set_kind(v1::CERTIFICATE_KIND_ADMIN);
  request.set_name("bob");
  request.set_csr_pem(MakeRequest("bob").csr_pem);
  v1::Certificate certificate;
  auto at_ca = CaAdmin(&ops);  // one connection, kept open
  ASSERT_TRUE(at_ca->IssueCertificate(Context().get(), request, &certificate).ok());
  // ...until an administrator revokes it on the serving replica.
  absl::Time revoked_at = absl::Now();
  ASSERT_TRUE(Revoke(ops.serial_hex).ok());
  grpc::StatusCode code;
  do {
    request.set_csr_pem(MakeRequest("bob").csr_pem);
    code = at_ca->IssueCertificate(Context().get(), request, &certificate).error_code();
    if (code == grpc::StatusCode::UNAUTHENTICATED) break;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() - revoked_at < absl::Seconds(10));
  EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_LT(absl::Now() - revoked_at, absl::Seconds(5));
  v1::ListAgenciesResponse agencies;
  EXPECT_EQ(AdminService::NewStub(Channel(&ops, pki_.ca_cert_pem()))
                ->ListAgencies(Context().get(), {}, &agencies)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(CertificatesTest, OnlyTheCaRoleMayHoldTheCaKey) {
  server::ServerConfig config;
  config.tls_addr = "127.0.0.1:0";
  config.health_addr = "";
  config.metrics_addr = "";
  config.db_dsn = database_->server_dsn_string();
  config.ca_cert = pki_.ca_cert_path();
  config.server_cert = pki_.server_cert_path();
  config.server_key = pki_.server_key_path();
  config.policy = policy_path_;
  config.ca_key = pki_.WriteFile("ca.key", pki_.ca().private_key_pem);
  absl::StatusOr<std::unique_ptr<server::EnlaceServer>> serving =
      server::EnlaceServer::Start(config);
  ASSERT_FALSE(serving.ok());
  EXPECT_EQ(serving.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(serving.status().message(), HasSubstr("--role=ca only"));
  config.role = server::ServerRole::kCa;
  config.ca_key.clear();
  absl::StatusOr<std::unique_ptr<server::EnlaceServer>> ca = server::EnlaceServer::Start(config);
  ASSERT_FALSE(ca.ok());
  EXPECT_THAT(ca.status().message(), HasSubstr("needs --ca_key"));
}

// CRLs for the TLS layer (--crl_dir): the CA role publishes them, the serving
// replica's TLS layer reads them from the same directory.
class CrlTest : public CertificatesTest {
 protected:
  void ConfigureBoth(server::ServerConfig& config) override {
    CertificatesTest::ConfigureBoth(config);
    config.crl_dir = CrlDirectory();
  }
  virtual std::string CrlDirectory() { return pki_.dir() + "/crl"; }
};

TEST_F(CrlTest, NewConnectionsOfARevokedCertificateFailTheHandshake) {
  auth::IssuedCertificate mfa2 = Issue(MakeRequest("mfa"), v1::CERTIFICATE_KIND_AGENCY, "mfa");
  auto open = Arrivals(mfa2);
  ASSERT_EQ(ListWith(*open), grpc::StatusCode::OK);
  ASSERT_TRUE(Revoke(mfa2.serial_hex).ok());
  // The open connection: refused per call. New connections: refused by TLS
  // once the CA role has published the new CRL (right after it read the
  // revocation, made on the serving replica, from the database).
  EXPECT_LT(TimeUntil(*open, grpc::StatusCode::UNAUTHENTICATED), absl::Seconds(5));
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  grpc::StatusCode code;
  do {
    code = ListWith(*Arrivals(mfa2));
  } while (code != grpc::StatusCode::UNAVAILABLE && absl::Now() < deadline);
  EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
  // Everyone else still gets in: the CRL lists only the revoked serial.
  EXPECT_EQ(ListWith(*Arrivals(iom_cert_)), grpc::StatusCode::OK);
  EXPECT_GE(std::distance(std::filesystem::directory_iterator(pki_.dir() + "/crl"),
                          std::filesystem::directory_iterator{}),
            2);  // the CA role's: one at start-up, one after the revocation
}

// A CRL directory that cannot be used (here: a regular file): gRPC's CRL
// check then fails open, and the per-call check still refuses the revoked
// certificate.
class UnusableCrlDirectoryTest : public CrlTest {
 protected:
  std::string CrlDirectory() override { return pki_.WriteFile("not-a-directory", "x"); }
};

TEST_F(UnusableCrlDirectoryTest, RevokedCertificateIsStillRefused) {
  auth::IssuedCertificate mfa2 = Issue(MakeRequest("mfa"), v1::CERTIFICATE_KIND_AGENCY, "mfa");
  ASSERT_EQ(ListWith(*Arrivals(mfa2)), grpc::StatusCode::OK);
  ASSERT_TRUE(Revoke(mfa2.serial_hex).ok());
  auto fresh = Arrivals(mfa2);
  EXPECT_LT(TimeUntil(*fresh, grpc::StatusCode::UNAUTHENTICATED), absl::Seconds(5));
  EXPECT_EQ(ListWith(*Arrivals(mfa2)), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListWith(*Arrivals(iom_cert_)), grpc::StatusCode::OK);
}

}  // namespace
}  // namespace enlace
