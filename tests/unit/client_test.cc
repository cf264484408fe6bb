// Tests of libenlace_client (clients/enlace_client.h, clients/connection.h):
// the retry policy and backoff schedule as pure functions; the Client's
// deadline, retries and paging against in-process fake services (no network,
// no sleeping: the pause is injected); ConnectionOptionsFromEnvironment
// precedence; Connect's file errors; and one real mutual-TLS round trip with
// a throwaway PKI.
#include "clients/enlace_client.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/connection.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace enlace::client {
namespace {

using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Every Method, in declaration order.
constexpr Method kAllMethods[] = {
    Method::kRecordArrival,
    Method::kGetArrival,
    Method::kListArrivals,
    Method::kUpdateConsent,
    Method::kCorrectArrival,
    Method::kListArrivalVersions,
    Method::kExportReturneeData,
    Method::kEraseReturnee,
    Method::kFindPossibleDuplicates,
    Method::kLinkArrivals,
    Method::kUnlinkArrivals,
    Method::kRecordObjection,
    Method::kOpenCase,
    Method::kGetCase,
    Method::kListCases,
    Method::kUpdateCase,
    Method::kRecordService,
    Method::kRegisterInitiative,
    Method::kUpdateInitiative,
    Method::kListInitiatives,
    Method::kGetCaseAccessLog,
    Method::kCreateReferral,
    Method::kGetReferral,
    Method::kListReferrals,
    Method::kAcceptReferral,
    Method::kDeclineReferral,
    Method::kCompleteReferral,
    Method::kWithdrawReferral,
    Method::kGetProgrammeReport,
    Method::kIssueCertificate,
    Method::kListCertificates,
    Method::kRevokeCertificate,
    Method::kRegisterAgency,
    Method::kListAgencies,
    Method::kListAuditEvents,
    Method::kVerifyAuditLog,
    Method::kGetAuditCheckpoint,
    Method::kGetAuditConsistencyProof,
    Method::kGetAuditInclusionProof,
    Method::kRegisterWitnessKey,
    Method::kAddAuditCosignature,
    Method::kRegisterSharingAgreement,
    Method::kListSharingAgreements,
    Method::kEndSharingAgreement,
};

// The methods that may be retried: written out here, not derived, so that a
// change to the policy has to change this test too.
const std::set<Method>& Idempotent() {
  static const auto* const kIdempotent = new std::set<Method>{
      Method::kRecordArrival,
      Method::kGetArrival,
      Method::kListArrivals,
      Method::kListArrivalVersions,
      Method::kExportReturneeData,
      Method::kEraseReturnee,
      Method::kFindPossibleDuplicates,
      Method::kLinkArrivals,
      Method::kUnlinkArrivals,
      Method::kRecordObjection,
      Method::kGetCase,
      Method::kListCases,
      Method::kListInitiatives,
      Method::kGetCaseAccessLog,
      Method::kGetReferral,
      Method::kListReferrals,
      Method::kGetProgrammeReport,
      Method::kListCertificates,
      Method::kListAgencies,
      Method::kListAuditEvents,
      Method::kVerifyAuditLog,
      Method::kGetAuditCheckpoint,
      Method::kGetAuditConsistencyProof,
      Method::kGetAuditInclusionProof,
      Method::kListSharingAgreements,
      Method::kRegisterWitnessKey,
      Method::kAddAuditCosignature,
  };
  return *kIdempotent;
}

constexpr absl::StatusCode kAllCodes[] = {
    absl::StatusCode::kOk,
    absl::StatusCode::kCancelled,
    absl::StatusCode::kUnknown,
    absl::StatusCode::kInvalidArgument,
    absl::StatusCode::kDeadlineExceeded,
    absl::StatusCode::kNotFound,
    absl::StatusCode::kAlreadyExists,
    absl::StatusCode::kPermissionDenied,
    absl::StatusCode::kResourceExhausted,
    absl::StatusCode::kFailedPrecondition,
    absl::StatusCode::kAborted,
    absl::StatusCode::kOutOfRange,
    absl::StatusCode::kUnimplemented,
    absl::StatusCode::kInternal,
    absl::StatusCode::kUnavailable,
    absl::StatusCode::kDataLoss,
    absl::StatusCode::kUnauthenticated,
};

// ---------------------------------------------------------------------------
// The policy as pure functions.

TEST(ClientMethodTest, EveryUnaryRpcOfTheProtosHasAMethodAndNoOther) {
  std::set<std::string> unary_rpcs;
  for (const char* service :
       {v1::ArrivalService::service_full_name(), v1::CaseService::service_full_name(),
        v1::ReferralService::service_full_name(), v1::ReportService::service_full_name(),
        v1::AdminService::service_full_name()}) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    ASSERT_NE(descriptor, nullptr) << service;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* method = descriptor->method(i);
      if (method->client_streaming() || method->server_streaming()) continue;
      unary_rpcs.insert(absl::StrCat("/", service, "/", method->name()));
    }
  }
  std::set<std::string> names;
  for (Method method : kAllMethods) {
    EXPECT_TRUE(names.insert(std::string(MethodName(method))).second)
        << MethodName(method) << " named twice";
  }
  // A new unary RPC needs a Method, a MethodName and a retry decision.
  EXPECT_EQ(names, unary_rpcs);
}

