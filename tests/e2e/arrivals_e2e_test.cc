// End to end: the real server in-process, a real MariaDB, real mutual TLS on
// loopback with certificates made at test time, and gRPC clients holding
// those certificates. Covers identity, authorization, record-level
// visibility, idempotent ingest, per-record stream errors, the audit chain,
// policy reload, and a database outage the server recovers from.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/testing/private_mariadb.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::FreeLoopbackPort;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::RunMariaDbScript;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::TestDatabase;
using ::enlace::testing::TestPki;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using v1::AdminService;
using v1::Arrival;
using v1::ArrivalService;

TEST_F(ServerFixture, ConsentDecidesWhichAgencySeesAnArrival) {
  std::string id = RecordOne(MakeArrival("c-1", {"iom"}));
  Arrival seen;
  v1::GetArrivalRequest get;
  get.set_arrival_id(id);
  ASSERT_TRUE(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &seen).ok());
  EXPECT_EQ(seen.person().given_name(), "María José");
  EXPECT_EQ(seen.submitted_by(), "mfa");
  EXPECT_TRUE(seen.has_recorded_at());

  grpc::Status status = Arrivals(unhcr_cert_)->GetArrival(Context().get(), get, &seen);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("consent")));  // reveals nothing

  v1::ListArrivalsResponse listed;
  ASSERT_TRUE(Arrivals(unhcr_cert_)->ListArrivals(Context().get(), {}, &listed).ok());
  EXPECT_THAT(listed.arrivals(), SizeIs(0));
}

