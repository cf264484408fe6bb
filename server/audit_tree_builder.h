// The audit log's Merkle tree (docs/audit.md), built from the audit events
// and checked against them.
//
// AuditTreeBuilder adds the leaves of new events to the stored tree,
// asynchronously, apart from the append path: it reads the tree's size (its
// highest stored leaf), the frontier of that tree (at most 64 stored nodes),
// the next events in seq order, and stores each new leaf with the nodes it
// completes in one transaction. Per event that is one leaf row and, on
// average, one inner node row (n leaves make 2n - 1 nodes), written in
// batches. Every replica runs one; several may build at once: they write the
// same rows (INSERT IGNORE) and agree. A fresh deployment starts from leaf 0,
// so events written before the tree existed join it the same way.
//
// Before it extends the tree, the builder checks that the event behind the
// tree's last leaf is still the one it hashed: if that event was changed or
// removed (the tail of the log cut, say), it stops with DATA_LOSS and builds
// nothing more until the events match again. (A cut is proven against a
// checkpoint by CheckLogAgainst.)
//
// CheckLogAgainst recomputes the tree from the stored events (never trusting
// stored nodes for that) and compares its root at a checkpoint's size with
// the checkpoint's root. When they differ it names the first sequence that
// differs: it walks down from the checkpoint's root through the stored nodes
// that reproduce it, comparing each left subtree with the one recomputed from
// the events. Where the stored nodes stop reproducing the checkpoint (someone
// rewrote them too), it names the first sequence of the smallest subtree it
// could still authenticate: every event before it is proven unchanged.
#ifndef ENLACE_SERVER_AUDIT_TREE_BUILDER_H_
#define ENLACE_SERVER_AUDIT_TREE_BUILDER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "db/audit_store.h"
#include "db/audit_tree_store.h"

namespace enlace::server {

class AuditTreeBuilder {
 public:
  // Both stores must outlive the builder. `batch`: events per transaction.
  AuditTreeBuilder(db::AuditStore* events, db::AuditTreeStore* tree, int batch = 2000);

  // Adds the leaves of events not yet in the tree, up to about `max_events`
  // of them, a batch per transaction. Returns the tree's size afterwards.
  // DATA_LOSS when the events no longer match the stored tree (see above).
  // One build at a time per process; safe to call from any thread.
  absl::StatusOr<uint64_t> CatchUp(uint64_t max_events) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One batch: returns how many leaves it added.
  absl::StatusOr<uint64_t> Step(uint64_t* size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  db::AuditStore* const events_;
  db::AuditTreeStore* const tree_;
  const int batch_;
  absl::Mutex mu_;
};

// What CheckLogAgainst found.
struct TreeCheck {
  bool consistent = true;  // the events reproduce the checkpoint's root
  int64_t checked = 0;  // events read
  // The first sequence that differs (0 when consistent): a missing event (the
  // log is shorter than the checkpoint, or has a gap) or a changed one.
  int64_t first_differing_sequence = 0;
  // False when the stored nodes no longer reproduce the checkpoint down to
  // that event: then every event before first_differing_sequence is proven
  // unchanged, and the change is at or after it (and at or before
  // last_possible_sequence).
  bool located = true;
  int64_t last_possible_sequence = 0;
  std::string detail;  // for people: what was found
};

// Recomputes the tree of the first `tree_size` events and compares its root
// with `root_hash` (a checkpoint's), as described above. `anchors` are the
// roots of earlier checkpoints the caller verified were signed by the log
// (size -> root, sizes below tree_size; the log never signs a fork): when the
// stored nodes were rewritten, the largest one the events still reproduce
// proves the events up to it unchanged, and the smallest one they do not is
// walked down from instead. Errors are the stores' (UNAVAILABLE, INTERNAL); a
// mismatch is a result, not an error.
absl::StatusOr<TreeCheck> CheckLogAgainst(db::AuditStore& events, db::AuditTreeStore& tree,
                                          uint64_t tree_size, const std::string& root_hash,
                                          const std::map<uint64_t, std::string>& anchors = {});

}  // namespace enlace::server

#endif  // ENLACE_SERVER_AUDIT_TREE_BUILDER_H_
