// Graceful shutdown under load: the real enlace-server binary over mTLS on
// a real MariaDB gets SIGTERM while the ministry pushes arrivals from
// several threads, an agency creates referrals and another watches them.
// Asserts the order of a drain (readiness NOT_SERVING first, liveness still
// SERVING, calls still served during --drain_seconds, then UNAVAILABLE, and
// the health port closing last), exit status 0, every acknowledged arrival
// and referral stored exactly once (checked through a second server on the
// same database, the unacknowledged ones retried there), and the watch
// ended UNAVAILABLE with a token that resumes on the second server with no
// event lost or repeated.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/watcher.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::Watcher;
using Code = grpc::StatusCode;

constexpr absl::Duration kDrain = absl::Seconds(2);
constexpr absl::Duration kGrace = absl::Seconds(10);

// The binary as a child process whose pid, ports and exit status the test
// reads (tests/testing/server_process.h keeps them to itself).
class Replica {
 public:
  Replica(const std::string& dir, const std::string& dsn, const std::vector<std::string>& flags) {
    ready_ = dir + "/replica.ready";
    log_ = dir + "/replica.log";
    std::remove(ready_.c_str());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = freopen(log_.c_str(), "a", stderr);
      (void)out;
      setenv("ENLACE_DB_DSN", dsn.c_str(), 1);
      std::vector<std::string> args = {ENLACE_SERVER_BINARY, "--ready_file=" + ready_};
      args.insert(args.end(), flags.begin(), flags.end());
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (absl::Time until = absl::Now() + absl::Seconds(30);
         absl::Now() < until && health_port_ == 0 && Running();) {
      std::ifstream in(ready_);
      std::string line;
      int tls = 0, health = 0;
      while (std::getline(in, line)) {
        if (line.rfind("tls_port=", 0) == 0) tls = std::stoi(line.substr(9));
        if (line.rfind("health_port=", 0) == 0) health = std::stoi(line.substr(12));
      }
      if (tls > 0 && health > 0) {
        tls_port_ = tls;
        health_port_ = health;
      } else {
        absl::SleepFor(absl::Milliseconds(20));
      }
    }
  }
  ~Replica() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int tls_port() const { return tls_port_; }
  int health_port() const { return health_port_; }
  const std::string& log_path() const { return log_; }
  void Signal(int signal_number) { kill(pid_, signal_number); }
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return false;
  }
  // Polls until the process ended (at most `timeout`); its exit code
  // (128 + N for signal N), or -1 if it still runs.
  int WaitForExit(absl::Duration timeout) {
    for (absl::Time until = absl::Now() + timeout; Running() && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    return Running() ? -1 : exit_code_;
  }

 private:
  std::string ready_;
  std::string log_;
  pid_t pid_ = -1;
  int tls_port_ = 0;
  int health_port_ = 0;
  int exit_code_ = -1;
};

// The health port's answer for `service`: a status name, or "UNAVAILABLE"
// (or another code's number) when the call failed.
std::string HealthOf(int port, const std::string& service) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(&ctx, request, &response);
  if (status.error_code() == Code::UNAVAILABLE) return "UNAVAILABLE";
  if (!status.ok()) return absl::StrCat("code ", static_cast<int>(status.error_code()));
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

struct Call {
  std::string kind;
  std::string id;  // external id, or referral id when acknowledged
  std::string request_id;  // x-request-id, in the server's access line
  absl::Time start;
  absl::Time end;
  Code code;
};

class GracefulShutdownTest : public ServerFixture {
 protected:
  void Record(Call call) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }
  std::vector<Call> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Waits until each of `kinds` has `count` calls started at or after
  // `since` with `code` (any code when empty); false at `until`.
  bool AwaitCalls(const std::vector<std::string>& kinds, absl::Time since, std::optional<Code> code,
                  int count, absl::Time until) {
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const std::string& kind : kinds) {
        int found = 0;
        for (const Call& c : calls_) {
          if (c.kind == kind && c.start >= since && (!code || c.code == *code)) ++found;
        }
        if (found < count) return false;
      }
      return true;
    };
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithDeadline(absl::Condition(&done), until);
  }

  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

