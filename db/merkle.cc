// RFC 6962 / RFC 9162 Merkle tree functions (see merkle.h).
#include "db/merkle.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace enlace::db::merkle {
namespace {

// Fetched once: EVP_sha256() would be looked up again on every digest.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? static_cast<const EVP_MD*>(fetched) : EVP_sha256();
  }();
  return md;
}

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

void InclusionPath(uint64_t m, uint64_t begin, uint64_t end, std::vector<Range>* out) {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    InclusionPath(m, begin, begin + k, out);
    out->push_back({begin + k, end});
  } else {
    InclusionPath(m - k, begin + k, end, out);
    out->push_back({begin, begin + k});
  }
}

// SUBPROOF(m, D[begin:end], b) of RFC 9162 2.1.4.1.
void SubProof(uint64_t m, uint64_t begin, uint64_t end, bool complete_so_far,
              std::vector<Range>* out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!complete_so_far) out->push_back({begin, end});
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(m, begin, begin + k, complete_so_far, out);
    out->push_back({begin + k, end});
  } else {
    SubProof(m - k, begin + k, end, false, out);
    out->push_back({begin, begin + k});
  }
}

bool AllHashes(absl::Span<const std::string> hashes) {
  return std::all_of(hashes.begin(), hashes.end(),
                     [](const std::string& h) { return h.size() == kHashSize; });
}

}  // namespace

std::string Sha256(absl::string_view data) {
  std::string digest(kHashSize, '\0');
  unsigned int length = 0;
  // A failure (out of memory) leaves zeros, which never verify.
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(digest.data()), &length,
                 Sha256Md(), nullptr) != 1) {
    return std::string(kHashSize, '\0');
  }
  return digest;
}

const std::string& EmptyRoot() {
  static const std::string* root = new std::string(Sha256(""));
  return *root;
}

std::string HashLeaf(absl::string_view leaf_bytes) {
  std::string input;
  input.reserve(1 + leaf_bytes.size());
  input.push_back('\x00');
  input.append(leaf_bytes.data(), leaf_bytes.size());
  return Sha256(input);
}

std::string HashChildren(absl::string_view left, absl::string_view right) {
  std::string input;
  input.reserve(1 + left.size() + right.size());
  input.push_back('\x01');
  input.append(left.data(), left.size());
  input.append(right.data(), right.size());
  return Sha256(input);
}

uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k < n - k) k <<= 1;  // stops at the largest power of two < n
  return k;
}

std::vector<NodeId> RangeNodes(uint64_t begin, uint64_t end) {
  std::vector<NodeId> nodes;
  if (end <= begin) return nodes;
  const uint64_t n = end - begin;
  uint64_t position = begin;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((n & width) == 0) continue;
    nodes.push_back(NodeId{level, position >> level});
    position += width;
  }
  return nodes;
}

std::string FoldRange(absl::Span<const std::string> node_hashes) {
  if (node_hashes.empty()) return EmptyRoot();
  std::string hash = node_hashes.back();
  for (size_t i = node_hashes.size() - 1; i-- > 0;) hash = HashChildren(node_hashes[i], hash);
  return hash;
}

std::string RootFromLeafHashes(absl::Span<const std::string> leaf_hashes) {
  const size_t n = leaf_hashes.size();
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaf_hashes[0];
  const size_t k = static_cast<size_t>(SplitPoint(n));
  return HashChildren(RootFromLeafHashes(leaf_hashes.subspan(0, k)),
                      RootFromLeafHashes(leaf_hashes.subspan(k)));
}

std::vector<Range> InclusionProofRanges(uint64_t index, uint64_t size) {
  std::vector<Range> ranges;
  if (index < size) InclusionPath(index, 0, size, &ranges);
  return ranges;
}

std::vector<Range> ConsistencyProofRanges(uint64_t from, uint64_t to) {
  std::vector<Range> ranges;
  if (from > 0 && from < to) SubProof(from, 0, to, true, &ranges);
  return ranges;
}

