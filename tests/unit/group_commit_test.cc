// Tests of the group committer (server/group_commit.h) and the bounded work
// pool (server/work_pool.h). Nothing here sleeps or waits on a clock: to fill
// a queue deterministically the consumer is held inside its first call by an
// absl::Notification, and the test waits until it really is there.
#include "server/group_commit.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/work_pool.h"

namespace enlace::server {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Gt;
using ::testing::Le;

// Records what a GroupCommitter<int> commits. Optionally holds the first
// commit until Release(), after announcing that it has started.
class CommitLog {
 public:
  explicit CommitLog(bool hold_first = false) : hold_first_(hold_first) {}

  GroupCommitter<int>::CommitFn Fn() {
    return [this](std::vector<int>& batch) {
      bool hold = false;
      {
        absl::MutexLock lock(&mu_);
        hold = hold_first_ && batches_.empty();
        batches_.push_back(batch);
      }
      if (hold) {
        first_started_.Notify();
        release_.WaitForNotification();
      }
    };
  }

  void WaitUntilFirstCommitStarted() { first_started_.WaitForNotification(); }
  void Release() { release_.Notify(); }

  std::vector<std::vector<int>> Batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  std::vector<size_t> BatchSizes() {
    std::vector<size_t> sizes;
    for (const std::vector<int>& batch : Batches()) sizes.push_back(batch.size());
    return sizes;
  }
  // How often each item was committed.
  std::map<int, int> Counts() {
    std::map<int, int> counts;
    for (const std::vector<int>& batch : Batches()) {
      for (int item : batch) ++counts[item];
    }
    return counts;
  }

