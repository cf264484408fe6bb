// Unit tests of server/ingest_batcher.h over the in-memory ArrivalStore
// (tests/testing/fakes/fake_arrival_store.h), whose batches the test holds
// and releases: sharding (one key, one writer, in order), the first version
// of a record wins, group commit, a full queue refuses, a failed batch gives
// every record its error, and a record is answered only once committed.
// No test sleeps: each waits on the fake's batches or on the answers.
//
// The stream's back-pressure above the batcher (RecordArrivals stops reading
// at its in-flight limit, server/arrival_service.cc) is tested end to end:
// trust_e2e_test, AnIngestClientThatNeverReadsStopsBeingRead.
#include "server/ingest_batcher.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fakes/fake_arrival_store.h"
#include "tests/testing/fakes/fake_audit_store.h"
#include "tests/testing/status_matchers.h"

namespace enlace::server {
namespace {

using ::enlace::testing::FakeArrivalStore;
using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::SizeIs;

enlace::v1::Arrival MakeArrival(const std::string& external_id,
                                const std::string& municipality = "Guazapa") {
  enlace::v1::Arrival a;
  a.set_external_id(external_id);
  a.set_arrival_date("2018-01-15");
  a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  a.set_origin_country("US");
  a.mutable_person()->set_given_name("Ana");
  a.mutable_person()->set_family_name("López");
  a.mutable_person()->set_birth_date("1990-03-02");
  a.mutable_destination()->set_department_code("SV-SS");
  a.mutable_destination()->set_municipality(municipality);
  a.mutable_consent()->add_agencies("iom");
  a.mutable_consent()->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  return a;
}

// The answers the batcher gives, by submission number.
class Answers {
 public:
  IngestBatcher::Done For(int n) {
    return [this, n](db::RecordResult result) {
      absl::MutexLock lock(&mu_);
      ++calls_[n];
      results_[n] = std::move(result);
    };
  }
  // Waits until `n` distinct submissions have been answered.
  void AwaitAnswered(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return results_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
  }
  std::map<int, db::RecordResult> results() {
    absl::MutexLock lock(&mu_);
    return results_;
  }
  std::map<int, int> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::map<int, db::RecordResult> results_ ABSL_GUARDED_BY(mu_);
  std::map<int, int> calls_ ABSL_GUARDED_BY(mu_);
};

db::NewArrival New(const enlace::v1::Arrival& arrival, const std::string& submitter = "mfa") {
  return db::NewArrival{arrival, submitter};
}

// Every record with one key goes through one writer, in the order submitted;
// the keys are spread over the writers.
TEST(IngestBatcherTest, OneKeyGoesThroughOneWriterInSubmissionOrder) {
  FakeArrivalStore store;
  Answers answers;
  constexpr int kKeys = 64;
  constexpr int kRounds = 5;
  {
    IngestBatcher batcher(&store, IngestOptions{.writers = 4, .max_batch = 8, .max_queue = 10000});
    int n = 0;
    for (int round = 0; round < kRounds; ++round) {
      for (int k = 0; k < kKeys; ++k) {
        // Two submitters with the same external ids: different keys.
        const std::string submitter = k % 2 == 0 ? "mfa" : "iom";
        ASSERT_TRUE(batcher.Submit(New(MakeArrival(absl::StrCat("e-", k / 2)), submitter),
                                   answers.For(n++)));
      }
    }
    answers.AwaitAnswered(kKeys * kRounds);
  }
  std::map<std::pair<std::string, std::string>, std::thread::id> writer_of;
  std::map<std::pair<std::string, std::string>, int> seen;
  std::set<std::thread::id> writers;
  for (const FakeArrivalStore::BatchLog& batch : store.batches()) {
    EXPECT_LE(batch.keys.size(), 8u);
    writers.insert(batch.thread);
    for (const auto& key : batch.keys) {
      auto [it, fresh] = writer_of.try_emplace(key, batch.thread);
      EXPECT_EQ(it->second, batch.thread) << key.first << "/" << key.second << " changed writer";
      ++seen[key];
    }
  }
  EXPECT_THAT(seen, SizeIs(kKeys));
  for (const auto& [key, count] : seen) EXPECT_EQ(count, kRounds) << key.second;
  EXPECT_GT(writers.size(), 1u);  // 64 keys over 4 shards: more than one is used
  EXPECT_LE(writers.size(), 4u);
  // The first submission of each key created it; the resends found it.
  std::map<int, db::RecordResult> results = answers.results();
  for (int n = 0; n < kKeys * kRounds; ++n) {
    EXPECT_EQ(results[n].outcome,
              n < kKeys ? enlace::v1::OUTCOME_CREATED : enlace::v1::OUTCOME_ALREADY_RECORDED)
        << n;
    EXPECT_EQ(results[n].arrival_id, results[n % kKeys].arrival_id) << n;
  }
  EXPECT_EQ(store.size(), static_cast<size_t>(kKeys));
}

// A stream that sends two versions of one record: the first sent is stored,
// whether the two meet in one batch or in two.
TEST(IngestBatcherTest, TheFirstVersionSentWins) {
  FakeArrivalStore store;
  Answers answers;
  {
    IngestBatcher batcher(&store, IngestOptions{.writers = 2, .max_batch = 500, .max_queue = 1000});
    store.HoldBatches();
    ASSERT_TRUE(batcher.Submit(New(MakeArrival("first")), answers.For(0)));
    store.AwaitBatches(1);  // a writer is busy: what follows queues up
    int n = 1;
    for (int k = 0; k < 20; ++k) {
      ASSERT_TRUE(
          batcher.Submit(New(MakeArrival(absl::StrCat("v-", k), "Guazapa")), answers.For(n++)));
      ASSERT_TRUE(
          batcher.Submit(New(MakeArrival(absl::StrCat("v-", k), "Mejicanos")), answers.For(n++)));
    }
    store.ReleaseBatches();
    answers.AwaitAnswered(41);
  }
  std::map<int, db::RecordResult> results = answers.results();
  for (int k = 0; k < 20; ++k) {
    const db::RecordResult& first = results[1 + 2 * k];
    const db::RecordResult& second = results[2 + 2 * k];
    EXPECT_EQ(first.outcome, enlace::v1::OUTCOME_CREATED) << k;
    EXPECT_EQ(second.outcome, enlace::v1::OUTCOME_REJECTED) << k;
    EXPECT_THAT(second.status, StatusIs(absl::StatusCode::kAlreadyExists)) << k;
    absl::StatusOr<enlace::v1::Arrival> stored = store.Get(first.arrival_id, db::Viewer{"mfa"});
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->destination().municipality(), "Guazapa") << k;
  }
}

// Group commit: what queued while a batch was committing goes in the next
// batches, max_batch at a time, in order.
TEST(IngestBatcherTest, WhatQueuesDuringACommitGoesInTheNextBatches) {
  FakeArrivalStore store;
  Answers answers;
  {
    IngestBatcher batcher(&store, IngestOptions{.writers = 1, .max_batch = 4, .max_queue = 1000});
    store.HoldBatches();
    ASSERT_TRUE(batcher.Submit(New(MakeArrival("r-0")), answers.For(0)));
    store.AwaitBatches(1);
    for (int i = 1; i <= 10; ++i) {
      ASSERT_TRUE(batcher.Submit(New(MakeArrival(absl::StrCat("r-", i))), answers.For(i)));
    }
    store.ReleaseBatches();
    answers.AwaitAnswered(11);
  }
  std::vector<size_t> sizes;
  std::vector<std::string> order;
  for (const FakeArrivalStore::BatchLog& batch : store.batches()) {
    sizes.push_back(batch.keys.size());
    for (const auto& key : batch.keys) order.push_back(key.second);
  }
  EXPECT_THAT(sizes, ElementsAre(1, 4, 4, 2));
  EXPECT_THAT(order, ElementsAre("r-0", "r-1", "r-2", "r-3", "r-4", "r-5", "r-6", "r-7", "r-8",
                                 "r-9", "r-10"));
}

// A record is answered only once its batch committed: while the store holds
// the batch, no answer; the answer, once given, names a stored arrival.
TEST(IngestBatcherTest, ARecordIsAnsweredOnlyAfterItsBatchCommitted) {
  FakeArrivalStore store;
  absl::Mutex mu;
  bool answered = false;
  bool stored_when_answered = false;
  {
    IngestBatcher batcher(&store, IngestOptions{.writers = 1});
    store.HoldBatches();
    ASSERT_TRUE(batcher.Submit(New(MakeArrival("c-0")), [&](db::RecordResult result) {
      bool stored = store.Get(result.arrival_id, db::Viewer{"mfa"}).ok();
      absl::MutexLock lock(&mu);
      answered = true;
      stored_when_answered = stored;
    }));
    store.AwaitBatches(1);  // in the store's hands, not returned
    {
      absl::MutexLock lock(&mu);
      EXPECT_FALSE(answered);
    }
    store.ReleaseOneBatch();
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&answered));
  }
  EXPECT_TRUE(stored_when_answered);
}

