// Group commit: many callers queue items; writer threads take whatever is
// queued (up to a batch size) and commit it in one transaction. Under load
// batches grow, so one fsync is shared by many records; with a single caller
// a batch is one item and latency stays one commit.
//
// Items may be queued in lanes, each with a cost (e.g. one lane per caller
// identity, cost = the rows an item writes), and are then taken by
// start-time fair queuing: an item's start tag is the later of the virtual
// time (the start tag of the last item taken) and the finish tag (start +
// cost) of its lane's previous item; batches take the smallest start tags
// first (ties: the earlier arrival) and stop at max_batch_cost. So a caller
// that queues a thousand costly items delays another's item by at most
// about one batch, not by its whole backlog, and a lane that was idle gets
// no credit for it. Within a lane items keep their order; with one lane the
// committer is first in, first out.
//
// Used by the audit log (one writer: the chain is sequential anyway; a lane
// per identity) and by arrival ingest (several writers: batch inserts of
// different external_ids overlap their fsyncs; one lane).
//
// Example:
//   GroupCommitter<Pending> committer(2, 500, 100000, [&](std::vector<Pending>& batch) {
//     absl::Status s = store->Write(batch);
//     for (Pending& p : batch) p.done(s);
//   });
//   if (!committer.TrySubmit(Pending{...})) { /* RESOURCE_EXHAUSTED */ }
#ifndef ENLACE_SERVER_GROUP_COMMIT_H_
#define ENLACE_SERVER_GROUP_COMMIT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace enlace::server {

template <typename Item>
class GroupCommitter {
 public:
  // `commit` runs on a writer thread with a non-empty batch, and must
  // complete every item in it (success or failure): nothing is retried here.
  using CommitFn = std::function<void(std::vector<Item>& batch)>;

  // A batch holds at most `max_batch` items and, unless it is a single
  // item, at most `max_batch_cost` cost.
  GroupCommitter(int writers, size_t max_batch, size_t max_queue, CommitFn commit,
                 uint64_t max_batch_cost = std::numeric_limits<uint64_t>::max())
      : max_batch_(max_batch),
        max_queue_(max_queue),
        max_batch_cost_(max_batch_cost),
        commit_(std::move(commit)) {
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

  // Queues `item` in `lane` at `cost`; false when the queue is full or
  // shutting down (the item is not committed and its owner must answer the
  // caller itself).
  // Items queued and not yet taken into a batch (for metrics).
  size_t queued() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return queued_;
  }

  bool TrySubmit(Item item, absl::string_view lane = "", uint64_t cost = 1)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (stopping_ || queued_ >= max_queue_) return false;
    Lane& l = lanes_[lane];
    uint64_t start = std::max(virtual_time_, l.last_finish);
    l.last_finish = start + cost;
    l.items.push_back(Queued{std::move(item), cost, start, ++arrivals_});
    ++queued_;
    return true;
  }

 private:
  struct Queued {
    Item item;
    uint64_t cost;
    uint64_t start;  // start tag
    uint64_t arrival;  // arrival order, for ties
  };
  struct Lane {
    std::deque<Queued> items;  // oldest first; start tags increase
    uint64_t last_finish = 0;  // finish tag of the lane's last item
  };

  void TakeBatchLocked(std::vector<Item>* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t cost = 0;
    while (queued_ > 0 && batch->size() < max_batch_) {
      Lane* next = nullptr;
      for (auto& [name, lane] : lanes_) {
        if (lane.items.empty()) continue;
        const Queued& head = lane.items.front();
        if (next == nullptr || head.start < next->items.front().start ||
            (head.start == next->items.front().start &&
             head.arrival < next->items.front().arrival)) {
          next = &lane;
        }
      }
      Queued& head = next->items.front();
      if (!batch->empty() && cost + head.cost > max_batch_cost_) break;
      cost += head.cost;
      virtual_time_ = head.start;
      batch->push_back(std::move(head.item));
      next->items.pop_front();
      --queued_;
    }
    // Forget lanes that no longer hold anything back (idle, finished by now).
    absl::erase_if(lanes_, [this](const auto& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return entry.second.items.empty() && entry.second.last_finish <= virtual_time_;
    });
  }

  void RunWriter() {
    std::vector<Item> batch;
    while (true) {
      batch.clear();
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](GroupCommitter* c)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->stopping_ || c->queued_ > 0; },
            this));
        if (queued_ == 0) return;  // stopping and drained
        TakeBatchLocked(&batch);
      }
      commit_(batch);
    }
  }

  const size_t max_batch_;
  const size_t max_queue_;
  const uint64_t max_batch_cost_;
  const CommitFn commit_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Lane> lanes_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t virtual_time_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t arrivals_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> writers_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_GROUP_COMMIT_H_
