// The RFC 6962 / RFC 9162 Merkle tree functions (db/merkle.h): the published
// reference vectors, every proof of every pair of sizes up to 70 against a
// naive recomputation written from the RFC's text, the verification edge
// cases, the storage plan (which stored nodes a proof needs) and its size at
// 10^8 leaves, and the audit leaf format.
#include "db/merkle.h"

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "db/audit_chain.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enlace::db::merkle {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }
std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// transparency-dev/merkle's RFC 6962 test data: leaves, and the root of each
// tree size 0..8.
const std::vector<std::string>& ReferenceLeaves() {
  static const auto* leaves =
      new std::vector<std::string>{"",
                                   Unhex("00"),
                                   Unhex("10"),
                                   Unhex("2021"),
                                   Unhex("3031"),
                                   Unhex("40414243"),
                                   Unhex("5051525354555657"),
                                   Unhex("606162636465666768696a6b6c6d6e6f")};
  return *leaves;
}

const char* const kReferenceRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

std::vector<std::string> LeafHashes(const std::vector<std::string>& leaves) {
  std::vector<std::string> hashes;
  for (const std::string& leaf : leaves) hashes.push_back(HashLeaf(leaf));
  return hashes;
}

// n distinct synthetic leaves.
std::vector<std::string> SyntheticLeafHashes(int n) {
  std::vector<std::string> hashes;
  for (int i = 0; i < n; ++i) hashes.push_back(HashLeaf(absl::StrCat("leaf-", i)));
  return hashes;
}

// ---- a naive recomputation, from RFC 9162's text, over whole leaf lists ----

using Leaves = absl::Span<const std::string>;