TEST(ClientRetryPolicyTest, OnlyIdempotentMethodsAreIdempotent) {
  for (Method method : kAllMethods) {
    EXPECT_EQ(IsIdempotent(method), Idempotent().count(method) == 1) << MethodName(method);
  }
}

TEST(ClientRetryPolicyTest, RetriesIdempotentMethodsOnUnavailableOnly) {
  for (Method method : kAllMethods) {
    for (absl::StatusCode code : kAllCodes) {
      const bool expected =
          Idempotent().count(method) == 1 && code == absl::StatusCode::kUnavailable;
      EXPECT_EQ(IsRetryable(method, code), expected)
          << MethodName(method) << " " << absl::StatusCodeToString(code);
    }
  }
}

TEST(ClientRetryPolicyTest, NeverRetriesStateChangingCalls) {
  for (Method method :
       {Method::kOpenCase, Method::kUpdateCase, Method::kCreateReferral, Method::kAcceptReferral,
        Method::kDeclineReferral, Method::kCompleteReferral, Method::kWithdrawReferral,
        Method::kUpdateConsent, Method::kCorrectArrival, Method::kRevokeCertificate,
        Method::kIssueCertificate, Method::kRecordService, Method::kRegisterInitiative,
        Method::kUpdateInitiative, Method::kRegisterAgency}) {
    EXPECT_FALSE(IsRetryable(method, absl::StatusCode::kUnavailable)) << MethodName(method);
  }
  EXPECT_TRUE(IsRetryable(Method::kRecordArrival, absl::StatusCode::kUnavailable));
  EXPECT_FALSE(IsRetryable(Method::kGetArrival, absl::StatusCode::kDeadlineExceeded));
}

TEST(ClientBackoffDelayTest, DefaultScheduleIs100Then200Milliseconds) {
  RetryPolicy policy;
  EXPECT_EQ(policy.max_attempts, 3);
  EXPECT_EQ(BackoffDelay(policy, 1, 0.5), absl::Milliseconds(100));
  EXPECT_EQ(BackoffDelay(policy, 2, 0.5), absl::Milliseconds(200));
}

TEST(ClientBackoffDelayTest, DoublesUpToTheCap) {
  RetryPolicy policy;
  policy.jitter = 0;
  policy.max_backoff = absl::Seconds(1);
  EXPECT_EQ(BackoffDelay(policy, 1, 0.9), absl::Milliseconds(100));
  EXPECT_EQ(BackoffDelay(policy, 2, 0.9), absl::Milliseconds(200));
  EXPECT_EQ(BackoffDelay(policy, 3, 0.9), absl::Milliseconds(400));
  EXPECT_EQ(BackoffDelay(policy, 4, 0.9), absl::Milliseconds(800));
  EXPECT_EQ(BackoffDelay(policy, 5, 0.9), absl::Seconds(1));
  EXPECT_EQ(BackoffDelay(policy, 1000000, 0.9), absl::Seconds(1));
  EXPECT_EQ(BackoffDelay(policy, 0, 0.9), absl::Milliseconds(100));
}

