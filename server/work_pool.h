// A fixed set of threads running queued tasks, with a bounded queue. gRPC's
// callback reactors must never block; blocking database work is handed to a
// WorkPool instead, and a full queue is answered RESOURCE_EXHAUSTED rather
// than growing without bound.
#ifndef ENLACE_SERVER_WORK_POOL_H_
#define ENLACE_SERVER_WORK_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace enlace::server {

class WorkPool {
 public:
  WorkPool(int threads, size_t max_queue);
  // Runs every task already queued, then joins the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `task`; false (and `task` dropped unrun) when the queue is full or
  // the pool is shutting down.
  bool TrySubmit(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void RunWorker();

  const size_t max_queue_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_WORK_POOL_H_
