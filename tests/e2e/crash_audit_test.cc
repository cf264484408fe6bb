// Crashes and the audit trail: the real enlace-server binary is killed with
// SIGKILL at random moments while the ministry streams arrivals, iom makes
// referrals and undp watches them, then started again, many times
// (ENLACE_CRASH_CYCLES, 20 by default; scripts can ask for more). Afterwards
// every committed arrival and referral is named in an audit event of the
// call that made it, every feed event undp received is named in an audit
// event of its watch, every acknowledged arrival is stored exactly once,
// and the hash chain verifies.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "db/mysql_audit_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/server_process.h"
#include "tests/testing/watcher.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::ServerProcess;
using ::enlace::testing::Watcher;

int Cycles() {
  int cycles = 20;
  const char* text = std::getenv("ENLACE_CRASH_CYCLES");
  if (text != nullptr && !absl::SimpleAtoi(text, &cycles)) cycles = 20;
  return cycles;
}

// The record ids of the audit events of `principal` for `method`.
std::set<std::string> AuditedIds(testing::TestDatabase& database, const std::string& principal,
                                 const std::string& method) {
  std::set<std::string> ids;
  absl::Status status = database.pool().Run([&](db::MysqlConnection& c) {
    // From the events themselves (the chain covers them), not the index.
    sql::PreparedStatement* select =
        c.Prepare("SELECT record_ids FROM audit_events WHERE principal = ? AND method = ?");
    select->setString(1, principal);
    select->setString(2, method);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      for (absl::string_view id :
           absl::StrSplit(std::string(rows->getString(1)), ' ', absl::SkipEmpty())) {
        ids.insert(std::string(id));
      }
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
  return ids;
}

std::set<std::string> Column(testing::TestDatabase& database, const std::string& sql) {
  std::set<std::string> values;
  absl::Status status = database.pool().Run([&](db::MysqlConnection& c) {
    std::unique_ptr<sql::ResultSet> rows(c.Prepare(sql)->executeQuery());
    while (rows->next()) values.insert(rows->getString(1));
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
  return values;
}

using CrashTest = ServerFixture;

TEST_F(CrashTest, EveryCommittedChangeAndDeliveredEventIsAuditedAcrossCrashes) {
  // Cases to refer, made through the in-process server.
  std::vector<std::string> cases;
  for (int i = 0; i < 3; ++i) {
    cases.push_back(OpenIomCase(absl::StrCat("crash-case-", i), {"iom", "undp"}).case_.case_id());
  }
  ServerProcess::Options options{database_->server_dsn_string(),
                                 pki_.ca_cert_path(),
                                 pki_.server_cert_path(),
                                 pki_.server_key_path(),
                                 policy_path_,
                                 token_keys_path_,
                                 "crashing"};
  std::mt19937 random(20261130);
  std::mutex mu;
  std::map<std::string, std::string> acked;  // external_id -> arrival_id
  std::set<std::string> delivered;  // referral ids undp received
  std::string watch_token;  // undp resumes where it was
  int next_external = 0;
  const int cycles = Cycles();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    ServerProcess server(pki_.dir(), options);
    ASSERT_GT(server.port(), 0) << "the server did not start (cycle " << cycle << "); see "
                                << server.log_path();
    std::atomic<bool> stop{false};
    // The ministry streams arrivals and notes what is acknowledged.
    std::thread ingest([&] {
      auto stub = v1::ArrivalService::NewStub(ChannelTo(server.port(), mfa_cert_));
      grpc::ClientContext ctx;
      auto stream = stub->RecordArrivals(&ctx);
      std::thread reader([&] {
        v1::RecordArrivalsResponse response;
        while (stream->Read(&response)) {
          if (response.outcome() != v1::OUTCOME_CREATED) continue;
          std::lock_guard<std::mutex> lock(mu);
          acked[response.external_id()] = response.arrival_id();
        }
      });
      while (!stop) {
        v1::RecordArrivalsRequest request;
        {
          std::lock_guard<std::mutex> lock(mu);
          *request.mutable_arrival() = MakeArrival(absl::StrCat("crash-", next_external++));
        }
        if (!stream->Write(request)) break;
      }
      ctx.TryCancel();
      reader.join();
      stream->Finish().IgnoreError();
    });
    // iom refers, one referral after another.
    std::thread changer([&] {
      auto stub = v1::ReferralService::NewStub(ChannelTo(server.port(), iom_cert_));
      for (int i = 0; !stop; ++i) {
        v1::CreateReferralRequest request;
        request.set_case_id(cases[i % cases.size()]);
        request.set_to_agency("undp");
        request.set_service(v1::NEED_TRAINING);
        request.set_reason("course");
        v1::Referral referral;
        if (!stub->CreateReferral(Context().get(), request, &referral).ok()) {
          absl::SleepFor(absl::Milliseconds(10));
        }
      }
    });
    // undp watches, from where it was.
    std::string token;
    {
      std::lock_guard<std::mutex> lock(mu);
      token = watch_token;
    }
    auto watcher = std::make_unique<Watcher>(
        v1::ReferralService::NewStub(ChannelTo(server.port(), undp_cert_)), token);

    absl::SleepFor(absl::Milliseconds(150 + random() % 450));
    server.Kill();
    stop = true;
    ingest.join();
    changer.join();
    watcher->Stop();
    std::lock_guard<std::mutex> lock(mu);
    for (const v1::ReferralEvent& event : watcher->Events()) {
      delivered.insert(event.referral().referral_id());
      watch_token = event.resume_token();
    }
    if (watch_token.empty()) watch_token = watcher->start_token();
  }
  std::cerr << "crash test: " << cycles << " kills; " << acked.size() << " arrivals acknowledged; "
            << delivered.size() << " referral events delivered\n";
  EXPECT_GT(acked.size(), 0u);
  EXPECT_GT(delivered.size(), 0u);

  // Every acknowledged arrival is stored, once.
  std::set<std::string> stored =
      Column(*database_,
             "SELECT external_id FROM arrivals WHERE external_id LIKE 'crash-%' "
             "AND external_id NOT LIKE 'crash-case-%'");
  for (const auto& [external_id, arrival_id] : acked) {
    EXPECT_TRUE(stored.count(external_id)) << external_id << " acknowledged but not stored";
  }
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"),
            database_->QueryInt("SELECT COUNT(DISTINCT external_id) FROM arrivals"));
  // Every stored arrival and referral is in an event of the call that made it.
  std::set<std::string> arrival_ids = Column(
      *database_, "SELECT arrival_id FROM arrivals WHERE external_id NOT LIKE 'crash-case-%'");
  std::set<std::string> ingest_audited = AuditedIds(*database_, "spiffe://enlace/agency/mfa",
                                                    "/enlace.v1.ArrivalService/RecordArrivals");
  for (const std::string& id : arrival_ids) {
    EXPECT_TRUE(ingest_audited.count(id)) << "arrival " << id << " stored without its event";
  }
  std::set<std::string> referral_ids = Column(*database_, "SELECT referral_id FROM referrals");
  std::set<std::string> referral_audited = AuditedIds(*database_, "spiffe://enlace/agency/iom",
                                                      "/enlace.v1.ReferralService/CreateReferral");
  for (const std::string& id : referral_ids) {
    EXPECT_TRUE(referral_audited.count(id)) << "referral " << id << " stored without its event";
  }
  // Every event undp received is in an event of its watch.
  std::set<std::string> watch_audited = AuditedIds(*database_, "spiffe://enlace/agency/undp",
                                                   "/enlace.v1.ReferralService/WatchReferrals");
  for (const std::string& id : delivered) {
    EXPECT_TRUE(watch_audited.count(id)) << "referral event " << id << " delivered unaudited";
  }
  // And the chain is whole.
  db::MysqlAuditStore audit(&database_->pool());
  absl::StatusOr<db::ChainReport> report = audit.Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->intact) << "first broken sequence " << report->first_broken_sequence;
  EXPECT_GT(report->checked, 0);
}

}  // namespace
}  // namespace enlace