 private:
  const bool hold_first_;
  absl::Notification first_started_;
  absl::Notification release_;
  absl::Mutex mu_;
  std::vector<std::vector<int>> batches_ ABSL_GUARDED_BY(mu_);
};

std::map<int, int> EachOnce(int begin, int end) {
  std::map<int, int> counts;
  for (int i = begin; i < end; ++i) counts[i] = 1;
  return counts;
}

// ---------------------------------------------------------------------------
// GroupCommitter.

TEST(GroupCommitterTest, EveryItemIsCommittedExactlyOnce) {
  constexpr int kSubmitters = 4;
  constexpr int kPerSubmitter = 2500;
  constexpr size_t kMaxBatch = 16;
  CommitLog log;
  {
    GroupCommitter<int> committer(3, kMaxBatch, kSubmitters * kPerSubmitter, log.Fn());
    std::vector<std::thread> submitters;
    std::atomic<int> refused{0};
    for (int s = 0; s < kSubmitters; ++s) {
      submitters.emplace_back([&, s] {
        for (int i = 0; i < kPerSubmitter; ++i) {
          if (!committer.TrySubmit(s * kPerSubmitter + i)) ++refused;
        }
      });
    }
    for (std::thread& t : submitters) t.join();
    EXPECT_EQ(refused.load(), 0);  // the queue holds everything at once
  }
  EXPECT_EQ(log.Counts(), EachOnce(0, kSubmitters * kPerSubmitter));
  EXPECT_THAT(log.BatchSizes(), Each(Le(kMaxBatch)));
  EXPECT_THAT(log.BatchSizes(), Each(Gt(0u)));
}

TEST(GroupCommitterTest, QueuedItemsAreCommittedInBatchesOfAtMostMaxBatch) {
  CommitLog log(/*hold_first=*/true);
  {
    GroupCommitter<int> committer(1, 7, 1000, log.Fn());
    ASSERT_TRUE(committer.TrySubmit(0));
    log.WaitUntilFirstCommitStarted();
    for (int i = 1; i <= 100; ++i) ASSERT_TRUE(committer.TrySubmit(i));
    log.Release();
  }
  // One writer found 100 items queued: 14 full batches and the rest, in order.
  std::vector<size_t> expected = {1};
  for (int i = 0; i < 14; ++i) expected.push_back(7);
  expected.push_back(2);
  EXPECT_EQ(log.BatchSizes(), expected);
  std::vector<int> order;
  for (const std::vector<int>& batch : log.Batches()) {
    order.insert(order.end(), batch.begin(), batch.end());
  }
  std::vector<int> expected_order;
  for (int i = 0; i <= 100; ++i) expected_order.push_back(i);
  EXPECT_EQ(order, expected_order);
}

TEST(GroupCommitterTest, BatchesNeverExceedMaxBatchWithSeveralWriters) {
  CommitLog log(/*hold_first=*/true);
  {
    GroupCommitter<int> committer(3, 5, 10000, log.Fn());
    ASSERT_TRUE(committer.TrySubmit(0));
    log.WaitUntilFirstCommitStarted();
    for (int i = 1; i < 1000; ++i) ASSERT_TRUE(committer.TrySubmit(i));
    log.Release();
  }
  EXPECT_THAT(log.BatchSizes(), Each(Le(5u)));
  EXPECT_THAT(log.BatchSizes(), Each(Gt(0u)));
  EXPECT_EQ(log.Counts(), EachOnce(0, 1000));
}

// Lanes: a caller with a backlog of costly items delays another caller's
// item by at most one batch.
TEST(GroupCommitterTest, ALaneWithABacklogDelaysAnotherByOneBatchAtMost) {
  CommitLog log(/*hold_first=*/true);
  {
    GroupCommitter<int> committer(1, 256, 10000, log.Fn(), /*max_batch_cost=*/1000);
    ASSERT_TRUE(committer.TrySubmit(0, "flood", 500));
    log.WaitUntilFirstCommitStarted();
    for (int i = 1; i <= 40; ++i) ASSERT_TRUE(committer.TrySubmit(i, "flood", 500));
    ASSERT_TRUE(committer.TrySubmit(1000, "quiet", 1));
    log.Release();
  }
  std::vector<std::vector<int>> batches = log.Batches();
  ASSERT_GE(batches.size(), 2u);
  // The batch after the held one has the quiet item first: it was served less.
  EXPECT_EQ(batches[1].front(), 1000);
  // Batches keep to the cost bound (two items of 500, or one and the quiet one).
  for (size_t b = 1; b < batches.size(); ++b) {
    EXPECT_LE(batches[b].size(), 3u) << "batch " << b;
  }
  EXPECT_EQ(log.Counts().size(), 42u);
}

TEST(GroupCommitterTest, LanesAreServedByCostInTurnAndKeepTheirOrder) {
  CommitLog log(/*hold_first=*/true);
  {
    GroupCommitter<int> committer(1, 1, 10000, log.Fn());
    ASSERT_TRUE(committer.TrySubmit(-1, "a"));
    log.WaitUntilFirstCommitStarted();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(committer.TrySubmit(i, "a"));
    for (int i = 100; i < 105; ++i) ASSERT_TRUE(committer.TrySubmit(i, "b"));
    log.Release();
  }
  std::vector<int> order;
  for (const std::vector<int>& batch : log.Batches()) order.push_back(batch.front());
  // a was served once (the held item) when b arrived: b goes first, then they
  // alternate, each in its own order.
  EXPECT_THAT(order, ElementsAre(-1, 100, 0, 101, 1, 102, 2, 103, 3, 104, 4));
}

TEST(GroupCommitterTest, AnIdleLaneGetsNoCreditForItsIdleness) {
  CommitLog log(/*hold_first=*/true);
  {
    GroupCommitter<int> committer(1, 1, 10000, log.Fn());
    ASSERT_TRUE(committer.TrySubmit(-1, "busy"));
    log.WaitUntilFirstCommitStarted();
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(committer.TrySubmit(i, "busy"));
    log.Release();
    // Let "busy" be served a while, alone.
    while (log.Batches().size() < 4) absl::SleepFor(absl::Milliseconds(1));
    for (int i = 100; i < 103; ++i) ASSERT_TRUE(committer.TrySubmit(i, "late"));
  }
  std::vector<int> order;
  for (const std::vector<int>& batch : log.Batches()) order.push_back(batch.front());
  // "late" does not take three turns in a row to catch up: it alternates.
  for (size_t i = 1; i + 1 < order.size(); ++i) {
    bool both_late = order[i] >= 100 && order[i + 1] >= 100;
    bool busy_left =
        std::count_if(order.begin() + i + 2, order.end(), [](int v) { return v < 100; });
    EXPECT_FALSE(both_late && busy_left) << "position " << i;
  }
  EXPECT_EQ(log.Counts().size(), 10u);
}

TEST(GroupCommitterTest, MaxBatchOfOneCommitsOneByOne) {
  CommitLog log;
  {
    GroupCommitter<int> committer(2, 1, 1000, log.Fn());
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(committer.TrySubmit(i));
  }
  EXPECT_THAT(log.BatchSizes(), Each(1u));
  EXPECT_EQ(log.Counts(), EachOnce(0, 200));
}

TEST(GroupCommitterTest, TrySubmitIsFalseWhenTheQueueIsFull) {
  CommitLog log(/*hold_first=*/true);
  {
    GroupCommitter<int> committer(1, 1, 3, log.Fn());
    ASSERT_TRUE(committer.TrySubmit(0));
    log.WaitUntilFirstCommitStarted();  // 0 has left the queue
    EXPECT_TRUE(committer.TrySubmit(1));
    EXPECT_TRUE(committer.TrySubmit(2));
    EXPECT_TRUE(committer.TrySubmit(3));
    EXPECT_FALSE(committer.TrySubmit(4));
    EXPECT_FALSE(committer.TrySubmit(5));
    log.Release();
  }
  EXPECT_EQ(log.Counts(), EachOnce(0, 4));  // 4 and 5 were never committed
}

TEST(GroupCommitterTest, DestructorCommitsWhatIsQueued) {
  CommitLog log(/*hold_first=*/true);
  auto* committer = new GroupCommitter<int>(1, 4, 1 << 20, log.Fn());
  ASSERT_TRUE(committer->TrySubmit(0));
  log.WaitUntilFirstCommitStarted();
  for (int i = 1; i <= 50; ++i) ASSERT_TRUE(committer->TrySubmit(i));

  // Start destroying while 50 items wait behind a held writer. The destructor
  // cannot return before the writer is released, so the object stays valid;
  // wait until it refuses new items, i.e. shutdown has really begun.
  std::thread destroyer([committer] { delete committer; });
  int next = 51;
  while (committer->TrySubmit(next)) {
    ++next;
    std::this_thread::yield();
  }
  log.Release();
  destroyer.join();
  EXPECT_EQ(log.Counts(), EachOnce(0, next));
}

TEST(GroupCommitterTest, DestructorWithNothingQueuedReturns) {
  CommitLog log;
  { GroupCommitter<int> committer(4, 10, 10, log.Fn()); }
  EXPECT_TRUE(log.Batches().empty());
}

TEST(GroupCommitterTest, WorksWithMoveOnlyItems) {
  absl::Mutex mu;
  std::vector<int> seen;
  {
    GroupCommitter<std::unique_ptr<int>> committer(2, 3, 100,
                                                   [&](std::vector<std::unique_ptr<int>>& batch) {
                                                     absl::MutexLock lock(&mu);
                                                     for (std::unique_ptr<int>& item : batch)
                                                       seen.push_back(*item);
                                                   });
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(committer.TrySubmit(std::make_unique<int>(i)));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_THAT(seen, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
}

// ---------------------------------------------------------------------------
// WorkPool.

TEST(WorkPoolTest, RunsEveryTaskOnAPoolThread) {
  constexpr int kTasks = 200;
  absl::BlockingCounter done(kTasks);
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> ran{0};
  WorkPool pool(3, kTasks);
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] {
      {
        absl::MutexLock lock(&mu);
        threads.insert(std::this_thread::get_id());
      }
      ++ran;
      done.DecrementCount();
    }));
  }
  done.Wait();
  EXPECT_EQ(ran.load(), kTasks);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_LE(threads.size(), 3u);
}