uint64_t NaiveSplit(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// PATH(m, D[n]).
std::vector<std::string> NaivePath(uint64_t m, Leaves d) {
  if (d.size() <= 1) return {};
  const uint64_t k = NaiveSplit(d.size());
  std::vector<std::string> path;
  if (m < k) {
    path = NaivePath(m, d.subspan(0, k));
    path.push_back(RootFromLeafHashes(d.subspan(k)));
  } else {
    path = NaivePath(m - k, d.subspan(k));
    path.push_back(RootFromLeafHashes(d.subspan(0, k)));
  }
  return path;
}

// SUBPROOF(m, D[n], b).
std::vector<std::string> NaiveSubproof(uint64_t m, Leaves d, bool b) {
  const uint64_t n = d.size();
  if (m == n) {
    if (b) return {};
    return {RootFromLeafHashes(d)};
  }
  const uint64_t k = NaiveSplit(n);
  std::vector<std::string> proof;
  if (m <= k) {
    proof = NaiveSubproof(m, d.subspan(0, k), b);
    proof.push_back(RootFromLeafHashes(d.subspan(k)));
  } else {
    proof = NaiveSubproof(m - k, d.subspan(k), false);
    proof.push_back(RootFromLeafHashes(d.subspan(0, k)));
  }
  return proof;
}

// The hash of any stored node, from the leaves (what storage would return).
NodeLookup LookupIn(const std::vector<std::string>& leaves) {
  return [&leaves](const NodeId& id) -> std::optional<std::string> {
    if (id.end() > leaves.size()) return std::nullopt;
    return RootFromLeafHashes(Leaves(leaves).subspan(id.begin(), id.end() - id.begin()));
  };
}

std::vector<std::string> Hashes(const std::vector<Range>& ranges,
                                const std::vector<std::string>& leaves) {
  absl::StatusOr<std::vector<std::string>> hashes = HashRanges(ranges, LookupIn(leaves));
  EXPECT_TRUE(hashes.ok()) << hashes.status();
  return hashes.ok() ? *hashes : std::vector<std::string>{};
}

std::vector<std::string> Flip(std::vector<std::string> proof, size_t i) {
  proof[i][0] ^= 1;
  return proof;
}

// ---- hashing ----

TEST(MerkleTest, RootsAreTheReferenceRootsOfRfc6962) {
  std::vector<std::string> leaves = LeafHashes(ReferenceLeaves());
  for (size_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(Hex(RootFromLeafHashes(Leaves(leaves).subspan(0, n))), kReferenceRoots[n])
        << "size " << n;
  }
  EXPECT_EQ(Hex(EmptyRoot()), kReferenceRoots[0]);
  EXPECT_EQ(Hex(HashLeaf("")), kReferenceRoots[1]);  // 0x00 prefix
  EXPECT_EQ(Hex(HashChildren(leaves[0], leaves[1])), kReferenceRoots[2]);  // 0x01 prefix
}

TEST(MerkleTest, TheSplitIsTheLargestPowerOfTwoStrictlyBelow) {
  const std::map<uint64_t, uint64_t> expected = {{2, 1},
                                                 {3, 2},
                                                 {4, 2},
                                                 {5, 4},
                                                 {6, 4},
                                                 {7, 4},
                                                 {8, 4},
                                                 {9, 8},
                                                 {1000, 512},
                                                 {uint64_t{1} << 40, uint64_t{1} << 39},
                                                 {(uint64_t{1} << 40) + 1, uint64_t{1} << 40},
                                                 {(uint64_t{1} << 63) + 1, uint64_t{1} << 63}};
  for (const auto& [n, k] : expected) EXPECT_EQ(SplitPoint(n), k) << n;
}

TEST(MerkleTest, RangeNodesAreTheCompleteSubtreesLargestFirst) {
  EXPECT_THAT(RangeNodes(0, 0), IsEmpty());
  EXPECT_THAT(RangeNodes(0, 1), ElementsAre(NodeId{0, 0}));
  EXPECT_THAT(RangeNodes(0, 8), ElementsAre(NodeId{3, 0}));
  EXPECT_THAT(RangeNodes(0, 7), ElementsAre(NodeId{2, 0}, NodeId{1, 2}, NodeId{0, 6}));
  EXPECT_THAT(RangeNodes(4, 7), ElementsAre(NodeId{1, 2}, NodeId{0, 6}));
  EXPECT_THAT(RangeNodes(64, 100), ElementsAre(NodeId{5, 2}, NodeId{2, 24}));
  // Folding the frontier is the root, for every size.
  std::vector<std::string> leaves = SyntheticLeafHashes(70);
  for (uint64_t n = 0; n <= 70; ++n) {
    EXPECT_EQ(Hashes({Range{0, n}}, leaves)[0], RootFromLeafHashes(Leaves(leaves).subspan(0, n)))
        << n;
  }
}

// ---- the reference proofs ----

TEST(MerkleTest, InclusionProofsAreTheReferenceOnes) {
  std::vector<std::string> leaves = LeafHashes(ReferenceLeaves());
  struct Case {
    uint64_t index, size;
    std::vector<const char*> proof;
  };
  const std::vector<Case> cases = {
      {0, 1, {}},
      {0,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5,
       8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1,
       5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> proof = Hashes(InclusionProofRanges(c.index, c.size), leaves);
    std::vector<std::string> hex;
    for (const std::string& h : proof) hex.push_back(Hex(h));
    EXPECT_EQ(hex, std::vector<std::string>(c.proof.begin(), c.proof.end()))
        << c.index << " in " << c.size;
    EXPECT_TRUE(
        VerifyInclusion(c.index, c.size, leaves[c.index], proof, Unhex(kReferenceRoots[c.size])));
  }
}

TEST(MerkleTest, ConsistencyProofsAreTheReferenceOnes) {
  std::vector<std::string> leaves = LeafHashes(ReferenceLeaves());
  struct Case {
    uint64_t from, to;
    std::vector<const char*> proof;
  };
  const std::vector<Case> cases = {
      {1, 1, {}},
      {1,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6,
       8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2,
       5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> proof = Hashes(ConsistencyProofRanges(c.from, c.to), leaves);
    std::vector<std::string> hex;
    for (const std::string& h : proof) hex.push_back(Hex(h));
    EXPECT_EQ(hex, std::vector<std::string>(c.proof.begin(), c.proof.end()))
        << c.from << " to " << c.to;
    EXPECT_TRUE(VerifyConsistency(c.from, c.to, Unhex(kReferenceRoots[c.from]),
                                  Unhex(kReferenceRoots[c.to]), proof));
  }
}

// ---- every pair of sizes up to 70 against the naive recomputation ----

TEST(MerkleTest, EveryInclusionProofUpTo70MatchesTheRfcAndVerifiesAndNothingElseDoes) {
  std::vector<std::string> all = SyntheticLeafHashes(71);
  for (uint64_t n = 1; n <= 70; ++n) {
    Leaves d = Leaves(all).subspan(0, n);
    std::vector<std::string> leaves(d.begin(), d.end());
    const std::string root = RootFromLeafHashes(d);
    for (uint64_t i = 0; i < n; ++i) {
      std::vector<std::string> proof = Hashes(InclusionProofRanges(i, n), leaves);
      ASSERT_EQ(proof, NaivePath(i, d)) << i << " in " << n;
      ASSERT_TRUE(VerifyInclusion(i, n, d[i], proof, root)) << i << " in " << n;
      // Another leaf, index or root, the tree (size and root) of another
      // size; a changed, missing or extra hash.
      EXPECT_FALSE(VerifyInclusion(i, n, HashLeaf("other"), proof, root));
      if (n > 1) EXPECT_FALSE(VerifyInclusion((i + 1) % n, n, d[i], proof, root));
      EXPECT_FALSE(VerifyInclusion(i, n + 1, d[i], proof,
                                   RootFromLeafHashes(Leaves(all).subspan(0, n + 1))));
      if (i < n - 1) {
        EXPECT_FALSE(
            VerifyInclusion(i, n - 1, d[i], proof, RootFromLeafHashes(d.subspan(0, n - 1))));
      }
      EXPECT_FALSE(VerifyInclusion(i, n, d[i], proof, HashLeaf("root")));
      for (size_t k = 0; k < proof.size(); ++k) {
        EXPECT_FALSE(VerifyInclusion(i, n, d[i], Flip(proof, k), root));
      }
      std::vector<std::string> longer = proof;
      longer.push_back(root);
      EXPECT_FALSE(VerifyInclusion(i, n, d[i], longer, root));
      if (!proof.empty()) {
        std::vector<std::string> shorter(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(VerifyInclusion(i, n, d[i], shorter, root));
      }
    }
  }
}

TEST(MerkleTest, EveryConsistencyProofUpTo70MatchesTheRfcAndVerifiesAndNothingElseDoes) {
  std::vector<std::string> all = SyntheticLeafHashes(70);
  std::vector<std::string> roots;
  for (uint64_t n = 0; n <= 70; ++n) roots.push_back(RootFromLeafHashes(Leaves(all).subspan(0, n)));
  for (uint64_t n = 0; n <= 70; ++n) {
    std::vector<std::string> leaves(all.begin(), all.begin() + n);
    for (uint64_t m = 0; m <= n; ++m) {
      std::vector<std::string> proof = Hashes(ConsistencyProofRanges(m, n), leaves);
      std::vector<std::string> naive =
          m == 0 ? std::vector<std::string>{} : NaiveSubproof(m, Leaves(leaves), true);
      ASSERT_EQ(proof, naive) << m << " to " << n;
      ASSERT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], proof)) << m << " to " << n;
      // A forked old or new tree, other sizes, a changed, missing or extra hash.
      EXPECT_FALSE(VerifyConsistency(m, n, HashLeaf("fork"), roots[n], proof));
      // (Every tree extends the empty one, whatever its root.)
      if (m > 0) EXPECT_FALSE(VerifyConsistency(m, n, roots[m], HashLeaf("fork"), proof));
      if (m > 0 && m < n) EXPECT_FALSE(VerifyConsistency(m - 1, n, roots[m - 1], roots[n], proof));
      if (m + 1 < n) EXPECT_FALSE(VerifyConsistency(m + 1, n, roots[m + 1], roots[n], proof));
      if (n < 70 && m > 0) EXPECT_FALSE(VerifyConsistency(m, n + 1, roots[m], roots[n + 1], proof));
      for (size_t k = 0; k < proof.size(); ++k) {
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], Flip(proof, k)));
      }
      std::vector<std::string> longer = proof;
      longer.push_back(roots[n]);
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], longer));
      if (!proof.empty()) {
        std::vector<std::string> shorter(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], shorter));
      }
    }
  }
}

