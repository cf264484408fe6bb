// MysqlPersonStore against a real MariaDB (started by scripts/test.sh):
// concurrent links that chain overlapping arrivals end as one person with
// the earliest arrival's id (the walk of the links happens under lock, so
// no transaction works from a stale picture); a link racing an unlink of
// the same pair leaves the database matching one of the two orders. (The
// candidate look-ups' plans are checked in query_plan_test.cc.)
#include "db/mysql_person_store.h"

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "db/mysql_arrival_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::testing::TestDatabase;

enlace::v1::Arrival Returnee(const std::string& external_id) {
  enlace::v1::Arrival a;
  a.set_external_id(external_id);
  a.set_arrival_date("2018-01-15");
  a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  a.set_origin_country("US");
  a.mutable_person()->set_given_name("José");
  a.mutable_person()->set_family_name(absl::StrCat("Peña ", external_id));
  a.mutable_person()->set_birth_date("1990-03-02");
  a.mutable_person()->set_sex(enlace::v1::SEX_MALE);
  a.mutable_destination()->set_department_code("SV-SS");
  a.mutable_destination()->set_municipality("Guazapa");
  a.add_needs(enlace::v1::NEED_TRAINING);
  a.mutable_consent()->add_agencies("iom");
  a.mutable_consent()->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  a.mutable_consent()->mutable_given_at()->set_seconds(1516000000);
  return a;
}

class PersonStoreTest : public ::testing::Test {
 protected:
  // Records `n` arrivals as the ministry; their ids in recording order.
  std::vector<std::string> Record(const std::string& prefix, int n) {
    std::vector<NewArrival> batch;
    batch.reserve(n);
    for (int i = 0; i < n; ++i) {
      batch.push_back({Returnee(absl::StrCat(prefix, i)), "mfa"});
    }
    absl::StatusOr<std::vector<RecordResult>> results = arrivals_.RecordBatch(batch);
    EXPECT_TRUE(results.ok()) << results.status();
    std::vector<std::string> ids;
    if (results.ok()) {
      for (const RecordResult& r : *results) ids.push_back(r.arrival_id);
    }
    return ids;
  }
  std::string PersonOf(const std::string& arrival_id) {
    absl::StatusOr<enlace::v1::Arrival> arrival = arrivals_.Get(arrival_id, Viewer{"mfa"});
    EXPECT_TRUE(arrival.ok()) << arrival.status();
    return arrival.ok() ? arrival->person_id() : "";
  }

  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlArrivalStore arrivals_{&database_->pool()};
  MysqlPersonStore persons_{&database_->pool()};
};

TEST_F(PersonStoreTest, ConcurrentLinksOfAChainEndAsOnePersonWithTheEarliestId) {
  for (int round = 0; round < 5; ++round) {
    const std::vector<std::string> ids = Record(absl::StrCat("chain-", round, "-"), 6);
    ASSERT_EQ(ids.size(), 6u);
    const std::string earliest_person = PersonOf(ids[0]);
    // Five links, each sharing an arrival with the next, all at once.
    absl::Notification go;
    std::vector<std::thread> threads;
    threads.reserve(5);
    std::vector<absl::Status> results(5);
    for (int i = 0; i < 5; ++i) {
      threads.emplace_back([&, i] {
        go.WaitForNotification();
        results[i] =
            persons_.Link({ids[i + 1], ids[i]}, "reviewed", Viewer{"mfa"}, nullptr).status();
      });
    }
    go.Notify();
    for (std::thread& t : threads) t.join();
    for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
    std::set<std::string> persons;
    for (const std::string& id : ids) persons.insert(PersonOf(id));
    EXPECT_THAT(persons, ::testing::ElementsAre(earliest_person)) << "round " << round;
  }
}

TEST_F(PersonStoreTest, ALinkRacingAnUnlinkOfThePairEndsAsOneOfTheTwoOrders) {
  for (int round = 0; round < 5; ++round) {
    const std::vector<std::string> ids = Record(absl::StrCat("race-", round, "-"), 2);
    ASSERT_EQ(ids.size(), 2u);
    absl::Notification go;
    absl::Status linked, unlinked;
    std::thread link([&] {
      go.WaitForNotification();
      linked = persons_.Link(ids, "same", Viewer{"mfa"}, nullptr).status();
    });
    std::thread unlink([&] {
      go.WaitForNotification();
      unlinked = persons_.Unlink(ids, "not the same", Viewer{"mfa"}, nullptr).status();
    });
    go.Notify();
    link.join();
    unlink.join();
    ASSERT_TRUE(linked.ok()) << linked;
    ASSERT_TRUE(unlinked.ok()) << unlinked;
    // The last decision stored and the person ids agree.
    const int64_t same = database_->QueryInt(absl::StrCat(
        "SELECT same_person FROM person_decisions d JOIN arrivals a ON a.seq = d.arrival_seq_low "
        "WHERE a.arrival_id = '",
        ids[0], "'"));
    EXPECT_EQ(PersonOf(ids[0]) == PersonOf(ids[1]), same == 1) << "round " << round;
  }
}

}  // namespace
}  // namespace enlace::db