// Two workers held inside their first task, so the queue fills deterministically.
class HeldWorkers {
 public:
  explicit HeldWorkers(int workers) : started_(workers) {}
  std::function<void()> Task(int id) {
    return [this, id] {
      Record(id);
      started_.DecrementCount();
      release_.WaitForNotification();
    };
  }
  std::function<void()> Plain(int id) {
    return [this, id] { Record(id); };
  }
  void WaitUntilAllHeld() { started_.Wait(); }
  void Release() { release_.Notify(); }
  std::multiset<int> Ran() {
    absl::MutexLock lock(&mu_);
    return ran_;
  }

 private:
  void Record(int id) {
    absl::MutexLock lock(&mu_);
    ran_.insert(id);
  }
  absl::BlockingCounter started_;
  absl::Notification release_;
  absl::Mutex mu_;
  std::multiset<int> ran_ ABSL_GUARDED_BY(mu_);
};

std::multiset<int> Range(int begin, int end) {
  std::multiset<int> ids;
  for (int i = begin; i < end; ++i) ids.insert(i);
  return ids;
}

TEST(WorkPoolTest, TrySubmitIsFalseWhenTheQueueIsFull) {
  HeldWorkers held(2);
  {
    WorkPool pool(2, 3);
    ASSERT_TRUE(pool.TrySubmit(held.Task(0)));
    ASSERT_TRUE(pool.TrySubmit(held.Task(1)));
    held.WaitUntilAllHeld();  // both workers busy, the queue empty
    EXPECT_TRUE(pool.TrySubmit(held.Plain(2)));
    EXPECT_TRUE(pool.TrySubmit(held.Plain(3)));
    EXPECT_TRUE(pool.TrySubmit(held.Plain(4)));
    EXPECT_FALSE(pool.TrySubmit(held.Plain(5)));
    EXPECT_FALSE(pool.TrySubmit(held.Plain(6)));
    held.Release();
  }
  EXPECT_EQ(held.Ran(), Range(0, 5));  // 5 and 6 never ran
}

