// AuditLog (server/audit_log.h) over an in-memory store whose commits can be
// held: identical feed deliveries waiting together become one event naming
// how many streams and connections it covers, everything else stays one
// event per append, and every caller is told the outcome. No sleeps: the
// store blocks until the test lets it go.
#include "server/audit_log.h"

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enlace::server {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

// Keeps what it is asked to append. The first Append waits for `release`
// (and says it started through `first_started`), so the test can queue
// appends behind a commit in progress.
class HeldAuditStore : public db::AuditStore {
 public:
  absl::Status Append(std::vector<db::AuditRecord>* records) override {
    if (!first_started_.HasBeenNotified()) {
      first_started_.Notify();
      release_.WaitForNotification();
    }
    absl::MutexLock lock(&mu_);
    for (db::AuditRecord& r : *records) {
      r.seq = static_cast<int64_t>(written_.size()) + 1;
      written_.push_back(r);
    }
    return result_;
  }
  absl::StatusOr<db::AuditPage> List(const db::AuditQuery&) override { return db::AuditPage{}; }
  absl::StatusOr<std::vector<db::AuditRecord>> ListForRecord(const std::string&, int64_t,
                                                             int) override {
    return std::vector<db::AuditRecord>{};
  }
  absl::StatusOr<db::ChainReport> Verify() override { return db::ChainReport{}; }

  std::vector<db::AuditRecord> written() {
    absl::MutexLock lock(&mu_);
    return written_;
  }
  void set_result(absl::Status s) { result_ = std::move(s); }

  absl::Notification first_started_;
  absl::Notification release_;

 private:
  absl::Mutex mu_;
  std::vector<db::AuditRecord> written_ ABSL_GUARDED_BY(mu_);
  absl::Status result_;
};

db::AuditRecord Delivery(const std::string& principal, const std::string& peer, int64_t at_us,
                         std::vector<std::string> ids) {
  db::AuditRecord r;
  r.at_us = at_us;
  r.principal = principal;
  r.method = "/enlace.v1.ReferralService/WatchReferrals";
  r.decision = 1;
  r.record_ids = std::move(ids);
  r.detail = "deliver events=1";
  r.peer = peer;
  return r;
}

class AuditLogFoldingTest : public ::testing::Test {
 protected:
  // Holds the writer in a commit of one unrelated event, so that what is
  // appended next waits in the queue together.
  void HoldTheWriter() {
    log_.Append(Delivery("spiffe://enlace/agency/mfa", "p0", 1, {"x"}),
                [this](absl::Status s) { first_ = s; });
    store_.first_started_.WaitForNotification();
  }

  HeldAuditStore store_;
  AuditLog log_{&store_};
  absl::Status first_;
};

TEST_F(AuditLogFoldingTest, IdenticalDeliveriesWaitingTogetherBecomeOneEvent) {
  HoldTheWriter();
  constexpr int kStreams = 100;
  absl::BlockingCounter done(kStreams + 2);
  std::vector<absl::Status> outcomes(kStreams + 2, absl::UnknownError("not called"));
  for (int i = 0; i < kStreams; ++i) {
    // 100 streams over 10 connections, the same referral and case.
    log_.AppendDelivery(Delivery("spiffe://enlace/agency/undp", "conn" + std::to_string(i % 10),
                                 1000 + i, {"r1", "c1"}),
                        [&, i](absl::Status s) {
                          outcomes[i] = s;
                          done.DecrementCount();
                        });
  }
  // Another agency's delivery of the same change, and undp's of another one:
  // events of their own.
  log_.AppendDelivery(Delivery("spiffe://enlace/agency/iom", "conn0", 1500, {"r1", "c1"}),
                      [&](absl::Status s) {
                        outcomes[kStreams] = s;
                        done.DecrementCount();
                      });
  log_.AppendDelivery(Delivery("spiffe://enlace/agency/undp", "conn0", 1600, {"r2", "c1"}),
                      [&](absl::Status s) {
                        outcomes[kStreams + 1] = s;
                        done.DecrementCount();
                      });
  store_.release_.Notify();
  done.Wait();
  for (const absl::Status& s : outcomes) EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(first_.ok());

  std::vector<db::AuditRecord> written = store_.written();
  ASSERT_THAT(written, SizeIs(4));  // the held event, then three
  const db::AuditRecord& folded = written[1];
  EXPECT_EQ(folded.principal, "spiffe://enlace/agency/undp");
  EXPECT_THAT(folded.record_ids, ElementsAre("r1", "c1"));
  EXPECT_EQ(folded.detail, "deliver events=1 streams=100 connections=10");
  EXPECT_EQ(folded.at_us, 1000);  // the earliest delivery's time
  EXPECT_EQ(folded.peer, "conn0");
  EXPECT_EQ(written[2].principal, "spiffe://enlace/agency/iom");
  EXPECT_EQ(written[2].detail, "deliver events=1");
  EXPECT_THAT(written[3].record_ids, ElementsAre("r2", "c1"));
  EXPECT_EQ(written[3].detail, "deliver events=1");
}

// A fan-out's callbacks (each starts a stream's write) are shared by the
// writer and the helper thread; each runs exactly once, with the outcome,
// whether the event was written or not.
TEST_F(AuditLogFoldingTest, AFanOutsCallbacksRunOnceEachOnTwoThreads) {
  for (absl::Status result : {absl::OkStatus(), absl::UnavailableError("database down")}) {
    SCOPED_TRACE(result.ToString());
    HeldAuditStore store;
    store.set_result(result);
    AuditLog log(&store);
    log.Append(Delivery("spiffe://enlace/agency/mfa", "p0", 1, {"x"}), [](absl::Status) {});
    store.first_started_.WaitForNotification();
    constexpr int kStreams = 200;
    absl::BlockingCounter done(kStreams);
    absl::Mutex mu;
    std::vector<int> calls(kStreams, 0);
    std::vector<absl::Status> outcomes(kStreams);
    std::set<std::thread::id> threads;
    for (int i = 0; i < kStreams; ++i) {
      log.AppendDelivery(Delivery("spiffe://enlace/agency/undp", "conn0", 1000 + i, {"r1"}),
                         [&, i](absl::Status s) {
                           {
                             absl::MutexLock lock(&mu);
                             ++calls[i];
                             outcomes[i] = s;
                             threads.insert(std::this_thread::get_id());
                           }
                           done.DecrementCount();
                         });
    }
    store.release_.Notify();
    done.Wait();
    absl::MutexLock lock(&mu);
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_EQ(calls[i], 1) << "stream " << i;
      EXPECT_EQ(outcomes[i].code(), result.code()) << "stream " << i;
    }
    EXPECT_EQ(threads.size(), 2u);
    EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  }
}

