// Per-identity admission: how many calls (or streams) one caller identity may
// have running at once, and how many more may wait for a turn. A caller over
// both is refused with RESOURCE_EXHAUSTED naming the limit. Waiting instead
// of being refused at once turns a burst, or a flood, into back-pressure: the
// excess costs a queued closure, not a refused call the client retries at
// once, whose refusal the server must still process and audit.
//
//   IdentitySlots calls(/*running=*/16, /*waiting=*/256, "max_calls_per_identity");
//   absl::Status s = calls.Acquire(identity, [=] { StartTheCall(); });
//   if (!s.ok()) { /* refused: answer s */ }
//   ... when the call has ended: calls.Release(identity);
//
// Thread safety: all methods may be called concurrently. `start` closures run
// with no lock held, in Acquire (a slot was free) or in the Release that
// handed them the slot.
#ifndef ENLACE_SERVER_IDENTITY_SLOTS_H_
#define ENLACE_SERVER_IDENTITY_SLOTS_H_

#include <deque>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace enlace::server {

class IdentitySlots {
 public:
  // `running` slots per identity (0: no limit), `waiting` more may queue;
  // `limit_name` names the limit in refusals (e.g. the flag that sets it).
  IdentitySlots(int running, int waiting, std::string limit_name);

  // Runs `start` now if the identity has a free slot, or queues it for the
  // next one (if fewer than `waiting` are queued), or returns
  // RESOURCE_EXHAUSTED and never runs it. A started closure holds its slot
  // until Release.
  absl::Status Acquire(const std::string& identity, std::function<void()> start)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Gives a slot back: to the identity's oldest waiter (whose closure runs
  // now, on this thread) or to the pool.
  void Release(const std::string& identity) ABSL_LOCKS_EXCLUDED(mu_);

  int running(const std::string& identity) const ABSL_LOCKS_EXCLUDED(mu_);
  int waiting(const std::string& identity) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Usage {
    int running = 0;
    std::deque<std::function<void()>> waiting;
  };
  const int running_limit_;
  const int waiting_limit_;
  const std::string limit_name_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Usage> usage_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_IDENTITY_SLOTS_H_
