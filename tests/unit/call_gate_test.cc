// Unit tests of server/call_gate.h: the gate in front of a test service
// (ArrivalService's GetArrival, whose body each test writes), served
// in-process on loopback over real mutual TLS with TestPki certificates
// (the gate reads the caller from the verified TLS peer: there is no other
// way in), its events going to the in-memory FakeAuditStore
// (tests/testing/gated_server.h). What a caller
// is answered, whether the handler ran, and the event written, for: an
// allowed call, a denied one, an unauthenticated or revoked certificate,
// revocation state gone stale, an audit that cannot be written
// (UNAVAILABLE, never the handler's OK), and a caller over its limit or a
// full work queue (RESOURCE_EXHAUSTED), or waiting for its slot. No
// database; no test sleeps.
#include "server/call_gate.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "auth/identity.h"
#include "auth/pki.h"
#include "enlace/v1/admin.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/gated_server.h"

namespace enlace::server {
namespace {

using ::enlace::testing::GatedServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kGetArrival[] = "/enlace.v1.ArrivalService/GetArrival";
constexpr char kIom[] = "spiffe://enlace/agency/iom";
constexpr char kUndp[] = "spiffe://enlace/agency/undp";
constexpr int kAllow = enlace::v1::DECISION_ALLOW;
constexpr int kDeny = enlace::v1::DECISION_DENY;

// iom and unhcr may read arrivals; undp may not (default deny).
constexpr char kPolicy[] =
    "allow agency:iom    /enlace.v1.ArrivalService/GetArrival\n"
    "allow agency:unhcr  /enlace.v1.ArrivalService/GetArrival\n";

// GetArrival through the gate, with the body the test sets.
class TestService final : public enlace::v1::ArrivalService::CallbackService {
 public:
  using Body = std::function<absl::Status(const Caller&, AuditNote*, enlace::v1::Arrival*)>;
  explicit TestService(CallGate* gate) : gate_(gate) {}
  void SetBody(Body body) {
    absl::MutexLock lock(&mu_);
    body_ = std::move(body);
  }
  int runs() const { return runs_.load(); }

  grpc::ServerUnaryReactor* GetArrival(grpc::CallbackServerContext* ctx,
                                       const enlace::v1::GetArrivalRequest*,
                                       enlace::v1::Arrival* response) override {
    return gate_->Unary(ctx, kGetArrival, [this, response](const Caller& caller, AuditNote* note) {
      ++runs_;
      Body body;
      {
        absl::MutexLock lock(&mu_);
        body = body_;
      }
      return body(caller, note, response);
    });
  }

 private:
  CallGate* const gate_;
  absl::Mutex mu_;
  Body body_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> runs_{0};
};

class CallGateTest : public ::testing::Test {
 protected:
  // Limits and pool size, for the tests of limits (read in SetUp).
  virtual CallLimits Limits() { return CallLimits{}; }
  virtual size_t WorkQueue() { return 100; }

  void SetUp() override {
    GatedServer::Options options;
    options.limits = Limits();
    options.work_queue = WorkQueue();
    gated_ = std::make_unique<GatedServer>(kPolicy, options);
    service_ = std::make_unique<TestService>(gated_->gate());
    service_->SetBody([](const Caller&, AuditNote* note, enlace::v1::Arrival* response) {
      note->record_ids.push_back("arrival-1");
      response->set_arrival_id("arrival-1");
      return absl::OkStatus();
    });
    gated_->Serve({service_.get()});
    iom_ = gated_->pki().Agency("iom");
    unhcr_ = gated_->pki().Agency("unhcr");
    undp_ = gated_->pki().Agency("undp");
  }
  // Calls end before the service goes.
  void TearDown() override { gated_->Shutdown(); }

  grpc::Status Call(const auth::IssuedCertificate& cert, enlace::v1::Arrival* response = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    enlace::v1::GetArrivalRequest request;
    request.set_arrival_id("arrival-1");
    enlace::v1::Arrival ignored;
    return enlace::v1::ArrivalService::NewStub(gated_->Channel(cert))
        ->GetArrival(&ctx, request, response != nullptr ? response : &ignored);
  }

