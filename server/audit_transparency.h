// The audit log as a transparency log (docs/audit.md): one object per server
// that builds the Merkle tree (AuditTreeBuilder), signs checkpoints of it
// with the log's Ed25519 key, serves proofs, takes the agencies' witness keys
// and cosignatures, and watches that the log stays witnessed.
//
// A background thread (Start) every `build_poll`:
//   - adds new events to the tree;
//   - publishes a checkpoint when the tree grew and the last one is older
//     than `checkpoint_interval` (GetAuditCheckpoint also publishes on
//     request, at most once per `on_request_interval`);
//   - computes the time since a witness last cosigned a checkpoint (since
//     the first checkpoint when none ever did) and, past `witness_alert`,
//     logs a WARNING and reports "unwitnessed" (the health service then
//     answers NOT_SERVING for enlace.audit.Witnessed); the
//     enlace_audit_seconds_since_cosigned gauge follows it.
//
// This process never signs a checkpoint that is not an extension of the
// largest one it knows of (its own last, or the latest stored): if the stored
// tree no longer reproduces that one's root, it logs an ERROR and publishes
// nothing more.
//
// Thread safety: every method may be called from any thread.
#ifndef ENLACE_SERVER_AUDIT_TRANSPARENCY_H_
#define ENLACE_SERVER_AUDIT_TRANSPARENCY_H_

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "db/audit_store.h"
#include "db/audit_tree_store.h"
#include "server/audit_tree_builder.h"
#include "server/checkpoint.h"
#include "server/metrics.h"

namespace enlace::server {

// The health service name that is NOT_SERVING while the log is unwitnessed.
inline constexpr char kWitnessedHealthService[] = "enlace.audit.Witnessed";

struct TransparencyOptions {
  std::string origin = "enlace.local/audit";  // the checkpoints' origin and the log key's name
  absl::Duration build_poll = absl::Seconds(1);
  absl::Duration checkpoint_interval = absl::Seconds(60);
  absl::Duration on_request_interval = absl::Seconds(1);
  absl::Duration witness_alert = absl::Hours(4);
  uint64_t max_build_per_request = 5000;  // events a GetAuditCheckpoint adds at most
  int build_batch = 2000;  // events per tree transaction
};

// A checkpoint as served: the signed note and its cosignatures.
struct CheckpointView {
  db::StoredCheckpoint checkpoint;
  std::vector<db::CosignatureRecord> cosignatures;
};

class AuditTransparency {
 public:
  // Stores and metrics must outlive this object. `on_witnessed` is told
  // whether the log counts as witnessed whenever that changes (and once at
  // Start). Nothing runs before Start().
  AuditTransparency(TransparencyOptions options, tlog::Ed25519Key log_key, db::AuditStore* events,
                    db::AuditTreeStore* tree, Metrics* metrics,
                    std::function<void(bool witnessed)> on_witnessed);
  ~AuditTransparency();

  // Starts the background thread; Stop() (or the destructor) ends it.
  void Start();
  void Stop();

  // The log's verifier: its origin as key name, type Ed25519, its public key.
  const tlog::Verifier& log_verifier() const { return log_verifier_; }
  const std::string& origin() const { return options_.origin; }

  // The latest checkpoint with its cosignatures, after adding new events to
  // the tree (a bounded number) and publishing a newer checkpoint if the tree
  // grew (at most once per on_request_interval).
  absl::StatusOr<CheckpointView> CurrentCheckpoint();
  // The size of the stored tree.
  absl::StatusOr<uint64_t> TreeSize();

  // RFC 9162 proofs from the stored tree. INVALID_ARGUMENT naming the field
  // for sizes the tree cannot have (negative, inverted, beyond its size).
  absl::StatusOr<std::vector<std::string>> InclusionProof(int64_t sequence, int64_t tree_size);
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(int64_t from_size, int64_t to_size);

  // Registers `agency`'s witness key, a vkey of type 0x04 ("<name>+<id>+<key>").
  // INVALID_ARGUMENT naming public_key when malformed; ALREADY_EXISTS when
  // that key is registered, or that name is another agency's.
  absl::StatusOr<db::WitnessKeyRecord> RegisterWitnessKey(const std::string& agency,
                                                          const std::string& public_key,
                                                          const std::string& registered_by,
                                                          db::AuditRecord* audit);

  // Accepts a witness's cosignature of a checkpoint this log issued.
  //   INVALID_ARGUMENT "note: ..."        not a signed note, not signed by this
  //                                       log's key, or not a checkpoint it issued
  //   INVALID_ARGUMENT "cosignature: ..." malformed, or does not verify (a forged
  //                                       or altered cosignature, or one over
  //                                       another text), or dated in the future
  //   PERMISSION_DENIED "cosignature: ..." not by a witness key registered to
  //                                       `caller_agency` (any registered key
  //                                       when `caller_agency` is empty: an admin)
  // Returns the checkpoint with its cosignatures.
  absl::StatusOr<CheckpointView> AddCosignature(const std::string& caller_agency,
                                                const std::string& note,
                                                const std::string& cosignature,
                                                db::AuditRecord* audit);

  // A checkpoint a caller holds: a signed note by this log's key and origin.
  // INVALID_ARGUMENT (field `field`) otherwise.
  absl::StatusOr<tlog::Checkpoint> CheckSignedCheckpoint(const std::string& note,
                                                         absl::string_view field) const;

  // The latest checkpoint stored in the database (nullopt when none yet),
  // checked against the log's key: DATA_LOSS when it does not verify (it
  // was planted or altered in the database).
  absl::StatusOr<std::optional<tlog::Checkpoint>> LatestStoredCheckpoint();

  // Whether the stored events still extend `checkpoint` (CheckLogAgainst).
  absl::StatusOr<TreeCheck> VerifyAgainst(const tlog::Checkpoint& checkpoint);

  // One round of the background work at `now` (what the thread does; tests
  // call it directly).
  void RunOnce(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Signs and stores a checkpoint of the tree as it is, if it grew beyond the
  // latest one; returns the latest.
  absl::StatusOr<db::StoredCheckpoint> Publish(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  void CheckWitnessed(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  void Run();

  const TransparencyOptions options_;
  const tlog::Ed25519Key log_key_;
  const tlog::Verifier log_verifier_;
  db::AuditStore* const events_;
  db::AuditTreeStore* const tree_;
  Metrics* const metrics_;
  const std::function<void(bool)> on_witnessed_;
  AuditTreeBuilder builder_;

  absl::Mutex publish_mu_;  // one publication at a time in this process
  absl::Mutex mu_;
  std::optional<db::StoredCheckpoint> last_signed_ ABSL_GUARDED_BY(mu_);  // by this process
  absl::Time last_published_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool refusing_ ABSL_GUARDED_BY(mu_) = false;  // the stored tree diverged from a checkpoint
  bool build_failing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<bool> witnessed_ ABSL_GUARDED_BY(mu_);
  absl::Time last_alert_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_AUDIT_TRANSPARENCY_H_
