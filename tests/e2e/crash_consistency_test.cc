// Crash consistency of arrival ingest: the real enlace-server binary is
// killed while the ministry streams arrivals, either by the test (SIGKILL at
// a random moment) or by itself at a forced crash point (the test-only
// ENLACE_TESTING_CRASH_POINT of db/crash_points.h: mid_batch,
// after_commit_before_answer, mid_answers, at a random Nth pass), then
// started again, cycle after cycle (ENLACE_CRASH_CYCLES, 20 by default;
// scripts/crash.sh asks for 500). Like a real client, each cycle first resends
// every record sent but not acknowledged (same external_id, same content),
// and a few acknowledged ones; a last cycle without a crash resends until
// everything is acknowledged. Then, in the database: every acknowledged
// record is stored exactly once under the arrival_id it was acknowledged
// with, nothing never sent is stored, every stored record has its consent
// row and its audit event, the batch events' creations add up to the rows
// (none committed apart from its event), and the audit chain verifies. A resent record is
// answered CREATED (its first commit) or ALREADY_RECORDED with the arrival_id
// it was acknowledged with, never CREATED twice.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "db/crash_points.h"
#include "db/mysql_audit_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/server_process.h"

namespace enlace {
namespace {

using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::ServerProcess;
using v1::Arrival;

int EnvInt(const char* name, int fallback) {
  int value = fallback;
  const char* text = std::getenv(name);
  if (text != nullptr && !absl::SimpleAtoi(text, &value)) value = fallback;
  return value;
}

// How a cycle's server dies: killed by the test, or at a forced point.
const std::vector<std::string>& Modes() {
  static const std::vector<std::string> modes = {"random_sigkill", "after_commit_before_answer",
                                                 "mid_batch", "mid_answers"};
  return modes;
}

// Records one stream may have unanswered: keeps batches many and small, so
// a cycle's crash point (at most its 15th pass) is reached within its new
// records; and new records per cycle, so 500 cycles stay a modest table.
constexpr int kMaxUnanswered = 64;
constexpr int kFreshPerCycle = 1500;

// What the client knows, across every cycle.
struct Ledger {
  absl::Mutex mu;
  std::map<std::string, Arrival> sent ABSL_GUARDED_BY(mu);  // external_id -> content
  std::map<std::string, std::string> acked ABSL_GUARDED_BY(mu);  // external_id -> arrival_id
  std::vector<std::string> violations ABSL_GUARDED_BY(mu);  // wrong answers
  int next_external ABSL_GUARDED_BY(mu) = 0;
  int64_t sends ABSL_GUARDED_BY(mu) = 0;  // every write, first or resent
  int64_t resent ABSL_GUARDED_BY(mu) = 0;  // writes of a record not yet acknowledged
  int64_t reasked ABSL_GUARDED_BY(mu) = 0;  // writes of an acknowledged record
  int64_t lost_answers ABSL_GUARDED_BY(mu) = 0;  // ALREADY_RECORDED for one never acknowledged
  int64_t retryable ABSL_GUARDED_BY(mu) = 0;  // REJECTED with a retryable code
};

// One RecordArrivals stream to `port`: writes `resend` first, then (if
// `fresh`) new records until `stop`, or the stream breaks; reads and checks
// every answer into the ledger. Returns once the stream ended.
class StreamRun {
 public:
  StreamRun(std::shared_ptr<grpc::Channel> channel, Ledger* ledger, std::vector<std::string> resend,
            bool fresh)
      : stub_(v1::ArrivalService::NewStub(std::move(channel))), ledger_(ledger) {
    stream_ = stub_->RecordArrivals(&ctx_);
    reader_ = std::thread([this] { Read(); });
    writer_ = std::thread([this, resend = std::move(resend), fresh] { Write(resend, fresh); });
  }
  // Ends the stream (the server is gone, or everything was answered).
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    writer_.join();
    ctx_.TryCancel();
    reader_.join();
    stream_->Finish().IgnoreError();
  }
  // Waits until every record written is answered and the writer is done (a
  // stream with no fresh records), at most `timeout`.
  bool WaitAllAnswered(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](StreamRun* run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run->mu_) {
                                      return run->writes_done_ && run->answered_ == run->written_;
                                    },
                                    this),
                                timeout);
  }

 private:
  void Write(const std::vector<std::string>& resend, bool fresh) {
    size_t next = 0;
    int fresh_left = fresh ? kFreshPerCycle : 0;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](StreamRun* run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run->mu_) {
              return run->stop_ || run->broken_ || run->written_ - run->answered_ < kMaxUnanswered;
            },
            this));
        if (stop_ || broken_) break;
      }
      v1::RecordArrivalsRequest request;
      {
        absl::MutexLock lock(&ledger_->mu);
        if (next < resend.size()) {
          const std::string& id = resend[next++];
          *request.mutable_arrival() = ledger_->sent.at(id);
          if (ledger_->acked.count(id)) {
            ++ledger_->reasked;
          } else {
            ++ledger_->resent;
          }
        } else if (fresh_left-- > 0) {
          std::string id = absl::StrCat("cc-", ledger_->next_external++);
          Arrival arrival = MakeArrival(id);
          ledger_->sent[id] = arrival;
          *request.mutable_arrival() = std::move(arrival);
        } else {
          break;
        }
        ++ledger_->sends;
      }
      {
        absl::MutexLock lock(&mu_);
        ++written_;
      }
      if (!stream_->Write(request)) {
        absl::MutexLock lock(&mu_);
        broken_ = true;
        break;
      }
    }
    absl::MutexLock lock(&mu_);
    writes_done_ = true;
  }

  void Read() {
    v1::RecordArrivalsResponse response;
    while (stream_->Read(&response)) {
      Check(response);
      absl::MutexLock lock(&mu_);
      ++answered_;
    }
    absl::MutexLock lock(&mu_);
    broken_ = true;
  }

  void Check(const v1::RecordArrivalsResponse& response) {
    absl::MutexLock lock(&ledger_->mu);
    const std::string& id = response.external_id();
    auto acked = ledger_->acked.find(id);
    switch (response.outcome()) {
      case v1::OUTCOME_CREATED:
        if (acked != ledger_->acked.end()) {
          ledger_->violations.push_back(absl::StrCat(id, " CREATED again: ", response.arrival_id(),
                                                     " after ", acked->second));
        } else {
          ledger_->acked[id] = response.arrival_id();
        }
        break;
      case v1::OUTCOME_ALREADY_RECORDED:
        if (acked == ledger_->acked.end()) {
          ++ledger_->lost_answers;  // committed before a crash, its answer lost
          ledger_->acked[id] = response.arrival_id();
        } else if (acked->second != response.arrival_id()) {
          ledger_->violations.push_back(absl::StrCat(id, " ALREADY_RECORDED as ",
                                                     response.arrival_id(), ", acknowledged as ",
                                                     acked->second));
        }
        break;
      default:
        // A failed batch (its database connection lost) or a full queue is
        // retryable; anything else means the resend was not taken as the
        // same record.
        if (response.error().code() == grpc::StatusCode::UNAVAILABLE ||
            response.error().code() == grpc::StatusCode::ABORTED ||
            response.error().code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++ledger_->retryable;
        } else {
          ledger_->violations.push_back(absl::StrCat(id, " REJECTED: ", response.error().code(),
                                                     " ", response.error().message()));
        }
    }
  }

  std::unique_ptr<v1::ArrivalService::Stub> stub_;
  Ledger* const ledger_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RecordArrivalsRequest, v1::RecordArrivalsResponse>>
      stream_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
  int64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t answered_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread reader_;
  std::thread writer_;
};

