// The fixture of the end-to-end tests: a real enlace server in-process on
// loopback ports, with a throwaway PKI (TestPki) and database (TestDatabase),
// and helpers for clients that present certificates made at test time.
// Header-only: each test binary compiles it with ENLACE_SOURCE_DIR defined.
#ifndef ENLACE_TESTS_TESTING_SERVER_FIXTURE_H_
#define ENLACE_TESTS_TESTING_SERVER_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "clients/connection.h"
#include "db/dsn.h"
#include "db/migrations.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/cases.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_pki.h"

namespace enlace::testing {

using v1::AdminService;
using v1::Arrival;
using v1::ArrivalService;

// A valid arrival whose consent names `agencies`.
inline Arrival MakeArrival(const std::string& external_id,
                           std::vector<std::string> agencies = {"iom"}) {
  Arrival a;
  a.set_external_id(external_id);
  a.set_arrival_date("2018-02-10");
  a.set_mode(v1::ARRIVAL_MODE_LAND);
  a.set_origin_country("MX");
  a.mutable_person()->set_given_name("María José");
  a.mutable_person()->set_family_name("Hernández");
  a.mutable_person()->set_birth_date("1995-07-21");
  a.mutable_person()->set_sex(v1::SEX_FEMALE);
  a.mutable_destination()->set_department_code("SV-LI");
  a.mutable_destination()->set_municipality("Quezaltepeque");
  a.add_needs(v1::NEED_SEED_CAPITAL);
  for (const std::string& agency : agencies) a.mutable_consent()->add_agencies(agency);
  a.mutable_consent()->add_purposes(v1::PURPOSE_REINTEGRATION);
  a.mutable_consent()->mutable_given_at()->set_seconds(1518000000);
  return a;
}

// The staff member the tests act for: the shipped policy requires one
// (`enlace-actor` metadata) on every arrival, case and referral call of an
// agency. The fixture's channels name it in every call.
inline constexpr char kTestActor[] = "test-staff-0001";

// A client context with a 30 s deadline.
inline std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_path_ = pki_.WriteFile("policy.conf", ReadSourceFile("server/default_policy.conf"));
    token_keys_path_ = pki_.WriteFile("token_keys", MakeTokenKeyFile());
    // As in production: the server connects as its own user, with only the
    // grants of db/grants.h (the database was migrated by the administrator).
    StartServer(database_->server_dsn_string());
  }

  // A key file (server/token_keys.h) with one new random key: every server
  // of a test shares it, as replicas do.
  static std::string MakeTokenKeyFile(absl::string_view key_id = "k1") {
    std::random_device random;
    std::string secret(32, '\0');
    for (char& c : secret) c = static_cast<char>(random() & 0xff);
    return absl::StrCat(key_id, " ", absl::Base64Escape(secret), "\n");
  }

  // Hook for fixtures that need other settings (CA key, CRL directory, ...).
  virtual void Configure(server::ServerConfig&) {}

  // Starts the server on `dsn`. A server never migrates: unless `dsn` is the
  // server user's, whose database TestDatabase migrated, it is an
  // administrator's (root of a MariaDB a test started) and migrates here first.
  void StartServer(const std::string& dsn) {
    if (dsn != database_->server_dsn_string()) {
      absl::StatusOr<db::Dsn> admin = db::ParseDsn(dsn);
      ASSERT_TRUE(admin.ok()) << admin.status();
      absl::Status migrated = db::ApplyMigrations(*admin, db::EmbeddedMigrations(), nullptr);
      ASSERT_TRUE(migrated.ok()) << migrated;
    }
    server::ServerConfig config;
    config.tls_addr = "127.0.0.1:0";
    config.health_addr = "127.0.0.1:0";
    config.metrics_addr = "";
    config.db_dsn = dsn;
    config.ca_cert = pki_.ca_cert_path();
    config.server_cert = pki_.server_cert_path();
    config.server_key = pki_.server_key_path();
    config.policy = policy_path_;
    config.policy_poll = absl::Milliseconds(100);
    config.token_keys = token_keys_path_;
    config.db_pool_size = 12;
    config.worker_threads = 4;
    Configure(config);
    // A serving replica must not hold the CA key (it would refuse to start).
    // Tests written before the CA role set it only to revoke certificates
    // signed offline, which needs just the CA certificate: drop it. Tests of
    // issuance start a CA role of their own (certificates_e2e_test).
    if (config.role == server::ServerRole::kServing) config.ca_key.clear();
    absl::StatusOr<std::unique_ptr<server::EnlaceServer>> server =
        server::EnlaceServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  static std::string ReadSourceFile(const std::string& relative) {
    std::ifstream in(absl::StrCat(ENLACE_SOURCE_DIR, "/", relative));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // A channel presenting `cert` (none: no client certificate) and trusting
  // `ca_pem`, whose calls name `actor` ("": none).
  std::shared_ptr<grpc::Channel> Channel(const auth::IssuedCertificate* cert,
                                         const std::string& ca_pem,
                                         const std::string& actor = kTestActor) {
    return ChannelToPort(server_->tls_port(), cert, ca_pem, actor);
  }
  // The same, to another server (e.g. a second replica) on `port`.
  std::shared_ptr<grpc::Channel> ChannelTo(int port, const auth::IssuedCertificate& cert) {
    return ChannelToPort(port, &cert, pki_.ca_cert_pem(), kTestActor);
  }
  static std::shared_ptr<grpc::Channel> ChannelToPort(int port, const auth::IssuedCertificate* cert,
                                                      const std::string& ca_pem,
                                                      const std::string& actor) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ca_pem;
    if (cert != nullptr) {
      options.pem_private_key = cert->private_key_pem;
      options.pem_cert_chain = cert->certificate_pem;
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    return client::CreateChannelNamingActor(absl::StrCat("localhost:", port),
                                            grpc::SslCredentials(options), args, actor);
  }
  std::unique_ptr<ArrivalService::Stub> Arrivals(const auth::IssuedCertificate& cert) {
    return ArrivalService::NewStub(Channel(&cert, pki_.ca_cert_pem()));
  }
  std::unique_ptr<v1::CaseService::Stub> Cases(const auth::IssuedCertificate& cert) {
    return v1::CaseService::NewStub(Channel(&cert, pki_.ca_cert_pem()));
  }
  std::unique_ptr<v1::ReferralService::Stub> Referrals(const auth::IssuedCertificate& cert) {
    return v1::ReferralService::NewStub(Channel(&cert, pki_.ca_cert_pem()));
  }
  std::unique_ptr<AdminService::Stub> Admin() {
    return AdminService::NewStub(Channel(&admin_cert_, pki_.ca_cert_pem()));
  }

  // Streams `arrivals` through one RecordArrivals call as `cert`.
  std::vector<v1::RecordArrivalsResponse> Stream(const auth::IssuedCertificate& cert,
                                                 const std::vector<Arrival>& arrivals,
                                                 grpc::Status* status) {
    auto stub = Arrivals(cert);
    auto ctx = Context();
    auto stream = stub->RecordArrivals(ctx.get());
    std::thread writer([&] {
      for (const Arrival& a : arrivals) {
        v1::RecordArrivalsRequest request;
        *request.mutable_arrival() = a;
        if (!stream->Write(request)) break;
      }
      stream->WritesDone();
    });
    std::vector<v1::RecordArrivalsResponse> responses;
    v1::RecordArrivalsResponse response;
    while (stream->Read(&response)) responses.push_back(response);
    writer.join();
    *status = stream->Finish();
    return responses;
  }

  std::string RecordOne(const Arrival& arrival) {
    v1::RecordArrivalRequest request;
    *request.mutable_arrival() = arrival;
    v1::RecordArrivalResponse response;
    grpc::Status status = Arrivals(mfa_cert_)->RecordArrival(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.arrival_id();
  }

  // An arrival whose consent names `agencies` for reintegration, and iom's
  // case for it (the first steps of most workflow tests).
  struct OpenedCase {
    std::string arrival_id;
    v1::Case case_;
  };
  OpenedCase OpenIomCase(const std::string& external_id, std::vector<std::string> agencies) {
    OpenedCase opened;
    opened.arrival_id = RecordOne(MakeArrival(external_id, std::move(agencies)));
    v1::OpenCaseRequest request;
    request.set_arrival_id(opened.arrival_id);
    request.set_summary("Returned with two children; needs work and support.");
    grpc::Status status = Cases(iom_cert_)->OpenCase(Context().get(), request, &opened.case_);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return opened;
  }

  // iom refers its case `case_id` to `to` for `service`.
  grpc::Status ReferAsIom(const std::string& case_id, const std::string& to, v1::Referral* referral,
                          v1::Need service = v1::NEED_SEED_CAPITAL) {
    v1::CreateReferralRequest request;
    request.set_case_id(case_id);
    request.set_to_agency(to);
    request.set_service(service);
    request.set_reason("Seed capital for a bakery in Quezaltepeque");
    return Referrals(iom_cert_)->CreateReferral(Context().get(), request, referral);
  }

  // The audit events of `principal` calling `method`, oldest first (the
  // first 500).
  std::vector<v1::AuditEvent> EventsOf(const std::string& principal, const std::string& method) {
    v1::ListAuditEventsRequest request;
    request.set_principal(principal);
    request.set_method(method);
    request.set_page_size(500);
    v1::ListAuditEventsResponse response;
    grpc::Status status = Admin()->ListAuditEvents(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.events().begin(), response.events().end()};
  }

  v1::ListAuditEventsResponse AuditEvents(const std::string& principal) {
    v1::ListAuditEventsRequest request;
    request.set_principal(principal);
    request.set_page_size(500);
    v1::ListAuditEventsResponse response;
    grpc::Status status = Admin()->ListAuditEvents(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  TestPki pki_ = TestPki::Create();
  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  std::string policy_path_;
  std::string token_keys_path_;
  std::unique_ptr<server::EnlaceServer> server_;
  auth::IssuedCertificate mfa_cert_ = pki_.Agency("mfa");
  auth::IssuedCertificate iom_cert_ = pki_.Agency("iom");
  auth::IssuedCertificate unhcr_cert_ = pki_.Agency("unhcr");
  auth::IssuedCertificate undp_cert_ = pki_.Agency("undp");
  auth::IssuedCertificate admin_cert_ = pki_.Admin("ana");
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_SERVER_FIXTURE_H_
