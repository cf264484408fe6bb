// The audit log's Merkle tree in a real MariaDB: the insert-only store
// (db/mysql_audit_tree_store.h), the builder that adds the events' leaves
// (server/audit_tree_builder.h) incrementally, from leaf 0 for events that
// existed before, and from several builders at once, each time equal to the
// tree recomputed from the events; and CheckLogAgainst, which names the first
// event missing or changed since a checkpoint.
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "db/audit_chain.h"
#include "db/merkle.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_audit_tree_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/audit_tree_builder.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::server::AuditTreeBuilder;
using ::enlace::server::CheckLogAgainst;
using ::enlace::server::TreeCheck;
using ::enlace::testing::StatusIs;
using ::enlace::testing::TestDatabase;

// A StatusOr<uint64_t> that is OK and holds `size`.
MATCHER_P(HoldsSize, size, "") {
  if (!arg.ok()) *result_listener << "whose status is " << arg.status();
  return arg.ok() && *arg == size;
}

class AuditTreeStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlAuditStore events_{&database_->pool()};
  MysqlAuditTreeStore tree_{&database_->pool()};

  // Appends `count` events in transactions of `batch`.
  void AppendEvents(int count, int batch = 100) {
    for (int done = 0; done < count;) {
      std::vector<AuditRecord> records;
      for (int i = 0; i < batch && done < count; ++i, ++done) {
        AuditRecord r;
        r.at_us = 1700000000000000 + next_;
        r.principal = "spiffe://enlace/agency/iom";
        r.method = "/enlace.v1.ArrivalService/GetArrival";
        r.decision = 1 + (next_ % 2);
        r.status_code = next_ % 3 == 0 ? 5 : 0;
        if (next_ % 4 == 0) r.record_ids = {absl::StrCat("id-", next_), "other"};
        r.detail = absl::StrCat("event ", next_);
        r.peer = "ipv4:127.0.0.1:1234";
        ++next_;
        records.push_back(std::move(r));
      }
      ASSERT_TRUE(events_.Append(&records).ok());
    }
  }

  // The leaf hashes of every stored event, recomputed.
  std::vector<std::string> RecomputedLeaves() {
    std::vector<std::string> leaves;
    AuditQuery query;
    query.limit = 5000;
    while (true) {
      absl::StatusOr<AuditPage> page = events_.List(query);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return leaves;
      for (const AuditRecord& r : page->records) {
        leaves.push_back(merkle::HashLeaf(AuditLeafBytes(r)));
        query.after_seq = r.seq;
      }
      if (!page->more) return leaves;
    }
  }

  // Every stored node, every root and a sample of proofs equal the tree
  // recomputed from the events.
  void ExpectTreeMatchesEvents() {
    std::vector<std::string> leaves = RecomputedLeaves();
    const uint64_t n = leaves.size();
    ASSERT_THAT(tree_.TreeSize(), HoldsSize(n));
    int popcount = 0;
    for (uint64_t x = n; x != 0; x >>= 1) popcount += x & 1;
    EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM audit_tree_nodes"),
              static_cast<int64_t>(2 * n - popcount));
    absl::Span<const std::string> all(leaves);
    for (uint64_t size = 0; size <= n; ++size) {
      absl::StatusOr<std::string> root = StoredRoot(tree_, size);
      ASSERT_TRUE(root.ok()) << root.status();
      ASSERT_EQ(*root, merkle::RootFromLeafHashes(all.subspan(0, size))) << size;
    }
    const std::string root = merkle::RootFromLeafHashes(all);
    for (uint64_t i = 0; i < n; i += std::max<uint64_t>(1, n / 37)) {
      absl::StatusOr<std::vector<std::string>> proof = StoredInclusionProof(tree_, i, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(merkle::VerifyInclusion(i, n, leaves[i], *proof, root)) << i;
      absl::StatusOr<std::vector<std::string>> consistency = StoredConsistencyProof(tree_, i, n);
      ASSERT_TRUE(consistency.ok()) << consistency.status();
      EXPECT_TRUE(merkle::VerifyConsistency(i, n, merkle::RootFromLeafHashes(all.subspan(0, i)),
                                            root, *consistency))
          << i;
    }
  }

  int next_ = 0;
};

