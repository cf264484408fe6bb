// End to end (real server, real MariaDB, mutual TLS on loopback): the
// retention job erases the arrivals past their retention date the way
// EraseReturnee does, by the purposes their consent names (the longest
// wins), and leaves the others; one audit event per pass names what it
// erased; a later pass finds nothing more to do; the returnee's own request
// then erases the returns of the person the job left. The records' ages are set
// in the database (years cannot pass in a test); everything else is the
// running server's own doing.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/retention.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::testing::UnorderedElementsAre;
using v1::Arrival;

class RetentionTest : public ServerFixture {
 protected:
  void Configure(server::ServerConfig& config) override {
    config.retention_years.reintegration = 10;
    config.retention_years.statistics = 5;
    config.retention_years.none = 2;
    config.retention_interval = absl::Milliseconds(100);
  }
  // Records an arrival whose consent names `purposes`, to be made
  // `years_ago` years and a day old by AgeAll(); returns its id.
  std::string RecordAged(const std::string& external_id, const std::vector<v1::Purpose>& purposes,
                         int years_ago) {
    Arrival a = MakeArrival(external_id, {"iom"});
    a.mutable_person()->set_given_name(absl::StrCat("Retenida ", external_id));
    a.mutable_consent()->clear_purposes();
    for (v1::Purpose p : purposes) a.mutable_consent()->add_purposes(p);
    if (purposes.empty()) {
      a.mutable_consent()->clear_agencies();
      a.mutable_consent()->clear_given_at();
    }
    const std::string id = RecordOne(a);
    absl::StrAppend(&ages_, " WHEN '", id, "' THEN ", years_ago);
    return id;
  }
  // Ages every arrival RecordAged() recorded, in one statement: the job
  // finds them all due in the same pass.
  void AgeAll() {
    database_->Execute(absl::StrCat(
        "UPDATE arrivals SET recorded_at_us = recorded_at_us - (CASE arrival_id", ages_,
        " ELSE 0 END) * 366 * 86400 * 1000000 - 86400 * 1000000 WHERE arrival_id IN (SELECT * "
        "FROM (SELECT arrival_id FROM arrivals WHERE external_id LIKE 'ret-%') AS aged)"));
  }
  std::string ages_;
  int64_t Erased() {
    return database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE erased_at_us IS NOT NULL");
  }
};

TEST_F(RetentionTest, ErasesWhatIsPastItsPurposesRetentionAndNothingElse) {
  const std::string statistics_6 = RecordAged("ret-stat-6", {v1::PURPOSE_STATISTICS}, 6);
  const std::string statistics_4 = RecordAged("ret-stat-4", {v1::PURPOSE_STATISTICS}, 4);
  // Reintegration (10 years) outlasts statistics (5): the longest wins.
  const std::string both_6 =
      RecordAged("ret-both-6", {v1::PURPOSE_STATISTICS, v1::PURPOSE_REINTEGRATION}, 6);
  const std::string none_3 = RecordAged("ret-none-3", {}, 3);
  const std::string fresh = RecordOne(MakeArrival("new-fresh", {"iom"}));
  AgeAll();

  // The job runs every 100 ms: wait (bounded) for its pass.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (Erased() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_EQ(Erased(), 2);
  // Some more passes find nothing more to do.
  absl::SleepFor(absl::Milliseconds(400));
  EXPECT_EQ(Erased(), 2);

  auto erased = [&](const std::string& id) {
    return database_->QueryInt(absl::StrCat(
               "SELECT COUNT(*) FROM arrivals WHERE arrival_id = '", id,
               "' AND erased_at_us IS NOT NULL AND erased_by = 'retention' AND given_name = ''")) ==
           1;
  };
  EXPECT_TRUE(erased(statistics_6));
  EXPECT_TRUE(erased(none_3));
  EXPECT_FALSE(erased(statistics_4));
  EXPECT_FALSE(erased(both_6));
  EXPECT_FALSE(erased(fresh));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE given_name LIKE 'Retenida %'"),
            2);
  // Nothing of theirs is left in any text column of any table.
  EXPECT_THAT(database_->ColumnsHolding("Retenida ret-stat-6"), ::testing::IsEmpty());
  EXPECT_THAT(database_->ColumnsHolding("Retenida ret-none-3"), ::testing::IsEmpty());
  EXPECT_THAT(database_->ColumnsHolding("Retenida ret-stat-4"),
              ::testing::Not(::testing::IsEmpty()));

  // What the agencies read: the record, erased.
  v1::GetArrivalRequest get;
  get.set_arrival_id(statistics_6);
  Arrival read;
  ASSERT_TRUE(Arrivals(mfa_cert_)->GetArrival(Context().get(), get, &read).ok());
  EXPECT_TRUE(read.has_erased_at());
  EXPECT_EQ(read.person().given_name(), "");

  // One event for the pass that erased, naming both; none for the others.
  const std::vector<v1::AuditEvent> events =
      EventsOf(server::kRetentionPrincipal, "/enlace.v1.ArrivalService/EraseReturnee");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].method(), "/enlace.v1.ArrivalService/EraseReturnee");
  EXPECT_EQ(events[0].detail(), "erasure by retention");
  EXPECT_EQ(events[0].decision(), v1::DECISION_ALLOW);
  EXPECT_THAT(events[0].record_ids(), UnorderedElementsAre(statistics_6, none_3));

  // Idempotent with the call: the ministry erasing it again finds it done.
  v1::EraseReturneeRequest erase;
  erase.set_arrival_id(statistics_6);
  erase.set_reason("the returnee asked too");
  v1::EraseReturneeResponse answer;
  ASSERT_TRUE(Arrivals(mfa_cert_)->EraseReturnee(Context().get(), erase, &answer).ok());
  EXPECT_TRUE(answer.already_erased());
}

