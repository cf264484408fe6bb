// The positive self-test of the TSan suite: data handed between threads
// through each Abseil primitive the shim (absl_tsan_shim.cc) wraps, and
// through gRPC's gpr_mu/gpr_cv, whose absl::Mutex calls come from inside
// libgpr through its PLT. Built twice:
//   tsan_shim_selftest         with the shim: every test passes with no report;
//   tsan_shim_selftest_noshim  without it: expect_tsan_report.sh requires a
//                              data race report from every test run alone,
//                              which proves each test would catch a wrapper
//                              that does not work (and that TSan is on).
#include <grpc/support/sync.h>
#include <grpc/support/time.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace enlace::tsan_selftest {
namespace {

constexpr int kIterations = 2000;

// Runs body(0..n-1) on n threads at once and joins them.
template <typename F>
void OnThreads(int n, F body) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(body, i);
  for (std::thread& t : threads) t.join();
}

// ---- Mutex ----------------------------------------------------------------

TEST(ShimSelfTest, MutexLockProtectsACounter) {
  absl::Mutex mu;
  int counter = 0;
  OnThreads(2, [&](int) {
    for (int i = 0; i < kIterations; ++i) {
      absl::MutexLock lock(&mu);
      ++counter;
    }
  });
  EXPECT_EQ(counter, 2 * kIterations);
}

TEST(ShimSelfTest, MutexTryLockProtectsACounter) {
  absl::Mutex mu;
  int counter = 0;
  OnThreads(2, [&](int) {
    for (int i = 0; i < kIterations; ++i) {
      while (!mu.TryLock()) std::this_thread::yield();
      ++counter;
      mu.Unlock();
    }
  });
  EXPECT_EQ(counter, 2 * kIterations);
}

// A writer increments under Lock; the reader reads under a reader lock,
// taken with ReaderLock or ReaderTryLock.
void WriterAndReader(bool try_lock) {
  absl::Mutex mu;
  int value = 0;
  long seen = 0;
  OnThreads(2, [&](int role) {
    for (int i = 0; i < kIterations; ++i) {
      if (role == 0) {
        absl::MutexLock lock(&mu);
        ++value;
      } else if (try_lock) {
        while (!mu.ReaderTryLock()) std::this_thread::yield();
        seen += value;
        mu.ReaderUnlock();
      } else {
        absl::ReaderMutexLock lock(&mu);
        seen += value;
      }
    }
  });
  EXPECT_EQ(value, kIterations);
  EXPECT_GE(seen, 0);
}

TEST(ShimSelfTest, ReaderLockSeesTheWriter) { WriterAndReader(false); }
TEST(ShimSelfTest, ReaderTryLockSeesTheWriter) { WriterAndReader(true); }

// ---- Conditional locking and waiting -------------------------------------

// A producer publishes items 0..n-1 under the mutex; the consumer waits for
// each with `wait_for(mu, condition)`, which returns holding the mutex as
// `lock_kind`, reads the item and unlocks.
enum class Held { kWriter, kReader };

template <typename WaitFor>
void Handoff(Held held, WaitFor wait_for) {
  constexpr int kItems = 200;
  absl::Mutex mu;
  int published = 0;
  std::vector<int> items(kItems);
  long sum = 0;
  OnThreads(2, [&](int role) {
    for (int i = 0; i < kItems; ++i) {
      if (role == 0) {
        absl::MutexLock lock(&mu);
        items[i] = i + 1;
        published = i + 1;
      } else {
        auto ready = [&published, i] { return published > i; };
        wait_for(mu, absl::Condition(&ready));
        sum += items[i];
        if (held == Held::kWriter) {
          mu.Unlock();
        } else {
          mu.ReaderUnlock();
        }
      }
    }
  });
  EXPECT_EQ(sum, kItems * (kItems + 1) / 2);
}

