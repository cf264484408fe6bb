// Building the audit tree from the events, and checking the events against a
// checkpoint (see audit_tree_builder.h).
#include "server/audit_tree_builder.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "db/audit_chain.h"
#include "db/merkle.h"

namespace enlace::server {
namespace {

using db::merkle::NodeId;
using db::merkle::Range;

constexpr int kCheckPage = 5000;
// CheckLogAgainst keeps the recomputed hashes of complete subtrees of at
// least 2^kKeptLevel leaves (2 per 1024 events: 6 MB at 10^8 events) and
// recomputes anything smaller from at most 1024 events.
constexpr int kKeptLevel = 10;

std::string LeafHash(const db::AuditRecord& record) {
  return db::merkle::HashLeaf(db::AuditLeafBytes(record));
}

// Events with seq in (after, after + limit], in order.
absl::StatusOr<std::vector<db::AuditRecord>> ReadEvents(db::AuditStore& events, int64_t after,
                                                        int limit) {
  db::AuditQuery query;
  query.after_seq = after;
  query.limit = limit;
  absl::StatusOr<db::AuditPage> page = events.List(query);
  if (!page.ok()) return page.status();
  return std::move(page->records);
}

int LevelOfWidth(uint64_t width) {
  int level = 0;
  while ((uint64_t{1} << level) < width) ++level;
  return level;
}

}  // namespace

AuditTreeBuilder::AuditTreeBuilder(db::AuditStore* events, db::AuditTreeStore* tree, int batch)
    : events_(events), tree_(tree), batch_(batch) {}

absl::StatusOr<uint64_t> AuditTreeBuilder::CatchUp(uint64_t max_events) {
  absl::MutexLock lock(&mu_);
  uint64_t size = 0;
  uint64_t added = 0;
  while (true) {
    absl::StatusOr<uint64_t> step = Step(&size);
    if (!step.ok()) return step.status();
    added += *step;
    if (*step < static_cast<uint64_t>(batch_) || added >= max_events) return size;
  }
}

absl::StatusOr<uint64_t> AuditTreeBuilder::Step(uint64_t* size_out) {
  absl::StatusOr<uint64_t> size = tree_->TreeSize();
  if (!size.ok()) return size.status();
  *size_out = *size;
  std::vector<NodeId> frontier_ids = db::merkle::RangeNodes(0, *size);
  std::vector<NodeId> wanted = frontier_ids;
  const NodeId last_leaf{0, *size == 0 ? 0 : *size - 1};
  if (*size > 0) wanted.push_back(last_leaf);
  absl::StatusOr<absl::flat_hash_map<NodeId, std::string>> nodes = tree_->ReadNodes(wanted);
  if (!nodes.ok()) return nodes.status();
  std::vector<std::string> frontier;
  for (const NodeId& id : frontier_ids) {
    auto it = nodes->find(id);
    if (it == nodes->end()) {
      return absl::DataLossError(absl::StrCat("audit tree: node (level ", id.level, ", index ",
                                              id.index, ") of the tree of ", *size,
                                              " leaves is missing"));
    }
    frontier.push_back(it->second);
  }
  // The event behind the last leaf first: it must still be the one hashed.
  const int64_t after = *size == 0 ? 0 : static_cast<int64_t>(*size) - 1;
  absl::StatusOr<std::vector<db::AuditRecord>> records =
      ReadEvents(*events_, after, batch_ + (*size == 0 ? 0 : 1));
  if (!records.ok()) return records.status();
  size_t next = 0;
  if (*size > 0) {
    if (records->empty() || (*records)[0].seq != static_cast<int64_t>(*size) ||
        LeafHash((*records)[0]) != nodes->at(last_leaf)) {
      return absl::DataLossError(
          absl::StrCat("audit tree: the event with seq ", *size,
                       " is missing or no longer the one in the tree: the audit log was changed; "
                       "the tree is not extended (verify it against a checkpoint)"));
    }
    next = 1;
  }
  absl::StatusOr<db::merkle::TreeBuilder> builder =
      db::merkle::TreeBuilder::Resume(*size, std::move(frontier));
  if (!builder.ok()) return builder.status();
  std::vector<std::pair<NodeId, std::string>> completed;
  uint64_t added = 0;
  for (; next < records->size(); ++next) {
    const db::AuditRecord& record = (*records)[next];
    if (record.seq != static_cast<int64_t>(builder->size()) + 1) break;  // a gap: wait for it
    builder->Append(LeafHash(record), &completed);
    ++added;
  }
  if (added == 0) return 0;
  if (absl::Status s = tree_->AddNodes(completed); !s.ok()) return s;
  *size_out = builder->size();
  return added;
}

namespace {

// The descent of CheckLogAgainst (see the header).
class Locator {
 public:
  Locator(db::AuditStore& events, db::AuditTreeStore& tree, uint64_t present,
          absl::flat_hash_map<NodeId, std::string> kept)
      : events_(events), tree_(tree), present_(present), kept_(std::move(kept)) {}

