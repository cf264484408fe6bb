// WorkPool: bounded queue in lanes taken in turn, each lane capped in the
// threads it occupies, fixed threads (see work_pool.h).
#include "server/work_pool.h"

#include <algorithm>

namespace enlace::server {

WorkPool::WorkPool(int threads, size_t max_queue, int max_running_per_lane)
    : max_queue_(max_queue),
      max_running_per_lane_(max_running_per_lane > 0
                                ? std::min(max_running_per_lane, std::max(threads, 1))
                                : std::max(threads - threads / 4, 1)) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { RunWorker(); });
}

WorkPool::~WorkPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void WorkPool::ScheduleLocked(const std::string& name, const Lane& lane) {
  if (lane.running < max_running_per_lane_) {
    turns_.push_back(name);  // its next task waits for the other lanes' turns
  } else {
    parked_.insert(name);  // until one of its running tasks ends
  }
}

bool WorkPool::TrySubmit(std::function<void()> task, absl::string_view lane) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queued_ >= max_queue_) return false;
  auto [it, inserted] = lanes_.try_emplace(lane);
  it->second.tasks.push_back(std::move(task));
  ++queued_;
  // A lane that had nothing queued is in neither turns_ nor parked_ yet.
  if (it->second.tasks.size() == 1) ScheduleLocked(it->first, it->second);
  return true;
}

void WorkPool::RunWorker() {
  while (true) {
    std::function<void()> task;
    std::string name;
    {
      absl::MutexLock lock(&mu_);
      // Parked tasks are waited for too: a running task of theirs will end
      // and put them back in turn.
      mu_.Await(absl::Condition(
          +[](WorkPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return !p->turns_.empty() || (p->stopping_ && p->queued_ == 0);
          },
          this));
      if (turns_.empty()) return;  // stopping, and nothing left to run
      name = std::move(turns_.front());
      turns_.pop_front();
      Lane& lane = lanes_.find(name)->second;
      task = std::move(lane.tasks.front());
      lane.tasks.pop_front();
      --queued_;
      ++lane.running;
      if (!lane.tasks.empty()) ScheduleLocked(name, lane);
    }
    task();
    task = nullptr;  // destroyed outside the lock, before the lane is released
    absl::MutexLock lock(&mu_);
    auto it = lanes_.find(name);
    Lane& lane = it->second;
    --lane.running;
    if (parked_.erase(name) > 0) {
      turns_.push_back(name);  // below its cap again, with tasks queued
    } else if (lane.running == 0 && lane.tasks.empty()) {
      lanes_.erase(it);
    }
  }
}

}  // namespace enlace::server
