// MysqlAuditStore::List against a real MariaDB leaves no rows behind on the
// connection: a page of 2000 events (what the audit tree builder reads) is
// freed once the page is, instead of staying with the connection's cached
// statement until that statement runs again (Connector/C++ 1.1 frees a
// prepared statement's result set only at its next execute or close). Kept,
// each connection of the pool held its last page: scripts/soak.sh saw the
// server's RSS grow by about 1 MB per connection under a steady load.
#include <malloc.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/audit_chain.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_pool.h"
#include "gtest/gtest.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::testing::TestDatabase;

constexpr int kEvents = 2000;

size_t HeapInUse() { return mallinfo2().uordblks; }

TEST(AuditListMemoryTest, APageOfEventsIsFreedWithThePageNotKeptByTheConnection) {
  auto database = TestDatabase::Create();
  // One connection: every List runs on it, as each of the server's may.
  PoolOptions options;
  options.max_connections = 1;
  MysqlPool pool(database->dsn(), options);
  MysqlAuditStore store(&pool);

  std::vector<AuditRecord> records;
  for (int i = 0; i < kEvents; ++i) {
    AuditRecord record;
    record.at_us = 1800000000000000 + i;
    record.principal = "spiffe://enlace.local/agency/mfa/client/loader";
    record.method = "/enlace.v1.ArrivalService/RecordArrivals";
    record.decision = 1;
    record.detail = absl::StrCat("a detail of some length, as the server writes them: ", i);
    record.peer = "ipv4:127.0.0.1:5000";
    records.push_back(record);
  }
  ASSERT_TRUE(store.Append(&records).ok());

  // The same statement text with a one-event page first: whatever the
  // connection keeps for that statement is kept before the measure.
  AuditQuery query;
  query.limit = 1;
  {
    absl::StatusOr<AuditPage> small = store.List(query);
    ASSERT_TRUE(small.ok()) << small.status();
    ASSERT_EQ(small->records.size(), 1u);
  }
  const size_t before = HeapInUse();
  query.limit = kEvents;
  {
    absl::StatusOr<AuditPage> page = store.List(query);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->records.size(), static_cast<size_t>(kEvents));
    EXPECT_FALSE(page->more);
  }
  const size_t after = HeapInUse();
  // The 2000 rows take about 1 MB in the connector; kept, the heap stays that
  // much larger after the page is gone. Freed, what remains is noise.
  const size_t kept = after > before ? after - before : 0;
  EXPECT_LT(kept, 128u * 1024) << "the connection kept " << kept << " bytes after a page of "
                               << kEvents << " events was freed";
}

}  // namespace
}  // namespace enlace::db
