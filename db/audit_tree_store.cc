// Roots and proofs over a stored audit tree (see audit_tree_store.h).
#include "db/audit_tree_store.h"

#include "absl/strings/str_cat.h"

namespace enlace::db {

absl::StatusOr<std::vector<std::string>> StoredRangeHashes(
    AuditTreeStore& store, const std::vector<merkle::Range>& ranges) {
  std::vector<merkle::NodeId> needed = merkle::NodesOfRanges(ranges);
  if (needed.empty()) {
    // Only empty ranges (the empty tree's root).
    std::vector<std::string> hashes(ranges.size(), merkle::EmptyRoot());
    return hashes;
  }
  absl::StatusOr<absl::flat_hash_map<merkle::NodeId, std::string>> nodes = store.ReadNodes(needed);
  if (!nodes.ok()) return nodes.status();
  absl::StatusOr<std::vector<std::string>> hashes =
      merkle::HashRanges(ranges, [&](const merkle::NodeId& id) -> std::optional<std::string> {
        auto it = nodes->find(id);
        if (it == nodes->end()) return std::nullopt;
        return it->second;
      });
  if (!hashes.ok()) {
    return absl::DataLossError(absl::StrCat("audit tree: ", hashes.status().message()));
  }
  return hashes;
}

absl::StatusOr<std::string> StoredRoot(AuditTreeStore& store, uint64_t size) {
  absl::StatusOr<std::vector<std::string>> hashes =
      StoredRangeHashes(store, {merkle::Range{0, size}});
  if (!hashes.ok()) return hashes.status();
  return (*hashes)[0];
}

absl::StatusOr<std::vector<std::string>> StoredInclusionProof(AuditTreeStore& store, uint64_t index,
                                                              uint64_t size) {
  return StoredRangeHashes(store, merkle::InclusionProofRanges(index, size));
}

absl::StatusOr<std::vector<std::string>> StoredConsistencyProof(AuditTreeStore& store,
                                                                uint64_t from, uint64_t to) {
  return StoredRangeHashes(store, merkle::ConsistencyProofRanges(from, to));
}

}  // namespace enlace::db