TEST(WorkPoolTest, DestructorRunsWhatIsQueued) {
  HeldWorkers held(2);
  auto* pool = new WorkPool(2, 1 << 20);
  ASSERT_TRUE(pool->TrySubmit(held.Task(0)));
  ASSERT_TRUE(pool->TrySubmit(held.Task(1)));
  held.WaitUntilAllHeld();
  for (int i = 2; i < 50; ++i) ASSERT_TRUE(pool->TrySubmit(held.Plain(i)));

  // As for GroupCommitter: destroy while tasks wait behind held workers, and
  // wait until the pool refuses work, i.e. shutdown has begun.
  std::thread destroyer([pool] { delete pool; });
  int next = 50;
  while (pool->TrySubmit(held.Plain(next))) {
    ++next;
    std::this_thread::yield();
  }
  held.Release();
  destroyer.join();
  EXPECT_EQ(held.Ran(), Range(0, next));
}

TEST(WorkPoolTest, DestructorWithNothingQueuedReturns) {
  { WorkPool pool(4, 10); }
  SUCCEED();
}

// Tasks that say they started, then wait for Release(); counts how many run
// at once.
class HeldLane {
 public:
  std::function<void()> Task() {
    return [this] {
      {
        absl::MutexLock lock(&mu_);
        ++started_;
        ++running_;
        max_running_ = std::max(max_running_, running_);
      }
      release_.WaitForNotification();
      absl::MutexLock lock(&mu_);
      --running_;
      ++finished_;
    };
  }
  void WaitUntilStarted(int n) {
    absl::MutexLock lock(&mu_);
    target_ = n;
    mu_.Await(absl::Condition(this, &HeldLane::ReachedTarget));
  }
  void Release() { release_.Notify(); }
  int started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }
  int finished() {
    absl::MutexLock lock(&mu_);
    return finished_;
  }
  int max_running() {
    absl::MutexLock lock(&mu_);
    return max_running_;
  }

 private:
  bool ReachedTarget() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_ >= target_; }

  absl::Notification release_;
  absl::Mutex mu_;
  int target_ ABSL_GUARDED_BY(mu_) = 0;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int max_running_ ABSL_GUARDED_BY(mu_) = 0;
  int finished_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(WorkPoolTest, ALaneMayOccupyAllButAQuarterOfTheThreadsByDefault) {
  EXPECT_EQ(WorkPool(8, 10).max_running_per_lane(), 6);
  EXPECT_EQ(WorkPool(4, 10).max_running_per_lane(), 3);
  EXPECT_EQ(WorkPool(2, 10).max_running_per_lane(), 2);
  EXPECT_EQ(WorkPool(1, 10).max_running_per_lane(), 1);
  EXPECT_EQ(WorkPool(8, 10, 1).max_running_per_lane(), 1);
  EXPECT_EQ(WorkPool(8, 10, 100).max_running_per_lane(), 8);  // no cap
}

