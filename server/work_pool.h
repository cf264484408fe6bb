// A fixed set of threads running queued tasks, with a bounded queue. gRPC's
// callback reactors must never block; blocking database work is handed to a
// WorkPool instead, and a full queue is answered RESOURCE_EXHAUSTED rather
// than growing without bound.
//
// Tasks are queued in lanes (the call gate uses one per caller identity) and
// the threads take from the lanes in turn, so a caller with a thousand tasks
// queued delays another caller's task by at most one task per busy lane,
// not by its whole backlog. Within a lane tasks run in submission order.
//
// A lane may also occupy only so many threads at once (by default all but a
// quarter of them: 6 of 8): the others stay free for the other lanes, so a
// task of a quiet lane starts at once even while one lane floods the pool,
// instead of waiting for one of the flooder's tasks to end. A lane at its cap
// is skipped, not waited for: its next task starts when one of its running
// tasks ends.
//
//   WorkPool pool(/*threads=*/8, /*max_queue=*/10000);  // a lane runs at most 6 at once
//   if (!pool.TrySubmit([] { ... }, "spiffe://enlace/agency/iom")) { /* busy */ }
#ifndef ENLACE_SERVER_WORK_POOL_H_
#define ENLACE_SERVER_WORK_POOL_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace enlace::server {

class WorkPool {
 public:
  // `max_running_per_lane`: how many threads one lane's tasks may occupy at
  // once; 0 (the default) means threads - threads / 4, and a larger value
  // than `threads` means no cap.
  WorkPool(int threads, size_t max_queue, int max_running_per_lane = 0);
  // Runs every task already queued, then joins the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `task` in `lane`; false (and `task` dropped unrun) when the pool
  // holds max_queue tasks in all or is shutting down.
  bool TrySubmit(std::function<void()> task, absl::string_view lane = "") ABSL_LOCKS_EXCLUDED(mu_);

  // The cap in force: threads one lane may occupy at once.
  int max_running_per_lane() const { return max_running_per_lane_; }

 private:
  struct Lane {
    std::deque<std::function<void()>> tasks;
    int running = 0;  // its tasks on a thread now
  };
  void RunWorker();
  // Queues `name` for its next turn, or parks it while it is at its cap.
  void ScheduleLocked(const std::string& name, const Lane& lane) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queue_;
  const int max_running_per_lane_;
  absl::Mutex mu_;
  // Lanes with tasks queued or running; erased when they have neither.
  absl::flat_hash_map<std::string, Lane> lanes_ ABSL_GUARDED_BY(mu_);
  // A lane with tasks queued is in exactly one of these: turns_ (may run
  // now, next first) or parked_ (at its cap).
  std::deque<std::string> turns_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> parked_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_WORK_POOL_H_