TEST(ClientBackoffDelayTest, JitterSpreadsAroundTheNominalPause) {
  RetryPolicy policy;  // jitter 0.2
  EXPECT_EQ(BackoffDelay(policy, 1, 0.0), absl::Milliseconds(80));
  EXPECT_EQ(BackoffDelay(policy, 1, 1.0), absl::Milliseconds(120));
  EXPECT_EQ(BackoffDelay(policy, 2, 0.0), absl::Milliseconds(160));
  EXPECT_EQ(BackoffDelay(policy, 2, 1.0), absl::Milliseconds(240));
  // Draws outside [0, 1] are clamped.
  EXPECT_EQ(BackoffDelay(policy, 1, -3.0), absl::Milliseconds(80));
  EXPECT_EQ(BackoffDelay(policy, 1, 7.0), absl::Milliseconds(120));
  policy.jitter = 1.0;  // full jitter: anywhere in [0, 2 * nominal]
  EXPECT_EQ(BackoffDelay(policy, 1, 0.0), absl::ZeroDuration());
  EXPECT_EQ(BackoffDelay(policy, 1, 1.0), absl::Milliseconds(200));
}

TEST(ClientBackoffDelayTest, NeverNegative) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(-5);
  policy.jitter = 5.0;
  EXPECT_EQ(BackoffDelay(policy, 1, 0.0), absl::ZeroDuration());
  policy.initial_backoff = absl::Milliseconds(100);
  EXPECT_GE(BackoffDelay(policy, 1, 0.0), absl::ZeroDuration());
}

// ---------------------------------------------------------------------------
// The Client against in-process fakes.

// The replies of a fake RPC, in order; the last one repeats.
class Script {
 public:
  explicit Script(std::vector<grpc::Status> replies = {grpc::Status::OK})
      : replies_(std::move(replies)) {}

  void Reset(std::vector<grpc::Status> replies) {
    std::lock_guard<std::mutex> lock(mu_);
    replies_ = std::move(replies);
    calls_ = 0;
    deadlines_.clear();
  }

  grpc::Status Next(const grpc::ServerContext& context) {
    std::lock_guard<std::mutex> lock(mu_);
    deadlines_.push_back(context.deadline());
    const size_t i = std::min(calls_, replies_.size() - 1);
    ++calls_;
    return replies_[i];
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(calls_);
  }
  std::vector<std::chrono::system_clock::time_point> deadlines() {
    std::lock_guard<std::mutex> lock(mu_);
    return deadlines_;
  }

 private:
  std::mutex mu_;
  std::vector<grpc::Status> replies_;
  size_t calls_ = 0;
  std::vector<std::chrono::system_clock::time_point> deadlines_;
};

grpc::Status Unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "database unreachable");
}

class FakeArrivals final : public v1::ArrivalService::Service {
 public:
  Script record;
  Script get;
  // ListArrivals pages, by the page_token that asks for them.
  struct Page {
    std::vector<std::string> ids;
    std::string next_page_token;
    grpc::Status status = grpc::Status::OK;
  };
  std::map<std::string, Page> pages;
  std::vector<v1::ListArrivalsRequest> list_requests;  // under mu_

  grpc::Status RecordArrival(grpc::ServerContext* context, const v1::RecordArrivalRequest* request,
                             v1::RecordArrivalResponse* response) override {
    response->set_external_id(request->arrival().external_id());
    response->set_arrival_id("arr-1");
    return record.Next(*context);
  }

  grpc::Status GetArrival(grpc::ServerContext* context, const v1::GetArrivalRequest* request,
                          v1::Arrival* response) override {
    response->set_arrival_id(request->arrival_id());
    return get.Next(*context);
  }