  absl::Status Run(uint64_t size, const std::string& root, TreeCheck* result) {
    Range range{0, size};
    std::string expected = root;
    while (range.end - range.begin > 1) {
      const uint64_t k = db::merkle::SplitPoint(range.end - range.begin);
      const Range left{range.begin, range.begin + k};
      const Range right{range.begin + k, range.end};
      absl::StatusOr<std::vector<std::string>> stored = db::StoredRangeHashes(tree_, {left, right});
      if (!stored.ok() && !absl::IsDataLoss(stored.status())) return stored.status();
      if (!stored.ok() || db::merkle::HashChildren((*stored)[0], (*stored)[1]) != expected) {
        result->located = false;
        result->first_differing_sequence = static_cast<int64_t>(range.begin) + 1;
        return absl::OkStatus();
      }
      absl::StatusOr<std::optional<std::string>> recomputed = Recomputed(left);
      if (!recomputed.ok()) return recomputed.status();
      if (!recomputed->has_value() || **recomputed != (*stored)[0]) {
        range = left;
        expected = (*stored)[0];
      } else {
        range = right;
        expected = (*stored)[1];
      }
    }
    result->first_differing_sequence = static_cast<int64_t>(range.begin) + 1;
    return absl::OkStatus();
  }

 private:
  // The hash of a complete subtree recomputed from the events; nullopt when
  // some of its events are missing.
  absl::StatusOr<std::optional<std::string>> Recomputed(const Range& range) {
    if (range.end > present_) return std::optional<std::string>();
    const int level = LevelOfWidth(range.end - range.begin);
    if (level >= kKeptLevel) {
      auto it = kept_.find(NodeId{level, range.begin >> level});
      if (it == kept_.end()) return absl::InternalError("a recomputed subtree was not kept");
      return std::optional<std::string>(it->second);
    }
    // Below the kept level: the leaves of the aligned block of 2^kKeptLevel
    // that holds the range, read once.
    const uint64_t block = range.begin >> kKeptLevel << kKeptLevel;
    if (!block_loaded_ || block_begin_ != block) {
      const uint64_t end = std::min(block + (uint64_t{1} << kKeptLevel), present_);
      absl::StatusOr<std::vector<db::AuditRecord>> records =
          ReadEvents(events_, static_cast<int64_t>(block), static_cast<int>(end - block));
      if (!records.ok()) return records.status();
      std::vector<std::string> leaves;
      for (const db::AuditRecord& r : *records) leaves.push_back(LeafHash(r));
      if (leaves.size() != end - block) {
        return absl::AbortedError("the audit events changed while they were being checked");
      }
      block_begin_ = block;
      block_leaves_ = std::move(leaves);
      block_loaded_ = true;
    }
    absl::Span<const std::string> leaves(block_leaves_);
    return std::optional<std::string>(db::merkle::RootFromLeafHashes(
        leaves.subspan(range.begin - block_begin_, range.end - range.begin)));
  }