TEST_F(AuditTreeStoreTest, NodesCheckpointsKeysAndCosignaturesAreInsertOnly) {
  EXPECT_TRUE(tree_.TreeSize().ok());
  EXPECT_EQ(*tree_.TreeSize(), 0u);
  const std::string a(32, 'a'), b(32, 'b');
  ASSERT_TRUE(tree_.AddNodes({{merkle::NodeId{0, 0}, a}, {merkle::NodeId{0, 1}, b}}).ok());
  // The same node again, even with another hash: the first stays (INSERT IGNORE).
  ASSERT_TRUE(tree_.AddNodes({{merkle::NodeId{0, 1}, a}, {merkle::NodeId{1, 0}, b}}).ok());
  absl::StatusOr<absl::flat_hash_map<merkle::NodeId, std::string>> nodes = tree_.ReadNodes(
      {merkle::NodeId{0, 0}, merkle::NodeId{0, 1}, merkle::NodeId{1, 0}, merkle::NodeId{5, 5}});
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_EQ(nodes->size(), 3u);
  EXPECT_EQ(nodes->at(merkle::NodeId{0, 1}), b);
  EXPECT_EQ(*tree_.TreeSize(), 2u);

  EXPECT_FALSE(tree_.LatestCheckpoint()->has_value());
  EXPECT_EQ(*tree_.FirstCheckpointAtUs(), 0);
  StoredCheckpoint first{2, a, "note two\n", 1000};
  ASSERT_TRUE(tree_.AddCheckpoint(first).ok());
  StoredCheckpoint again{2, b, "another note\n", 2000};
  absl::StatusOr<StoredCheckpoint> kept = tree_.AddCheckpoint(again);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->note, "note two\n");  // the one stored first
  ASSERT_TRUE(tree_.AddCheckpoint(StoredCheckpoint{1, b, "note one\n", 3000}).ok());
  EXPECT_EQ((*tree_.LatestCheckpoint())->tree_size, 2);  // the largest, not the newest
  EXPECT_EQ((*tree_.CheckpointOfSize(1))->note, "note one\n");
  EXPECT_FALSE(tree_.CheckpointOfSize(3)->has_value());
  EXPECT_EQ(*tree_.FirstCheckpointAtUs(), 3000);  // the smallest size's (sizes only grow)

  WitnessKeyRecord key{"witness/iom", "\x01\x02\x03\x04",          std::string(32, 'k'),
                       "iom",         "spiffe://enlace/admin/ana", 5};
  ASSERT_TRUE(tree_.AddWitnessKey(key, nullptr).ok());
  EXPECT_THAT(tree_.AddWitnessKey(key, nullptr), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(tree_.WitnessKeysNamed("witness/iom")->size(), 1u);
  EXPECT_TRUE(tree_.WitnessKeysNamed("witness/undp")->empty());

  EXPECT_EQ(*tree_.LastCosignatureAtUs(), 0);
  CosignatureRecord cosignature{2, "witness/iom", "\x01\x02\x03\x04", "iom", 17, "line\n", 7000};
  ASSERT_TRUE(tree_.AddCosignature(cosignature, nullptr).ok());
  cosignature.signature_line = "other\n";
  cosignature.received_at_us = 8000;
  ASSERT_TRUE(
      tree_.AddCosignature(cosignature, nullptr).ok());  // ignored: that key cosigned size 2
  std::vector<CosignatureRecord> of2 = *tree_.CosignaturesOf(2);
  ASSERT_EQ(of2.size(), 1u);
  EXPECT_EQ(of2[0].signature_line, "line\n");
  EXPECT_EQ(of2[0].key_id, "\x01\x02\x03\x04");
  EXPECT_EQ(*tree_.LastCosignatureAtUs(), 7000);
}

TEST_F(AuditTreeStoreTest, TheTreeBuiltIncrementallyIsTheTreeRecomputedFromTheEvents) {
  AuditTreeBuilder builder(&events_, &tree_, /*batch=*/64);
  EXPECT_THAT(builder.CatchUp(1000000), HoldsSize(0u));
  for (int round : {1, 2, 5, 56, 200, 1, 97}) {
    AppendEvents(round, 50);
    absl::StatusOr<uint64_t> size = builder.CatchUp(1000000);
    ASSERT_TRUE(size.ok()) << size.status();
    EXPECT_EQ(*size, static_cast<uint64_t>(next_));
    ExpectTreeMatchesEvents();
  }
  // A bounded catch-up stops after about max_events, and the next goes on.
  AppendEvents(300);
  EXPECT_THAT(builder.CatchUp(100), HoldsSize(362u + 128u));  // two batches of 64
  EXPECT_THAT(builder.CatchUp(1000000), HoldsSize(662u));
  ExpectTreeMatchesEvents();
}