  grpc::Status ListArrivals(grpc::ServerContext*, const v1::ListArrivalsRequest* request,
                            v1::ListArrivalsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    list_requests.push_back(*request);
    auto it = pages.find(request->page_token());
    if (it == pages.end()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token");
    }
    if (!it->second.status.ok()) return it->second.status;
    for (const std::string& id : it->second.ids) {
      response->add_arrivals()->set_arrival_id(id);
    }
    response->set_next_page_token(it->second.next_page_token);
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
};

class FakeCases final : public v1::CaseService::Service {
 public:
  Script open;

  grpc::Status OpenCase(grpc::ServerContext* context, const v1::OpenCaseRequest* request,
                        v1::Case* response) override {
    response->set_case_id("case-1");
    response->set_arrival_id(request->arrival_id());
    return open.Next(*context);
  }
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&arrivals_);
    builder.RegisterService(&cases_);
    server_ = builder.BuildAndStart();  // no ports: in-process only
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // A Client whose pauses are recorded, not slept. Jitter off: the pauses
  // are the nominal schedule.
  std::unique_ptr<Client> NewClient(RetryPolicy policy = RetryPolicy(),
                                    absl::Duration timeout = absl::Seconds(30)) {
    policy.jitter = 0;
    policy.sleep = [this](absl::Duration pause) {
      std::lock_guard<std::mutex> lock(pauses_mu_);
      pauses_.push_back(pause);
    };
    return Client::FromChannel(server_->InProcessChannel(grpc::ChannelArguments()), timeout,
                               std::move(policy));
  }

  std::vector<absl::Duration> pauses() {
    std::lock_guard<std::mutex> lock(pauses_mu_);
    return pauses_;
  }

  FakeArrivals arrivals_;
  FakeCases cases_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex pauses_mu_;
  std::vector<absl::Duration> pauses_;
};

v1::RecordArrivalRequest ArrivalWithExternalId(const std::string& id) {
  v1::RecordArrivalRequest request;
  request.mutable_arrival()->set_external_id(id);
  return request;
}

TEST_F(ClientTest, ReturnsTheResponse) {
  std::unique_ptr<Client> client = NewClient();
  v1::GetArrivalRequest request;
  request.set_arrival_id("arr-7");
  absl::StatusOr<v1::Arrival> arrival = client->GetArrival(request);
  ASSERT_TRUE(arrival.ok()) << arrival.status();
  EXPECT_EQ(arrival->arrival_id(), "arr-7");
  EXPECT_EQ(arrivals_.get.calls(), 1);
  EXPECT_THAT(pauses(), IsEmpty());
}

TEST_F(ClientTest, RetriesRecordArrivalOnUnavailableWithBackoff) {
  arrivals_.record.Reset({Unavailable(), Unavailable(), grpc::Status::OK});
  std::unique_ptr<Client> client = NewClient();
  absl::StatusOr<v1::RecordArrivalResponse> response =
      client->RecordArrival(ArrivalWithExternalId("MRE-1"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->arrival_id(), "arr-1");
  EXPECT_EQ(arrivals_.record.calls(), 3);
  EXPECT_THAT(pauses(), ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200)));
}

TEST_F(ClientTest, GivesUpAfterMaxAttemptsWithTheLastStatus) {
  arrivals_.get.Reset({Unavailable()});
  std::unique_ptr<Client> client = NewClient();
  absl::StatusOr<v1::Arrival> arrival = client->GetArrival(v1::GetArrivalRequest());
  EXPECT_THAT(arrival, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("database unreachable")));
  EXPECT_EQ(arrivals_.get.calls(), 3);
  EXPECT_THAT(pauses(), ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200)));
}