  db::AuditStore& events_;
  db::AuditTreeStore& tree_;
  const uint64_t present_;
  const absl::flat_hash_map<NodeId, std::string> kept_;
  uint64_t block_begin_ = 0;
  bool block_loaded_ = false;
  std::vector<std::string> block_leaves_;
};

}  // namespace

absl::StatusOr<TreeCheck> CheckLogAgainst(db::AuditStore& events, db::AuditTreeStore& tree,
                                          uint64_t tree_size, const std::string& root_hash,
                                          const std::map<uint64_t, std::string>& anchors) {
  TreeCheck result;
  db::merkle::TreeBuilder builder;
  absl::flat_hash_map<NodeId, std::string> kept;
  std::vector<std::pair<NodeId, std::string>> completed;
  // The anchors below tree_size the events reproduce (the largest) and do
  // not (the smallest).
  uint64_t proven = 0;
  std::optional<std::pair<uint64_t, std::string>> first_mismatch;
  auto anchor = anchors.upper_bound(0);
  auto pass_anchors = [&] {
    while (anchor != anchors.end() && anchor->first < tree_size &&
           anchor->first <= builder.size()) {
      if (anchor->first == builder.size() && builder.Root() == anchor->second) {
        proven = anchor->first;
      } else if (!first_mismatch.has_value()) {
        first_mismatch = *anchor;
      }
      ++anchor;
    }
  };
  bool gap = false;
  while (builder.size() < tree_size && !gap) {
    const uint64_t want = std::min<uint64_t>(kCheckPage, tree_size - builder.size());
    absl::StatusOr<std::vector<db::AuditRecord>> records =
        ReadEvents(events, static_cast<int64_t>(builder.size()), static_cast<int>(want));
    if (!records.ok()) return records.status();
    for (const db::AuditRecord& record : *records) {
      if (record.seq != static_cast<int64_t>(builder.size()) + 1) {
        gap = true;
        break;
      }
      completed.clear();
      builder.Append(LeafHash(record), &completed);
      for (auto& [id, hash] : completed) {
        if (id.level >= kKeptLevel) kept.emplace(id, std::move(hash));
      }
      if (!first_mismatch.has_value()) pass_anchors();
    }
    if (records->size() < want) gap = true;  // the log ends here
  }
  const uint64_t present = builder.size();
  result.checked = static_cast<int64_t>(present);
  if (present == tree_size && builder.Root() == root_hash) return result;
  // Anchors beyond the events present are not reproduced either.
  if (!first_mismatch.has_value() && anchor != anchors.end() && anchor->first < tree_size) {
    first_mismatch = *anchor;
  }

  result.consistent = false;
  Locator locator(events, tree, present, std::move(kept));
  if (absl::Status s = locator.Run(tree_size, root_hash, &result); !s.ok()) return s;
  if (!result.located && first_mismatch.has_value()) {
    // Walk down from the smallest signed root the events no longer
    // reproduce: its stored nodes may be intact where the larger were not.
    TreeCheck retry;
    if (absl::Status s = locator.Run(first_mismatch->first, first_mismatch->second, &retry);
        !s.ok()) {
      return s;
    }
    if (retry.located) {
      result.located = true;
      result.first_differing_sequence = retry.first_differing_sequence;
    } else {
      result.first_differing_sequence =
          std::max(result.first_differing_sequence, retry.first_differing_sequence);
    }
  }
  if (!result.located) {
    result.first_differing_sequence =
        std::max<int64_t>(result.first_differing_sequence, static_cast<int64_t>(proven) + 1);
    result.last_possible_sequence =
        static_cast<int64_t>(first_mismatch.has_value() ? first_mismatch->first : tree_size);
  }
  const uint64_t first = static_cast<uint64_t>(result.first_differing_sequence);
  if (!result.located) {
    result.detail = absl::StrCat(
        "the audit log does not extend the checkpoint of ", tree_size,
        " events, and the stored tree was rewritten too: events 1..", first - 1,
        " are proven unchanged; the first change is between sequences ", first, " and ",
        result.last_possible_sequence, " (verify against older checkpoints to narrow it)");
  } else if (first > present) {
    result.detail = absl::StrCat("event ", first, " is missing: the log holds ", present,
                                 " contiguous events where the checkpoint covers ", tree_size);
  } else {
    result.detail =
        absl::StrCat("event ", first, " is not the one the checkpoint covers: it was changed");
  }
  return result;
}

}  // namespace enlace::server
