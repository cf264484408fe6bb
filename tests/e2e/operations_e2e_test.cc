// Operations end to end: what probes, log collectors and Prometheus see of a
// real server over mTLS with a real MariaDB. Liveness (enlace.Liveness on
// the plaintext health port) stays SERVING while the database is away and
// readiness ("") does not; the metrics endpoint's counters move by exactly
// the calls made; every call leaves one JSON access line on stderr, with no
// personal data.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/testing/private_mariadb.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/server_process.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::FreeLoopbackPort;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::RunMariaDbScript;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::ServerProcess;

constexpr char kRecordArrival[] = "/enlace.v1.ArrivalService/RecordArrival";
constexpr char kGetArrival[] = "/enlace.v1.ArrivalService/GetArrival";
constexpr char kWatchReferrals[] = "/enlace.v1.ReferralService/WatchReferrals";

// The plaintext health port's answer for `service` ("" the whole server):
// the status name, or the gRPC code's number when the call failed.
std::string HealthOf(int port, const std::string& service) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(&ctx, request, &response);
  if (!status.ok()) return absl::StrCat("code ", static_cast<int>(status.error_code()));
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

// Polls until the health of `service` is `expected`; false at `until`.
bool AwaitHealth(int port, const std::string& service, const std::string& expected,
                 absl::Time until) {
  while (absl::Now() < until) {
    if (HealthOf(port, service) == expected) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

// ---------------------------------------------------------------------------
// Liveness and readiness while the database is away: the in-process server
// on a MariaDB of the test's own, which the test stops.

class LivenessTest : public ServerFixture {
 protected:
  void SetUp() override {
    policy_path_ = pki_.WriteFile("policy.conf", ReadSourceFile("server/default_policy.conf"));
    token_keys_path_ = pki_.WriteFile("token_keys", MakeTokenKeyFile());
    char dir_template[] = "/tmp/enlace-liveness-XXXXXX";
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

  std::string dir_;
  int port_ = 0;
};

TEST_F(LivenessTest, LivenessStaysServingWhileTheDatabaseIsAwayAndReadinessDoesNot) {
  const int health = server_->health_port();
  ASSERT_GT(health, 0);
  EXPECT_EQ(HealthOf(health, ""), "SERVING");
  EXPECT_EQ(HealthOf(health, server::kLivenessHealthService), "SERVING");

  ASSERT_EQ(RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_stop ", dir_)), 0);
  // The database monitor checks every 2 s.
  ASSERT_TRUE(AwaitHealth(health, "", "NOT_SERVING", absl::Now() + absl::Seconds(15)));
  EXPECT_EQ(HealthOf(health, ""), "NOT_SERVING");
  EXPECT_EQ(HealthOf(health, server::kLivenessHealthService), "SERVING");

  ASSERT_EQ(RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_start ", dir_, " ", port_)),
            0);
  ASSERT_TRUE(AwaitHealth(health, "", "SERVING", absl::Now() + absl::Seconds(30)));
  EXPECT_EQ(HealthOf(health, server::kLivenessHealthService), "SERVING");
}

// ---------------------------------------------------------------------------
// The metrics endpoint, scraped over HTTP as Prometheus does.

// The body of GET `path` on 127.0.0.1:`port` (HTTP/1.0: the server closes
// the connection after it); "" when the request failed.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "";
  }
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string response;
  char buffer[65536];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
  close(fd);
  size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") == std::string::npos ||
      body == std::string::npos) {
    return "";
  }
  return response.substr(body + 4);
}

// Prometheus text format: "name{labels} value" per sample, comments skipped;
// keyed by "name{labels}" exactly as exposed.
std::map<std::string, double> Scrape(int port) {
  std::map<std::string, double> samples;
  std::string body = HttpGet(port, "/metrics");
  EXPECT_FALSE(body.empty()) << "GET /metrics failed";
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    size_t space = line.rfind(' ');
    double value = 0;
    EXPECT_NE(space, absl::string_view::npos) << line;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &value)) << line;
    samples[std::string(line.substr(0, space))] = value;
  }
  return samples;
}

// A sample's value, 0 when the series does not exist (yet).
double Value(const std::map<std::string, double>& samples, const std::string& series) {
  auto it = samples.find(series);
  return it == samples.end() ? 0 : it->second;
}

std::string RpcTotal(absl::string_view method, absl::string_view code) {
  return absl::StrCat("enlace_rpc_total{code=\"", code, "\",method=\"", method, "\"}");
}

class MetricsScrapeTest : public ServerFixture {
 protected:
  void Configure(server::ServerConfig& config) override { config.metrics_addr = "127.0.0.1:0"; }
};