TEST_F(GracefulShutdownTest, SigtermDrainsLosesNothingAndFeedsResumeElsewhere) {
  // Through the in-process server (the second replica on the same database):
  // a case of iom's that undp may be referred.
  OpenedCase seed = OpenIomCase("drain-seed", {"iom", "undp"});
  ASSERT_FALSE(seed.case_.case_id().empty());

  Replica replica(
      pki_.dir(), database_->server_dsn_string(),
      {"--ca_cert=" + pki_.ca_cert_path(), "--server_cert=" + pki_.server_cert_path(),
       "--server_key=" + pki_.server_key_path(), "--policy=" + policy_path_,
       "--token_keys=" + token_keys_path_, "--tls_addr=127.0.0.1:0", "--health_addr=127.0.0.1:0",
       "--metrics_addr=", "--db_pool_size=8", "--worker_threads=2",
       absl::StrCat("--drain_seconds=", absl::ToInt64Seconds(kDrain)),
       absl::StrCat("--shutdown_grace_seconds=", absl::ToInt64Seconds(kGrace))});
  ASSERT_GT(replica.tls_port(), 0) << "see " << replica.log_path();
  const int health_port = replica.health_port();
  ASSERT_EQ(HealthOf(health_port, ""), "SERVING");

  // undp watches its referrals on the replica, from now.
  Watcher watcher(v1::ReferralService::NewStub(ChannelTo(replica.tls_port(), undp_cert_)), "");
  ASSERT_FALSE(watcher.start_token().empty());

  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  constexpr int kPushers = 3;
  for (int t = 0; t < kPushers; ++t) {
    clients.emplace_back([&, t] {
      auto stub = v1::ArrivalService::NewStub(ChannelTo(replica.tls_port(), mfa_cert_));
      for (int n = 0; !stop.load(); ++n) {
        std::string id = absl::StrCat("drain-", t, "-", n);
        v1::RecordArrivalRequest request;
        *request.mutable_arrival() = MakeArrival(id, {"iom", "undp"});
        v1::RecordArrivalResponse response;
        auto ctx = Context();
        ctx->AddMetadata("x-request-id", id);
        absl::Time start = absl::Now();
        grpc::Status status = stub->RecordArrival(ctx.get(), request, &response);
        Record({"arrival", id, id, start, absl::Now(), status.error_code()});
        if (!status.ok()) absl::SleepFor(absl::Milliseconds(20));  // no busy loop once it is gone
      }
    });
  }
  clients.emplace_back([&] {
    auto stub = v1::ReferralService::NewStub(ChannelTo(replica.tls_port(), iom_cert_));
    for (int n = 0; !stop.load(); ++n) {
      v1::CreateReferralRequest request;
      request.set_case_id(seed.case_.case_id());
      request.set_to_agency("undp");
      request.set_service(v1::NEED_SEED_CAPITAL);
      request.set_reason(absl::StrCat("drain referral ", n));
      v1::Referral referral;
      auto ctx = Context();
      std::string request_id = absl::StrCat("drain-referral-", n);
      ctx->AddMetadata("x-request-id", request_id);
      absl::Time start = absl::Now();
      grpc::Status status = stub->CreateReferral(ctx.get(), request, &referral);
      Record({"referral", referral.referral_id(), request_id, start, absl::Now(),
              status.error_code()});
      absl::SleepFor(absl::Milliseconds(status.ok() ? 5 : 20));
    }
  });
  // Probes, as a kubelet and a load balancer would: readiness and liveness.
  struct Probe {
    absl::Time at;
    absl::Time end;
    std::string ready;
    std::string live;
  };
  absl::Mutex probes_mu;
  std::vector<Probe> probes;
  std::thread prober([&] {
    while (!stop.load()) {
      absl::Time at = absl::Now();
      std::string ready = HealthOf(health_port, "");
      std::string live = HealthOf(health_port, server::kLivenessHealthService);
      {
        absl::MutexLock lock(&probes_mu);
        probes.push_back({at, absl::Now(), ready, live});
      }
      if (ready == "UNAVAILABLE") break;  // the port is closed
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
  auto stop_all = [&] {
    stop = true;
    for (std::thread& t : clients) t.join();
    prober.join();
  };

  // Under load: several acknowledged calls of each kind, and events watched.
  const absl::Time began = absl::Now();
  bool warmed = AwaitCalls({"arrival", "referral"}, began - absl::Hours(1), Code::OK, 5,
                           began + absl::Seconds(60));
  if (warmed) watcher.WaitFor(3, absl::Seconds(20));
  if (!warmed || watcher.Count() < 3) stop_all();
  ASSERT_TRUE(warmed);
  ASSERT_GE(watcher.Count(), 3u);

  const absl::Time t_term = absl::Now();
  replica.Signal(SIGTERM);
  const int exit_code = replica.WaitForExit(kDrain + kGrace + absl::Seconds(10));
  const absl::Time t_exit = absl::Now();
  // Every client has met the closed server after it exited.
  bool after_exit =
      AwaitCalls({"arrival", "referral"}, t_exit, std::nullopt, 2, t_exit + absl::Seconds(30));
  grpc::Status watch_end = watcher.WaitForEnd(absl::Seconds(5));
  stop_all();
  ASSERT_EQ(exit_code, 0) << "see " << replica.log_path();
  ASSERT_TRUE(after_exit);

  // Health: readiness went NOT_SERVING within a second of SIGTERM, while
  // liveness stayed SERVING, and that was seen before any call was refused.
  std::vector<Call> calls = Calls();
  absl::Time first_refused = absl::InfiniteFuture();
  for (const Call& c : calls) {
    if (c.code == Code::UNAVAILABLE) first_refused = std::min(first_refused, c.end);
  }
  // The health port closes after the TLS port, which closes after the
  // drain: no earlier than the first NOT_SERVING probe + kDrain.
  absl::Time drain_over = absl::InfiniteFuture();
  for (const Probe& p : probes) {
    if (p.at > t_term && p.ready == "NOT_SERVING") drain_over = std::min(drain_over, p.at + kDrain);
  }
  absl::Time not_serving_at = absl::InfiniteFuture();
  int live_while_draining = 0;
  std::multiset<std::string> odd_probes;
  for (const Probe& p : probes) {
    if (p.at < t_term && p.end > t_term) continue;  // either answer is right
    // A probe in flight while the health port closes may be cancelled: after
    // a call was refused, or (no client call having met the closed TLS port
    // yet, on a loaded machine) once the drain is over.
    if (p.end >= std::min(first_refused, drain_over) &&
        (p.ready == "code 1" || p.live == "code 1")) {
      continue;
    }
    if (p.at < t_term) {
      if (p.ready != "SERVING" || p.live != "SERVING") odd_probes.insert(p.ready + "/" + p.live);
      continue;
    }
    if (p.ready == "NOT_SERVING") {
      not_serving_at = std::min(not_serving_at, p.at);
      if (p.live == "SERVING") ++live_while_draining;
      if (p.live != "SERVING" && p.live != "UNAVAILABLE") odd_probes.insert("live " + p.live);
    } else if (p.ready != "UNAVAILABLE" && p.at > t_term + absl::Seconds(1)) {
      odd_probes.insert("ready " + p.ready);
    }
  }
  EXPECT_THAT(odd_probes, ::testing::IsEmpty());
  ASSERT_NE(not_serving_at, absl::InfiniteFuture()) << "readiness never went NOT_SERVING";
  EXPECT_LT(not_serving_at - t_term, absl::Seconds(1));
  EXPECT_LT(not_serving_at, first_refused);
  EXPECT_GT(live_while_draining, 0);

  // Calls: OK before SIGTERM and during the drain (served while the load
  // balancers catch up), UNAVAILABLE once it is over; nothing else ever.
  std::map<std::string, int> by_phase;
  std::set<Code> during_drain, after_drain, all_codes;
  int in_flight_at_term = 0;
  int finished_at_close = 0, refused_at_close = 0;  // in flight when the listener closed
  for (const Call& c : calls) {
    all_codes.insert(c.code);
    if (c.start < t_term && c.end > t_term) ++in_flight_at_term;
    if (c.start >= t_term + absl::Milliseconds(200) &&
        c.end < t_term + kDrain - absl::Milliseconds(200)) {
      during_drain.insert(c.code);
    }
    // The server's drain began before the first NOT_SERVING probe (it turns
    // readiness off first), so it was over by that probe + kDrain, whatever
    // the delay in delivering the signal.
    if (c.start >= std::min(t_exit, not_serving_at + kDrain + absl::Milliseconds(250))) {
      after_drain.insert(c.code);
    }
    if (c.start < t_term + kDrain && c.end > t_term + kDrain) {
      ++(c.code == Code::OK ? finished_at_close : refused_at_close);
    }
    const char* phase = c.end < t_term ? "before" : c.start < t_term + kDrain ? "drain" : "after";
    ++by_phase[absl::StrCat(phase, " ", c.kind, " ",
                            c.code == Code::OK ? "OK"
                            : c.code == Code::UNAVAILABLE
                                ? "UNAVAILABLE"
                                : absl::StrCat(static_cast<int>(c.code)))];
  }
  std::string summary;
  for (const auto& [name, n] : by_phase) absl::StrAppend(&summary, name, "=", n, "; ");
  // gRPC cancels a call that reaches the server just as its listener closes,
  // before any handler sees it (CANCELLED): never executed, safe to retry.
  // Such a call has no access line in the server's log.
  std::set<std::string> seen_by_server;
  {
    std::ifstream in(replica.log_path());
    std::string line;
    const std::string key = "\"request_id\":\"";
    while (std::getline(in, line)) {
      size_t at = line.find(key);
      if (at == std::string::npos) continue;
      at += key.size();
      seen_by_server.insert(line.substr(at, line.find('"', at) - at));
    }
  }
  int cancelled_unseen = 0;
  for (const Call& c : calls) {
    if (c.code != Code::CANCELLED) continue;
    EXPECT_EQ(seen_by_server.count(c.request_id), 0u) << c.request_id << " was executed";
    EXPECT_LT(absl::AbsDuration(c.start - first_refused), absl::Milliseconds(500)) << c.request_id;
    ++cancelled_unseen;
  }
  all_codes.erase(Code::CANCELLED);
  EXPECT_THAT(all_codes, ::testing::IsSubsetOf({Code::OK, Code::UNAVAILABLE})) << summary;
  EXPECT_THAT(during_drain, ::testing::ElementsAre(Code::OK)) << summary;
  for (const Call& c : calls) {
    if (c.code == Code::OK) {
      EXPECT_EQ(seen_by_server.count(c.request_id), 1u) << c.request_id;
    }
  }
  EXPECT_THAT(after_drain, ::testing::ElementsAre(Code::UNAVAILABLE)) << summary;

  // Nothing acknowledged is lost, nothing is stored twice: through the
  // second server, every arrival the replica acknowledged is ALREADY_RECORDED
  // under the id it was given; those it did not are retried there (idempotent).
  std::map<std::string, int> stored;  // external id -> rows
  int lost = 0, retried = 0;
  auto stub = Arrivals(mfa_cert_);
  for (const Call& c : calls) {
    if (c.kind != "arrival") continue;
    v1::RecordArrivalRequest request;
    *request.mutable_arrival() = MakeArrival(c.id, {"iom", "undp"});
    v1::RecordArrivalResponse response;
    grpc::Status status = stub->RecordArrival(Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << c.id << ": " << status.error_message();
    if (c.code == Code::OK && response.outcome() != v1::OUTCOME_ALREADY_RECORDED) ++lost;
    if (c.code != Code::OK) ++retried;
  }
  EXPECT_EQ(lost, 0);
  for (const Call& c : calls) {
    if (c.kind == "arrival") {
      stored[c.id] = static_cast<int>(database_->QueryInt(
          absl::StrCat("SELECT COUNT(*) FROM arrivals WHERE external_id = '", c.id, "'")));
    }
  }
  for (const auto& [id, rows] : stored) EXPECT_EQ(rows, 1) << id;
  std::set<std::string> referrals_acked;
  for (const Call& c : calls) {
    if (c.kind == "referral" && c.code == Code::OK) {
      referrals_acked.insert(c.id);
      v1::GetReferralRequest request;
      request.set_referral_id(c.id);
      v1::Referral referral;
      EXPECT_TRUE(Referrals(iom_cert_)->GetReferral(Context().get(), request, &referral).ok())
          << c.id;
    }
  }

  // The watch ended UNAVAILABLE; its last token resumes on the second server
  // with every later event once: a sentinel referral made there is the last.
  EXPECT_EQ(watch_end.error_code(), Code::UNAVAILABLE) << watch_end.error_message();
  std::vector<v1::ReferralEvent> before = watcher.Events();
  ASSERT_FALSE(before.empty());
  v1::Referral sentinel;
  ASSERT_TRUE(ReferAsIom(seed.case_.case_id(), "undp", &sentinel).ok());
  Watcher resumed(Referrals(undp_cert_), before.back().resume_token());
  std::vector<v1::ReferralEvent> after;
  for (absl::Time until = absl::Now() + absl::Seconds(30); absl::Now() < until;) {
    after = resumed.WaitFor(after.size() + 1, absl::Seconds(1));
    if (!after.empty() && after.back().referral().referral_id() == sentinel.referral_id()) break;
  }
  ASSERT_FALSE(after.empty());
  ASSERT_EQ(after.back().referral().referral_id(), sentinel.referral_id());
  std::map<std::string, int> seen;  // referral id -> creation events delivered
  for (const auto* events : {&before, &after}) {
    for (const v1::ReferralEvent& e : *events) ++seen[e.referral().referral_id()];
  }
  int missed = 0, duplicated = 0;
  for (const std::string& id : referrals_acked) {
    if (seen[id] == 0) ++missed;
  }
  for (const auto& [id, n] : seen) {
    if (n > 1) ++duplicated;
  }
  EXPECT_EQ(missed, 0);
  EXPECT_EQ(duplicated, 0);

  std::cout << "[figures] SIGTERM to NOT_SERVING " << absl::FormatDuration(not_serving_at - t_term)
            << "; to first UNAVAILABLE " << absl::FormatDuration(first_refused - t_term)
            << "; to exit (code " << exit_code << ") " << absl::FormatDuration(t_exit - t_term)
            << "; calls in flight at SIGTERM " << in_flight_at_term
            << "; in flight at the drain's end " << finished_at_close << " OK, " << refused_at_close
            << " refused; CANCELLED by gRPC before any handler saw them " << cancelled_unseen
            << "; arrivals acknowledged "
            << std::count_if(
                   calls.begin(), calls.end(),
                   [](const Call& c) { return c.kind == "arrival" && c.code == Code::OK; })
            << ", lost " << lost << ", unacknowledged retried " << retried
            << "; referrals acknowledged " << referrals_acked.size() << "; events before "
            << before.size() << ", after resume " << after.size() << ", missed " << missed
            << ", duplicated " << duplicated << "\n[calls] " << summary << "\n";
}

}  // namespace
}  // namespace enlace
