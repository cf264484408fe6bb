// Table tests of db/mysql_pool.h's ChooseWriter: which Galera node every
// server replica writes through, from what each node says of itself.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "db/mysql_pool.h"

namespace enlace::db {
namespace {

// A synced, ready member of the primary component in view `view`.
GaleraNodeState Member(int64_t index, int64_t view = 7) {
  return GaleraNodeState{.local_index = index,
                         .state = "Synced",
                         .ready = true,
                         .cluster_status = "Primary",
                         .view = view};
}

GaleraNodeState With(GaleraNodeState node, const std::string& state, bool ready,
                     const std::string& cluster_status) {
  node.state = state;
  node.ready = ready;
  node.cluster_status = cluster_status;
  return node;
}

TEST(ChooseWriterTest, Table) {
  struct Case {
    const char* what;
    std::vector<std::optional<GaleraNodeState>> nodes;
    std::optional<size_t> want;
  };
  const std::optional<GaleraNodeState> gone = std::nullopt;
  const Case cases[] = {
      {"the lowest index, not the DSN's first", {Member(2), Member(0), Member(1)}, 1},
      {"all answer in order", {Member(0), Member(1), Member(2)}, 0},
      {"a node that does not answer is passed over", {gone, Member(1), Member(0)}, 2},
      {"none answers", {gone, gone, gone}, std::nullopt},
      {"no nodes", {}, std::nullopt},
      {"a joiner catching up is not chosen",
       {With(Member(0), "Joined", true, "Primary"), Member(1), Member(2)},
       1},
      {"a donor is not chosen", {With(Member(0), "Donor/Desynced", true, "Primary"), Member(1)}, 1},
      {"not ready is not chosen", {With(Member(0), "Synced", false, "Primary"), Member(1)}, 1},
      {"a node outside the primary component is not chosen, even synced and ready",
       {With(Member(0), "Synced", true, "non-Primary"), Member(1), Member(2)},
       1},
      {"disconnected", {With(Member(0), "Synced", true, "Disconnected"), Member(1)}, 1},
      {"only non-Primary nodes: no choice",
       {With(Member(0), "Synced", true, "non-Primary"),
        With(Member(1), "Initialized", false, "non-Primary")},
       std::nullopt},
      // Node 0 still reports the view before a member left, where it had
      // index 0; the others are in the new view, where index 0 is node 2's.
      {"a node still in an older view is passed over",
       {Member(0, 7), Member(1, 8), Member(0, 8)},
       2},
      {"the newest view among eligible nodes only (a non-Primary one's does not count)",
       {Member(1, 7), With(Member(0, 9), "Synced", true, "non-Primary"), Member(0, 7)},
       2},
      {"an unreadable index or view is not a member",
       {Member(-1), Member(1),
        GaleraNodeState{.local_index = 0,
                        .state = "Synced",
                        .ready = true,
                        .cluster_status = "Primary",
                        .view = -1}},
       1},
      {"equal indexes (cannot happen in one view): the DSN's first", {Member(1), Member(1)}, 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ChooseWriter(c.nodes), c.want) << c.what;
  }
}

// Two replicas asking the same nodes in the same order get the same node,
// whatever node each is on now (ChooseWriter takes no history).
TEST(ChooseWriterTest, SameAnswersSameChoice) {
  std::vector<std::optional<GaleraNodeState>> nodes = {std::nullopt, Member(1), Member(0)};
  EXPECT_EQ(ChooseWriter(nodes), ChooseWriter(nodes));
  EXPECT_EQ(ChooseWriter(nodes), std::optional<size_t>(2));
}

}  // namespace
}  // namespace enlace::db