TEST_F(AuditTreeStoreTest, EventsWrittenBeforeTheTreeExistedJoinItFromLeafZero) {
  AppendEvents(1500, 500);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM audit_tree_nodes"), 0);
  AuditTreeBuilder builder(&events_, &tree_, /*batch=*/400);
  absl::StatusOr<uint64_t> size = builder.CatchUp(1000000);
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, 1500u);
  ExpectTreeMatchesEvents();
}

TEST_F(AuditTreeStoreTest, BuildersOfSeveralReplicasAtOnceAgree) {
  AppendEvents(900, 300);
  // Each replica has its own pool (its own connections) on the same database.
  MysqlPool other_pool(database_->dsn(), PoolOptions{.max_connections = 4});
  MysqlAuditStore other_events(&other_pool);
  MysqlAuditTreeStore other_tree(&other_pool);
  AuditTreeBuilder a(&events_, &tree_, 37);
  AuditTreeBuilder b(&other_events, &other_tree, 53);
  absl::Status status_a, status_b;
  std::thread ta([&] {
    for (int i = 0; i < 40 && status_a.ok(); ++i) status_a = a.CatchUp(29).status();
  });
  std::thread tb([&] {
    for (int i = 0; i < 40 && status_b.ok(); ++i) status_b = b.CatchUp(31).status();
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(status_a.ok()) << status_a;
  ASSERT_TRUE(status_b.ok()) << status_b;
  EXPECT_THAT(a.CatchUp(1000000), HoldsSize(900u));
  ExpectTreeMatchesEvents();
}

TEST_F(AuditTreeStoreTest, TheBuilderRefusesToExtendATreeTheEventsNoLongerMatch) {
  AppendEvents(40);
  AuditTreeBuilder builder(&events_, &tree_);
  ASSERT_THAT(builder.CatchUp(1000000), HoldsSize(40u));
  // The tail cut and the chain head set back, as a database administrator can.
  database_->Execute("DELETE FROM audit_events WHERE seq > 30");
  database_->Execute(
      "UPDATE audit_chain_head h JOIN audit_events e ON e.seq = 30 "
      "SET h.last_seq = 30, h.last_hash = e.hash WHERE h.id = 1");
  EXPECT_TRUE(events_.Verify()->intact);
  AppendEvents(20);  // seq 31..50 again, other events
  EXPECT_THAT(builder.CatchUp(1000000),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("seq 40")));
  EXPECT_EQ(*tree_.TreeSize(), 40u);
}

TEST_F(AuditTreeStoreTest, CheckingAgainstACheckpointNamesTheFirstMissingOrChangedEvent) {
  AppendEvents(1300, 500);
  AuditTreeBuilder builder(&events_, &tree_);
  ASSERT_THAT(builder.CatchUp(1000000), HoldsSize(1300u));
  const std::string root = *StoredRoot(tree_, 1300);
  const std::string root_1000 = *StoredRoot(tree_, 1000);

  absl::StatusOr<TreeCheck> check = CheckLogAgainst(events_, tree_, 1300, root);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->consistent);
  EXPECT_EQ(check->checked, 1300);
  EXPECT_EQ(check->first_differing_sequence, 0);
  // A larger log extends an older checkpoint too.
  EXPECT_TRUE(CheckLogAgainst(events_, tree_, 1000, root_1000)->consistent);
  // A wrong root for the size is no match.
  EXPECT_FALSE(CheckLogAgainst(events_, tree_, 1000, root)->consistent);

  // A middle event rewritten (its chain hash is irrelevant here).
  database_->Execute("UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 777");
  check = CheckLogAgainst(events_, tree_, 1300, root);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->consistent);
  EXPECT_TRUE(check->located);
  EXPECT_EQ(check->first_differing_sequence, 777);
  EXPECT_THAT(check->detail, ::testing::HasSubstr("event 777"));
  EXPECT_TRUE(CheckLogAgainst(events_, tree_, 776, *StoredRoot(tree_, 776))->consistent);

  // The tail cut below it: the first missing event comes first.
  database_->Execute("DELETE FROM audit_events WHERE seq > 500");
  check = CheckLogAgainst(events_, tree_, 1300, root);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->consistent);
  EXPECT_EQ(check->first_differing_sequence, 501);
  EXPECT_EQ(check->checked, 500);
  EXPECT_THAT(check->detail, ::testing::HasSubstr("event 501 is missing"));
}

