// TEST-ONLY forced crash points, for the crash consistency test
// (tests/e2e/crash_consistency_test.cc) and scripts/crash.sh.
//
// The enlace-server binary (server/main.cc, and nothing else) calls
// InitCrashPointFromEnvironment() once at start. With
//   ENLACE_TESTING_CRASH_POINT=NAME[:N]
// in its environment, the Nth time (default 1) the code passes
// CrashPoint("NAME") the process writes one line to stderr and sends itself
// SIGKILL: nothing is flushed, committed or answered after that, as in a
// power cut at that exact place. The points:
//   mid_batch                   an ingest batch's rows are written inside its
//                               transaction, not yet committed
//   after_commit_before_answer  an ingest batch committed, before any of its
//                               records is answered
//   mid_answers                 an ingest batch committed and half of its
//                               records were handed their answer
// Only the process environment selects a point: no flag, RPC or request
// field reaches it, so a client cannot trigger one. Unset (production, and
// every in-process test server), CrashPoint is one relaxed atomic load.
// Here in db/, header-only, so the store layer can mark a point and the
// server include it (dependencies point down only).
#ifndef ENLACE_DB_CRASH_POINTS_H_
#define ENLACE_DB_CRASH_POINTS_H_

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace enlace::db {

inline constexpr char kCrashPointVariable[] = "ENLACE_TESTING_CRASH_POINT";

namespace crash_points_internal {
struct Armed {
  std::string name;
  std::atomic<long> remaining{1};  // passes left until the kill
};
inline std::atomic<Armed*> armed{nullptr};
}  // namespace crash_points_internal

// Reads ENLACE_TESTING_CRASH_POINT; false (and nothing armed) if it is set
// but malformed, so the caller can refuse to start.
inline bool InitCrashPointFromEnvironment() {
  const char* value = std::getenv(kCrashPointVariable);
  if (value == nullptr || *value == '\0') return true;
  std::string text(value);
  long count = 1;
  size_t colon = text.find(':');
  if (colon != std::string::npos) {
    char* end = nullptr;
    count = std::strtol(text.c_str() + colon + 1, &end, 10);
    if (end == text.c_str() + colon + 1 || *end != '\0' || count < 1) return false;
    text.resize(colon);
  }
  if (text != "mid_batch" && text != "after_commit_before_answer" && text != "mid_answers") {
    return false;
  }
  auto* armed = new crash_points_internal::Armed;  // lives until the kill
  armed->name = text;
  armed->remaining = count;
  crash_points_internal::armed.store(armed, std::memory_order_release);
  return true;
}

// Dies here (SIGKILL) if this is the armed point's Nth pass.
inline void CrashPoint(const char* name) {
  crash_points_internal::Armed* armed =
      crash_points_internal::armed.load(std::memory_order_relaxed);
  if (armed == nullptr) return;
  std::atomic_thread_fence(std::memory_order_acquire);
  if (armed->name != name) return;
  if (armed->remaining.fetch_sub(1) != 1) return;
  std::string line = std::string("enlace-server: crash point ") + name + " reached: SIGKILL\n";
  ssize_t written = ::write(2, line.data(), line.size());
  (void)written;
  ::raise(SIGKILL);
}

}  // namespace enlace::db

#endif  // ENLACE_DB_CRASH_POINTS_H_
