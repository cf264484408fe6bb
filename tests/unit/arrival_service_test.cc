// Unit tests of arrival ingest through the service (server/arrival_service.h)
// with no database: the real ArrivalServiceImpl, IngestBatcher and call gate
// over the in-memory stores (tests/testing/gated_server.h), whose batches
// the test holds, fails or releases. A unary record commits its call's event
// with the record (audited once, never answered without it); a stream
// answers each record (a failed batch: each its error; a full ingest queue:
// RESOURCE_EXHAUSTED at once); a stream of more records than its in-flight
// limit, sent while the store holds, is answered in full once the store
// moves, none refused by an ingest queue sized to that limit. No test
// sleeps.
#include "server/arrival_service.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/agency_directory.h"
#include "server/ingest_batcher.h"
#include "server/page_token.h"
#include "server/token_keys.h"
#include "tests/testing/fakes/fake_arrival_store.h"
#include "tests/testing/gated_server.h"

namespace enlace::server {
namespace {

using ::enlace::testing::FakeArrivalStore;
using ::enlace::testing::GatedServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kRecordArrival[] = "/enlace.v1.ArrivalService/RecordArrival";
constexpr char kRecordArrivals[] = "/enlace.v1.ArrivalService/RecordArrivals";
constexpr char kPolicy[] = "allow agency:mfa /enlace.v1.ArrivalService/*\n";

enlace::v1::Arrival MakeArrival(const std::string& external_id) {
  enlace::v1::Arrival a;
  a.set_external_id(external_id);
  a.set_arrival_date("2018-02-10");
  a.set_mode(enlace::v1::ARRIVAL_MODE_LAND);
  a.set_origin_country("MX");
  a.mutable_person()->set_given_name("María José");
  a.mutable_person()->set_family_name("Hernández");
  a.mutable_person()->set_birth_date("1995-07-21");
  a.mutable_person()->set_sex(enlace::v1::SEX_FEMALE);
  a.mutable_destination()->set_department_code("SV-LI");
  a.mutable_destination()->set_municipality("Quezaltepeque");
  a.add_needs(enlace::v1::NEED_SEED_CAPITAL);
  a.mutable_consent()->add_agencies("iom");
  a.mutable_consent()->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  a.mutable_consent()->mutable_given_at()->set_seconds(1518000000);
  return a;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return ctx;
}

class ArrivalServiceTest : public ::testing::Test {
 protected:
  virtual IngestOptions Ingest() { return IngestOptions{.writers = 2}; }

  void SetUp() override {
    batcher_ = std::make_unique<IngestBatcher>(&store_, Ingest());
    service_ = std::make_unique<ArrivalServiceImpl>(gated_.gate(), &tokens_, &store_,
                                                    batcher_.get(), &agencies_, &gated_.metrics());
    gated_.Serve({service_.get()});
    stub_ = enlace::v1::ArrivalService::NewStub(gated_.Channel(mfa_));
  }
  // Calls end before the service and the batcher go.
  void TearDown() override { gated_.Shutdown(); }

  grpc::Status RecordOne(const enlace::v1::Arrival& arrival,
                         enlace::v1::RecordArrivalResponse* response) {
    enlace::v1::RecordArrivalRequest request;
    *request.mutable_arrival() = arrival;
    return stub_->RecordArrival(Context().get(), request, response);
  }
  std::vector<db::AuditRecord> Events() { return gated_.audit_store().events(); }

  GatedServer gated_{kPolicy};
  // Batches commit their events in the gate's chain, as MySQL does.
  FakeArrivalStore store_{&gated_.audit_store()};
  AgencyDirectory agencies_{&gated_.registry()};
  std::unique_ptr<TokenKeys> keys_ = TokenKeys::Ephemeral();
  PageTokens tokens_{keys_.get()};
  std::unique_ptr<IngestBatcher> batcher_;
  std::unique_ptr<ArrivalServiceImpl> service_;
  const auth::IssuedCertificate mfa_ = gated_.pki().Agency("mfa");
  std::unique_ptr<enlace::v1::ArrivalService::Stub> stub_;
};

// The call's event is committed with its record, naming it: the answer
// comes after it, and the gate writes no second event.
TEST_F(ArrivalServiceTest, ARecordCommitsItsCallsEventWithItAndIsAuditedOnce) {
  enlace::v1::RecordArrivalResponse created;
  grpc::Status status = RecordOne(MakeArrival("u-1"), &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.outcome(), enlace::v1::OUTCOME_CREATED);
  std::vector<db::AuditRecord> events = Events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].method, kRecordArrival);
  EXPECT_EQ(events[0].principal, "spiffe://enlace/agency/mfa");
  EXPECT_THAT(events[0].record_ids, ElementsAre(created.arrival_id()));
  EXPECT_EQ(events[0].detail, "batch: created=1 already_recorded=0 rejected=0");
  // A resend: the same id, and its own event.
  enlace::v1::RecordArrivalResponse again;
  ASSERT_TRUE(RecordOne(MakeArrival("u-1"), &again).ok());
  EXPECT_EQ(again.outcome(), enlace::v1::OUTCOME_ALREADY_RECORDED);
  EXPECT_EQ(again.arrival_id(), created.arrival_id());
  EXPECT_THAT(Events(), SizeIs(2));
  EXPECT_EQ(store_.size(), 1u);
}