TEST_F(AuditTreeStoreTest, WhenTheStoredTreeWasRewrittenTooTheCheckNamesWhatItCanStillProve) {
  AppendEvents(600, 300);
  {
    AuditTreeBuilder builder(&events_, &tree_);
    ASSERT_THAT(builder.CatchUp(1000000), HoldsSize(600u));
  }
  const std::string root = *StoredRoot(tree_, 600);
  const std::map<uint64_t, std::string> anchors = {{300, *StoredRoot(tree_, 300)},
                                                   {500, *StoredRoot(tree_, 500)}};
  // Event 450 rewritten, and the tree rebuilt from the rewritten events.
  database_->Execute("UPDATE audit_events SET detail = 'rewritten' WHERE seq = 450");
  database_->Execute("DELETE FROM audit_tree_nodes");
  {
    AuditTreeBuilder builder(&events_, &tree_);
    ASSERT_THAT(builder.CatchUp(1000000), HoldsSize(600u));
  }
  absl::StatusOr<TreeCheck> check = CheckLogAgainst(events_, tree_, 600, root);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->consistent);
  EXPECT_FALSE(check->located);
  // The root's children no longer reproduce the checkpoint: nothing below it
  // can be authenticated, so the bound is the first event.
  EXPECT_EQ(check->first_differing_sequence, 1);
  EXPECT_EQ(check->last_possible_sequence, 600);
  EXPECT_THAT(check->detail, ::testing::HasSubstr("rewritten too"));
  // Earlier signed checkpoints bound it: 300 is reproduced, 500 is not.
  check = CheckLogAgainst(events_, tree_, 600, root, anchors);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->located);
  EXPECT_EQ(check->first_differing_sequence, 301);
  EXPECT_EQ(check->last_possible_sequence, 500);
  EXPECT_THAT(check->detail, ::testing::HasSubstr("events 1..300 are proven unchanged"));
}

TEST_F(AuditTreeStoreTest, AnEarlierSignedRootWhoseStoredNodesSurvivedLocatesTheChange) {
  AppendEvents(600, 300);
  AuditTreeBuilder builder(&events_, &tree_);
  ASSERT_THAT(builder.CatchUp(1000000), HoldsSize(600u));
  const std::string root = *StoredRoot(tree_, 600);
  const std::map<uint64_t, std::string> anchors = {{512, *StoredRoot(tree_, 512)}};
  // Event 450 rewritten; the nodes above 512 (the right half) rewritten, the
  // complete subtree [0, 512) left as it was.
  database_->Execute("UPDATE audit_events SET detail = 'rewritten' WHERE seq = 450");
  database_->Execute(
      "INSERT INTO audit_tree_nodes (node_level, node_index, hash) "
      "VALUES (6, 8, UNHEX(REPEAT('ab', 32))) "
      "ON DUPLICATE KEY UPDATE hash = VALUES(hash)");
  absl::StatusOr<TreeCheck> check = CheckLogAgainst(events_, tree_, 600, root);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->located);
  check = CheckLogAgainst(events_, tree_, 600, root, anchors);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->located);
  EXPECT_EQ(check->first_differing_sequence, 450);
}

TEST_F(AuditTreeStoreTest, BuildRate) {
  const int n = 20000;
  AppendEvents(n, 500);
  AuditTreeBuilder builder(&events_, &tree_);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_THAT(builder.CatchUp(1000000), HoldsSize(static_cast<uint64_t>(n)));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("built %d leaves (%d node rows) in %.2f s: %.0f leaves/s\n", n,
              static_cast<int>(database_->QueryInt("SELECT COUNT(*) FROM audit_tree_nodes")),
              seconds, n / seconds);
  const auto check_start = std::chrono::steady_clock::now();
  absl::StatusOr<TreeCheck> check = CheckLogAgainst(events_, tree_, n, *StoredRoot(tree_, n));
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->consistent);
  std::printf(
      "checked %d events against a checkpoint in %.2f s\n", n,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - check_start).count());
}

}  // namespace
}  // namespace enlace::db