TEST(ShimSelfTest, LockWhen) {
  Handoff(Held::kWriter, [](absl::Mutex& mu, const absl::Condition& c) { mu.LockWhen(c); });
}
TEST(ShimSelfTest, LockWhenWithTimeout) {
  Handoff(Held::kWriter, [](absl::Mutex& mu, const absl::Condition& c) {
    while (!mu.LockWhenWithTimeout(c, absl::Milliseconds(1))) mu.Unlock();
  });
}
TEST(ShimSelfTest, LockWhenWithDeadline) {
  Handoff(Held::kWriter, [](absl::Mutex& mu, const absl::Condition& c) {
    while (!mu.LockWhenWithDeadline(c, absl::Now() + absl::Milliseconds(1))) mu.Unlock();
  });
}
TEST(ShimSelfTest, ReaderLockWhen) {
  Handoff(Held::kReader, [](absl::Mutex& mu, const absl::Condition& c) { mu.ReaderLockWhen(c); });
}
TEST(ShimSelfTest, ReaderLockWhenWithTimeout) {
  Handoff(Held::kReader, [](absl::Mutex& mu, const absl::Condition& c) {
    while (!mu.ReaderLockWhenWithTimeout(c, absl::Milliseconds(1))) mu.ReaderUnlock();
  });
}
TEST(ShimSelfTest, ReaderLockWhenWithDeadline) {
  Handoff(Held::kReader, [](absl::Mutex& mu, const absl::Condition& c) {
    while (!mu.ReaderLockWhenWithDeadline(c, absl::Now() + absl::Milliseconds(1)))
      mu.ReaderUnlock();
  });
}
TEST(ShimSelfTest, Await) {
  Handoff(Held::kWriter, [](absl::Mutex& mu, const absl::Condition& c) {
    mu.Lock();
    mu.Await(c);
  });
}
TEST(ShimSelfTest, AwaitWithTimeout) {
  Handoff(Held::kWriter, [](absl::Mutex& mu, const absl::Condition& c) {
    mu.Lock();
    while (!mu.AwaitWithTimeout(c, absl::Milliseconds(1))) {
    }
  });
}
TEST(ShimSelfTest, AwaitWithDeadline) {
  Handoff(Held::kWriter, [](absl::Mutex& mu, const absl::Condition& c) {
    mu.Lock();
    while (!mu.AwaitWithDeadline(c, absl::Now() + absl::Milliseconds(1))) {
    }
  });
}
TEST(ShimSelfTest, ReaderAwait) {
  Handoff(Held::kReader, [](absl::Mutex& mu, const absl::Condition& c) {
    mu.ReaderLock();
    mu.Await(c);
  });
}

// absl::CondVar: the producer signals after each item.
template <typename Wait>
void CondVarHandoff(Wait wait) {
  constexpr int kItems = 200;
  absl::Mutex mu;
  absl::CondVar cv;
  int published = 0;
  std::vector<int> items(kItems);
  long sum = 0;
  OnThreads(2, [&](int role) {
    for (int i = 0; i < kItems; ++i) {
      absl::MutexLock lock(&mu);
      if (role == 0) {
        items[i] = i + 1;
        published = i + 1;
        cv.Signal();
      } else {
        while (published <= i) wait(cv, mu);
        sum += items[i];
      }
    }
  });
  EXPECT_EQ(sum, kItems * (kItems + 1) / 2);
}

TEST(ShimSelfTest, CondVarWait) {
  CondVarHandoff([](absl::CondVar& cv, absl::Mutex& mu) { cv.Wait(&mu); });
}
TEST(ShimSelfTest, CondVarWaitWithTimeout) {
  CondVarHandoff(
      [](absl::CondVar& cv, absl::Mutex& mu) { cv.WaitWithTimeout(&mu, absl::Milliseconds(1)); });
}
TEST(ShimSelfTest, CondVarWaitWithDeadline) {
  CondVarHandoff([](absl::CondVar& cv, absl::Mutex& mu) {
    cv.WaitWithDeadline(&mu, absl::Now() + absl::Milliseconds(1));
  });
}

// ---- Notification, BlockingCounter, Barrier --------------------------------