  // The gate, its policy, revocation (from a FakeRegistryStore), audit log
  // (on a FakeAuditStore), work pool and the in-process server.
  std::unique_ptr<GatedServer> gated_;
  std::unique_ptr<TestService> service_;
  auth::IssuedCertificate iom_;
  auth::IssuedCertificate unhcr_;
  auth::IssuedCertificate undp_;
};

// Allowed: the handler runs as the certificate's identity, and its event
// (ALLOW, OK, the ids it noted, the peer) is in the log when the answer
// arrives.
TEST_F(CallGateTest, AnAllowedCallRunsTheHandlerAndIsAuditedBeforeItIsAnswered) {
  std::string seen_principal;
  service_->SetBody([&](const Caller& caller, AuditNote* note, enlace::v1::Arrival* response) {
    seen_principal = caller.principal.SpiffeId();
    note->record_ids.push_back("arrival-1");
    response->set_arrival_id("arrival-1");
    return absl::OkStatus();
  });
  enlace::v1::Arrival response;
  grpc::Status status = Call(iom_, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.arrival_id(), "arrival-1");
  EXPECT_EQ(service_->runs(), 1);
  EXPECT_EQ(seen_principal, kIom);
  std::vector<db::AuditRecord> events = gated_->audit_store().events();  // no waiting: it is there
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].principal, kIom);
  EXPECT_EQ(events[0].method, kGetArrival);
  EXPECT_EQ(events[0].decision, kAllow);
  EXPECT_EQ(events[0].status_code, 0);
  EXPECT_THAT(events[0].record_ids, ElementsAre("arrival-1"));
  EXPECT_THAT(events[0].peer, HasSubstr("127.0.0.1"));
}

// Denied by the policy: PERMISSION_DENIED, the handler never runs, and the
// refusal is audited as DENY under the caller's identity.
TEST_F(CallGateTest, ADeniedCallNeverRunsTheHandlerAndIsAuditedAsDeny) {
  grpc::Status status = Call(undp_);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(),
              HasSubstr(absl::StrCat(kUndp, " may not call ", kGetArrival)));
  EXPECT_EQ(service_->runs(), 0);
  std::vector<db::AuditRecord> events = gated_->audit_store().events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].principal, kUndp);
  EXPECT_EQ(events[0].decision, kDeny);
  EXPECT_EQ(events[0].status_code, static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(events[0].record_ids, IsEmpty());
}

// A certificate of the CA that names no single Enlace identity: no caller.
TEST_F(CallGateTest, ACertificateWithoutAnEnlaceIdentityIsUnauthenticated) {
  const auth::IssuedCertificate no_uri = gated_->pki().WithUris({});
  const auth::IssuedCertificate two =
      gated_->pki().WithUris({auth::AgencySpiffeId("iom"), auth::AgencySpiffeId("unhcr")});
  const auth::IssuedCertificate foreign = gated_->pki().WithUris({"spiffe://elsewhere/agency/iom"});
  for (const auth::IssuedCertificate* cert : {&no_uri, &two, &foreign}) {
    grpc::Status status = Call(*cert);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  }
  EXPECT_EQ(service_->runs(), 0);
  std::vector<db::AuditRecord> events = gated_->audit_store().events();
  ASSERT_THAT(events, SizeIs(3));
  for (const db::AuditRecord& e : events) {
    EXPECT_EQ(e.principal, "unauthenticated");
    EXPECT_EQ(e.decision, kDeny);
    EXPECT_EQ(e.status_code, static_cast<int>(absl::StatusCode::kUnauthenticated));
  }
}

// Revoked: UNAUTHENTICATED on the next call, audited under the identity the
// certificate names.
TEST_F(CallGateTest, ARevokedCertificateIsUnauthenticatedAndNamedInTheEvent) {
  ASSERT_TRUE(Call(iom_).ok());
  db::CertificateRecord issued;
  issued.serial = iom_.serial_hex;
  issued.kind = enlace::v1::CERTIFICATE_KIND_AGENCY;
  issued.name = "iom";
  issued.spiffe_id = kIom;
  issued.certificate_pem = iom_.certificate_pem;
  ASSERT_TRUE(gated_->registry().AddCertificate(issued, nullptr).ok());
  ASSERT_TRUE(
      gated_->registry()
          .RevokeCertificate(iom_.serial_hex, "spiffe://enlace/admin/ana", "key lost", nullptr)
          .ok());
  ASSERT_TRUE(gated_->revocation().Refresh(absl::Now(), nullptr).ok());
  grpc::Status status = Call(iom_);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(service_->runs(), 1);
  std::vector<db::AuditRecord> events = gated_->audit_store().events();
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[1].principal, kIom);
  EXPECT_EQ(events[1].decision, kDeny);
  // Another identity is not affected.
  EXPECT_TRUE(Call(unhcr_).ok());
}

