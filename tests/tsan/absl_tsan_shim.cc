// absl_tsan_shim.cc: lets ThreadSanitizer see Debian's Abseil synchronization.
//
// Debian's libabsl_synchronization.so is not built with -fsanitize=thread:
// absl::Mutex locks with atomics and futexes that TSan never sees, so every
// ABSL_GUARDED_BY field would look racy. This file, linked into each TSan
// executable (tests/tsan/CMakeLists.txt), defines the out-of-line members of
// absl::Mutex, CondVar, Notification and BlockingCounter itself.
// Symbols of the executable come first in the dynamic linker's search order,
// so they interpose every call: from our code, and through the PLT from
// libgrpc, libgpr and libgrpc++ (and libabsl_synchronization itself: it is
// not linked with -Bsymbolic, its internal calls go through its PLT too).
// Each definition tells TSan what the call means with the annotations that
// Abseil itself uses when it is built with TSan (<sanitizer/tsan_interface.h>),
// then calls the real function found with dlsym(RTLD_NEXT, ...):
//
//   Lock/ReaderLock/TryLock/LockWhen*        pre_lock ... post_lock
//   Unlock/ReaderUnlock                      pre_unlock ... post_unlock
//   Await*, CondVar::Wait*                   unlock, then lock again (the real
//                                            call runs inside pre_lock/post_lock)
//   ~Mutex (called from our code)            mutex_destroy
//   Notification::Notify                     release on the notified flag, so
//     / WaitForNotification*, HasBeenNotified  acquire (the inline atomic load
//                                            in HasBeenNotified() acquires it)
//   BlockingCounter::DecrementCount / Wait   release / acquire
//   Barrier::Block                           (its own mutex calls suffice)
//
// Between pre_* and post_* TSan ignores the thread's memory accesses: that
// covers the absl::Condition functions Abseil evaluates while it takes or
// releases the lock (also on the thread that unlocks, for its waiters).
// Calls nested inside one of these (LockWhenWithTimeout calls
// LockWhenWithDeadline, Notification locks its own mutex, ...) are not
// annotated again: a thread-local depth marks the outermost call.
//
// CondVar::Signal/SignalAll carry no ordering of their own (it comes from
// the mutex), so they are left alone.
//
// tests/tsan/shim_selftest.cc checks that every wrapper (and the PLT route
// from libgpr) works, and the same test linked without this file must fail.

#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "tests/tsan/shim_util.h"

#if !defined(__SANITIZE_THREAD__) && !(defined(__has_feature) && __has_feature(thread_sanitizer))
#error "absl_tsan_shim.cc belongs in -fsanitize=thread builds only"
#endif

#define ENLACE_TSAN_STR2(x) #x
#define ENLACE_TSAN_STR(x) ENLACE_TSAN_STR2(x)

namespace {

// "absl::<inline namespace>::" as it appears in a mangled name: 4absl7debian3.
std::string MangledAbslPrefix() {
  const char* ns = ENLACE_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return "4absl" + std::to_string(std::strlen(ns)) + ns;
}

// The real definition of a member: Real("N", "5Mutex4LockEv") is the one of
// _ZN4absl7debian35Mutex4LockEv, in libabsl_synchronization.
#define REAL(type, qualifier, rest) \
  ENLACE_TSAN_NEXT(type, (std::string("_Z") + (qualifier) + MangledAbslPrefix() + (rest)).c_str())

// Depth of interposed calls on this thread: only the outermost annotates.
thread_local int t_depth = 0;

class Outermost {
 public:
  Outermost() : outer_(t_depth++ == 0) {}
  ~Outermost() { --t_depth; }
  Outermost(const Outermost&) = delete;
  Outermost& operator=(const Outermost&) = delete;
  explicit operator bool() const { return outer_; }