// ---- the edge cases RFC 9162 leaves to the verifier ----

TEST(MerkleTest, VerificationEdgeCases) {
  std::vector<std::string> leaves = SyntheticLeafHashes(16);
  const std::string r1 = RootFromLeafHashes(Leaves(leaves).subspan(0, 1));
  const std::string r2 = RootFromLeafHashes(Leaves(leaves).subspan(0, 2));
  const std::string r8 = RootFromLeafHashes(Leaves(leaves).subspan(0, 8));
  const std::string r16 = RootFromLeafHashes(Leaves(leaves));
  // Size 1: the leaf is the root, the proof is empty.
  EXPECT_EQ(r1, leaves[0]);
  EXPECT_TRUE(VerifyInclusion(0, 1, leaves[0], {}, r1));
  EXPECT_FALSE(VerifyInclusion(0, 1, leaves[0], {r1}, r1));
  // No leaf is in the empty tree; no index at or past the size.
  EXPECT_FALSE(VerifyInclusion(0, 0, leaves[0], {}, EmptyRoot()));
  EXPECT_FALSE(VerifyInclusion(2, 2, leaves[1], {leaves[0]}, r2));
  // Size 2 and powers of two.
  EXPECT_TRUE(VerifyInclusion(1, 2, leaves[1], {leaves[0]}, r2));
  EXPECT_TRUE(VerifyConsistency(1, 2, r1, r2, {leaves[1]}));
  EXPECT_TRUE(VerifyConsistency(8, 16, r8, r16, Hashes(ConsistencyProofRanges(8, 16), leaves)));
  EXPECT_THAT(Hashes(ConsistencyProofRanges(8, 16), leaves),
              ElementsAre(RootFromLeafHashes(Leaves(leaves).subspan(8))));
  // from == to: an empty proof and the same root.
  EXPECT_TRUE(VerifyConsistency(8, 8, r8, r8, {}));
  EXPECT_FALSE(VerifyConsistency(8, 8, r8, r16, {}));
  EXPECT_FALSE(VerifyConsistency(8, 8, r8, r8, {r8}));
  EXPECT_THAT(ConsistencyProofRanges(8, 8), IsEmpty());
  // From 0: any tree extends the empty one, with an empty proof.
  EXPECT_TRUE(VerifyConsistency(0, 16, EmptyRoot(), r16, {}));
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}));
  EXPECT_FALSE(VerifyConsistency(0, 16, EmptyRoot(), r16, {r16}));
  EXPECT_FALSE(VerifyConsistency(0, 16, r8, r16, {}));
  EXPECT_THAT(ConsistencyProofRanges(0, 16), IsEmpty());
  // A tree never shrinks; 0 < m < n needs a proof.
  EXPECT_FALSE(VerifyConsistency(16, 8, r16, r8, {}));
  EXPECT_FALSE(VerifyConsistency(8, 16, r8, r16, {}));
  // Hashes must be 32 bytes.
  EXPECT_FALSE(VerifyInclusion(1, 2, leaves[1], {leaves[0].substr(1)}, r2));
  EXPECT_FALSE(VerifyConsistency(1, 2, r1, r2, {leaves[1] + "x"}));
}