// A full shard queue refuses at once (Submit false) and never calls that
// record's done; what it accepted is answered, each once.
TEST(IngestBatcherTest, AFullQueueRefusesWithoutCallingDone) {
  FakeArrivalStore store;
  Answers answers;
  {
    IngestBatcher batcher(&store, IngestOptions{.writers = 1, .max_batch = 1, .max_queue = 3});
    store.HoldBatches();
    ASSERT_TRUE(batcher.Submit(New(MakeArrival("q-0")), answers.For(0)));
    store.AwaitBatches(1);  // q-0 has left the queue
    EXPECT_TRUE(batcher.Submit(New(MakeArrival("q-1")), answers.For(1)));
    EXPECT_TRUE(batcher.Submit(New(MakeArrival("q-2")), answers.For(2)));
    EXPECT_TRUE(batcher.Submit(New(MakeArrival("q-3")), answers.For(3)));
    EXPECT_FALSE(batcher.Submit(New(MakeArrival("q-4")), answers.For(4)));
    EXPECT_FALSE(batcher.Submit(New(MakeArrival("q-5")), answers.For(5)));
    store.ReleaseBatches();
    answers.AwaitAnswered(4);
    // Room again once the queue drained.
    EXPECT_TRUE(batcher.Submit(New(MakeArrival("q-6")), answers.For(6)));
    answers.AwaitAnswered(5);
  }
  EXPECT_THAT(answers.calls(), ElementsAre(std::pair(0, 1), std::pair(1, 1), std::pair(2, 1),
                                           std::pair(3, 1), std::pair(6, 1)));
  EXPECT_EQ(store.size(), 5u);
}