// A retention date is a record's own: the job erases one return of a
// linked person while the other is still within retention. The returnee's
// request (EraseReturnee) is of the person: naming the return the job
// erased erases the other too.
TEST_F(RetentionTest, AReturneesRequestErasesTheReturnsTheJobLeft) {
  const std::string old_return = RecordAged("ret-old", {v1::PURPOSE_STATISTICS}, 6);
  Arrival recent = MakeArrival("new-recent", {"iom"});
  recent.mutable_person()->set_given_name("Reciente Retenida");
  const std::string recent_return = RecordOne(recent);
  v1::LinkArrivalsRequest link;
  link.add_arrival_ids(old_return);
  link.add_arrival_ids(recent_return);
  link.set_reason("Revisado: la misma persona");
  v1::LinkArrivalsResponse linked;
  grpc::Status status = Arrivals(mfa_cert_)->LinkArrivals(Context().get(), link, &linked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  AgeAll();

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (Erased() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_EQ(Erased(), 1);
  EXPECT_EQ(database_->QueryInt(absl::StrCat("SELECT COUNT(*) FROM arrivals WHERE arrival_id = '",
                                             old_return, "' AND erased_at_us IS NOT NULL")),
            1);
  EXPECT_THAT(database_->ColumnsHolding("Reciente Retenida"), ::testing::Not(::testing::IsEmpty()));

  v1::EraseReturneeRequest erase;
  erase.set_arrival_id(old_return);
  erase.set_reason("Solicitud de supresión 2026-201");
  v1::EraseReturneeResponse answer;
  status = Arrivals(mfa_cert_)->EraseReturnee(Context().get(), erase, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(answer.already_erased());  // the recent return was not
  EXPECT_THAT(answer.linked_arrival_ids(), ::testing::ElementsAre(recent_return));
  EXPECT_EQ(Erased(), 2);
  EXPECT_THAT(database_->ColumnsHolding("Reciente Retenida"), ::testing::IsEmpty());
  EXPECT_EQ(database_->QueryInt(absl::StrCat("SELECT COUNT(*) FROM arrivals WHERE arrival_id = '",
                                             recent_return, "' AND erased_by = 'mfa'")),
            1);
  // A repeat finds the person done.
  status = Arrivals(mfa_cert_)->EraseReturnee(Context().get(), erase, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(answer.already_erased());
}

}  // namespace
}  // namespace enlace