 private:
  bool outer_;
};

// absl::Mutex holds one word; bit 0x8 (kMuWriter in mutex.cc) is set while a
// writer holds it. Used to tell how a waiting thread holds the mutex, as
// Abseil does in CondVar::WaitCommon.
constexpr intptr_t kMuWriter = 0x0008;
static_assert(sizeof(absl::Mutex) == sizeof(std::atomic<intptr_t>), "absl::Mutex is one word");

unsigned HeldFlags(const absl::Mutex* mu) {
  intptr_t word =
      reinterpret_cast<const std::atomic<intptr_t>*>(mu)->load(std::memory_order_relaxed);
  return (word & kMuWriter) != 0 ? 0u : static_cast<unsigned>(__tsan_mutex_read_lock);
}

// The notified flag of an absl::Notification: the atomic HasBeenNotified()
// loads with acquire in our (instrumented) code.
struct NotificationLayout {
  absl::Mutex mutex;
  std::atomic<bool> notified_yet;
};
static_assert(sizeof(NotificationLayout) == sizeof(absl::Notification),
              "absl::Notification layout");

void* NotifiedFlag(const absl::Notification* n) {
  return const_cast<char*>(reinterpret_cast<const char*>(n)) +
         offsetof(NotificationLayout, notified_yet);
}

// Runs `wait` (which returns with `mu` held as before) as an unlock followed by a lock.
template <typename F>
auto AsUnlockThenLock(absl::Mutex* mu, F wait) {
  const unsigned flags = HeldFlags(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  __tsan_mutex_post_unlock(mu, flags);
  __tsan_mutex_pre_lock(mu, flags);
  auto result = wait();
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// Runs `lock` (which returns with `mu` held) as a lock.
template <typename F>
auto AsLock(absl::Mutex* mu, unsigned flags, F lock) {
  __tsan_mutex_pre_lock(mu, flags);
  auto result = lock();
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

using MutexFn = void (*)(Mutex*);
using MutexTryFn = bool (*)(Mutex*);
using MutexCondFn = void (*)(Mutex*, const Condition&);
using MutexCondTimeoutFn = bool (*)(Mutex*, const Condition&, Duration);
using MutexCondDeadlineFn = bool (*)(Mutex*, const Condition&, Time);

// ---- Mutex: plain locking --------------------------------------------------

void Mutex::Lock() {
  auto real = REAL(MutexFn, "N", "5Mutex4LockEv");
  Outermost outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLock() {
  auto real = REAL(MutexFn, "N", "5Mutex10ReaderLockEv");
  Outermost outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

void Mutex::Unlock() {
  auto real = REAL(MutexFn, "N", "5Mutex6UnlockEv");
  Outermost outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  auto real = REAL(MutexFn, "N", "5Mutex12ReaderUnlockEv");
  Outermost outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

bool Mutex::TryLock() {
  auto real = REAL(MutexTryFn, "N", "5Mutex7TryLockEv");
  Outermost outer;
  if (!outer) return real(this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
                         0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  auto real = REAL(MutexTryFn, "N", "5Mutex13ReaderTryLockEv");
  Outermost outer;
  if (!outer) return real(this);
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

// Destroying a mutex is a write to it: TSan then reports a use of the mutex
// that does not happen before its destruction, and destroying it locked.
// Only for mutexes our code destroys: gRPC destroys its own (inside calls,
// channels, completion queues) after handing their owners between threads
// with atomics TSan does not see, and frees that memory from libgrpc, whose
// accesses tsan.supp ignores (called_from_lib) for the same reason.
Mutex::~Mutex() {
  auto real = REAL(MutexFn, "N", "5MutexD1Ev");
  Outermost outer;
  if (outer && enlace::tsan_shim::InExecutableCode(__builtin_return_address(0)))
    __tsan_mutex_destroy(this, 0);
  real(this);
}

// ---- Mutex: conditional locking (always returns with the lock held) --------

void Mutex::LockWhen(const Condition& cond) {
  auto real = REAL(MutexCondFn, "N", "5Mutex8LockWhenERKNS0_9ConditionE");
  Outermost outer;
  if (!outer) return real(this, cond);
  AsLock(this, 0, [&] { return real(this, cond), 0; });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  auto real = REAL(MutexCondFn, "N", "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Outermost outer;
  if (!outer) return real(this, cond);
  AsLock(this, __tsan_mutex_read_lock, [&] { return real(this, cond), 0; });
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  auto real =
      REAL(MutexCondTimeoutFn, "N", "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Outermost outer;
  if (!outer) return real(this, cond, timeout);
  return AsLock(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  auto real =
      REAL(MutexCondDeadlineFn, "N", "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Outermost outer;
  if (!outer) return real(this, cond, deadline);
  return AsLock(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  auto real = REAL(MutexCondTimeoutFn, "N",
                   "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Outermost outer;
  if (!outer) return real(this, cond, timeout);
  return AsLock(this, __tsan_mutex_read_lock, [&] { return real(this, cond, timeout); });
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  auto real = REAL(MutexCondDeadlineFn, "N",
                   "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Outermost outer;
  if (!outer) return real(this, cond, deadline);
  return AsLock(this, __tsan_mutex_read_lock, [&] { return real(this, cond, deadline); });
}

// ---- Mutex: waiting while holding it (released and re-acquired inside) ----

void Mutex::Await(const Condition& cond) {
  auto real = REAL(MutexCondFn, "N", "5Mutex5AwaitERKNS0_9ConditionE");
  Outermost outer;
  if (!outer) return real(this, cond);
  AsUnlockThenLock(this, [&] { return real(this, cond), 0; });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  auto real =
      REAL(MutexCondTimeoutFn, "N", "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Outermost outer;
  if (!outer) return real(this, cond, timeout);
  return AsUnlockThenLock(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  auto real =
      REAL(MutexCondDeadlineFn, "N", "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Outermost outer;
  if (!outer) return real(this, cond, deadline);
  return AsUnlockThenLock(this, [&] { return real(this, cond, deadline); });
}

// ---- CondVar --------------------------------------------------------------

void CondVar::Wait(Mutex* mu) {
  auto real = REAL(void (*)(CondVar*, Mutex*), "N", "7CondVar4WaitEPNS0_5MutexE");
  Outermost outer;
  if (!outer) return real(this, mu);
  AsUnlockThenLock(mu, [&] { return real(this, mu), 0; });
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  auto real = REAL(bool (*)(CondVar*, Mutex*, Duration), "N",
                   "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Outermost outer;
  if (!outer) return real(this, mu, timeout);
  return AsUnlockThenLock(mu, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  auto real = REAL(bool (*)(CondVar*, Mutex*, Time), "N",
                   "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Outermost outer;
  if (!outer) return real(this, mu, deadline);
  return AsUnlockThenLock(mu, [&] { return real(this, mu, deadline); });
}

// ---- Notification ---------------------------------------------------------

void Notification::Notify() {
  auto real = REAL(void (*)(Notification*), "N", "12Notification6NotifyEv");
  Outermost outer;
  if (outer) __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  auto real = REAL(void (*)(const Notification*), "NK", "12Notification19WaitForNotificationEv");
  Outermost outer;
  real(this);
  if (outer) __tsan_acquire(NotifiedFlag(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  auto real = REAL(bool (*)(const Notification*, Duration), "NK",
                   "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  Outermost outer;
  bool notified = real(this, timeout);
  if (outer && notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  auto real = REAL(bool (*)(const Notification*, Time), "NK",
                   "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  Outermost outer;
  bool notified = real(this, deadline);
  if (outer && notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

// ---- BlockingCounter ------------------------------------------------------
// Only the last DecrementCount takes the internal mutex; the others order
// themselves before Wait's return through the counter itself.

bool BlockingCounter::DecrementCount() {
  auto real = REAL(bool (*)(BlockingCounter*), "N", "15BlockingCounter14DecrementCountEv");
  Outermost outer;
  if (outer) __tsan_release(this);
  return real(this);
}

void BlockingCounter::Wait() {
  auto real = REAL(void (*)(BlockingCounter*), "N", "15BlockingCounter4WaitEv");
  Outermost outer;
  real(this);
  if (outer) __tsan_acquire(this);
}

// Barrier::Block needs no wrapper: every thread takes, awaits on and releases
// the barrier's own mutex, through the PLT, i.e. through the wrappers above.
// (Wrapping it would be wrong: the thread Block returns true to may delete
// the barrier while the others are still returning from it.)

ABSL_NAMESPACE_END
}  // namespace absl