TEST_F(MetricsScrapeTest, CountersMoveByExactlyTheCallsMadeAndStreamsOpenGoesOneThenZero) {
  const int port = server_->metrics_port();
  ASSERT_GT(port, 0);
  std::map<std::string, double> before = Scrape(port);
  // Every series an on-call engineer looks at first is there from the start.
  for (const char* series :
       {"enlace_database_up", "enlace_db_pool_max_connections",
        "enlace_db_pool_connections{state=\"open\"}",
        "enlace_db_pool_connections{state=\"in_use\"}",
        "enlace_db_pool_connections{state=\"idle\"}", "enlace_db_pool_waits_total",
        "enlace_db_pool_wait_seconds_count", "enlace_database_failovers_total",
        "enlace_audit_queue_depth", "enlace_audit_commit_lag_seconds", "enlace_feed_lag_seconds",
        "enlace_draining", "enlace_server_certificate_expiry_timestamp_seconds",
        "enlace_certificates_expiring_soon"}) {
    EXPECT_EQ(before.count(series), 1u) << series;
  }
  EXPECT_EQ(Value(before, "enlace_database_up"), 1);
  EXPECT_EQ(Value(before, "enlace_db_pool_max_connections"), 12);
  EXPECT_EQ(Value(before, "enlace_db_pool_connections{state=\"open\"}"), 12);  // prefilled
  // Between calls almost every connection is idle; the two states add up.
  EXPECT_EQ(Value(before, "enlace_db_pool_connections{state=\"in_use\"}") +
                Value(before, "enlace_db_pool_connections{state=\"idle\"}"),
            12);
  EXPECT_GE(Value(before, "enlace_db_pool_connections{state=\"idle\"}"), 8);
  EXPECT_EQ(Value(before, "enlace_database_failovers_total"), 0);
  EXPECT_EQ(Value(before, "enlace_draining"), 0);

  constexpr int kRecorded = 3;
  for (int i = 0; i < kRecorded; ++i) RecordOne(MakeArrival(absl::StrCat("metrics-", i)));
  v1::GetArrivalRequest get;
  get.set_arrival_id("no-such-arrival");
  v1::Arrival got;
  EXPECT_EQ(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // A watch: admitted once its initial metadata (the resume token) arrives.
  grpc::ClientContext watch_ctx;
  v1::WatchReferralsRequest watch_request;
  auto watch_stub = Referrals(undp_cert_);
  auto watch = watch_stub->WatchReferrals(&watch_ctx, watch_request);
  watch->WaitForInitialMetadata();
  std::map<std::string, double> during = Scrape(port);
  const std::string streams = absl::StrCat("enlace_streams_open{method=\"", kWatchReferrals, "\"}");
  EXPECT_EQ(Value(during, streams), 1);
  watch_ctx.TryCancel();
  v1::ReferralEvent event;
  while (watch->Read(&event)) {
  }
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The server lets the stream go when its reactor is done: poll.
  std::map<std::string, double> after;
  for (absl::Time until = absl::Now() + absl::Seconds(10); absl::Now() < until;) {
    after = Scrape(port);
    if (Value(after, streams) == 0) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(Value(after, streams), 0);

  EXPECT_EQ(
      Value(after, RpcTotal(kRecordArrival, "OK")) - Value(before, RpcTotal(kRecordArrival, "OK")),
      kRecorded);
  EXPECT_EQ(Value(after, RpcTotal(kGetArrival, "NOT_FOUND")) -
                Value(before, RpcTotal(kGetArrival, "NOT_FOUND")),
            1);
  EXPECT_EQ(Value(after, RpcTotal(kWatchReferrals, "CANCELLED")) -
                Value(before, RpcTotal(kWatchReferrals, "CANCELLED")),
            1);
  const std::string count =
      absl::StrCat("enlace_rpc_duration_seconds_count{method=\"", kRecordArrival, "\"}");
  const std::string le_inf = absl::StrCat("enlace_rpc_duration_seconds_bucket{method=\"",
                                          kRecordArrival, "\",le=\"+Inf\"}");
  EXPECT_EQ(Value(after, count) - Value(before, count), kRecorded);
  EXPECT_EQ(Value(after, le_inf) - Value(before, le_inf), kRecorded);
  EXPECT_EQ(Value(after, "enlace_arrivals_total{outcome=\"created\"}") -
                Value(before, "enlace_arrivals_total{outcome=\"created\"}"),
            kRecorded);
  // The audit queue drained, its last commit took well under a second, and
  // the feed's poller (every 20 ms) is current; sampled every second.
  for (absl::Time until = absl::Now() + absl::Seconds(10);
       Value(after, "enlace_audit_commit_lag_seconds") == 0 && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(50));
    after = Scrape(port);
  }
  EXPECT_EQ(Value(after, "enlace_audit_queue_depth"), 0);
  EXPECT_GT(Value(after, "enlace_audit_commit_lag_seconds"), 0);
  EXPECT_LT(Value(after, "enlace_audit_commit_lag_seconds"), 1);
  EXPECT_LT(Value(after, "enlace_feed_lag_seconds"), 2);
}

// ---------------------------------------------------------------------------
// The access log of the real binary: one JSON object per line on stderr.

class AccessLogTest : public ServerFixture {
 protected:
  // One line of the log, parsed; false if it is not a JSON object.
  static bool ParseLine(const std::string& line, google::protobuf::Struct* out) {
    return google::protobuf::util::JsonStringToMessage(line, out).ok();
  }
  static std::string Field(const google::protobuf::Struct& line, const std::string& key) {
    auto it = line.fields().find(key);
    return it == line.fields().end() ? "<none>" : it->second.string_value();
  }
};

TEST_F(AccessLogTest, EachCallLeavesOneParseableAccessLineWithoutPersonalData) {
  ServerProcess process(pki_.dir(), {database_->server_dsn_string(),
                                     pki_.ca_cert_path(),
                                     pki_.server_cert_path(),
                                     pki_.server_key_path(),
                                     policy_path_,
                                     token_keys_path_,
                                     "access-log",
                                     // Stopped by SIGTERM at the end: no drain needed.
                                     {"--drain_seconds=0"}});
  ASSERT_GT(process.port(), 0) << "see " << process.log_path();
  auto stub = v1::ArrivalService::NewStub(ChannelTo(process.port(), mfa_cert_));

  // A returnee with names found nowhere else, and a client request id.
  const std::string kGiven = "Zuleima Xochiquetzal";
  const std::string kFamily = "Quintanilla-Vbfkq";
  v1::RecordArrivalRequest request;
  *request.mutable_arrival() = MakeArrival("access-log-1");
  request.mutable_arrival()->mutable_person()->set_given_name(kGiven);
  request.mutable_arrival()->mutable_person()->set_family_name(kFamily);
  v1::RecordArrivalResponse response;
  auto ctx = Context();
  ctx->AddMetadata("x-request-id", "ops-req-0001");
  ASSERT_TRUE(stub->RecordArrival(ctx.get(), request, &response).ok());
  auto echoed = ctx->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(echoed, ctx->GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()), "ops-req-0001");

  // No id, and one that is not sane (spaces, too long): the server makes one.
  std::vector<std::string> generated;
  for (const std::string& sent : {std::string(), std::string("bad id"), std::string(65, 'a')}) {
    v1::GetArrivalRequest get;
    get.set_arrival_id(response.arrival_id());
    v1::Arrival arrival;
    auto get_ctx = Context();
    if (!sent.empty()) get_ctx->AddMetadata("x-request-id", sent);
    ASSERT_TRUE(stub->GetArrival(get_ctx.get(), get, &arrival).ok());
    EXPECT_EQ(arrival.person().given_name(), kGiven);  // it was stored and is served
    auto id = get_ctx->GetServerInitialMetadata().find("x-request-id");
    ASSERT_NE(id, get_ctx->GetServerInitialMetadata().end());
    generated.emplace_back(id->second.data(), id->second.size());
    EXPECT_EQ(generated.back().size(), 16u) << generated.back();
  }

  std::ifstream in(process.log_path());
  std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(log.find("Zuleima"), std::string::npos);
  EXPECT_EQ(log.find("Xochiquetzal"), std::string::npos);
  EXPECT_EQ(log.find("Vbfkq"), std::string::npos);
  std::map<std::string, google::protobuf::Struct> access;  // by request id
  int lines = 0;
  for (absl::string_view raw : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    ++lines;
    google::protobuf::Struct line;
    ASSERT_TRUE(ParseLine(std::string(raw), &line)) << raw;
    EXPECT_FALSE(Field(line, "time").empty()) << raw;
    EXPECT_THAT(Field(line, "level"), ::testing::AnyOf("INFO", "WARNING", "ERROR")) << raw;
    EXPECT_NE(Field(line, "message"), "<none>") << raw;
    if (Field(line, "message") != "rpc") continue;
    EXPECT_EQ(access.count(Field(line, "request_id")), 0u) << "twice: " << raw;
    access[Field(line, "request_id")] = line;
  }
  EXPECT_GT(lines, 4);
  ASSERT_EQ(access.count("ops-req-0001"), 1u) << log;
  const google::protobuf::Struct& recorded = access["ops-req-0001"];
  EXPECT_EQ(Field(recorded, "method"), kRecordArrival);
  EXPECT_EQ(Field(recorded, "caller"), "spiffe://enlace/agency/mfa");
  EXPECT_EQ(Field(recorded, "status"), "OK");
  ASSERT_EQ(recorded.fields().count("latency_ms"), 1u);
  EXPECT_TRUE(recorded.fields().at("latency_ms").has_number_value());
  EXPECT_GT(recorded.fields().at("latency_ms").number_value(), 0);
  EXPECT_EQ(recorded.fields_size(), 8);  // time, level, message and the five above
  for (const std::string& id : generated) {
    ASSERT_EQ(access.count(id), 1u) << id << " in " << log;
    EXPECT_EQ(Field(access[id], "method"), kGetArrival);
    EXPECT_EQ(Field(access[id], "status"), "OK");
  }
}

}  // namespace
}  // namespace enlace