// The notifier writes plain data, then notifies; the waiter reads it after
// `wait` says the notification happened.
template <typename Wait>
void NotificationHandoff(Wait wait) {
  absl::Notification done;
  std::vector<int> data;
  OnThreads(2, [&](int role) {
    if (role == 0) {
      data.assign(100, 7);
      done.Notify();
    } else {
      wait(done);
      EXPECT_EQ(data.size(), 100u);
      data.clear();
    }
  });
}

TEST(ShimSelfTest, NotificationWait) {
  NotificationHandoff([](absl::Notification& n) { n.WaitForNotification(); });
}
TEST(ShimSelfTest, NotificationWaitWithTimeout) {
  NotificationHandoff([](absl::Notification& n) {
    while (!n.WaitForNotificationWithTimeout(absl::Milliseconds(1))) {
    }
  });
}
TEST(ShimSelfTest, NotificationWaitWithDeadline) {
  NotificationHandoff([](absl::Notification& n) {
    while (!n.WaitForNotificationWithDeadline(absl::Now() + absl::Milliseconds(1))) {
    }
  });
}
// HasBeenNotified() is inline: an acquire load in our code, no call to wrap.
TEST(ShimSelfTest, NotificationHasBeenNotified) {
  NotificationHandoff([](absl::Notification& n) {
    while (!n.HasBeenNotified()) std::this_thread::yield();
  });
}

TEST(ShimSelfTest, BlockingCounter) {
  constexpr int kWorkers = 4;
  absl::BlockingCounter done(kWorkers);
  std::vector<int> slots(kWorkers);
  long sum = 0;
  OnThreads(kWorkers + 1, [&](int i) {
    if (i < kWorkers) {
      slots[i] = i + 1;
      done.DecrementCount();
    } else {
      done.Wait();
      for (int s : slots) sum += s;
    }
  });
  EXPECT_EQ(sum, kWorkers * (kWorkers + 1) / 2);
}

TEST(ShimSelfTest, Barrier) {
  constexpr int kThreads = 3;
  auto* barrier = new absl::Barrier(kThreads);
  std::vector<int> slots(kThreads);
  std::vector<int> seen(kThreads);
  OnThreads(kThreads, [&](int i) {
    slots[i] = i + 1;
    if (barrier->Block()) delete barrier;
    seen[i] = slots[(i + 1) % kThreads];
  });
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(seen[i], (i + 1) % kThreads + 1);
}

// ---- gRPC's gpr_mu/gpr_cv: absl::Mutex called from inside libgpr ----------

TEST(ShimSelfTest, GprMuFromInsideLibgpr) {
  gpr_mu mu;
  gpr_mu_init(&mu);
  int counter = 0;
  OnThreads(2, [&](int) {
    for (int i = 0; i < kIterations; ++i) {
      gpr_mu_lock(&mu);
      ++counter;
      gpr_mu_unlock(&mu);
    }
  });
  gpr_mu_destroy(&mu);
  EXPECT_EQ(counter, 2 * kIterations);
}

TEST(ShimSelfTest, GprCvFromInsideLibgpr) {
  gpr_mu mu;
  gpr_cv cv;
  gpr_mu_init(&mu);
  gpr_cv_init(&cv);
  int published = 0;
  std::vector<int> items(100);
  long sum = 0;
  OnThreads(2, [&](int role) {
    for (int i = 0; i < 100; ++i) {
      gpr_mu_lock(&mu);
      if (role == 0) {
        items[i] = i + 1;
        published = i + 1;
        gpr_cv_signal(&cv);
      } else {
        while (published <= i) gpr_cv_wait(&cv, &mu, gpr_inf_future(GPR_CLOCK_MONOTONIC));
        sum += items[i];
      }
      gpr_mu_unlock(&mu);
    }
  });
  gpr_cv_destroy(&cv);
  gpr_mu_destroy(&mu);
  EXPECT_EQ(sum, 100 * 101 / 2);
}

}  // namespace
}  // namespace enlace::tsan_selftest