// ---- building incrementally, and resuming from a stored frontier ----

TEST(MerkleTest, TheBuilderReportsEveryCompleteNodeOnceAndResumesFromAFrontier) {
  std::vector<std::string> leaves = SyntheticLeafHashes(70);
  TreeBuilder builder;
  std::map<std::pair<int, uint64_t>, std::string> nodes;
  for (uint64_t i = 0; i < leaves.size(); ++i) {
    std::vector<std::pair<NodeId, std::string>> completed;
    builder.Append(leaves[i], &completed);
    ASSERT_FALSE(completed.empty());
    EXPECT_EQ(completed[0].first, (NodeId{0, i}));
    for (const auto& [id, hash] : completed) {
      EXPECT_EQ(id.end(), i + 1) << "a node is complete when its last leaf arrives";
      EXPECT_EQ(hash, *LookupIn(leaves)(id));
      EXPECT_TRUE(nodes.emplace(std::pair{id.level, id.index}, hash).second);
    }
    EXPECT_EQ(builder.Root(), RootFromLeafHashes(Leaves(leaves).subspan(0, i + 1)));
    // Resuming from the frontier continues the same tree.
    absl::StatusOr<TreeBuilder> resumed = TreeBuilder::Resume(i + 1, builder.Frontier());
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    if (i + 1 < leaves.size()) {
      resumed->Append(leaves[i + 1]);
      EXPECT_EQ(resumed->Root(), RootFromLeafHashes(Leaves(leaves).subspan(0, i + 2)));
    }
  }
  EXPECT_EQ(nodes.size(), 2 * 70 - 3u);  // 2n - popcount(n): 70 = 0b1000110
  EXPECT_EQ(TreeBuilder().Root(), EmptyRoot());
  EXPECT_FALSE(TreeBuilder::Resume(7, {leaves[0]}).ok());
}