TEST_F(ClientTest, NeverRetriesOpenCase) {
  cases_.open.Reset({Unavailable(), grpc::Status::OK});
  std::unique_ptr<Client> client = NewClient();
  v1::OpenCaseRequest request;
  request.set_arrival_id("arr-1");
  EXPECT_THAT(client->OpenCase(request), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(cases_.open.calls(), 1);
  EXPECT_THAT(pauses(), IsEmpty());
}

TEST_F(ClientTest, DoesNotRetryOtherCodes) {
  for (grpc::StatusCode code : {grpc::StatusCode::NOT_FOUND, grpc::StatusCode::DEADLINE_EXCEEDED,
                                grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::INTERNAL,
                                grpc::StatusCode::PERMISSION_DENIED}) {
    SCOPED_TRACE(code);
    arrivals_.get.Reset({grpc::Status(code, "no"), grpc::Status::OK});
    std::unique_ptr<Client> client = NewClient();
    EXPECT_THAT(client->GetArrival(v1::GetArrivalRequest()),
                StatusIs(static_cast<absl::StatusCode>(code)));
    EXPECT_EQ(arrivals_.get.calls(), 1);
  }
  EXPECT_THAT(pauses(), IsEmpty());
}

TEST_F(ClientTest, OneAttemptWhenRetriesAreOff) {
  arrivals_.get.Reset({Unavailable(), grpc::Status::OK});
  RetryPolicy policy;
  policy.max_attempts = 1;
  std::unique_ptr<Client> client = NewClient(policy);
  EXPECT_THAT(client->GetArrival(v1::GetArrivalRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(arrivals_.get.calls(), 1);
}

TEST_F(ClientTest, NoPauseThatWouldEndPastTheDeadline) {
  arrivals_.get.Reset({Unavailable(), grpc::Status::OK});
  RetryPolicy policy;
  policy.initial_backoff = absl::Seconds(60);
  policy.max_backoff = absl::Seconds(60);
  std::unique_ptr<Client> client = NewClient(policy, absl::Seconds(10));
  EXPECT_THAT(client->GetArrival(v1::GetArrivalRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(arrivals_.get.calls(), 1);
  EXPECT_THAT(pauses(), IsEmpty());
}

TEST_F(ClientTest, EveryAttemptCarriesTheCallsOneDeadline) {
  arrivals_.get.Reset({Unavailable(), Unavailable(), grpc::Status::OK});
  const auto before = std::chrono::system_clock::now();
  std::unique_ptr<Client> client = NewClient(RetryPolicy(), absl::Seconds(30));
  ASSERT_TRUE(client->GetArrival(v1::GetArrivalRequest()).ok());
  const auto after = std::chrono::system_clock::now();
  std::vector<std::chrono::system_clock::time_point> deadlines = arrivals_.get.deadlines();
  ASSERT_EQ(deadlines.size(), 3u);
  for (const auto& deadline : deadlines) {
    // One deadline, set before the first attempt: not renewed per attempt.
    EXPECT_GE(deadline, before + std::chrono::seconds(29));
    EXPECT_LE(deadline, after + std::chrono::seconds(31));
  }
}

TEST_F(ClientTest, ForEachArrivalPagesThroughEverything) {
  arrivals_.pages[""] = {{"a1", "a2"}, "t1"};
  arrivals_.pages["t1"] = {{"a3"}, "t2"};
  arrivals_.pages["t2"] = {{"a4"}, ""};
  std::unique_ptr<Client> client = NewClient();
  v1::ListArrivalsRequest request;
  request.set_department_code("SV-SS");
  request.set_page_size(2);
  std::vector<std::string> seen;
  absl::Status status = client->ForEachArrival(request, [&](const v1::Arrival& arrival) {
    seen.push_back(arrival.arrival_id());
    return absl::OkStatus();
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(seen, ElementsAre("a1", "a2", "a3", "a4"));
  ASSERT_EQ(arrivals_.list_requests.size(), 3u);
  for (const v1::ListArrivalsRequest& sent : arrivals_.list_requests) {
    EXPECT_EQ(sent.department_code(), "SV-SS");  // the query, on every page
    EXPECT_EQ(sent.page_size(), 2);
  }
  EXPECT_EQ(arrivals_.list_requests[2].page_token(), "t2");
}

TEST_F(ClientTest, ForEachArrivalStopsWhenTheCallbackSaysSo) {
  arrivals_.pages[""] = {{"a1", "a2"}, "t1"};
  arrivals_.pages["t1"] = {{"a3"}, ""};
  std::unique_ptr<Client> client = NewClient();
  std::vector<std::string> seen;
  absl::Status status =
      client->ForEachArrival(v1::ListArrivalsRequest(), [&](const v1::Arrival& arrival) {
        seen.push_back(arrival.arrival_id());
        return seen.size() == 1 ? absl::OkStatus() : absl::CancelledError("enough");
      });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled, "enough"));
  EXPECT_THAT(seen, ElementsAre("a1", "a2"));
  EXPECT_EQ(arrivals_.list_requests.size(), 1u);
}

TEST_F(ClientTest, ForEachArrivalReturnsAFailedPage) {
  arrivals_.pages[""] = {{"a1"}, "t1"};
  arrivals_.pages["t1"] = {{}, "", grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "denied")};
  std::unique_ptr<Client> client = NewClient();
  std::vector<std::string> seen;
  absl::Status status =
      client->ForEachArrival(v1::ListArrivalsRequest(), [&](const v1::Arrival& arrival) {
        seen.push_back(arrival.arrival_id());
        return absl::OkStatus();
      });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(seen, ElementsAre("a1"));
}

TEST_F(ClientTest, ForEachArrivalRefusesATokenThatDoesNotMove) {
  arrivals_.pages[""] = {{"a1"}, "same"};
  arrivals_.pages["same"] = {{"a2"}, "same"};
  std::unique_ptr<Client> client = NewClient();
  int seen = 0;
  absl::Status status = client->ForEachArrival(v1::ListArrivalsRequest(), [&](const v1::Arrival&) {
    ++seen;
    return absl::OkStatus();
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInternal, HasSubstr("same")));
  EXPECT_EQ(seen, 2);
}

TEST_F(ClientTest, NewContextHasTheTimeout) {
  std::unique_ptr<Client> client = NewClient(RetryPolicy(), absl::Seconds(7));
  const auto before = std::chrono::system_clock::now();
  std::unique_ptr<grpc::ClientContext> context = client->NewContext();
  const auto after = std::chrono::system_clock::now();
  EXPECT_GE(context->deadline(), before + std::chrono::seconds(7));
  EXPECT_LE(context->deadline(), after + std::chrono::seconds(7));
}

// ---------------------------------------------------------------------------
// ConnectionOptionsFromEnvironment: flags win, then the environment, then
// the defaults.

class ConnectionEnvironmentTest : public ::testing::Test {
 protected:
  static constexpr const char* kVariables[] = {"ENLACE_ADDR", "ENLACE_CA", "ENLACE_CERT",
                                               "ENLACE_KEY", "ENLACE_ACTOR"};
  void SetUp() override {
    for (const char* variable : kVariables) {
      const char* value = getenv(variable);
      saved_.emplace_back(value == nullptr ? std::nullopt : std::optional<std::string>(value));
      unsetenv(variable);
    }
  }
  void TearDown() override {
    for (size_t i = 0; i < saved_.size(); ++i) {
      if (saved_[i].has_value()) {
        setenv(kVariables[i], saved_[i]->c_str(), 1);
      } else {
        unsetenv(kVariables[i]);
      }
    }
  }
  std::vector<std::optional<std::string>> saved_;
};

TEST_F(ConnectionEnvironmentTest, DefaultsWithoutFlagsOrEnvironment) {
  ConnectionOptions options = ConnectionOptionsFromEnvironment({});
  EXPECT_EQ(options.address, kDefaultAddress);
  EXPECT_EQ(options.ca_path, "");
  EXPECT_EQ(options.cert_path, "");
  EXPECT_EQ(options.key_path, "");
  EXPECT_EQ(options.actor, "");
  EXPECT_EQ(options.timeout, absl::Seconds(30));
}

TEST_F(ConnectionEnvironmentTest, EnvironmentFillsWhatFlagsLeaveUnset) {
  setenv("ENLACE_ADDR", "enlace.example:443", 1);
  setenv("ENLACE_CA", "/env/ca.crt", 1);
  setenv("ENLACE_CERT", "/env/iom.crt", 1);
  setenv("ENLACE_KEY", "/env/iom.key", 1);
  setenv("ENLACE_ACTOR", "iom-staff-0042", 1);
  ConnectionOptions options = ConnectionOptionsFromEnvironment({});
  EXPECT_EQ(options.address, "enlace.example:443");
  EXPECT_EQ(options.ca_path, "/env/ca.crt");
  EXPECT_EQ(options.cert_path, "/env/iom.crt");
  EXPECT_EQ(options.key_path, "/env/iom.key");
  EXPECT_EQ(options.actor, "iom-staff-0042");
  ConnectionOptions flags;
  flags.actor = "iom-staff-0007";
  EXPECT_EQ(ConnectionOptionsFromEnvironment(flags).actor, "iom-staff-0007");
}

TEST_F(ConnectionEnvironmentTest, FlagsWinOverTheEnvironment) {
  setenv("ENLACE_ADDR", "enlace.example:443", 1);
  setenv("ENLACE_CA", "/env/ca.crt", 1);
  setenv("ENLACE_CERT", "/env/iom.crt", 1);
  setenv("ENLACE_KEY", "/env/iom.key", 1);
  ConnectionOptions flags;
  flags.address = "10.0.0.1:7443";
  flags.ca_path = "/flag/ca.crt";
  flags.key_path = "/flag/iom.key";
  flags.timeout = absl::Seconds(3);
  ConnectionOptions options = ConnectionOptionsFromEnvironment(flags);
  EXPECT_EQ(options.address, "10.0.0.1:7443");
  EXPECT_EQ(options.ca_path, "/flag/ca.crt");
  EXPECT_EQ(options.cert_path, "/env/iom.crt");  // no flag: environment
  EXPECT_EQ(options.key_path, "/flag/iom.key");
  EXPECT_EQ(options.timeout, absl::Seconds(3));
}

TEST_F(ConnectionEnvironmentTest, EmptyValuesCountAsUnset) {
  setenv("ENLACE_ADDR", "", 1);
  setenv("ENLACE_CA", "", 1);
  ConnectionOptions flags;
  flags.address = "";
  ConnectionOptions options = ConnectionOptionsFromEnvironment(flags);
  EXPECT_EQ(options.address, kDefaultAddress);
  EXPECT_EQ(options.ca_path, "");
}

// ---------------------------------------------------------------------------
// Connect: what it checks before any call, and a real mTLS round trip.

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(dir, "/", name);
  std::ofstream(path) << content;
  return path;
}

TEST(ClientConnectTest, NamesTheFileThatIsWrong) {
  enlace::testing::TestPki pki = enlace::testing::TestPki::Create();
  enlace::testing::TestPki::Files iom = pki.WriteCertificate("iom", pki.Agency("iom"));
  ConnectionOptions options;
  options.ca_path = pki.ca_cert_path();
  options.cert_path = iom.certificate_path;
  options.key_path = iom.private_key_path;
  ASSERT_TRUE(Connect(options).ok());

  ConnectionOptions missing = options;
  missing.cert_path = "/nonexistent/iom.crt";
  EXPECT_THAT(Client::Connect(missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/iom.crt")));

  ConnectionOptions none = options;
  none.ca_path = "";
  EXPECT_THAT(Client::Connect(none),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("CA certificate")));

  ConnectionOptions swapped = options;
  swapped.key_path = iom.certificate_path;
  EXPECT_THAT(Client::Connect(swapped),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(iom.certificate_path)));

  ConnectionOptions encrypted = options;
  encrypted.key_path = WriteFile(pki.dir(), "encrypted.key",
                                 "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                                 "-----END ENCRYPTED PRIVATE KEY-----\n");
  EXPECT_THAT(Client::Connect(encrypted),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("encrypted")));

  // What gRPC would only report as an UNAVAILABLE first call.
  ConnectionOptions garbage = options;
  garbage.ca_path = WriteFile(pki.dir(), "garbage.crt",
                              "-----BEGIN CERTIFICATE-----\nAAAA\n"
                              "-----END CERTIFICATE-----\n");
  EXPECT_THAT(Client::Connect(garbage),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(garbage.ca_path + " holds no valid PEM")));

  enlace::testing::TestPki::Files unhcr = pki.WriteCertificate("unhcr", pki.Agency("unhcr"));
  ConnectionOptions mismatched = options;
  mismatched.key_path = unhcr.private_key_path;
  EXPECT_THAT(Client::Connect(mismatched),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not belong to client certificate " + iom.certificate_path)));

  enlace::testing::TestPki::Files expired = pki.WriteCertificate(
      "expired", pki.WithUris({"spiffe://enlace/agency/iom"}, absl::Now() - absl::Hours(48),
                              absl::Now() - absl::Hours(24)));
  ConnectionOptions stale = options;
  stale.cert_path = expired.certificate_path;
  stale.key_path = expired.private_key_path;
  EXPECT_THAT(Client::Connect(stale), StatusIs(absl::StatusCode::kFailedPrecondition,
                                               HasSubstr(expired.certificate_path + " expired")));
}

// The server side of the round trip: GetArrival answers with the caller's
// verified URI SAN, and in external_id each enlace-actor value it sent,
// joined by commas.
class WhoAmI final : public v1::ArrivalService::Service {
 public:
  grpc::Status GetArrival(grpc::ServerContext* context, const v1::GetArrivalRequest*,
                          v1::Arrival* response) override {
    for (const grpc::string_ref& uri :
         context->auth_context()->FindPropertyValues("x509_subject_alternative_name")) {
      response->set_arrival_id(std::string(uri.data(), uri.size()));
    }
    std::vector<std::string> actors;
    auto [first, last] = context->client_metadata().equal_range(kActorMetadataKey);
    for (auto it = first; it != last; ++it)
      actors.emplace_back(it->second.data(), it->second.size());
    response->set_external_id(absl::StrJoin(actors, ","));
    return grpc::Status::OK;
  }
};

TEST(ClientConnectTest, MutualTlsRoundTrip) {
  enlace::testing::TestPki pki = enlace::testing::TestPki::Create();
  enlace::testing::TestPki::Files iom = pki.WriteCertificate("iom", pki.Agency("iom"));
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = pki.ca_cert_pem();
  tls.pem_key_cert_pairs.push_back({pki.server_key_pem(), pki.server_cert_pem()});
  WhoAmI service;
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(port, 0);

  ConnectionOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.ca_path = pki.ca_cert_path();
  options.cert_path = iom.certificate_path;
  options.key_path = iom.private_key_path;
  options.timeout = absl::Seconds(20);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<v1::Arrival> answer = (*client)->GetArrival(v1::GetArrivalRequest());
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->arrival_id(), "spiffe://enlace/agency/iom");
  EXPECT_EQ(answer->external_id(), "");  // no actor given: none sent

  // With an actor, every call on the channel names it once: the typed calls
  // and those made on the raw stubs.
  options.actor = "iom-staff-0042";
  absl::StatusOr<std::unique_ptr<Client>> acting = Client::Connect(options);
  ASSERT_TRUE(acting.ok()) << acting.status();
  answer = (*acting)->GetArrival(v1::GetArrivalRequest());
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->external_id(), "iom-staff-0042");
  v1::Arrival raw;
  ASSERT_TRUE((*acting)
                  ->arrivals()
                  .GetArrival((*acting)->NewContext().get(), v1::GetArrivalRequest(), &raw)
                  .ok());
  EXPECT_EQ(raw.external_id(), "iom-staff-0042");
  options.actor.clear();

  // A certificate of another CA is refused in the handshake: UNAVAILABLE,
  // retried like any UNAVAILABLE read, then returned.
  enlace::testing::TestPki other = enlace::testing::TestPki::Create("Other");
  enlace::testing::TestPki::Files stranger =
      other.WriteCertificate("stranger", other.Agency("iom"));
  options.cert_path = stranger.certificate_path;
  options.key_path = stranger.private_key_path;
  RetryPolicy no_pause;
  int pauses = 0;
  no_pause.sleep = [&pauses](absl::Duration) { ++pauses; };
  absl::StatusOr<std::unique_ptr<Client>> refused = Client::Connect(options, no_pause);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_THAT((*refused)->GetArrival(v1::GetArrivalRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(pauses, 2);
  server->Shutdown();
}

}  // namespace
}  // namespace enlace::client