TEST_F(ServerFixture, NoClientCertificateIsRefusedAtTheHandshake) {
  auto stub = ArrivalService::NewStub(Channel(nullptr, pki_.ca_cert_pem()));
  v1::ListArrivalsResponse response;
  EXPECT_EQ(stub->ListArrivals(Context().get(), {}, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerFixture, CertificateFromAnotherCaIsRefused) {
  TestPki other = TestPki::Create("Other CA");
  auth::IssuedCertificate stranger = other.Agency("mfa");
  auto stub = ArrivalService::NewStub(Channel(&stranger, pki_.ca_cert_pem()));
  v1::ListArrivalsResponse response;
  EXPECT_EQ(stub->ListArrivals(Context().get(), {}, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerFixture, CertificateWithoutAnEnlaceIdentityIsUnauthenticatedAndAudited) {
  for (const std::vector<std::string>& uris : std::vector<std::vector<std::string>>{
           {},
           {"spiffe://elsewhere/agency/mfa"},
           {"spiffe://enlace/agency/mfa", "spiffe://enlace/agency/iom"}}) {
    auth::IssuedCertificate odd = pki_.WithUris(uris);
    auto stub = ArrivalService::NewStub(Channel(&odd, pki_.ca_cert_pem()));
    v1::ListArrivalsResponse response;
    grpc::Status status = stub->ListArrivals(Context().get(), {}, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << uris.size();
  }
  v1::ListAuditEventsResponse events = AuditEvents("unauthenticated");
  ASSERT_THAT(events.events(), SizeIs(3));
  EXPECT_EQ(events.events(0).decision(), v1::DECISION_DENY);
  EXPECT_EQ(events.events(0).status_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(events.events(0).method(), "/enlace.v1.ArrivalService/ListArrivals");
}

TEST_F(ServerFixture, AgencyOtherThanMinistryMayNotRecordArrivals) {
  grpc::Status status;
  std::vector<v1::RecordArrivalsResponse> responses =
      Stream(unhcr_cert_, {MakeArrival("u-1")}, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(responses, SizeIs(0));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 0);
  v1::ListAuditEventsResponse events = AuditEvents("spiffe://enlace/agency/unhcr");
  ASSERT_THAT(events.events(), SizeIs(1));
  EXPECT_EQ(events.events(0).decision(), v1::DECISION_DENY);
  EXPECT_EQ(events.events(0).status_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(events.events(0).method(), "/enlace.v1.ArrivalService/RecordArrivals");

  // Unary too, and the admin-only service is closed to agencies.
  v1::RecordArrivalRequest request;
  *request.mutable_arrival() = MakeArrival("u-2");
  v1::RecordArrivalResponse response;
  EXPECT_EQ(Arrivals(iom_cert_)->RecordArrival(Context().get(), request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::VerifyAuditLogResponse verify;
  EXPECT_EQ(AdminService::NewStub(Channel(&iom_cert_, pki_.ca_cert_pem()))
                ->VerifyAuditLog(Context().get(), {}, &verify)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ServerFixture, StreamIngestIsIdempotentAndAnswersEachRecordOnce) {
  std::vector<Arrival> arrivals;
  for (int i = 0; i < 1500; ++i) arrivals.push_back(MakeArrival(absl::StrCat("s-", i)));
  grpc::Status status;
  std::vector<v1::RecordArrivalsResponse> first = Stream(mfa_cert_, arrivals, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(first, SizeIs(1500));
  std::map<std::string, std::string> ids;
  for (const auto& r : first) {
    EXPECT_EQ(r.outcome(), v1::OUTCOME_CREATED) << r.error().message();
    EXPECT_TRUE(ids.emplace(r.external_id(), r.arrival_id()).second) << "answered twice";
  }
  std::vector<v1::RecordArrivalsResponse> second = Stream(mfa_cert_, arrivals, &status);
  ASSERT_TRUE(status.ok());
  ASSERT_THAT(second, SizeIs(1500));
  for (const auto& r : second) {
    EXPECT_EQ(r.outcome(), v1::OUTCOME_ALREADY_RECORDED);
    EXPECT_EQ(r.arrival_id(), ids[r.external_id()]);
  }
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 1500);

  // Every batch committed an event naming each of its arrivals, before any
  // was answered; each stream's end has an event of its own with the counts.
  v1::ListAuditEventsResponse events = AuditEvents("spiffe://enlace/agency/mfa");
  std::map<std::string, int> named;  // arrival id -> batch events naming it
  std::vector<std::string> ends;
  for (const v1::AuditEvent& e : events.events()) {
    EXPECT_EQ(e.method(), "/enlace.v1.ArrivalService/RecordArrivals");
    if (absl::StartsWith(e.detail(), "batch: ")) {
      for (const std::string& id : e.record_ids()) ++named[id];
    } else {
      EXPECT_THAT(e.record_ids(), SizeIs(0));
      ends.push_back(e.detail());
    }
  }
  ASSERT_EQ(named.size(), 1500u);
  for (const auto& [external_id, arrival_id] : ids) {
    EXPECT_EQ(named[arrival_id], 2) << arrival_id;  // created, then already recorded
  }
  EXPECT_THAT(ends, ElementsAre(HasSubstr("created=1500"), HasSubstr("already_recorded=1500")));
}

TEST_F(ServerFixture, MalformedRecordInAStreamGetsItsOwnErrorAndTheRestIsStored) {
  std::vector<Arrival> arrivals;
  for (int i = 0; i < 10; ++i) arrivals.push_back(MakeArrival(absl::StrCat("m-", i)));
  arrivals[4].set_arrival_date("2018-02-30");
  arrivals[7].mutable_destination()->set_department_code("SV-ZZ");
  grpc::Status status;
  std::vector<v1::RecordArrivalsResponse> responses = Stream(mfa_cert_, arrivals, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(responses, SizeIs(10));
  for (const auto& r : responses) {
    if (r.external_id() == "m-4") {
      EXPECT_EQ(r.outcome(), v1::OUTCOME_REJECTED);
      EXPECT_EQ(r.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(r.error().field(), "arrival.arrival_date");
    } else if (r.external_id() == "m-7") {
      EXPECT_EQ(r.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(r.error().field(), "arrival.destination.department_code");
    } else {
      EXPECT_EQ(r.outcome(), v1::OUTCOME_CREATED) << r.external_id();
    }
  }
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 8);
}

TEST_F(ServerFixture, TwoVersionsOfARecordInOneStreamKeepTheFirstSent) {
  std::vector<Arrival> arrivals;
  for (int i = 0; i < 200; ++i) {
    Arrival first = MakeArrival(absl::StrCat("v-", i));
    Arrival second = first;
    second.mutable_destination()->set_municipality("Santa Tecla");
    arrivals.push_back(first);
    arrivals.push_back(second);
  }
  grpc::Status status;
  std::vector<v1::RecordArrivalsResponse> responses = Stream(mfa_cert_, arrivals, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(responses, SizeIs(400));
  int rejected = 0;
  for (const auto& r : responses) {
    if (r.outcome() == v1::OUTCOME_REJECTED) {
      ++rejected;
      EXPECT_EQ(r.error().code(), grpc::StatusCode::ALREADY_EXISTS);
    }
  }
  EXPECT_EQ(rejected, 200);
  EXPECT_EQ(
      database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE municipality = 'Quezaltepeque'"),
      200);
}

TEST_F(ServerFixture, UnaryRejectionsNameTheFieldAndStoreNothing) {
  Arrival bad = MakeArrival("bad-1");
  bad.mutable_person()->set_birth_date("2019-01-01");  // after the arrival
  v1::RecordArrivalRequest request;
  *request.mutable_arrival() = bad;
  v1::RecordArrivalResponse response;
  grpc::Status status = Arrivals(mfa_cert_)->RecordArrival(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival.person.birth_date"));

  RecordOne(MakeArrival("dup-1"));
  *request.mutable_arrival() = MakeArrival("dup-1", {"undp"});
  status = Arrivals(mfa_cert_)->RecordArrival(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr("arrival.external_id"));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 1);

  v1::ListArrivalsRequest list;
  list.set_page_size(501);
  v1::ListArrivalsResponse listed;
  status = Arrivals(mfa_cert_)->ListArrivals(Context().get(), list, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size"));
}

TEST_F(ServerFixture, ListArrivalsPagesWithTokensBoundToTheQuery) {
  for (int i = 0; i < 7; ++i) RecordOne(MakeArrival(absl::StrCat("p-", i)));
  v1::ListArrivalsRequest request;
  request.set_page_size(3);
  request.set_department_code("SV-LI");
  std::set<std::string> seen;
  int pages = 0;
  std::string first_token;
  do {
    v1::ListArrivalsResponse response;
    ASSERT_TRUE(Arrivals(iom_cert_)->ListArrivals(Context().get(), request, &response).ok());
    for (const Arrival& a : response.arrivals()) seen.insert(a.arrival_id());
    request.set_page_token(response.next_page_token());
    if (pages++ == 0) first_token = response.next_page_token();
  } while (!request.page_token().empty());
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(pages, 3);

  request.set_page_token(first_token);
  request.set_department_code("SV-SS");  // another query
  v1::ListArrivalsResponse response;
  grpc::Status status = Arrivals(iom_cert_)->ListArrivals(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
}

TEST_F(ServerFixture, ConsentWithdrawalHidesTheArrivalFromTheAgency) {
  std::string id = RecordOne(MakeArrival("w-1", {"iom"}));
  v1::UpdateConsentRequest update;
  update.set_arrival_id(id);
  update.mutable_consent()->add_agencies("undp");
  update.mutable_consent()->add_purposes(v1::PURPOSE_REINTEGRATION);
  Arrival updated;
  grpc::Status status = Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // when was it given?
  EXPECT_THAT(status.error_message(), HasSubstr("consent.given_at"));
  update.mutable_consent()->mutable_given_at()->set_seconds(1530000000);
  status = Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.consent_version(), 2);
  v1::GetArrivalRequest get;
  get.set_arrival_id(id);
  Arrival seen;
  EXPECT_EQ(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &seen).error_code(),
            grpc::StatusCode::NOT_FOUND);
  update.mutable_consent()->set_agencies(0, "nobody");
  EXPECT_EQ(Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &updated).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerFixture, AlteredAuditRowIsNamedByVerifyAuditLog) {
  for (int i = 0; i < 5; ++i) RecordOne(MakeArrival(absl::StrCat("a-", i)));
  v1::VerifyAuditLogResponse verify;
  ASSERT_TRUE(Admin()->VerifyAuditLog(Context().get(), {}, &verify).ok());
  EXPECT_TRUE(verify.intact());
  EXPECT_EQ(verify.checked(), 5);
  database_->Execute(
      "UPDATE audit_events SET principal = 'spiffe://enlace/agency/iom' WHERE seq = 3");
  ASSERT_TRUE(Admin()->VerifyAuditLog(Context().get(), {}, &verify).ok());
  EXPECT_FALSE(verify.intact());
  EXPECT_EQ(verify.first_broken_sequence(), 3);
}

TEST_F(ServerFixture, PolicyChangesTakeEffectWithoutRestartAndBadPoliciesAreRefused) {
  std::string id = RecordOne(MakeArrival("r-1", {"iom"}));
  v1::GetArrivalRequest get;
  get.set_arrival_id(id);
  Arrival seen;
  ASSERT_TRUE(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &seen).ok());

  auto wait_for_code = [&](grpc::StatusCode expected) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    grpc::StatusCode code;
    do {
      code = Arrivals(iom_cert_)->GetArrival(Context().get(), get, &seen).error_code();
      if (code == expected) return true;
      absl::SleepFor(absl::Milliseconds(50));
    } while (absl::Now() < deadline);
    return false;
  };
  std::string policy = ReadSourceFile("server/default_policy.conf");
  pki_.WriteFile("policy.conf",
                 policy + "\ndeny agency:iom /enlace.v1.ArrivalService/GetArrival\n");
  EXPECT_TRUE(wait_for_code(grpc::StatusCode::PERMISSION_DENIED));

  // An invalid file is refused: the deny above stays in force.
  pki_.WriteFile("policy.conf", "allow agency:iom /enlace.v1.ArrivalService/NoSuchMethod\n");
  absl::SleepFor(absl::Milliseconds(500));  // several poll periods
  EXPECT_EQ(Arrivals(iom_cert_)->GetArrival(Context().get(), get, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  pki_.WriteFile("policy.conf", policy);
  EXPECT_TRUE(wait_for_code(grpc::StatusCode::OK));
}

// The database goes away and comes back: calls fail with UNAVAILABLE (never
// hang, never pretend), and the server recovers by itself.
class DatabaseOutageTest : public ServerFixture {
 protected:
  void SetUp() override {
    policy_path_ = pki_.WriteFile("policy.conf", ReadSourceFile("server/default_policy.conf"));
    char dir_template[] = "/tmp/enlace-outage-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    port_ = FreeLoopbackPort();
    ASSERT_GT(port_, 0);
    ASSERT_EQ(
        RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_init ", dir_,
                                                         " && mariadb_start ", dir_, " ", port_)),
        0);
    StartServer(absl::StrCat("mysql://root@127.0.0.1:", port_, "/enlace"));
  }
  void TearDown() override {
    server_.reset();
    RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_stop ", dir_));
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }
  grpc::StatusCode TryRecord(const std::string& external_id) {
    v1::RecordArrivalRequest request;
    *request.mutable_arrival() = MakeArrival(external_id);
    v1::RecordArrivalResponse response;
    return Arrivals(mfa_cert_)->RecordArrival(Context().get(), request, &response).error_code();
  }
  std::string dir_;
  int port_ = 0;
};

TEST_F(DatabaseOutageTest, CallsFailUnavailableWhileTheDatabaseIsDownThenRecover) {
  ASSERT_EQ(TryRecord("o-1"), grpc::StatusCode::OK);
  ASSERT_EQ(RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_stop ", dir_)), 0);
  EXPECT_EQ(TryRecord("o-2"), grpc::StatusCode::UNAVAILABLE);
  ASSERT_EQ(RunMariaDbScript(ENLACE_SOURCE_DIR, absl::StrCat("mariadb_start ", dir_, " ", port_)),
            0);
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  grpc::StatusCode code;
  do {
    code = TryRecord("o-3");
  } while (code != grpc::StatusCode::OK && absl::Now() < deadline);
  EXPECT_EQ(code, grpc::StatusCode::OK);
  EXPECT_EQ(TryRecord("o-1"), grpc::StatusCode::OK);  // acknowledged data survived
}

}  // namespace
}  // namespace enlace
