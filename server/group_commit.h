// Group commit: many callers queue items; writer threads take whatever is
// queued (up to a batch size) and commit it in one transaction. Under load
// batches grow, so one fsync is shared by many records; with a single caller
// a batch is one item and latency stays one commit.
//
// Used by the audit log (one writer: the chain is sequential anyway) and by
// arrival ingest (several writers: batch inserts of different external_ids
// overlap their fsyncs).
//
// Example:
//   GroupCommitter<Pending> committer(2, 500, 100000, [&](std::vector<Pending>& batch) {
//     absl::Status s = store->Write(batch);
//     for (Pending& p : batch) p.done(s);
//   });
//   if (!committer.TrySubmit(Pending{...})) { /* RESOURCE_EXHAUSTED */ }
#ifndef ENLACE_SERVER_GROUP_COMMIT_H_
#define ENLACE_SERVER_GROUP_COMMIT_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace enlace::server {

template <typename Item>
class GroupCommitter {
 public:
  // `commit` runs on a writer thread with a non-empty batch, and must
  // complete every item in it (success or failure): nothing is retried here.
  using CommitFn = std::function<void(std::vector<Item>& batch)>;

  GroupCommitter(int writers, size_t max_batch, size_t max_queue, CommitFn commit)
      : max_batch_(max_batch), max_queue_(max_queue), commit_(std::move(commit)) {
    for (int i = 0; i < writers; ++i) writers_.emplace_back([this] { RunWriter(); });
  }

  // Commits everything already queued, then joins the writers.
  ~GroupCommitter() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& t : writers_) t.join();
  }

  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queues `item`; false when the queue is full or shutting down (the item
  // is not committed and its owner must answer the caller itself).
  bool TrySubmit(Item item) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(item));
    return true;
  }

 private:
  void RunWriter() {
    std::vector<Item> batch;
    while (true) {
      batch.clear();
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](GroupCommitter* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
              return c->stopping_ || !c->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stopping and drained
        while (!queue_.empty() && batch.size() < max_batch_) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      commit_(batch);
    }
  }

  const size_t max_batch_;
  const size_t max_queue_;
  const CommitFn commit_;
  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> writers_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_GROUP_COMMIT_H_