// Every record sent and not acknowledged, then up to `reask` acknowledged ones.
std::vector<std::string> ToResend(Ledger& ledger, int reask, std::mt19937& random) {
  absl::MutexLock lock(&ledger.mu);
  std::vector<std::string> unacked, acked;
  for (const auto& [id, arrival] : ledger.sent) {
    (ledger.acked.count(id) ? acked : unacked).push_back(id);
  }
  std::shuffle(acked.begin(), acked.end(), random);
  acked.resize(std::min<size_t>(acked.size(), reask));
  unacked.insert(unacked.end(), acked.begin(), acked.end());
  return unacked;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

using CrashConsistencyTest = ServerFixture;

TEST_F(CrashConsistencyTest, AcknowledgedOnceNothingUnsentChainIntactAcrossForcedCrashes) {
  const int cycles = EnvInt("ENLACE_CRASH_CYCLES", 20);
  const int seed =
      EnvInt("ENLACE_CRASH_SEED", static_cast<int>(std::random_device()() & 0x7fffffff));
  std::cerr << "crash consistency: seed " << seed << " (ENLACE_CRASH_SEED to repeat)\n";
  std::mt19937 random(seed);
  Ledger ledger;
  std::map<std::string, int> kills;  // mode -> cycles that ended so
  int unreached = 0;  // forced points not reached (then killed)
  const absl::Time started = absl::Now();

  for (int cycle = 0; cycle < cycles; ++cycle) {
    const std::string& mode = Modes()[cycle % Modes().size()];
    const bool forced = mode != "random_sigkill";
    ServerProcess::Options options{database_->server_dsn_string(),
                                   pki_.ca_cert_path(),
                                   pki_.server_cert_path(),
                                   pki_.server_key_path(),
                                   policy_path_,
                                   token_keys_path_,
                                   absl::StrCat("consistency-", cycle)};
    if (forced) {
      options.environment.push_back(
          absl::StrCat(db::kCrashPointVariable, "=", mode, ":", 1 + random() % 15));
    }
    ServerProcess server(pki_.dir(), options);
    ASSERT_GT(server.port(), 0) << "the server did not start (cycle " << cycle << "); see "
                                << server.log_path();
    StreamRun run(ChannelTo(server.port(), mfa_cert_), &ledger, ToResend(ledger, 10, random),
                  /*fresh=*/true);
    if (forced) {
      if (server.WaitForExit(absl::Seconds(20))) {
        EXPECT_EQ(server.terminated_by(), SIGKILL) << "cycle " << cycle;
        EXPECT_THAT(ReadFile(server.log_path()),
                    ::testing::HasSubstr(absl::StrCat("crash point ", mode, " reached")))
            << "cycle " << cycle;
        ++kills[mode];
      } else {
        ++unreached;
        server.Kill();
      }
    } else {
      absl::SleepFor(absl::Milliseconds(100 + random() % 500));
      server.Kill();
      ++kills[mode];
    }
    run.Stop();
  }

  // The last start, no crash: resend until everything is acknowledged.
  {
    ServerProcess::Options options{database_->server_dsn_string(),
                                   pki_.ca_cert_path(),
                                   pki_.server_cert_path(),
                                   pki_.server_key_path(),
                                   policy_path_,
                                   token_keys_path_,
                                   "consistency-final"};
    ServerProcess server(pki_.dir(), options);
    ASSERT_GT(server.port(), 0) << "see " << server.log_path();
    for (int round = 0; round < 5; ++round) {
      StreamRun run(ChannelTo(server.port(), mfa_cert_), &ledger, ToResend(ledger, 50, random),
                    /*fresh=*/false);
      EXPECT_TRUE(run.WaitAllAnswered(absl::Seconds(120))) << "round " << round;
      run.Stop();
      absl::MutexLock lock(&ledger.mu);
      if (ledger.acked.size() == ledger.sent.size()) break;
    }
  }

  absl::MutexLock lock(&ledger.mu);
  for (const std::string& violation : ledger.violations) ADD_FAILURE() << violation;
  EXPECT_EQ(ledger.acked.size(), ledger.sent.size()) << "records never acknowledged";
  EXPECT_GT(ledger.lost_answers + ledger.resent, 0) << "no crash left anything to resend";

  // What the database holds.
  std::map<std::string, std::vector<std::string>> stored;  // external_id -> arrival_ids
  absl::Status read = database_->pool().Run([&](db::MysqlConnection& c) {
    std::unique_ptr<sql::ResultSet> rows(
        c.Prepare("SELECT external_id, arrival_id FROM arrivals")->executeQuery());
    while (rows->next()) stored[rows->getString(1)].push_back(rows->getString(2));
    return absl::OkStatus();
  });
  ASSERT_TRUE(read.ok()) << read;
  int64_t duplicates = 0, strays = 0, checked = 0;
  for (const auto& [id, arrival_ids] : stored) {
    if (arrival_ids.size() > 1) {
      ++duplicates;
      ADD_FAILURE() << id << " stored " << arrival_ids.size() << " times";
    }
    if (!ledger.sent.count(id)) {
      ++strays;
      ADD_FAILURE() << id << " stored but never sent";
    }
  }
  for (const auto& [id, arrival_id] : ledger.acked) {
    auto it = stored.find(id);
    if (it == stored.end()) {
      ADD_FAILURE() << id << " acknowledged as " << arrival_id << " but not stored";
      continue;
    }
    EXPECT_EQ(it->second.front(), arrival_id) << id;
    ++checked;
  }
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(strays, 0);
  // A batch is all or nothing: each arrival has its one consent row.
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrival_consent_agencies"),
            database_->QueryInt("SELECT COUNT(*) FROM arrivals"));
  // Every stored arrival is named by an audit event of the ministry's ingest.
  // And each was created in the same transaction as the batch event that
  // counts it (detail "batch: created=N ..."): the events' creations add up
  // to the rows, so no row was committed apart from its event (a resend's
  // event names it too, but as already_recorded).
  std::set<std::string> audited;
  int64_t audited_creations = 0;
  absl::Status events = database_->pool().Run([&](db::MysqlConnection& c) {
    sql::PreparedStatement* select =
        c.Prepare("SELECT record_ids, detail FROM audit_events WHERE principal = ? AND method = ?");
    select->setString(1, "spiffe://enlace/agency/mfa");
    select->setString(2, "/enlace.v1.ArrivalService/RecordArrivals");
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      for (absl::string_view id :
           absl::StrSplit(std::string(rows->getString(1)), ' ', absl::SkipEmpty())) {
        audited.insert(std::string(id));
      }
      std::string detail = rows->getString(2);
      constexpr absl::string_view kBatch = "batch: created=";
      if (absl::StartsWith(detail, kBatch)) {
        int64_t created = 0;
        std::string count(absl::string_view(detail).substr(kBatch.size()));
        count.resize(count.find(' '));
        EXPECT_TRUE(absl::SimpleAtoi(count, &created)) << detail;
        audited_creations += created;
      }
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(events.ok()) << events;
  int64_t unaudited = 0;
  for (const auto& [id, arrival_ids] : stored) {
    for (const std::string& arrival_id : arrival_ids) unaudited += audited.count(arrival_id) == 0;
  }
  EXPECT_EQ(unaudited, 0) << "stored arrivals without their audit event";
  EXPECT_EQ(audited_creations, static_cast<int64_t>(stored.size()))
      << "creations counted by batch events vs arrivals stored";
  // And the chain is whole.
  db::MysqlAuditStore audit(&database_->pool());
  absl::StatusOr<db::ChainReport> report = audit.Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->intact) << "first broken sequence " << report->first_broken_sequence;
  EXPECT_GT(report->checked, 0);

  // Each forced point was reached (the cycles rotate through them).
  if (cycles >= static_cast<int>(Modes().size())) {
    for (const std::string& mode : Modes()) EXPECT_GT(kills[mode], 0) << mode;
  }
  EXPECT_EQ(unreached, 0) << "forced crash points not reached within 20 s";

  std::cerr << "crash consistency: cycles=" << cycles;
  for (const std::string& mode : Modes()) std::cerr << " kills_" << mode << "=" << kills[mode];
  std::cerr << " unreached=" << unreached << " sent=" << ledger.sent.size()
            << " writes=" << ledger.sends << " acknowledged=" << ledger.acked.size()
            << " resent=" << ledger.resent << " lost_answers_recovered=" << ledger.lost_answers
            << " reasked=" << ledger.reasked << " retryable_rejections=" << ledger.retryable
            << " checked=" << checked << " duplicates=" << duplicates << " strays=" << strays
            << " unaudited=" << unaudited << " audited_creations=" << audited_creations
            << " chain=" << (report->intact ? "OK" : "BROKEN")
            << " chain_events=" << report->checked << " violations=" << ledger.violations.size()
            << " seconds=" << absl::ToInt64Seconds(absl::Now() - started) << "\n";
}

}  // namespace
}  // namespace enlace