// Revocation state unknown (not refreshed for longer than allowed): every
// call is refused with UNAVAILABLE, failing closed.
TEST_F(CallGateTest, StaleRevocationStateFailsClosedWithUnavailable) {
  ASSERT_TRUE(gated_->revocation().Refresh(absl::Now() - absl::Hours(2), nullptr).ok());
  grpc::Status status = Call(iom_);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service_->runs(), 0);
  ASSERT_TRUE(gated_->revocation().Refresh(absl::Now(), nullptr).ok());
  EXPECT_TRUE(Call(iom_).ok());
}

// The event cannot be written: the caller gets UNAVAILABLE, never the
// handler's answer, whether the call was allowed or refused; once the log
// works again, so do the calls.
TEST_F(CallGateTest, AnAnswerWhoseEventCannotBeWrittenIsUnavailable) {
  gated_->audit_store().FailAppends(absl::InternalError("audit_events: disk full"));
  enlace::v1::Arrival response;
  grpc::Status allowed = Call(iom_, &response);
  EXPECT_EQ(allowed.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(allowed.error_message(), HasSubstr("temporarily unavailable"));
  EXPECT_THAT(allowed.error_message(), ::testing::Not(HasSubstr("disk full")));  // not leaked
  EXPECT_EQ(response.arrival_id(), "");  // the handler's response was not sent
  EXPECT_EQ(service_->runs(), 1);  // it ran; its answer was withheld
  grpc::Status denied = Call(undp_);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(gated_->audit_store().failed_appends(), 2);
  EXPECT_THAT(gated_->audit_store().events(), IsEmpty());

  gated_->audit_store().FailAppends(absl::OkStatus());
  EXPECT_TRUE(Call(iom_).ok());
  EXPECT_THAT(gated_->audit_store().events(), SizeIs(1));
}

// A handler's error is audited with its code; the record rules refusing the
// caller (NOT_FOUND) make the event a DENY naming the record; internal
// detail is logged, never sent.
TEST_F(CallGateTest, AHandlersErrorIsAuditedWithItsCodeAndInternalDetailIsNotSent) {
  service_->SetBody([](const Caller&, AuditNote* note, enlace::v1::Arrival*) {
    note->record_ids.push_back("arrival-9");
    return note->RecordRules(absl::NotFoundError("arrival arrival-9 not found"));
  });
  grpc::Status hidden = Call(iom_);
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(hidden.error_message(), "arrival arrival-9 not found");
  service_->SetBody([](const Caller&, AuditNote*, enlace::v1::Arrival*) {
    return absl::InternalError("SELECT ... FROM arrivals: table is marked as crashed");
  });
  grpc::Status internal = Call(iom_);
  EXPECT_EQ(internal.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(internal.error_message(), "internal error; it has been logged");
  std::vector<db::AuditRecord> events = gated_->audit_store().events();
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].decision, kDeny);
  EXPECT_EQ(events[0].status_code, static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_THAT(events[0].record_ids, ElementsAre("arrival-9"));
  EXPECT_EQ(events[1].decision, kAllow);
  EXPECT_EQ(events[1].status_code, static_cast<int>(absl::StatusCode::kInternal));
}

// One call at a time per identity, none waiting: a second call of the same
// identity while the first runs is RESOURCE_EXHAUSTED naming the limit, and
// audited; another identity is served meanwhile; the slot comes back.
class CallLimitTest : public CallGateTest {
 protected:
  CallLimits Limits() override {
    return CallLimits{.max_calls_per_identity = 1, .max_waiting_calls_per_identity = 0};
  }
};

TEST_F(CallLimitTest, ACallOverTheIdentitysLimitIsResourceExhaustedNamingIt) {
  absl::Notification entered;
  absl::Notification release;
  service_->SetBody([&](const Caller& caller, AuditNote*, enlace::v1::Arrival*) {
    if (caller.principal.SpiffeId() == kIom && !entered.HasBeenNotified()) {
      entered.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  });
  grpc::Status first;
  std::thread holder([&] { first = Call(iom_); });
  entered.WaitForNotification();  // iom's one slot is taken until release
  grpc::Status second = Call(iom_);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(second.error_message(), HasSubstr("max_calls_per_identity"));
  EXPECT_TRUE(Call(unhcr_).ok());  // someone else is served meanwhile
  release.Notify();
  holder.join();
  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_TRUE(Call(iom_).ok());  // the slot was given back
  EXPECT_EQ(service_->runs(), 3);  // the refused call never ran
  std::vector<db::AuditRecord> events = gated_->audit_store().events();
  int exhausted = 0;
  for (const db::AuditRecord& e : events) {
    if (e.status_code == static_cast<int>(absl::StatusCode::kResourceExhausted)) {
      ++exhausted;
      EXPECT_EQ(e.principal, kIom);
    }
  }
  EXPECT_EQ(exhausted, 1);
  EXPECT_THAT(events, SizeIs(4));
}

// One call at a time and one waiting place: of two more calls while the
// first runs, one takes the waiting place and runs once the slot is free,
// the other is refused at once, naming the limit.
class WaitingCallTest : public CallGateTest {
 protected:
  CallLimits Limits() override {
    return CallLimits{.max_calls_per_identity = 1, .max_waiting_calls_per_identity = 1};
  }
};

TEST_F(WaitingCallTest, ACallOverTheLimitWaitsForTheSlotAndTheWaitingPlacesAreBounded) {
  absl::Notification entered;
  absl::Notification release;
  service_->SetBody([&](const Caller&, AuditNote*, enlace::v1::Arrival*) {
    if (!entered.HasBeenNotified()) {
      entered.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  });
  grpc::Status first;
  std::thread holder([&] { first = Call(iom_); });
  entered.WaitForNotification();
  absl::Mutex mu;
  std::vector<grpc::Status> finished;  // in the order they finished
  auto call = [&] {
    grpc::Status status = Call(iom_);
    absl::MutexLock lock(&mu);
    finished.push_back(status);
  };
  std::thread second(call);
  std::thread third(call);
  {
    // The refusal comes at once; the waiting call cannot end before release.
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<grpc::Status>* f) { return !f->empty(); }, &finished));
    EXPECT_THAT(finished, SizeIs(1));
    EXPECT_EQ(finished[0].error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(finished[0].error_message(), HasSubstr("max_calls_per_identity"));
  }
  release.Notify();
  holder.join();
  second.join();
  third.join();
  EXPECT_TRUE(first.ok()) << first.error_message();
  ASSERT_THAT(finished, SizeIs(2));
  EXPECT_TRUE(finished[1].ok()) << finished[1].error_message();  // it waited, then ran
  EXPECT_EQ(service_->runs(), 2);
}

// The work pool's queue is full: the call is refused at once with
// RESOURCE_EXHAUSTED ("server busy"), never run, audited.
class WorkQueueTest : public CallGateTest {
 protected:
  size_t WorkQueue() override { return 1; }
};

TEST_F(WorkQueueTest, AFullWorkQueueIsResourceExhausted) {
  // Both threads of the pool busy, and its one queue place taken. (Shared:
  // the tasks may still be returning from the wait when the test ends; and
  // released however the test ends, so that the pool can be joined.)
  auto release = std::make_shared<absl::Notification>();
  struct Releaser {
    std::shared_ptr<absl::Notification> release;
    ~Releaser() {
      if (!release->HasBeenNotified()) release->Notify();
    }
  } releaser{release};
  for (int i = 0; i < 2; ++i) {
    auto started = std::make_shared<absl::Notification>();
    ASSERT_TRUE(gated_->work().TrySubmit(
        [release, started] {
          started->Notify();
          release->WaitForNotification();
        },
        absl::StrCat("busy-", i)));
    started->WaitForNotification();  // off the queue, on a thread
  }
  ASSERT_TRUE(gated_->work().TrySubmit([] {}, "queued"));
  grpc::Status refused = Call(iom_);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("server busy"));
  EXPECT_EQ(service_->runs(), 0);
  release->Notify();
  std::vector<db::AuditRecord> events = gated_->audit_store().events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].status_code, static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(events[0].principal, kIom);
}

}  // namespace
}  // namespace enlace::server