TEST_F(AuditLogFoldingTest, OrdinaryAppendsAreNeverFolded) {
  HoldTheWriter();
  absl::BlockingCounter done(3);
  for (int i = 0; i < 3; ++i) {
    log_.Append(Delivery("spiffe://enlace/agency/undp", "conn0", 1000, {"r1"}),
                [&](absl::Status s) {
                  EXPECT_TRUE(s.ok()) << s;
                  done.DecrementCount();
                });
  }
  store_.release_.Notify();
  done.Wait();
  EXPECT_THAT(store_.written(), SizeIs(4));
}

TEST_F(AuditLogFoldingTest, EveryFoldedDeliveryIsToldWhenTheEventCannotBeWritten) {
  HoldTheWriter();
  store_.set_result(absl::UnavailableError("database down"));
  absl::BlockingCounter done(5);
  std::vector<absl::Status> outcomes(5);
  for (int i = 0; i < 5; ++i) {
    log_.AppendDelivery(Delivery("spiffe://enlace/agency/undp", "conn0", 1000 + i, {"r1"}),
                        [&, i](absl::Status s) {
                          outcomes[i] = s;
                          done.DecrementCount();
                        });
  }
  store_.release_.Notify();
  done.Wait();
  for (const absl::Status& s : outcomes) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  }
}

TEST_F(AuditLogFoldingTest, ADeliveryAfterTheCommitStartedIsAnEventOfItsOwn) {
  // Nothing held: each delivery is committed before the next is appended.
  for (int i = 0; i < 2; ++i) {
    absl::Notification committed;
    log_.AppendDelivery(Delivery("spiffe://enlace/agency/undp", "conn0", 1000 + i, {"r1"}),
                        [&](absl::Status s) {
                          EXPECT_TRUE(s.ok()) << s;
                          committed.Notify();
                        });
    if (i == 0) {
      store_.first_started_.WaitForNotification();
      store_.release_.Notify();
    }
    committed.WaitForNotification();
  }
  std::vector<db::AuditRecord> written = store_.written();
  ASSERT_THAT(written, SizeIs(2));
  EXPECT_EQ(written[0].detail, "deliver events=1");
  EXPECT_EQ(written[1].detail, "deliver events=1");
}

}  // namespace
}  // namespace enlace::server
