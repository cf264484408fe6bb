// Where the audit log's transparency data lives (docs/audit.md): the Merkle
// tree over the audit events (db/merkle.h), the signed checkpoints of that
// tree, the agencies' witness keys and their cosignatures.
// MysqlAuditTreeStore (mysql_audit_tree_store.h) implements it.
//
// Everything here is insert-only: no method changes or removes a row, so the
// server's database user needs INSERT and SELECT on these tables and nothing
// more. Nodes are immutable facts (the hash of a complete subtree), written
// with INSERT IGNORE: replicas that build the same tree at once write the
// same rows and agree.
//
// Thread safety: implementations are safe for concurrent use, also from
// several server processes sharing one database.
#ifndef ENLACE_DB_AUDIT_TREE_STORE_H_
#define ENLACE_DB_AUDIT_TREE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/audit_chain.h"
#include "db/merkle.h"

namespace enlace::db {

// A checkpoint the log signed (server/checkpoint.h): its signed note as
// issued, and the size and root it states.
struct StoredCheckpoint {
  int64_t tree_size = 0;
  std::string root_hash;  // 32 raw bytes
  std::string note;  // the whole signed note
  int64_t created_at_us = 0;
};

// An agency's witness key: a C2SP tlog-cosignature Ed25519 key.
struct WitnessKeyRecord {
  std::string key_name;
  std::string key_id;  // 4 raw bytes
  std::string public_key;  // 32 raw bytes (Ed25519)
  std::string agency;
  std::string registered_by;  // SPIFFE ID
  int64_t registered_at_us = 0;
};

// A witness's cosignature of a checkpoint.
struct CosignatureRecord {
  int64_t tree_size = 0;
  std::string key_name;
  std::string key_id;  // 4 raw bytes
  std::string agency;
  int64_t timestamp = 0;  // the witness's signing time, POSIX seconds
  std::string signature_line;  // "— <name> <base64>\n", as it goes under the note
  int64_t received_at_us = 0;  // when this server accepted it
};

class AuditTreeStore {
 public:
  virtual ~AuditTreeStore() = default;

  // ---- the tree ----

  // How many leaves the stored tree has: one more than the highest stored
  // leaf index (0 when empty). Leaves are added in order, each with the
  // nodes it completes, so the tree of that size is complete in storage.
  virtual absl::StatusOr<uint64_t> TreeSize() = 0;

  // The stored hashes of `nodes` (nodes not stored are absent), in one query.
  virtual absl::StatusOr<absl::flat_hash_map<merkle::NodeId, std::string>> ReadNodes(
      const std::vector<merkle::NodeId>& nodes) = 0;

  // Stores `nodes` in one transaction (INSERT IGNORE: a node already there,
  // from this or another replica, is left as it is).
  virtual absl::Status AddNodes(
      const std::vector<std::pair<merkle::NodeId, std::string>>& nodes) = 0;

  // ---- checkpoints ----

  // Stores `checkpoint` unless one of its size is stored already (INSERT
  // IGNORE); returns the one stored for that size.
  virtual absl::StatusOr<StoredCheckpoint> AddCheckpoint(const StoredCheckpoint& checkpoint) = 0;
  // The checkpoint of the largest tree size; nullopt when none was issued.
  virtual absl::StatusOr<std::optional<StoredCheckpoint>> LatestCheckpoint() = 0;
  virtual absl::StatusOr<std::optional<StoredCheckpoint>> CheckpointOfSize(int64_t tree_size) = 0;
  // The checkpoints of sizes below `tree_size`, largest first, at most `limit`.
  virtual absl::StatusOr<std::vector<StoredCheckpoint>> CheckpointsBelow(int64_t tree_size,
                                                                         int limit) = 0;
  // When the first checkpoint (the smallest) was issued (0 when none).
  virtual absl::StatusOr<int64_t> FirstCheckpointAtUs() = 0;

  // ---- witnesses ----

  // ALREADY_EXISTS when that (key name, key id) is registered already.
  // `audit` (null only in store tests): the call's event, appended in the
  // same transaction (no key without its event).
  virtual absl::Status AddWitnessKey(const WitnessKeyRecord& key, AuditRecord* audit) = 0;
  // The keys registered under `key_name` (every agency's).
  virtual absl::StatusOr<std::vector<WitnessKeyRecord>> WitnessKeysNamed(
      const std::string& key_name) = 0;

  // Stores a cosignature unless that key already cosigned that tree size
  // (INSERT IGNORE). `audit`: as for AddWitnessKey.
  virtual absl::Status AddCosignature(const CosignatureRecord& cosignature, AuditRecord* audit) = 0;
  // The cosignatures of the checkpoint of `tree_size`, oldest first.
  virtual absl::StatusOr<std::vector<CosignatureRecord>> CosignaturesOf(int64_t tree_size) = 0;
  // When the last cosignature was received (0 when none ever was).
  virtual absl::StatusOr<int64_t> LastCosignatureAtUs() = 0;
};

// ---- computations over a stored tree (O(log n) node reads each) ----

// MTH of the first `size` leaves (size <= the stored tree's size).
absl::StatusOr<std::string> StoredRoot(AuditTreeStore& store, uint64_t size);
// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
absl::StatusOr<std::vector<std::string>> StoredInclusionProof(AuditTreeStore& store, uint64_t index,
                                                              uint64_t size);
// The RFC 9162 consistency proof from `from` leaves to `to` leaves.
absl::StatusOr<std::vector<std::string>> StoredConsistencyProof(AuditTreeStore& store,
                                                                uint64_t from, uint64_t to);
// The hashes of `ranges` from stored nodes, reading them in one query.
// DATA_LOSS when a node the ranges need is not stored.
absl::StatusOr<std::vector<std::string>> StoredRangeHashes(
    AuditTreeStore& store, const std::vector<merkle::Range>& ranges);

}  // namespace enlace::db

#endif  // ENLACE_DB_AUDIT_TREE_STORE_H_