std::vector<NodeId> NodesOfRanges(absl::Span<const Range> ranges) {
  std::vector<NodeId> nodes;
  for (const Range& range : ranges) {
    for (const NodeId& node : RangeNodes(range.begin, range.end)) nodes.push_back(node);
  }
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

absl::StatusOr<std::vector<std::string>> HashRanges(absl::Span<const Range> ranges,
                                                    const NodeLookup& lookup) {
  std::vector<std::string> hashes;
  hashes.reserve(ranges.size());
  for (const Range& range : ranges) {
    std::vector<std::string> parts;
    for (const NodeId& node : RangeNodes(range.begin, range.end)) {
      std::optional<std::string> hash = lookup(node);
      if (!hash.has_value()) {
        return absl::NotFoundError(
            absl::StrCat("tree node (level ", node.level, ", index ", node.index, ") is missing"));
      }
      parts.push_back(*std::move(hash));
    }
    hashes.push_back(FoldRange(parts));
  }
  return hashes;
}

bool VerifyInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                     absl::Span<const std::string> proof, absl::string_view root) {
  if (index >= size || leaf_hash.size() != kHashSize || root.size() != kHashSize ||
      !AllHashes(proof)) {
    return false;
  }
  uint64_t fn = index;
  uint64_t sn = size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = HashChildren(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(uint64_t from, uint64_t to, absl::string_view from_root,
                       absl::string_view to_root, absl::Span<const std::string> proof) {
  if (from > to || from_root.size() != kHashSize || to_root.size() != kHashSize ||
      !AllHashes(proof)) {
    return false;
  }
  if (from == to) return proof.empty() && from_root == to_root;
  if (from == 0) return proof.empty() && from_root == EmptyRoot();
  if (proof.empty()) return false;
  std::vector<std::string> path;
  if (IsPowerOfTwo(from)) path.emplace_back(from_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = from - 1;
  uint64_t sn = to - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0];
  std::string sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == from_root && sr == to_root && sn == 0;
}

absl::StatusOr<TreeBuilder> TreeBuilder::Resume(uint64_t size, std::vector<std::string> frontier) {
  std::vector<NodeId> nodes = RangeNodes(0, size);
  if (nodes.size() != frontier.size()) {
    return absl::InvalidArgumentError(absl::StrCat("a tree of ", size, " leaves has a frontier of ",
                                                   nodes.size(), " hashes, not ", frontier.size()));
  }
  TreeBuilder builder;
  builder.size_ = size;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (frontier[i].size() != kHashSize) {
      return absl::InvalidArgumentError("a frontier hash is not 32 bytes");
    }
    builder.stack_.emplace_back(nodes[i], std::move(frontier[i]));
  }
  return builder;
}

void TreeBuilder::Append(std::string leaf_hash,
                         std::vector<std::pair<NodeId, std::string>>* completed) {
  stack_.emplace_back(NodeId{0, size_}, std::move(leaf_hash));
  if (completed != nullptr) completed->push_back(stack_.back());
  while (stack_.size() >= 2 && stack_[stack_.size() - 2].first.level == stack_.back().first.level) {
    std::pair<NodeId, std::string> right = std::move(stack_.back());
    stack_.pop_back();
    std::pair<NodeId, std::string>& left = stack_.back();
    left.second = HashChildren(left.second, right.second);
    left.first = NodeId{left.first.level + 1, left.first.index >> 1};
    if (completed != nullptr) completed->push_back(left);
  }
  ++size_;
}

std::string TreeBuilder::Root() const { return FoldRange(Frontier()); }

std::vector<std::string> TreeBuilder::Frontier() const {
  std::vector<std::string> hashes;
  hashes.reserve(stack_.size());
  for (const auto& [node, hash] : stack_) hashes.push_back(hash);
  return hashes;
}

}  // namespace enlace::db::merkle