// A batch the store fails gives each of its records the store's error (and
// REJECTED); nothing was stored, and a resend after the fault is new.
TEST(IngestBatcherTest, AFailedBatchGivesEveryRecordItsError) {
  FakeArrivalStore store;
  Answers answers;
  {
    IngestBatcher batcher(&store, IngestOptions{.writers = 1, .max_batch = 100});
    store.FailBatches(absl::UnavailableError("the database went away"));
    store.HoldBatches();
    ASSERT_TRUE(batcher.Submit(New(MakeArrival("f-0")), answers.For(0)));
    store.AwaitBatches(1);
    for (int i = 1; i < 6; ++i) {
      ASSERT_TRUE(batcher.Submit(New(MakeArrival(absl::StrCat("f-", i))), answers.For(i)));
    }
    store.ReleaseBatches();
    answers.AwaitAnswered(6);
    EXPECT_THAT(store.batches(), SizeIs(2));  // f-0 alone, then the five together
    for (const auto& [n, result] : answers.results()) {
      EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kUnavailable, "the database went away"))
          << n;
      EXPECT_EQ(result.outcome, enlace::v1::OUTCOME_REJECTED) << n;
      EXPECT_TRUE(result.arrival_id.empty()) << n;
    }
    EXPECT_EQ(store.size(), 0u);
    store.FailBatches(absl::OkStatus());
    ASSERT_TRUE(batcher.Submit(New(MakeArrival("f-0")), answers.For(10)));
    answers.AwaitAnswered(7);
  }
  EXPECT_EQ(answers.results()[10].outcome, enlace::v1::OUTCOME_CREATED);
}

// A batch's call events commit with it: each record's answer carries the seq
// of its call's event, which names it.
TEST(IngestBatcherTest, EachAnswerCarriesItsCallsAuditEvent) {
  testing::FakeAuditStore audit;
  FakeArrivalStore store(&audit);
  Answers answers;
  auto call = std::make_shared<db::AuditRecord>();
  call->principal = "spiffe://enlace/agency/mfa";
  call->method = "/enlace.v1.ArrivalService/RecordArrivals";
  {
    IngestBatcher batcher(&store, IngestOptions{.writers = 1});
    for (int i = 0; i < 3; ++i) {
      db::NewArrival arrival = New(MakeArrival(absl::StrCat("a-", i)));
      arrival.audit = call;
      ASSERT_TRUE(batcher.Submit(std::move(arrival), answers.For(i)));
    }
    answers.AwaitAnswered(3);
  }
  std::vector<db::AuditRecord> events = audit.events();
  ASSERT_FALSE(events.empty());
  std::map<int64_t, std::vector<std::string>> named;
  for (const db::AuditRecord& e : events) named[e.seq] = e.record_ids;
  for (const auto& [n, result] : answers.results()) {
    ASSERT_GT(result.audit_seq, 0) << n;
    EXPECT_THAT(named[result.audit_seq], ::testing::Contains(result.arrival_id)) << n;
  }
}

// The destructor commits what is queued and answers it.
TEST(IngestBatcherTest, DestroyingTheBatcherCommitsWhatIsQueued) {
  FakeArrivalStore store;
  Answers answers;
  {
    IngestBatcher batcher(&store, IngestOptions{.writers = 2, .max_batch = 7});
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(batcher.Submit(New(MakeArrival(absl::StrCat("d-", i))), answers.For(i)));
    }
  }
  std::map<int, int> calls = answers.calls();
  EXPECT_THAT(calls, SizeIs(100));
  for (const auto& [n, count] : calls) EXPECT_EQ(count, 1) << n;
  EXPECT_EQ(store.size(), 100u);
}

}  // namespace
}  // namespace enlace::server
