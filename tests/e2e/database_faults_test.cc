// Database faults under load: the in-process server over mTLS, several client
// threads calling it, and a private MariaDB (scripts/lib/mariadb.sh) that is
// killed with SIGKILL and restarted, or paused with SIGSTOP and resumed.
// Asserts the exact status codes each phase may give, that no call outlives
// its deadline, how fast the server recovers once the database is back, and
// that every acknowledged arrival and referral is stored exactly once.
#include <arpa/inet.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "db/dsn.h"
#include "db/mysql_pool.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "enlace/v1/referrals.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/testing/private_mariadb.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::FreeLoopbackPort;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::RunMariaDbScript;
using ::enlace::testing::ServerFixture;
using ::testing::Each;
using ::testing::IsSubsetOf;
using Code = grpc::StatusCode;

std::string CodeName(Code code) {
  static const std::map<Code, std::string> names = {
      {Code::OK, "OK"},
      {Code::CANCELLED, "CANCELLED"},
      {Code::UNKNOWN, "UNKNOWN"},
      {Code::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {Code::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
      {Code::NOT_FOUND, "NOT_FOUND"},
      {Code::ALREADY_EXISTS, "ALREADY_EXISTS"},
      {Code::PERMISSION_DENIED, "PERMISSION_DENIED"},
      {Code::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {Code::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {Code::ABORTED, "ABORTED"},
      {Code::INTERNAL, "INTERNAL"},
      {Code::UNAVAILABLE, "UNAVAILABLE"},
      {Code::UNAUTHENTICATED, "UNAUTHENTICATED"}};
  auto it = names.find(code);
  return it == names.end() ? absl::StrCat("code ", static_cast<int>(code)) : it->second;
}

std::chrono::system_clock::time_point ToChrono(absl::Time t) {
  return std::chrono::system_clock::from_time_t(0) +
         std::chrono::microseconds(absl::ToUnixMicros(t));
}

// One call as its client saw it.
struct Call {
  std::string kind;
  absl::Time start;
  absl::Time end;
  absl::Duration deadline;
  Code code;
};

// Every call the client threads made, and a way to wait for some of them.
class CallLog {
 public:
  void Add(Call call) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }
  std::vector<Call> All() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Waits until every kind in `kinds` has `count` calls started at or after
  // `since` that ended with `code` (any code when `code` is empty); false at
  // `until`.
  bool AwaitEach(const std::vector<std::string>& kinds, absl::Time since, std::optional<Code> code,
                 absl::Time until, int count = 1) const {
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

 private:
  mutable absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

// Codes by name, for readable failures.
std::multiset<std::string> Names(const std::vector<Call>& calls) {
  std::multiset<std::string> names;
  for (const Call& c : calls) names.insert(absl::StrCat(c.kind, ":", CodeName(c.code)));
  return names;
}

std::string Summary(const std::vector<Call>& calls) {
  std::map<std::string, int> counts;
  for (const Call& c : calls) ++counts[absl::StrCat(c.kind, " ", CodeName(c.code))];
  std::string out;
  for (const auto& [name, n] : counts) absl::StrAppend(&out, name, "=", n, " ");
  return out;
}

// A private MariaDB for one test, and the server in-process on it.
class DatabaseFaultTest : public ServerFixture {
 protected:
  void SetUp() override {
    policy_path_ = pki_.WriteFile("policy.conf", ReadSourceFile("server/default_policy.conf"));
    token_keys_path_ = pki_.WriteFile("token_keys", MakeTokenKeyFile());
    char dir_template[] = "/tmp/enlace-dbfault-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    port_ = FreeLoopbackPort();
    ASSERT_GT(port_, 0);
    ASSERT_EQ(
        RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_init ", dir_,
                                                         " && mariadb_start ", dir_, " ", port_)),
        0);
    dsn_ = absl::StrCat("mysql://root@127.0.0.1:", port_, "/enlace");
    StartServer(dsn_);
  }
  void TearDown() override {
    if (paused_pid_ > 0) kill(paused_pid_, SIGCONT);
    server_.reset();
    RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_stop ", dir_));
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  // True when something accepts TCP connections on the database's port.
  bool DatabaseListening() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port_));
    bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    return connected;
  }
  pid_t MariaDbPid() const {
    std::ifstream in(dir_ + "/mysql.pid");
    pid_t pid = 0;
    in >> pid;
    return pid;
  }
  // The state letter of /proc/PID/stat (R, S, T stopped, Z zombie...), or
  // '?' when there is no such process.
  static char ProcessState(pid_t pid) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    size_t close_paren = stat.rfind(") ");
    return close_paren == std::string::npos ? '?' : stat[close_paren + 2];
  }
  // Sends SIGSTOP and waits until every thread of the process is stopped.
  void Pause(pid_t pid) {
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    paused_pid_ = pid;
    absl::Time until = absl::Now() + absl::Seconds(10);
    while (ProcessState(pid) != 'T' && absl::Now() < until) absl::SleepFor(absl::Milliseconds(1));
    ASSERT_EQ(ProcessState(pid), 'T');
  }
  // Not running: gone, or a zombie nobody reaped yet.
  static bool ProcessGone(pid_t pid) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    if (stat.empty()) return true;
    size_t close_paren = stat.rfind(") ");
    return close_paren != std::string::npos &&
           (stat[close_paren + 2] == 'Z' || stat[close_paren + 2] == 'X');
  }

  // The plaintext health port's answer for the whole server.
  std::string Health() {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->health_port()),
                                       grpc::InsecureChannelCredentials());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status =
        grpc::health::v1::Health::NewStub(channel)->Check(&ctx, request, &response);
    if (!status.ok()) return CodeName(status.error_code());
    return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  }
  // Polls the health port until it answers `expected`; the time it did, or
  // InfiniteFuture at `until`.
  absl::Time AwaitHealth(const std::string& expected, absl::Time until) {
    while (absl::Now() < until) {
      if (Health() == expected) return absl::Now();
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::InfiniteFuture();
  }

  // A query on the private database, as its administrator.
  int64_t CountWhere(const std::string& sql, const std::string& value) {
    if (admin_pool_ == nullptr) {
      absl::StatusOr<db::Dsn> dsn = db::ParseDsn(dsn_);
      EXPECT_TRUE(dsn.ok()) << dsn.status();
      admin_pool_ = std::make_unique<db::MysqlPool>(*dsn, db::PoolOptions{.max_connections = 1});
    }
    int64_t count = -1;
    absl::Status status = admin_pool_->Run([&](db::MysqlConnection& c) {
      sql::PreparedStatement* statement = c.Prepare(sql);
      statement->setString(1, value);
      std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
      if (rows->next()) count = rows->getInt64(1);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return count;
  }

  // The audit events of calls made in [from, to), counted by status code.
  std::map<int, int64_t> AuditCodesBetween(absl::Time from, absl::Time to) {
    absl::StatusOr<db::Dsn> dsn = db::ParseDsn(dsn_);
    EXPECT_TRUE(dsn.ok()) << dsn.status();
    db::MysqlPool pool(*dsn, db::PoolOptions{.max_connections = 1});
    std::map<int, int64_t> counts;
    absl::Status status = pool.Run([&](db::MysqlConnection& c) {
      sql::PreparedStatement* statement = c.Prepare(
          "SELECT status_code, COUNT(*) FROM audit_events WHERE at_us >= ? AND at_us < ? "
          "GROUP BY status_code");
      statement->setInt64(1, absl::ToUnixMicros(from));
      statement->setInt64(2, absl::ToUnixMicros(to));
      std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
      while (rows->next()) counts[rows->getInt(1)] = rows->getInt64(2);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return counts;
  }

  std::unique_ptr<grpc::ClientContext> ContextFor(absl::Duration deadline) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(ToChrono(absl::Now() + deadline));
    return ctx;
  }

  std::string dir_;
  int port_ = 0;
  std::string dsn_;
  pid_t paused_pid_ = 0;  // continued at tear-down if a test stopped it
  std::unique_ptr<db::MysqlPool> admin_pool_;
};

// ---------------------------------------------------------------------------
// mariadbd killed (SIGKILL) under load and restarted on the same port and
// data directory.

class DatabaseKillTest : public DatabaseFaultTest {
 protected:
  static constexpr absl::Duration kUnaryDeadline = absl::Seconds(5);
  static constexpr absl::Duration kStreamDeadline = absl::Seconds(10);
  static constexpr int kPerStream = 20;

  // What the ministry's streams learnt: external ids acknowledged (CREATED
  // or ALREADY_RECORDED) and not, and every per-record error code.
  struct Ingest {
    absl::Mutex mu;
    std::set<std::string> acked ABSL_GUARDED_BY(mu);
    std::set<std::string> acked_before_kill ABSL_GUARDED_BY(mu);
    std::set<std::string> unacked ABSL_GUARDED_BY(mu);
    std::multiset<Code> record_errors ABSL_GUARDED_BY(mu);
  };

  // Streams `ids` in one RecordArrivals call; notes each answer in `ingest`.
  Code StreamIds(const std::vector<std::string>& ids, Ingest* ingest, absl::Time killed_at) {
    auto stub = Arrivals(mfa_cert_);
    auto ctx = ContextFor(kStreamDeadline);
    auto stream = stub->RecordArrivals(ctx.get());
    std::thread writer([&] {
      for (const std::string& id : ids) {
        v1::RecordArrivalsRequest request;
        *request.mutable_arrival() = MakeArrival(id);
        if (!stream->Write(request)) break;
      }
      stream->WritesDone();
    });
    std::set<std::string> answered;
    v1::RecordArrivalsResponse response;
    while (stream->Read(&response)) {
      absl::MutexLock lock(&ingest->mu);
      answered.insert(response.external_id());
      if (response.outcome() == v1::OUTCOME_CREATED ||
          response.outcome() == v1::OUTCOME_ALREADY_RECORDED) {
        ingest->acked.insert(response.external_id());
        ingest->unacked.erase(response.external_id());
        if (absl::Now() < killed_at) ingest->acked_before_kill.insert(response.external_id());
      } else {
        ingest->record_errors.insert(static_cast<Code>(response.error().code()));
        ingest->unacked.insert(response.external_id());
      }
    }
    writer.join();
    grpc::Status status = stream->Finish();
    absl::MutexLock lock(&ingest->mu);
    for (const std::string& id : ids) {
      if (answered.count(id) == 0) ingest->unacked.insert(id);
    }
    return status.error_code();
  }
};

TEST_F(DatabaseKillTest, CallsFailUnavailableThenRecoverWithinFiveSecondsAndNothingAckedIsLost) {
  OpenedCase seed = OpenIomCase("seed-1", {"iom", "undp"});
  ASSERT_FALSE(seed.case_.case_id().empty());

  CallLog log;
  Ingest ingest;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> killed_at_us{absl::ToUnixMicros(absl::InfiniteFuture())};
  auto killed_at = [&] { return absl::FromUnixMicros(killed_at_us.load()); };
  absl::Mutex referrals_mu;
  std::vector<std::string> referrals_acked;

  // The ministry: streams of 20 new arrivals, one after another.
  std::thread ministry([&] {
    for (int n = 0; !stop.load(); ++n) {
      std::vector<std::string> ids;
      for (int i = 0; i < kPerStream; ++i) ids.push_back(absl::StrCat("k-", n, "-", i));
      absl::Time start = absl::Now();
      Code code = StreamIds(ids, &ingest, killed_at());
      log.Add({"stream", start, absl::Now(), kStreamDeadline, code});
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  // An agency reading: lists and gets, in turn.
  std::thread agency([&] {
    auto stub = Arrivals(iom_cert_);
    for (int n = 0; !stop.load(); ++n) {
      absl::Time start = absl::Now();
      grpc::Status status;
      if (n % 2 == 0) {
        v1::ListArrivalsRequest request;
        request.set_page_size(10);
        v1::ListArrivalsResponse response;
        status = stub->ListArrivals(ContextFor(kUnaryDeadline).get(), request, &response);
        log.Add({"list", start, absl::Now(), kUnaryDeadline, status.error_code()});
      } else {
        v1::GetArrivalRequest request;
        request.set_arrival_id(seed.arrival_id);
        v1::Arrival response;
        status = stub->GetArrival(ContextFor(kUnaryDeadline).get(), request, &response);
        log.Add({"get", start, absl::Now(), kUnaryDeadline, status.error_code()});
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  // An agency writing: a referral of its case after another.
  std::thread referrer([&] {
    auto stub = Referrals(iom_cert_);
    for (int n = 0; !stop.load(); ++n) {
      v1::CreateReferralRequest request;
      request.set_case_id(seed.case_.case_id());
      request.set_to_agency("undp");
      request.set_service(v1::NEED_SEED_CAPITAL);
      request.set_reason(absl::StrCat("fault referral ", n));
      v1::Referral referral;
      absl::Time start = absl::Now();
      grpc::Status status =
          stub->CreateReferral(ContextFor(kUnaryDeadline).get(), request, &referral);
      log.Add({"referral", start, absl::Now(), kUnaryDeadline, status.error_code()});
      if (status.ok()) {
        absl::MutexLock lock(&referrals_mu);
        referrals_acked.push_back(referral.referral_id());
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  const std::vector<std::string> kKinds = {"stream", "list", "get", "referral"};
  auto stop_clients = [&] {
    stop = true;
    ministry.join();
    agency.join();
    referrer.join();
  };

  // Load running: every kind of call has succeeded once.
  absl::Time began = absl::Now();
  bool warmed =
      log.AwaitEach(kKinds, began - absl::Hours(1), Code::OK, began + absl::Seconds(60), 3);
  if (!warmed) stop_clients();
  ASSERT_TRUE(warmed) << Summary(log.All());

  // Kill -9: no shutdown, sockets reset, transactions in flight lost.
  pid_t pid = MariaDbPid();
  ASSERT_GT(pid, 0);
  absl::Time t_kill = absl::Now();
  killed_at_us = absl::ToUnixMicros(t_kill);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  absl::Time gone_by = absl::Now() + absl::Seconds(10);
  while (!ProcessGone(pid) && absl::Now() < gone_by) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(ProcessGone(pid));
  // The outage is seen: every kind of call has been made against the dead
  // database, and the health port says NOT_SERVING (its monitor runs every 2 s).
  absl::Time t_dead = absl::Now();
  bool outage_seen = log.AwaitEach(kKinds, t_dead, std::nullopt, t_dead + absl::Seconds(30));
  absl::Time not_serving_at = AwaitHealth("NOT_SERVING", t_dead + absl::Seconds(10));

  // Restart on the same port and data directory (InnoDB crash recovery);
  // the moment it accepts TCP connections again is when recovery is timed from.
  int started = -1;
  std::thread restart([&] {
    started = RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_start ", dir_, " ", port_));
  });
  absl::Time t_up = absl::InfiniteFuture();
  for (absl::Time until = absl::Now() + absl::Seconds(60); absl::Now() < until;) {
    if (DatabaseListening()) {
      t_up = absl::Now();
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  restart.join();
  absl::Time serving_at = AwaitHealth("SERVING", t_up + absl::Seconds(20));
  // Each kind of call succeeds again, then keeps running 5 s past that bound.
  bool recovered = log.AwaitEach(kKinds, t_up, Code::OK, t_up + absl::Seconds(30));
  bool steady =
      log.AwaitEach(kKinds, t_up + absl::Seconds(5), std::nullopt, t_up + absl::Seconds(40), 3);
  stop_clients();
  ASSERT_TRUE(outage_seen) << Summary(log.All());
  ASSERT_EQ(started, 0) << "mariadbd did not restart";
  ASSERT_NE(t_up, absl::InfiniteFuture());
  ASSERT_TRUE(recovered) << Summary(log.All());
  ASSERT_TRUE(steady) << Summary(log.All());
  EXPECT_NE(not_serving_at, absl::InfiniteFuture()) << "health never said NOT_SERVING";

  // Phases, by when a call started and ended:
  //   done before the kill                  OK
  //   in flight at the kill                 OK (answered before it bit), UNAVAILABLE
  //                                         (connection lost), ABORTED (transaction
  //                                         rolled back under it)
  //   made while the database was down      UNAVAILABLE only: never a hang, never
  //                                         INTERNAL, never a false OK
  //   made in the 5 s after it is back      OK or UNAVAILABLE (the server recovering)
  //   made 5 s or more after it is back     OK only
  // and no call, whatever its phase, ran past its deadline.
  std::vector<Call> before, at_kill, down, recovering, after;
  std::map<std::string, absl::Time> first_ok;  // per kind, after t_up
  std::multiset<std::string> late;
  for (const Call& c : log.All()) {
    if (c.end - c.start > c.deadline + absl::Seconds(1) || c.code == Code::DEADLINE_EXCEEDED) {
      late.insert(absl::StrCat(c.kind, " took ", absl::FormatDuration(c.end - c.start), " (",
                               CodeName(c.code), ")"));
    }
    if (c.end < t_kill) {
      before.push_back(c);
    } else if (c.start < t_kill) {
      at_kill.push_back(c);
    } else if (c.start < t_up && c.end <= t_up) {
      down.push_back(c);
    } else if (c.start < t_up + absl::Seconds(5)) {
      recovering.push_back(c);
    } else {
      after.push_back(c);
    }
    if (c.code == Code::OK && c.start >= t_up) {
      auto [it, inserted] = first_ok.emplace(c.kind, c.end);
      if (!inserted && c.end < it->second) it->second = c.end;
    }
  }
  EXPECT_THAT(late, ::testing::IsEmpty());
  auto codes_of = [](const std::vector<Call>& calls) {
    std::set<Code> codes;
    for (const Call& c : calls) codes.insert(c.code);
    return codes;
  };
  EXPECT_THAT(codes_of(before), ::testing::ElementsAre(Code::OK)) << Summary(before);
  EXPECT_THAT(codes_of(at_kill), IsSubsetOf({Code::OK, Code::UNAVAILABLE, Code::ABORTED}))
      << Summary(at_kill);
  EXPECT_THAT(codes_of(down), ::testing::ElementsAre(Code::UNAVAILABLE)) << Summary(down);
  EXPECT_THAT(codes_of(recovering), IsSubsetOf({Code::OK, Code::UNAVAILABLE}))
      << Summary(recovering);
  EXPECT_THAT(codes_of(after), ::testing::ElementsAre(Code::OK)) << Summary(after);
  for (const std::string& kind : kKinds) {
    ASSERT_EQ(first_ok.count(kind), 1u) << kind;
    EXPECT_LT(first_ok[kind] - t_up, absl::Seconds(5)) << kind;
  }
  EXPECT_LT(serving_at - t_up, absl::Seconds(5));

  std::string figures =
      absl::StrCat("kill to NOT_SERVING ", absl::FormatDuration(not_serving_at - t_kill),
                   "; outage (kill to listening) ", absl::FormatDuration(t_up - t_kill),
                   "; listening to SERVING ", absl::FormatDuration(serving_at - t_up));
  for (const auto& [kind, at] : first_ok) {
    absl::StrAppend(&figures, "; first OK ", kind, " ", absl::FormatDuration(at - t_up));
  }
  std::cout << "[figures] " << figures << "\n[calls] before: " << Summary(before)
            << "\n[calls] at kill: " << Summary(at_kill) << "\n[calls] down: " << Summary(down)
            << "\n[calls] recovering: " << Summary(recovering)
            << "\n[calls] after: " << Summary(after) << std::endl;

  // Whatever was not acknowledged is sent again, as a client would: it is
  // all acknowledged now (stored once: created or already recorded).
  std::vector<std::string> resend;
  {
    absl::MutexLock lock(&ingest.mu);
    resend.assign(ingest.unacked.begin(), ingest.unacked.end());
    std::multiset<std::string> errors;
    for (Code code : ingest.record_errors) errors.insert(CodeName(code));
    std::cout << "[records] acked " << ingest.acked.size() << " (before the kill "
              << ingest.acked_before_kill.size() << "), unacked " << ingest.unacked.size()
              << ", record errors " << ingest.record_errors.size() << std::endl;
    // A record's error is its batch's: the database lost or the
    // transaction rolled back; nothing else.
    EXPECT_THAT(errors, Each(::testing::AnyOf("UNAVAILABLE", "ABORTED")));
    EXPECT_FALSE(ingest.acked_before_kill.empty());
    EXPECT_FALSE(ingest.record_errors.empty());  // the outage did reach the streams
  }
  if (!resend.empty()) {
    EXPECT_EQ(StreamIds(resend, &ingest, absl::InfinitePast()), Code::OK);
  }

  // Every arrival acknowledged before, during or after the outage is stored
  // exactly once; every id sent was acknowledged in the end.
  absl::MutexLock lock(&ingest.mu);
  EXPECT_THAT(ingest.unacked, ::testing::IsEmpty());
  for (const std::string& id : ingest.acked) {
    EXPECT_EQ(CountWhere("SELECT COUNT(*) FROM arrivals WHERE submitted_by = 'mfa' AND "
                         "external_id = ?",
                         id),
              1)
        << id;
  }
  EXPECT_EQ(CountWhere("SELECT COUNT(*) FROM arrivals WHERE external_id LIKE ?", "k-%"),
            static_cast<int64_t>(ingest.acked.size()));
  // And every acknowledged referral.
  absl::MutexLock referrals_lock(&referrals_mu);
  EXPECT_FALSE(referrals_acked.empty());
  for (const std::string& id : referrals_acked) {
    EXPECT_EQ(CountWhere("SELECT COUNT(*) FROM referrals WHERE referral_id = ?", id), 1) << id;
  }
  // The audit chain survived the kill intact.
  v1::VerifyAuditLogResponse verify;
  ASSERT_TRUE(Admin()->VerifyAuditLog(Context().get(), {}, &verify).ok());
  EXPECT_TRUE(verify.intact()) << verify.first_broken_sequence();
}

// ---------------------------------------------------------------------------
// mariadbd paused (SIGSTOP): its connections stay open and nothing answers.

class DatabasePauseTest : public DatabaseFaultTest {
 protected:
  // Small, so that a few client threads exhaust them: 4 database
  // connections, 4 work-pool threads, 4 calls in flight and 4 waiting per
  // identity.
  void Configure(server::ServerConfig& config) override {
    config.db_pool_size = 4;
    config.worker_threads = 4;
    config.limits.max_calls_per_identity = 4;
    config.limits.max_waiting_calls_per_identity = 4;
  }
  static constexpr absl::Duration kDeadline = absl::Seconds(2);

  // Pauses mariadbd, has client threads call for `calls_for`, continues it,
  // and checks the server serves again at once and holds no thread. Leaves
  // in `audited` the audit events of the calls made during the pause,
  // counted by status code.
  void PauseAndContinue(absl::Duration calls_for, std::map<int, int64_t>* audited);

  // One unary call of `kind` with a 2 s deadline.
  Code CallOnce(const std::string& kind, const std::string& arrival_id, int n) {
    if (kind == "record") {
      v1::RecordArrivalRequest request;
      *request.mutable_arrival() = MakeArrival(absl::StrCat("p-", n));
      v1::RecordArrivalResponse response;
      return Arrivals(mfa_cert_)
          ->RecordArrival(ContextFor(kDeadline).get(), request, &response)
          .error_code();
    }
    if (kind == "get") {
      v1::GetArrivalRequest request;
      request.set_arrival_id(arrival_id);
      v1::Arrival response;
      return Arrivals(iom_cert_)
          ->GetArrival(ContextFor(kDeadline).get(), request, &response)
          .error_code();
    }
    if (kind == "list") {
      v1::ListArrivalsRequest request;
      request.set_page_size(10);
      v1::ListArrivalsResponse response;
      return Arrivals(unhcr_cert_)
          ->ListArrivals(ContextFor(kDeadline).get(), request, &response)
          .error_code();
    }
    v1::ListAuditEventsRequest request;
    request.set_page_size(10);
    v1::ListAuditEventsResponse response;
    return Admin()->ListAuditEvents(ContextFor(kDeadline).get(), request, &response).error_code();
  }
};

// Connecting to a database that accepts TCP connections but never answers
// (paused): each attempt gives up after the pool's connect_timeout, however
// many threads connect at once (and the server's pool with them): they do
// not wait for one another's attempts to time out.
TEST_F(DatabaseFaultTest, ConnectsToAPausedDatabaseEachGiveUpAfterTheConnectTimeout) {
  absl::StatusOr<db::Dsn> dsn = db::ParseDsn(dsn_);
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  static constexpr int kThreads = 6;
  db::MysqlPool pool(*dsn, db::PoolOptions{.max_connections = kThreads,
                                           .connect_timeout = absl::Seconds(1),
                                           .io_timeout = absl::Seconds(2)});
  pid_t pid = MariaDbPid();
  ASSERT_GT(pid, 0);
  Pause(pid);
  std::vector<absl::Status> statuses(kThreads);
  std::vector<absl::Duration> took(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      absl::Time start = absl::Now();
      statuses[i] = pool.Run([](db::MysqlConnection& c) {
        c.Execute("DO 1");
        return absl::OkStatus();
      });
      took[i] = absl::Now() - start;
    });
  }
  for (std::thread& t : threads) t.join();
  std::string figures;
  for (int i = 0; i < kThreads; ++i) {
    absl::StrAppend(&figures, absl::FormatDuration(took[i]), " ");
    EXPECT_TRUE(absl::IsUnavailable(statuses[i])) << statuses[i];
    EXPECT_LT(took[i], absl::Seconds(2)) << "connect " << i;
  }
  std::cout << "[figures] connects to the paused database gave up after " << figures << std::endl;
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  paused_pid_ = 0;
  absl::Status status = pool.Run([](db::MysqlConnection& c) {
    c.Execute("DO 1");
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
}

void DatabasePauseTest::PauseAndContinue(absl::Duration calls_for,
                                         std::map<int, int64_t>* audited) {
  std::string arrival_id = RecordOne(MakeArrival("seed-1", {"iom", "unhcr"}));
  const std::vector<std::string> kKinds = {"record", "get", "list", "audit"};
  for (const std::string& kind : kKinds)
    ASSERT_EQ(CallOnce(kind, arrival_id, -1), Code::OK) << kind;

  pid_t pid = MariaDbPid();
  ASSERT_GT(pid, 0);
  Pause(pid);
  absl::Time t_stop = absl::Now();

  // Six client threads per kind (24 in all, each identity allowed 4 in
  // flight and 4 waiting) call in a loop for 3 s: every call ends with
  // DEADLINE_EXCEEDED (the server holds it: the database does not answer)
  // or RESOURCE_EXHAUSTED (the identity's slots are all taken, answered at
  // once), and within its deadline and 1 s.
  CallLog log;
  std::atomic<int> counter{0};
  std::vector<std::thread> clients;
  for (const std::string& kind : kKinds) {
    for (int t = 0; t < 6; ++t) {
      clients.emplace_back([&, kind] {
        while (absl::Now() < t_stop + calls_for) {
          absl::Time start = absl::Now();
          Code code = CallOnce(kind, arrival_id, counter++);
          log.Add({kind, start, absl::Now(), kDeadline, code});
        }
      });
    }
  }
  for (std::thread& t : clients) t.join();
  std::vector<Call> paused = log.All();
  std::cout << "[calls] paused: " << Summary(paused) << std::endl;
  std::multiset<std::string> late;
  std::set<Code> codes;
  for (const Call& c : paused) {
    codes.insert(c.code);
    if (c.end - c.start > kDeadline + absl::Seconds(1)) {
      late.insert(absl::StrCat(c.kind, " took ", absl::FormatDuration(c.end - c.start)));
    }
  }
  EXPECT_THAT(late, ::testing::IsEmpty());
  EXPECT_THAT(codes, IsSubsetOf({Code::DEADLINE_EXCEEDED, Code::RESOURCE_EXHAUSTED}))
      << Summary(paused);
  EXPECT_THAT(codes, ::testing::Contains(Code::DEADLINE_EXCEEDED));

  // Continue: every kind of call is served again within a few seconds.
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  paused_pid_ = 0;
  absl::Time t_cont = absl::Now();
  std::map<std::string, absl::Duration> recovery;
  for (const std::string& kind : kKinds) {
    Code code;
    do {
      code = CallOnce(kind, arrival_id, counter++);
    } while (code != Code::OK && absl::Now() < t_cont + absl::Seconds(30));
    ASSERT_EQ(code, Code::OK) << kind;
    recovery[kind] = absl::Now() - t_cont;
  }
  std::string figures = absl::StrCat("paused ", absl::FormatDuration(t_cont - t_stop));
  for (const auto& [kind, d] : recovery) {
    absl::StrAppend(&figures, "; ", kind, " OK after ", absl::FormatDuration(d));
    EXPECT_LT(d, absl::Seconds(5)) << kind;
  }

  // No thread stays stuck: every work-pool thread, database connection and
  // call slot is free again: as many calls at once as the limits admit all
  // succeed.
  std::vector<std::thread> burst;
  std::vector<Call> burst_calls;
  CallLog burst_log;
  for (const std::string& kind : kKinds) {
    for (int t = 0; t < 4; ++t) {
      burst.emplace_back([&, kind] {
        absl::Time start = absl::Now();
        Code code = CallOnce(kind, arrival_id, counter++);
        burst_log.Add({kind, start, absl::Now(), kDeadline, code});
      });
    }
  }
  for (std::thread& t : burst) t.join();
  EXPECT_THAT(Names(burst_log.All()), Each(::testing::EndsWith(":OK"))) << Summary(burst_log.All());

  // What the server made of the calls made during the pause, from its audit
  // log (every call is audited, its answer waiting for the commit).
  *audited = AuditCodesBetween(t_stop, t_cont);
  std::string audited_text;
  for (const auto& [code, n] : *audited) {
    absl::StrAppend(&audited_text, CodeName(static_cast<Code>(code)), "=", n, " ");
  }
  std::cout << "[audit] during the pause: " << audited_text << std::endl;

  // And the server shuts down promptly: nothing holds it (a thread blocked
  // in the database would hold the work pool's join).
  absl::Time shutdown_start = absl::Now();
  server_.reset();
  absl::Duration shutdown = absl::Now() - shutdown_start;
  absl::StrAppend(&figures, "; shutdown ", absl::FormatDuration(shutdown));
  std::cout << "[figures] " << figures << std::endl;
  EXPECT_LT(shutdown, absl::Seconds(10));
}

// ---------------------------------------------------------------------------
// Connections the database closed while they sat idle in the pool (a
// restart, wait_timeout, a KILL) are noticed when leased, never handed to a
// call: once the database is back, no call fails for it.

// The pool on its own, without the server's pollers that would stumble on
// the dead connections first: four connections open, mariadbd killed and
// restarted, then every call is served.
TEST_F(DatabaseFaultTest, PoolNeverLeasesAConnectionThatDiedWhileIdle) {
  absl::StatusOr<db::Dsn> dsn = db::ParseDsn(dsn_);
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  static constexpr int kConnections = 4;
  // Every idle connection is checked, however short its rest (the default
  // checks those idle for 1 s or more; the restart takes about 2 s).
  db::MysqlPool pool(*dsn, db::PoolOptions{.max_connections = kConnections,
                                           .validate_after_idle = absl::ZeroDuration()});
  // Four connections open at once (each body waits for the others), then idle.
  absl::Mutex mu;
  int inside = 0;
  std::vector<absl::Status> opened(kConnections);
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) {
    threads.emplace_back([&, i] {
      opened[i] = pool.Run([&](db::MysqlConnection& c) {
        c.Execute("DO 1");
        absl::MutexLock lock(&mu);
        ++inside;
        mu.Await(absl::Condition(
            +[](int* n) { return *n >= kConnections; }, &inside));
        return absl::OkStatus();
      });
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : opened) ASSERT_TRUE(s.ok()) << s;

  pid_t pid = MariaDbPid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  absl::Time gone_by = absl::Now() + absl::Seconds(10);
  while (!ProcessGone(pid) && absl::Now() < gone_by) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(ProcessGone(pid));
  ASSERT_EQ(RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_start ", dir_, " ", port_)),
            0);

  for (int i = 0; i <= kConnections; ++i) {
    absl::Status status = pool.Run([](db::MysqlConnection& c) {
      c.Execute("DO 1");
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << "call " << i << ": " << status;
  }
}

TEST_F(DatabasePauseTest, CallsEndWithinTheirDeadlineAndTheServerServesAgainOnContinue) {
  std::map<int, int64_t> audited;
  PauseAndContinue(absl::Seconds(3), &audited);
  EXPECT_GT(audited[static_cast<int>(Code::RESOURCE_EXHAUSTED)], 0);
  EXPECT_GT(audited[static_cast<int>(Code::CANCELLED)], 0);
}

// A pause past the pool's read timeout (io_timeout, 30 s): the queries
// blocked in it fail and their connections are dropped, new connections
// time out in the handshake, the revocation state goes stale and calls are
// refused (UNAVAILABLE: fail closed, audited once the database is back);
// the clients still see only their deadline pass, and on SIGCONT the pool
// reconnects and the server serves again.
TEST_F(DatabasePauseTest, PausedPastTheReadTimeoutCallsStillEndInTimeAndTheServerRecovers) {
  std::map<int, int64_t> audited;
  PauseAndContinue(absl::Seconds(33), &audited);
  EXPECT_GT(audited[static_cast<int>(Code::UNAVAILABLE)], 0);
}

}  // namespace
}  // namespace enlace
