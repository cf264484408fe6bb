// The Merkle tree of RFC 6962 / RFC 9162 (section 2.1) over a list of
// leaves: hashes, the root of any prefix, inclusion and consistency proofs
// and their verification. Pure functions, no I/O: the storage of the tree
// (db/audit_tree_store.h) asks which stored nodes a computation needs, reads
// them in one query, and hands them back through a lookup.
//
//   leaf hash   SHA-256(0x00 || leaf bytes)
//   node hash   SHA-256(0x01 || left || right)
//   MTH({})     SHA-256("")            (the empty tree)
//   MTH(D[n])   = HashChildren(MTH(D[0:k]), MTH(D[k:n])), k the largest
//                 power of two strictly below n
//
// Stored nodes are the complete subtrees: NodeId{level, index} covers the
// leaves [index * 2^level, (index + 1) * 2^level); level 0 are the leaf
// hashes. Every range that RFC 9162's algorithms ask for is the hash of at
// most 64 such nodes (RangeNodes), so any root, inclusion proof or
// consistency proof costs O(log n) stored hashes (O(log^2 n) at worst in a
// careless plan): a few dozen at 10^8 leaves.
//
// Sizes and indexes are uint64_t; callers that take them from requests check
// their sign and bounds first.
#ifndef ENLACE_DB_MERKLE_H_
#define ENLACE_DB_MERKLE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace enlace::db::merkle {

inline constexpr size_t kHashSize = 32;

std::string Sha256(absl::string_view data);
// SHA-256 of the empty string: the root of the tree of no leaves.
const std::string& EmptyRoot();
// SHA-256(0x00 || leaf_bytes).
std::string HashLeaf(absl::string_view leaf_bytes);
// SHA-256(0x01 || left || right).
std::string HashChildren(absl::string_view left, absl::string_view right);

// The largest power of two strictly below n (n >= 2).
uint64_t SplitPoint(uint64_t n);

// A complete subtree: leaves [index << level, (index + 1) << level).
struct NodeId {
  int level = 0;
  uint64_t index = 0;

  uint64_t begin() const { return index << level; }
  uint64_t end() const { return (index + 1) << level; }
  friend bool operator==(const NodeId& a, const NodeId& b) {
    return a.level == b.level && a.index == b.index;
  }
  friend bool operator!=(const NodeId& a, const NodeId& b) { return !(a == b); }
  friend bool operator<(const NodeId& a, const NodeId& b) {
    return a.level != b.level ? a.level < b.level : a.index < b.index;
  }
  template <typename H>
  friend H AbslHashValue(H h, const NodeId& n) {
    return H::combine(std::move(h), n.level, n.index);
  }
};

// A range of leaves [begin, end) whose hash is MTH(D[begin:end]).
struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
  friend bool operator==(const Range& a, const Range& b) {
    return a.begin == b.begin && a.end == b.end;
  }
};

// The complete subtrees, left to right, whose hashes make up MTH of
// [begin, end): one per set bit of end - begin, largest first. `begin` must be
// a multiple of the smallest power of two >= end - begin, which holds for every
// range the tree's recursion produces (RangeNodes(0, n) is the "frontier" of
// a tree of n leaves). Empty for an empty range.
std::vector<NodeId> RangeNodes(uint64_t begin, uint64_t end);
// MTH of a range from the hashes of its RangeNodes(), in that order: the
// right fold HashChildren(h0, HashChildren(h1, ... h_last)). EmptyRoot() for
// none.
std::string FoldRange(absl::Span<const std::string> node_hashes);

// MTH(D[0:n]) of the given leaf hashes, by the RFC's recursion (for tests
// and small in-memory trees).
std::string RootFromLeafHashes(absl::Span<const std::string> leaf_hashes);

// RFC 9162 2.1.3.1: the ranges whose hashes, in this order, are the
// inclusion proof of leaf `index` in the tree of `size` leaves (index < size).
std::vector<Range> InclusionProofRanges(uint64_t index, uint64_t size);
// RFC 9162 2.1.4.1: the ranges whose hashes, in this order, are the
// consistency proof from the tree of `from` leaves to that of `to` leaves
// (from <= to). Empty when from == 0 or from == to.
std::vector<Range> ConsistencyProofRanges(uint64_t from, uint64_t to);

// The nodes whose hashes the ranges need (duplicates removed, sorted).
std::vector<NodeId> NodesOfRanges(absl::Span<const Range> ranges);

// Finds a stored node's hash; nullopt when it is not there.
using NodeLookup = std::function<std::optional<std::string>(const NodeId&)>;
// The hashes of `ranges` from node hashes. NOT_FOUND naming the first node
// the lookup does not have.
absl::StatusOr<std::vector<std::string>> HashRanges(absl::Span<const Range> ranges,
                                                    const NodeLookup& lookup);

// RFC 9162 2.1.3.2. False for index >= size, a proof of the wrong length,
// or hashes that do not lead to `root`.
bool VerifyInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                     absl::Span<const std::string> proof, absl::string_view root);
// RFC 9162 2.1.4.2, with the cases it leaves to the caller: from == to needs
// an empty proof and equal roots; from == 0 an empty proof and from_root the
// empty tree's root; from > to is never consistent.
bool VerifyConsistency(uint64_t from, uint64_t to, absl::string_view from_root,
                       absl::string_view to_root, absl::Span<const std::string> proof);

// Builds a tree leaf by leaf, as a log grows, keeping only the frontier (the
// hashes of RangeNodes(0, size())): each Append reports the complete nodes
// it finishes (the leaf itself, then each parent it completes), which is what
// storage keeps. Start from an empty tree, or from a stored one's size and
// frontier.
class TreeBuilder {
 public:
  TreeBuilder() = default;
  // `frontier`: the hashes of RangeNodes(0, size), in order. INVALID_ARGUMENT
  // when their number does not match.
  static absl::StatusOr<TreeBuilder> Resume(uint64_t size, std::vector<std::string> frontier);

  // Adds the next leaf (by its leaf hash). When `completed` is given, appends
  // the nodes this finishes, lowest level first, starting with the leaf.
  void Append(std::string leaf_hash,
              std::vector<std::pair<NodeId, std::string>>* completed = nullptr);

  uint64_t size() const { return size_; }
  // MTH of the leaves so far.
  std::string Root() const;
  // The hashes of RangeNodes(0, size()).
  std::vector<std::string> Frontier() const;

 private:
  uint64_t size_ = 0;
  // Complete subtrees, left to right: strictly decreasing levels.
  std::vector<std::pair<NodeId, std::string>> stack_;
};

}  // namespace enlace::db::merkle

#endif  // ENLACE_DB_MERKLE_H_