// ---- what storage reads: a few dozen hashes even at 10^8 leaves ----

TEST(MerkleTest, ProofsNeedFewStoredNodesEvenAt10To8Leaves) {
  const uint64_t n = 100000000;
  size_t max_inclusion = 0, max_inclusion_nodes = 0, max_consistency = 0, max_consistency_nodes = 0;
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, n / 3, n / 2, n - 2, n - 1, uint64_t{67108863},
                     uint64_t{67108864}}) {
    std::vector<Range> ranges = InclusionProofRanges(i, n);
    max_inclusion = std::max(max_inclusion, ranges.size());
    max_inclusion_nodes = std::max(max_inclusion_nodes, NodesOfRanges(ranges).size());
  }
  for (uint64_t m : {uint64_t{1}, uint64_t{3}, n / 3, uint64_t{67108864}, uint64_t{67108865},
                     n - 12345, n - 1}) {
    std::vector<Range> ranges = ConsistencyProofRanges(m, n);
    max_consistency = std::max(max_consistency, ranges.size());
    max_consistency_nodes = std::max(max_consistency_nodes, NodesOfRanges(ranges).size());
  }
  std::printf(
      "at 10^8 leaves: inclusion proofs of up to %zu hashes from %zu stored nodes; "
      "consistency proofs of up to %zu hashes from %zu stored nodes; a root from %zu\n",
      max_inclusion, max_inclusion_nodes, max_consistency, max_consistency_nodes,
      RangeNodes(0, n).size());
  EXPECT_LE(max_inclusion, 27u);
  EXPECT_LE(max_inclusion_nodes, 2 * 27u);
  EXPECT_LE(max_consistency, 2 * 27u);
  EXPECT_LE(max_consistency_nodes, 2 * 27u + 27u);
  EXPECT_LE(RangeNodes(0, n).size(), 27u);
}

// ---- the leaf format witnesses and verifiers rely on ----

TEST(MerkleTest, AuditLeafBytesAreTheVersionTagTheSeqAndTheCanonicalContent) {
  db::AuditRecord record;
  record.seq = 42;
  record.at_us = 1700000000123456;
  record.principal = "spiffe://enlace/agency/iom";
  record.method = "/enlace.v1.ArrivalService/GetArrival";
  record.decision = 1;
  record.status_code = 0;
  record.record_ids = {"a1", "b2"};
  record.detail = "";
  record.peer = "ipv4:127.0.0.1:5000";
  record.prev_hash = std::string(32, 'p');  // hashes are not part of the leaf
  record.hash = std::string(32, 'h');
  const std::string expected =
      "enlace-audit-leaf-v1\n42\n"
      "enlace-audit-v1\n2:42\n16:1700000000123456\n26:spiffe://enlace/agency/iom\n"
      "36:/enlace.v1.ArrivalService/GetArrival\n1:1\n1:0\n1:2\n2:a1\n2:b2\n0:\n"
      "19:ipv4:127.0.0.1:5000\n";
  EXPECT_EQ(AuditLeafBytes(record), expected);
  record.prev_hash = std::string(32, 'q');
  EXPECT_EQ(AuditLeafBytes(record), expected);
}

}  // namespace
}  // namespace enlace::db::merkle