TEST(WorkPoolTest, AFloodingLaneLeavesAThreadForAnotherLane) {
  HeldLane iom;
  absl::Notification undp_ran;
  {
    WorkPool pool(4, 100);  // a lane runs at most 3 at once
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(pool.TrySubmit(iom.Task(), "iom"));
    iom.WaitUntilStarted(3);
    // Without the cap the fourth thread would be held by iom's fourth task,
    // queued first, and undp's task would wait for iom's release.
    ASSERT_TRUE(pool.TrySubmit([&] { undp_ran.Notify(); }, "undp"));
    EXPECT_TRUE(undp_ran.WaitForNotificationWithTimeout(absl::Seconds(60)));
    EXPECT_EQ(iom.started(), 3);  // iom's other tasks wait for its own threads
    iom.Release();
  }
  EXPECT_EQ(iom.finished(), 6);
  EXPECT_EQ(iom.max_running(), 3);
}

TEST(WorkPoolTest, ALaneAtItsCapIsSkippedNotWaitedFor) {
  HeldLane a;
  absl::Notification b_ran;
  {
    WorkPool pool(2, 100, /*max_running_per_lane=*/1);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.TrySubmit(a.Task(), "a"));
    a.WaitUntilStarted(1);
    // a's second task is next in turn but a is at its cap: the free thread
    // takes b's task instead of waiting for a.
    ASSERT_TRUE(pool.TrySubmit([&] { b_ran.Notify(); }, "b"));
    EXPECT_TRUE(b_ran.WaitForNotificationWithTimeout(absl::Seconds(60)));
    EXPECT_EQ(a.started(), 1);
    a.Release();
  }
  EXPECT_EQ(a.finished(), 3);
  EXPECT_EQ(a.max_running(), 1);
}

TEST(WorkPoolTest, LanesRunAtMostTheirCapAtOnce) {
  constexpr int kTasks = 300;
  absl::BlockingCounter done(2 * kTasks);
  absl::Mutex mu;
  std::map<std::string, std::vector<int>> order;
  std::map<std::string, int> running, max_running;
  auto task = [&](const std::string& lane, int i) {
    return [&, lane, i] {
      {
        absl::MutexLock lock(&mu);
        order[lane].push_back(i);
        max_running[lane] = std::max(max_running[lane], ++running[lane]);
      }
      std::this_thread::yield();
      {
        absl::MutexLock lock(&mu);
        --running[lane];
      }
      done.DecrementCount();
    };
  };
  WorkPool pool(4, 2 * kTasks, /*max_running_per_lane=*/2);
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(pool.TrySubmit(task("a", i), "a"));
    ASSERT_TRUE(pool.TrySubmit(task("b", i), "b"));
  }
  done.Wait();
  absl::MutexLock lock(&mu);
  for (const std::string lane : {"a", "b"}) {
    EXPECT_THAT(max_running[lane], Le(2)) << lane;
    // Each once (two run at once, so they may reach the log out of order).
    std::vector<int> ran = order[lane];
    std::sort(ran.begin(), ran.end());
    ASSERT_EQ(ran.size(), static_cast<size_t>(kTasks)) << lane;
    for (int i = 0; i < kTasks; ++i) EXPECT_EQ(ran[i], i) << lane;
  }
}

TEST(WorkPoolTest, DestructorRunsTheTasksOfALaneAtItsCap) {
  HeldLane a;
  auto* pool = new WorkPool(2, 1 << 20, /*max_running_per_lane=*/1);
  ASSERT_TRUE(pool->TrySubmit(a.Task(), "a"));
  a.WaitUntilStarted(1);
  std::atomic<int> ran{0};
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(pool->TrySubmit([&] { ++ran; }, "a"));  // parked
  std::thread destroyer([pool] { delete pool; });
  int submitted = 20;
  while (pool->TrySubmit([&] { ++ran; }, "a")) {  // until shutdown has begun
    ++submitted;
    std::this_thread::yield();
  }
  a.Release();
  destroyer.join();
  EXPECT_EQ(a.finished(), 1);
  EXPECT_EQ(ran.load(), submitted);
}

}  // namespace
}  // namespace enlace::server