// The store fails the batch: the caller gets the error (UNAVAILABLE, its
// detail withheld), and the gate audits the failure.
TEST_F(ArrivalServiceTest, ARecordWhoseBatchFailsIsAnsweredWithTheErrorAndAudited) {
  store_.FailBatches(absl::UnavailableError("lost connection to MySQL server"));
  enlace::v1::RecordArrivalResponse response;
  grpc::Status status = RecordOne(MakeArrival("u-2"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("MySQL")));
  std::vector<db::AuditRecord> events = Events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].method, kRecordArrival);
  EXPECT_EQ(events[0].status_code, static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(store_.size(), 0u);
}

// No event can be written: the batch (whose event cannot be committed with
// it) stores nothing, and the caller is told UNAVAILABLE, never CREATED.
TEST_F(ArrivalServiceTest, WithoutItsEventARecordIsNeitherStoredNorAcknowledged) {
  gated_.audit_store().FailAppends(absl::InternalError("audit_events: disk full"));
  enlace::v1::RecordArrivalResponse response;
  grpc::Status status = RecordOne(MakeArrival("u-3"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(response.arrival_id().empty());
  EXPECT_EQ(store_.size(), 0u);
  gated_.audit_store().FailAppends(absl::OkStatus());
  ASSERT_TRUE(RecordOne(MakeArrival("u-3"), &response).ok());
  EXPECT_EQ(response.outcome(), enlace::v1::OUTCOME_CREATED);
}

// The answers of one RecordArrivals stream, read to its end.
struct StreamResult {
  std::vector<enlace::v1::RecordArrivalsResponse> answers;
  grpc::Status status;
};

// A failed batch answers each of its records with the error, and the stream
// goes on (it ends OK).
TEST_F(ArrivalServiceTest, AStreamsFailedBatchAnswersEachRecordWithTheError) {
  store_.FailBatches(absl::UnavailableError("the database went away"));
  auto ctx = Context();
  auto stream = stub_->RecordArrivals(ctx.get());
  for (int i = 0; i < 3; ++i) {
    enlace::v1::RecordArrivalsRequest request;
    *request.mutable_arrival() = MakeArrival(absl::StrCat("s-", i));
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  std::set<std::string> answered;
  enlace::v1::RecordArrivalsResponse answer;
  while (stream->Read(&answer)) {
    EXPECT_EQ(answer.outcome(), enlace::v1::OUTCOME_REJECTED);
    EXPECT_EQ(answer.error().code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(answer.error().message(), HasSubstr("retry"));
    answered.insert(answer.external_id());
  }
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(answered, ElementsAre("s-0", "s-1", "s-2"));
  EXPECT_EQ(store_.size(), 0u);
}

// The same, over and over: the last answer of a stream once raced the
// stream's end (the record's outstanding count dropped before its answer was
// queued, and the previous answer's write completion ended the stream OK in
// between): under ASan a stream ended with 2 of its 3 records answered. Each
// stream must answer every record it read before it ends, whatever the
// interleaving of commits and writes.
TEST_F(ArrivalServiceTest, EveryStreamAnswersEveryRecordBeforeItEnds) {
  store_.FailBatches(absl::UnavailableError("the database went away"));
  constexpr int kStreams = 200;
  constexpr int kRecords = 3;
  for (int s = 0; s < kStreams; ++s) {
    auto ctx = Context();
    auto stream = stub_->RecordArrivals(ctx.get());
    for (int i = 0; i < kRecords; ++i) {
      enlace::v1::RecordArrivalsRequest request;
      *request.mutable_arrival() = MakeArrival(absl::StrCat("r-", s, "-", i));
      ASSERT_TRUE(stream->Write(request));
    }
    stream->WritesDone();
    int answered = 0;
    enlace::v1::RecordArrivalsResponse answer;
    while (stream->Read(&answer)) ++answered;
    grpc::Status status = stream->Finish();
    ASSERT_TRUE(status.ok()) << "stream " << s << ": " << status.error_message();
    ASSERT_EQ(answered, kRecords) << "stream " << s << " ended with records unanswered";
  }
  EXPECT_EQ(store_.size(), 0u);
}

// A full ingest queue: the record is answered at once, RESOURCE_EXHAUSTED,
// while the records ahead of it wait for their commit; they are answered
// once it comes.
class FullQueueTest : public ArrivalServiceTest {
 protected:
  IngestOptions Ingest() override {
    return IngestOptions{.writers = 1, .max_batch = 1, .max_queue = 1};
  }
};

TEST_F(FullQueueTest, ARecordFindingTheIngestQueueFullIsAnsweredAtOnce) {
  store_.HoldBatches();
  auto ctx = Context();
  auto stream = stub_->RecordArrivals(ctx.get());
  enlace::v1::RecordArrivalsRequest request;
  *request.mutable_arrival() = MakeArrival("q-0");
  ASSERT_TRUE(stream->Write(request));
  store_.AwaitBatches(1);  // q-0 is in the store's hands
  *request.mutable_arrival() = MakeArrival("q-1");  // queued: the queue is full
  ASSERT_TRUE(stream->Write(request));
  *request.mutable_arrival() = MakeArrival("q-2");  // refused
  ASSERT_TRUE(stream->Write(request));
  enlace::v1::RecordArrivalsResponse answer;
  ASSERT_TRUE(stream->Read(&answer));  // before any commit: only the refusal can come
  EXPECT_EQ(answer.external_id(), "q-2");
  EXPECT_EQ(answer.outcome(), enlace::v1::OUTCOME_REJECTED);
  EXPECT_EQ(answer.error().code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(answer.error().message(), HasSubstr("ingest queue is full"));
  store_.ReleaseBatches();
  stream->WritesDone();
  std::vector<std::string> created;
  while (stream->Read(&answer)) {
    EXPECT_EQ(answer.outcome(), enlace::v1::OUTCOME_CREATED) << answer.external_id();
    created.push_back(answer.external_id());
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_THAT(created, ElementsAre("q-0", "q-1"));
}

// Back-pressure's other half: a stream that stopped reading at its in-flight
// limit (2,000 records waiting for their commit) reads again as answers go
// out. 2,500 records are sent while the store holds its first batch, through
// an ingest queue of exactly 2,000: every one is answered CREATED in the
// end, none refused by the queue (which the stream, by pausing, never
// overfills), and the stream ends OK.
class InFlightLimitTest : public ArrivalServiceTest {
 protected:
  IngestOptions Ingest() override {
    return IngestOptions{.writers = 1, .max_batch = 64, .max_queue = 2000};
  }
};

TEST_F(InFlightLimitTest, AStreamOverItsInFlightLimitResumesAndIsAnsweredInFull) {
  constexpr int kSent = 2500;
  store_.HoldBatches();
  auto ctx = Context();
  auto stream = stub_->RecordArrivals(ctx.get());
  absl::Mutex mu;
  int written = 0;
  std::thread writer([&] {
    for (int i = 0; i < kSent; ++i) {
      enlace::v1::RecordArrivalsRequest request;
      *request.mutable_arrival() = MakeArrival(absl::StrCat("f-", i));
      if (!stream->Write(request)) break;
      absl::MutexLock lock(&mu);
      ++written;
    }
    stream->WritesDone();
  });
  // Past the limit on the client's side before the store moves (the
  // transport takes a few hundred records more than the server reads).
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* w) { return *w >= 2100; }, &written));
  }
  store_.ReleaseBatches();
  std::set<std::string> created;
  int refused = 0;
  enlace::v1::RecordArrivalsResponse answer;
  while (stream->Read(&answer)) {
    if (answer.outcome() == enlace::v1::OUTCOME_CREATED) {
      created.insert(answer.external_id());
    } else {
      ++refused;
      ADD_FAILURE() << answer.external_id() << ": " << answer.error().message();
    }
  }
  writer.join();
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(refused, 0);
  EXPECT_THAT(created, SizeIs(kSent));
  EXPECT_EQ(store_.size(), static_cast<size_t>(kSent));
  // Every record is named by its call's events, committed with its batch.
  size_t named = 0;
  for (const db::AuditRecord& e : Events()) {
    if (e.method == kRecordArrivals && e.detail.rfind("batch:", 0) == 0)
      named += e.record_ids.size();
  }
  EXPECT_EQ(named, static_cast<size_t>(kSent));
}

}  // namespace
}  // namespace enlace::server
