// End to end for grpc.health.v1.Health and
// grpc.reflection.v1alpha.ServerReflection on the mTLS port: both go through
// the call gate like every other service. Allowed for an agency by the
// shipped policy, with the right answers (SERVING; the served services; the
// file declaring a symbol with its imports); PERMISSION_DENIED once the
// policy no longer allows them, also for a stream already open;
// UNAUTHENTICATED for a revoked certificate; every call, allowed or denied,
// in the audit log. The plaintext health-only port still answers without a
// certificate.
#include <arpa/inet.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/private_mariadb.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::FreeLoopbackPort;
using ::enlace::testing::RunMariaDbScript;
using ::enlace::testing::ServerFixture;
using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::grpc::reflection::v1alpha::ServerReflection;
using ::grpc::reflection::v1alpha::ServerReflectionRequest;
using ::grpc::reflection::v1alpha::ServerReflectionResponse;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
using ::testing::UnorderedElementsAre;

constexpr char kCheck[] = "/grpc.health.v1.Health/Check";
constexpr char kWatch[] = "/grpc.health.v1.Health/Watch";
constexpr char kReflect[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
constexpr char kIom[] = "spiffe://enlace/agency/iom";

// What one Watch call saw.
struct Watched {
  std::vector<HealthCheckResponse::ServingStatus> statuses;
  grpc::Status status;
};

// What one ServerReflectionInfo call saw.
struct Reflected {
  std::vector<ServerReflectionResponse> responses;
  grpc::Status status;
};

ServerReflectionRequest ListServices() {
  ServerReflectionRequest r;
  r.set_list_services("*");
  return r;
}
ServerReflectionRequest FileContainingSymbol(const std::string& symbol) {
  ServerReflectionRequest r;
  r.set_file_containing_symbol(symbol);
  return r;
}
ServerReflectionRequest FileByFilename(const std::string& name) {
  ServerReflectionRequest r;
  r.set_file_by_filename(name);
  return r;
}

// The files of a file_descriptor_response, parsed, in the order sent.
std::vector<google::protobuf::FileDescriptorProto> FilesOf(const ServerReflectionResponse& r) {
  std::vector<google::protobuf::FileDescriptorProto> files;
  for (const std::string& bytes : r.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    EXPECT_TRUE(file.ParseFromString(bytes));
    files.push_back(std::move(file));
  }
  return files;
}
std::vector<std::string> NamesOf(const std::vector<google::protobuf::FileDescriptorProto>& files) {
  std::vector<std::string> names;
  for (const auto& f : files) names.push_back(f.name());
  return names;
}

// The shipped policy without its health and reflection rules.
std::string WithoutGrpcRules(const std::string& policy) {
  std::istringstream in(policy);
  std::string out, line;
  while (std::getline(in, line)) {
    if (!absl::StrContains(line, "/grpc.")) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

class GatedServicesTest : public ServerFixture {
 protected:
  void Configure(server::ServerConfig& config) override {
    // Lets the admin revoke certificates signed outside the platform's records.
    config.ca_key = pki_.WriteFile("ca.key", pki_.ca().private_key_pem);
  }

  grpc::Status Check(const auth::IssuedCertificate& cert, const std::string& service,
                     HealthCheckResponse* response) {
    HealthCheckRequest request;
    request.set_service(service);
    return Health::NewStub(Channel(&cert, pki_.ca_cert_pem()))
        ->Check(Context().get(), request, response);
  }
  grpc::StatusCode CheckCode(const auth::IssuedCertificate& cert) {
    HealthCheckResponse response;
    return Check(cert, "", &response).error_code();
  }

  // Opens a Watch, reads `messages` messages (fewer if the stream ends),
  // then cancels it, and returns what was seen and the final status.
  Watched Watch(const auth::IssuedCertificate& cert, const std::string& service, int messages) {
    auto stub = Health::NewStub(Channel(&cert, pki_.ca_cert_pem()));
    auto ctx = Context();
    HealthCheckRequest request;
    request.set_service(service);
    auto reader = stub->Watch(ctx.get(), request);
    Watched watched;
    HealthCheckResponse response;
    bool open = true;
    while (static_cast<int>(watched.statuses.size()) < messages &&
           (open = reader->Read(&response))) {
      watched.statuses.push_back(response.status());
    }
    // Cancelled only if the server did not end it: else its status is the one to see.
    if (open) {
      ctx->TryCancel();
      while (reader->Read(&response)) {
      }
    }
    watched.status = reader->Finish();
    return watched;
  }

  // One ServerReflectionInfo stream: each request written and its answer
  // read in turn, then the half-close and the final status.
  Reflected Reflect(const auth::IssuedCertificate& cert,
                    const std::vector<ServerReflectionRequest>& requests) {
    auto stub = ServerReflection::NewStub(Channel(&cert, pki_.ca_cert_pem()));
    auto ctx = Context();
    auto stream = stub->ServerReflectionInfo(ctx.get());
    Reflected reflected;
    for (const ServerReflectionRequest& request : requests) {
      ServerReflectionResponse response;
      if (!stream->Write(request) || !stream->Read(&response)) break;
      reflected.responses.push_back(std::move(response));
    }
    stream->WritesDone();
    ServerReflectionResponse extra;
    while (stream->Read(&extra)) reflected.responses.push_back(extra);
    reflected.status = stream->Finish();
    return reflected;
  }

  // Polls `call` every 20 ms until it returns `expected` or 5 s pass.
  static bool Eventually(const std::function<grpc::StatusCode()>& call, grpc::StatusCode expected) {
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    do {
      if (call() == expected) return true;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    return false;
  }

  // The shipped policy without the health and reflection rules, in force
  // once iom's Check is refused.
  void StopAllowingHealthAndReflection() {
    pki_.WriteFile("policy.conf", WithoutGrpcRules(ReadSourceFile("server/default_policy.conf")));
    ASSERT_TRUE(
        Eventually([&] { return CheckCode(iom_cert_); }, grpc::StatusCode::PERMISSION_DENIED));
  }

  // The same, waiting up to 5 s for at least `count` of them (a stream the
  // client cancelled is audited once the server has seen the cancellation).
  std::vector<v1::AuditEvent> AuditedEventually(const std::string& principal,
                                                const std::string& method, size_t count) {
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    std::vector<v1::AuditEvent> events = EventsOf(principal, method);
    while (events.size() < count && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      events = EventsOf(principal, method);
    }
    return events;
  }

  grpc::Status Revoke(const auth::IssuedCertificate& cert) {
    v1::RevokeCertificateRequest request;
    request.set_serial(cert.serial_hex);
    request.set_reason("key lost");
    request.set_certificate_pem(cert.certificate_pem);
    v1::Certificate revoked;
    return Admin()->RevokeCertificate(Context().get(), request, &revoked);
  }
};

std::vector<std::pair<int, int>> DecisionsAndCodes(const std::vector<v1::AuditEvent>& events) {
  std::vector<std::pair<int, int>> out;
  for (const v1::AuditEvent& e : events) out.emplace_back(e.decision(), e.status_code());
  return out;
}

TEST_F(GatedServicesTest, HealthCheckIsAllowedAnsweredAndAudited) {
  HealthCheckResponse response;
  grpc::Status status = Check(iom_cert_, "", &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::OK) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  status = Check(iom_cert_, "enlace.v1.ArrivalService", &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::OK) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  // An unknown service: NOT_FOUND, as gRPC's own health service answers.
  EXPECT_EQ(Check(iom_cert_, "enlace.v1.NoSuchService", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Administrators too.
  status = Check(admin_cert_, "enlace.v1.AdminService", &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::OK) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::vector<v1::AuditEvent> events = EventsOf(kIom, kCheck);
  EXPECT_THAT(DecisionsAndCodes(events),
              UnorderedElementsAre(std::pair<int, int>(v1::DECISION_ALLOW, grpc::OK),
                                   std::pair<int, int>(v1::DECISION_ALLOW, grpc::OK),
                                   std::pair<int, int>(v1::DECISION_ALLOW, grpc::NOT_FOUND)));
  for (const v1::AuditEvent& e : events) EXPECT_EQ(e.method(), kCheck);
  EXPECT_THAT(DecisionsAndCodes(EventsOf("spiffe://enlace/admin/ana", kCheck)),
              ElementsAre(std::pair<int, int>(v1::DECISION_ALLOW, grpc::OK)));
}

TEST_F(GatedServicesTest, HealthWatchIsAllowedSendsTheStatusAtOnceAndIsAudited) {
  Watched whole = Watch(iom_cert_, "", 1);
  EXPECT_THAT(whole.statuses, ElementsAre(HealthCheckResponse::SERVING));
  EXPECT_EQ(whole.status.error_code(), grpc::StatusCode::CANCELLED);  // the client cancelled
  Watched service = Watch(iom_cert_, "enlace.v1.ReferralService", 1);
  EXPECT_THAT(service.statuses, ElementsAre(HealthCheckResponse::SERVING));
  // An unknown service: SERVICE_UNKNOWN, and the call stays open.
  Watched unknown = Watch(iom_cert_, "enlace.v1.NoSuchService", 1);
  EXPECT_THAT(unknown.statuses, ElementsAre(HealthCheckResponse::SERVICE_UNKNOWN));
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::CANCELLED);

  std::vector<v1::AuditEvent> events = AuditedEventually(kIom, kWatch, 3);
  ASSERT_EQ(events.size(), 3u);
  for (const v1::AuditEvent& e : events) {
    EXPECT_EQ(e.method(), kWatch);
    EXPECT_EQ(e.decision(), v1::DECISION_ALLOW);
    EXPECT_EQ(e.status_code(), grpc::StatusCode::CANCELLED);
  }
}

TEST_F(GatedServicesTest, ReflectionIsAllowedAnswersLikeTheStandardServiceAndIsAudited) {
  ServerReflectionRequest list = ListServices();
  list.set_host("localhost");
  ServerReflectionRequest extension;
  extension.mutable_file_containing_extension()->set_containing_type("enlace.v1.Arrival");
  extension.mutable_file_containing_extension()->set_extension_number(1000);
  ServerReflectionRequest extension_numbers;
  extension_numbers.set_all_extension_numbers_of_type("enlace.v1.Arrival");
  Reflected reflected =
      Reflect(iom_cert_, {list, FileContainingSymbol("enlace.v1.ArrivalService"),
                          FileByFilename("enlace/v1/cases.proto"),
                          FileContainingSymbol("enlace.v1.ArrivalService.GetArrival"),
                          FileContainingSymbol("enlace.v1.NoSuchService"),
                          FileByFilename("no/such/file.proto"), extension, extension_numbers});
  ASSERT_EQ(reflected.status.error_code(), grpc::StatusCode::OK)
      << reflected.status.error_message();
  ASSERT_EQ(reflected.responses.size(), 8u);
  const std::vector<ServerReflectionResponse>& r = reflected.responses;

  // list_services: exactly what the TLS port serves.
  EXPECT_EQ(r[0].valid_host(), "localhost");
  EXPECT_EQ(r[0].original_request().list_services(), "*");
  std::vector<std::string> services;
  for (const auto& s : r[0].list_services_response().service()) services.push_back(s.name());
  EXPECT_THAT(services, UnorderedElementsAre("enlace.v1.ArrivalService", "enlace.v1.CaseService",
                                             "enlace.v1.ReferralService", "enlace.v1.ReportService",
                                             "enlace.v1.AdminService", "grpc.health.v1.Health",
                                             "grpc.reflection.v1alpha.ServerReflection"));

  // file_containing_symbol: arrivals.proto first, then what it imports.
  std::vector<google::protobuf::FileDescriptorProto> files = FilesOf(r[1]);
  EXPECT_THAT(NamesOf(files),
              UnorderedElementsAre("enlace/v1/arrivals.proto", "google/protobuf/field_mask.proto",
                                   "google/protobuf/timestamp.proto"));
  ASSERT_EQ(NamesOf(files).front(), "enlace/v1/arrivals.proto");
  // Enough for a client to build the service and its messages on its own.
  google::protobuf::DescriptorPool pool;
  for (size_t i = 1; i < files.size(); ++i) ASSERT_NE(pool.BuildFile(files[i]), nullptr);
  ASSERT_NE(pool.BuildFile(files[0]), nullptr);
  const google::protobuf::ServiceDescriptor* arrivals =
      pool.FindServiceByName("enlace.v1.ArrivalService");
  ASSERT_NE(arrivals, nullptr);
  EXPECT_NE(arrivals->FindMethodByName("GetArrival"), nullptr);
  EXPECT_NE(pool.FindMessageTypeByName("enlace.v1.Arrival"), nullptr);

  // file_by_filename: the file and its transitive imports, each once.
  std::vector<std::string> cases = NamesOf(FilesOf(r[2]));
  ASSERT_FALSE(cases.empty());
  EXPECT_EQ(cases[0], "enlace/v1/cases.proto");
  EXPECT_THAT(cases, IsSupersetOf({"enlace/v1/admin.proto", "enlace/v1/arrivals.proto",
                                   "google/protobuf/timestamp.proto"}));
  EXPECT_EQ(std::set<std::string>(cases.begin(), cases.end()).size(), cases.size());

  // A method's name finds its file too.
  EXPECT_EQ(NamesOf(FilesOf(r[3])).at(0), "enlace/v1/arrivals.proto");

  // Unknown names: NOT_FOUND (5) in an error_response; the stream goes on.
  for (int i : {4, 5, 6}) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(r[i].has_error_response());
    EXPECT_EQ(r[i].error_response().error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_FALSE(r[i].error_response().error_message().empty());
  }
  EXPECT_EQ(r[4].original_request().file_containing_symbol(), "enlace.v1.NoSuchService");

  // all_extension_numbers_of_type: the type, no extensions.
  EXPECT_EQ(r[7].all_extension_numbers_response().base_type_name(), "enlace.v1.Arrival");
  EXPECT_EQ(r[7].all_extension_numbers_response().extension_number_size(), 0);

  std::vector<v1::AuditEvent> events = EventsOf(kIom, kReflect);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].method(), kReflect);
  EXPECT_EQ(events[0].decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(events[0].status_code(), grpc::StatusCode::OK);
  EXPECT_EQ(events[0].detail(), "requests=8 errors=3");
}

TEST_F(GatedServicesTest, WithoutAnAllowRuleEachIsPermissionDeniedAndAudited) {
  ASSERT_EQ(CheckCode(iom_cert_), grpc::StatusCode::OK);
  StopAllowingHealthAndReflection();

  HealthCheckResponse response;
  EXPECT_EQ(Check(iom_cert_, "", &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Check(admin_cert_, "", &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Watched watched = Watch(iom_cert_, "", 1);
  EXPECT_TRUE(watched.statuses.empty());
  EXPECT_EQ(watched.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Reflected reflected = Reflect(iom_cert_, {ListServices()});
  EXPECT_TRUE(reflected.responses.empty());
  EXPECT_EQ(reflected.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // The one allowed Check, then the refusals: each audited with its method.
  std::vector<v1::AuditEvent> checks = EventsOf(kIom, kCheck);
  ASSERT_GE(checks.size(), 3u);  // allowed, refused while polling, refused
  int allowed = 0, denied = 0;
  for (const v1::AuditEvent& e : checks) {
    EXPECT_EQ(e.method(), kCheck);
    if (e.decision() == v1::DECISION_ALLOW) {
      ++allowed;
      EXPECT_EQ(e.status_code(), grpc::StatusCode::OK);
    } else {
      ++denied;
      EXPECT_EQ(e.decision(), v1::DECISION_DENY);
      EXPECT_EQ(e.status_code(), grpc::StatusCode::PERMISSION_DENIED);
    }
  }
  EXPECT_GE(allowed, 1);
  EXPECT_GE(denied, 2);
  EXPECT_THAT(DecisionsAndCodes(EventsOf("spiffe://enlace/admin/ana", kCheck)),
              ElementsAre(std::pair<int, int>(v1::DECISION_DENY, grpc::PERMISSION_DENIED)));
  EXPECT_THAT(DecisionsAndCodes(EventsOf(kIom, kWatch)),
              ElementsAre(std::pair<int, int>(v1::DECISION_DENY, grpc::PERMISSION_DENIED)));
  EXPECT_THAT(DecisionsAndCodes(EventsOf(kIom, kReflect)),
              ElementsAre(std::pair<int, int>(v1::DECISION_DENY, grpc::PERMISSION_DENIED)));

  // Allowed again once the rules are back.
  pki_.WriteFile("policy.conf", ReadSourceFile("server/default_policy.conf"));
  EXPECT_TRUE(Eventually([&] { return CheckCode(iom_cert_); }, grpc::StatusCode::OK));
}

TEST_F(GatedServicesTest, ARevokedCertificateIsUnauthenticatedAndAudited) {
  auth::IssuedCertificate undp = pki_.Agency("undp");
  ASSERT_EQ(CheckCode(undp), grpc::StatusCode::OK);
  ASSERT_TRUE(Revoke(undp).ok());
  ASSERT_TRUE(Eventually([&] { return CheckCode(undp); }, grpc::StatusCode::UNAUTHENTICATED));

  Watched watched = Watch(undp, "", 1);
  EXPECT_TRUE(watched.statuses.empty());
  EXPECT_EQ(watched.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Reflected reflected = Reflect(undp, {ListServices()});
  EXPECT_TRUE(reflected.responses.empty());
  EXPECT_EQ(reflected.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  const std::string undp_id = "spiffe://enlace/agency/undp";
  std::vector<v1::AuditEvent> checks = EventsOf(undp_id, kCheck);
  EXPECT_THAT(DecisionsAndCodes(checks),
              Contains(std::pair<int, int>(v1::DECISION_ALLOW, grpc::OK)));
  EXPECT_THAT(DecisionsAndCodes(checks),
              Contains(std::pair<int, int>(v1::DECISION_DENY, grpc::UNAUTHENTICATED)));
  EXPECT_THAT(DecisionsAndCodes(EventsOf(undp_id, kWatch)),
              ElementsAre(std::pair<int, int>(v1::DECISION_DENY, grpc::UNAUTHENTICATED)));
  EXPECT_THAT(DecisionsAndCodes(EventsOf(undp_id, kReflect)),
              ElementsAre(std::pair<int, int>(v1::DECISION_DENY, grpc::UNAUTHENTICATED)));
  // Others are unaffected.
  EXPECT_EQ(CheckCode(iom_cert_), grpc::StatusCode::OK);
}

TEST_F(GatedServicesTest, OpenStreamsEndWithinSecondsOnceThePolicyStopsAllowingThem) {
  auto health = Health::NewStub(Channel(&iom_cert_, pki_.ca_cert_pem()));
  auto watch_ctx = Context();
  auto watch = health->Watch(watch_ctx.get(), HealthCheckRequest());
  HealthCheckResponse status;
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);

  auto reflection = ServerReflection::NewStub(Channel(&iom_cert_, pki_.ca_cert_pem()));
  auto reflect_ctx = Context();
  auto reflect = reflection->ServerReflectionInfo(reflect_ctx.get());
  ServerReflectionResponse answer;
  ASSERT_TRUE(reflect->Write(ListServices()));
  ASSERT_TRUE(reflect->Read(&answer));
  EXPECT_TRUE(answer.has_list_services_response());

  absl::Time changed = absl::Now();
  pki_.WriteFile("policy.conf", WithoutGrpcRules(ReadSourceFile("server/default_policy.conf")));
  EXPECT_FALSE(watch->Read(&status));  // the server ends the stream
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_LT(absl::Now() - changed, absl::Seconds(5));
  EXPECT_FALSE(reflect->Read(&answer));
  EXPECT_EQ(reflect->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_LT(absl::Now() - changed, absl::Seconds(5));

  // Each audited as the denial it ended with.
  EXPECT_THAT(DecisionsAndCodes(AuditedEventually(kIom, kWatch, 1)),
              ElementsAre(std::pair<int, int>(v1::DECISION_DENY, grpc::PERMISSION_DENIED)));
  EXPECT_THAT(DecisionsAndCodes(AuditedEventually(kIom, kReflect, 1)),
              ElementsAre(std::pair<int, int>(v1::DECISION_DENY, grpc::PERMISSION_DENIED)));
}

TEST_F(GatedServicesTest, ThePlaintextHealthPortAnswersWithoutACertificateAndServesNothingElse) {
  ASSERT_GT(server_->health_port(), 0);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->health_port()),
                                     grpc::InsecureChannelCredentials());
  HealthCheckResponse response;
  grpc::Status status = Health::NewStub(channel)->Check(Context().get(), {}, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::OK) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  // Even with health and reflection refused on the TLS port.
  StopAllowingHealthAndReflection();
  status = Health::NewStub(channel)->Check(Context().get(), {}, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::OK) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  // No reflection and no Enlace service there.
  auto ctx = Context();
  auto stream = ServerReflection::NewStub(channel)->ServerReflectionInfo(ctx.get());
  stream->Write(ListServices());
  stream->WritesDone();
  ServerReflectionResponse ignored;
  while (stream->Read(&ignored)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  v1::ListArrivalsResponse arrivals;
  EXPECT_EQ(v1::ArrivalService::NewStub(channel)
                ->ListArrivals(Context().get(), {}, &arrivals)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

// Health follows the database: a database of its own, stopped and started
// again while a Watch is open.
class HealthFollowsTheDatabaseTest : public GatedServicesTest {
 protected:
  void SetUp() override {
    policy_path_ = pki_.WriteFile("policy.conf", ReadSourceFile("server/default_policy.conf"));
    char dir_template[] = "/tmp/enlace-health-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    port_ = FreeLoopbackPort();
    ASSERT_GT(port_, 0);
    ASSERT_EQ(
        RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_init ", dir_,
                                                         " && mariadb_start ", dir_, " ", port_)),
        0);
    StartServer(absl::StrCat("mysql://root@127.0.0.1:", port_, "/enlace"));
  }
  void TearDown() override {
    server_.reset();
    RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_stop ", dir_));
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }
  void Configure(server::ServerConfig& config) override {
    GatedServicesTest::Configure(config);
    // The outage must not make the revocation state stale: that would end
    // the watch (UNAVAILABLE) rather than let it see the status change.
    config.revocation_max_staleness = absl::Minutes(10);
  }
  HealthCheckResponse::ServingStatus PlaintextStatus() {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->health_port()),
                                       grpc::InsecureChannelCredentials());
    HealthCheckResponse response;
    EXPECT_TRUE(Health::NewStub(channel)->Check(Context().get(), {}, &response).ok());
    return response.status();
  }
  std::string dir_;
  int port_ = 0;
};

TEST_F(HealthFollowsTheDatabaseTest, AnOpenWatchIsToldOfEachChange) {
  auto stub = Health::NewStub(Channel(&iom_cert_, pki_.ca_cert_pem()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  HealthCheckRequest request;
  request.set_service("enlace.v1.ArrivalService");
  auto reader = stub->Watch(&ctx, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  ASSERT_EQ(RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_stop ", dir_)), 0);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(PlaintextStatus(), HealthCheckResponse::NOT_SERVING);
  // A new Check on the TLS port cannot be audited: refused, never unaccounted for.
  HealthCheckResponse checked;
  EXPECT_EQ(Check(iom_cert_, "", &checked).error_code(), grpc::StatusCode::UNAVAILABLE);

  ASSERT_EQ(RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_start ", dir_, " ", port_)),
            0);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  EXPECT_EQ(PlaintextStatus(), HealthCheckResponse::SERVING);

  ctx.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The watch, allowed, audited once it ended (the database is back).
  std::vector<v1::AuditEvent> events = AuditedEventually(kIom, kWatch, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(events[0].status_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(events[0].detail(), "updates=3 last=SERVING");
}

}  // namespace
}  // namespace enlace
