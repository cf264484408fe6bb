// End to end over mTLS with a real MariaDB: what an attacker holding a valid
// agency certificate tried, and what must now hold (docs/data-protection.md).
// One test (or a few) per finding of the review:
//   1  the live feed and its catch-up respect consent withdrawal
//   2  resume tokens cannot be fabricated, altered or borrowed; keys rotate
//   3  ListInitiatives shows only what the consent allows
//   5  an expired certificate stops working on an already open connection
//   6  open streams end on a policy deny and on stale revocation state
//   9  per-identity limits, message size, a client that never reads,
//      connection age and ping abuse
//   10 consent purposes bind reads
// (4 is in tests/db/report_store_test.cc, 7 in gated_services_e2e_test.cc,
// 8 in referral_feed_test.cc and streams_e2e_test.cc.)
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "auth/pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "openssl/evp.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/watcher.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::kTestActor;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::enlace::testing::Watcher;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using v1::Referral;
using v1::ReferralEvent;

// True when `events` hold an event of the referral `referral_id`.
bool Mentions(const std::vector<ReferralEvent>& events, const std::string& referral_id) {
  for (const ReferralEvent& e : events) {
    if (e.referral().referral_id() == referral_id) return true;
  }
  return false;
}

class TrustTest : public ServerFixture {
 protected:
  // iom's referral of `case_id` to `to`, created or the test fails.
  Referral Refer(const std::string& case_id, const std::string& to) {
    Referral referral;
    grpc::Status status = ReferAsIom(case_id, to, &referral);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return referral;
  }
  grpc::Status SetConsent(const std::string& arrival_id, std::vector<std::string> agencies,
                          std::vector<v1::Purpose> purposes) {
    v1::UpdateConsentRequest update;
    update.set_arrival_id(arrival_id);
    for (const std::string& a : agencies) update.mutable_consent()->add_agencies(a);
    for (v1::Purpose p : purposes) update.mutable_consent()->add_purposes(p);
    update.mutable_consent()->mutable_given_at()->set_seconds(1520000000);
    v1::Arrival arrival;
    return Arrivals(mfa_cert_)->UpdateConsent(Context().get(), update, &arrival);
  }
  grpc::StatusCode GetArrivalAs(const auth::IssuedCertificate& cert, const std::string& id) {
    v1::GetArrivalRequest request;
    request.set_arrival_id(id);
    v1::Arrival arrival;
    return Arrivals(cert)->GetArrival(Context().get(), request, &arrival).error_code();
  }
  void RewritePolicy(const std::string& extra_rules) {
    WriteAtomically(policy_path_, ReadSourceFile("server/default_policy.conf") + extra_rules);
  }
  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Replaces the file by a rename, as operators (and Kubernetes) do.
  static void WriteAtomically(const std::string& path, const std::string& text) {
    std::string temporary = path + ".new";
    std::ofstream(temporary) << text;
    ASSERT_EQ(std::rename(temporary.c_str(), path.c_str()), 0);
  }
};

// Finding 1: after the ministry withdraws iom from a returnee's consent, iom's
// open watch gets nothing more of that returnee's referrals (not the outcome
// undp writes afterwards), and neither does a catch-up from an old token,
// from memory or (after a restart) from the database.
TEST_F(TrustTest, LiveFeedAndCatchUpStopAtConsentWithdrawal) {
  std::string early_token;
  {
    Watcher early(Referrals(iom_cert_), "");
    early_token = early.start_token();
  }
  ASSERT_FALSE(early_token.empty());
  OpenedCase a = OpenIomCase("trust-1a", {"iom", "undp"});
  OpenedCase b = OpenIomCase("trust-1b", {"iom", "undp"});
  Referral secret = Refer(a.case_.case_id(), "undp");
  v1::AcceptReferralRequest accept;
  accept.set_referral_id(secret.referral_id());
  Referral out;
  ASSERT_TRUE(Referrals(undp_cert_)->AcceptReferral(Context().get(), accept, &out).ok());

  Watcher live(Referrals(iom_cert_), "");
  ASSERT_TRUE(SetConsent(a.arrival_id, {"undp"}, {v1::PURPOSE_REINTEGRATION}).ok());
  v1::GetReferralRequest get;
  get.set_referral_id(secret.referral_id());
  EXPECT_EQ(Referrals(iom_cert_)->GetReferral(Context().get(), get, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::CompleteReferralRequest complete;
  complete.set_referral_id(secret.referral_id());
  complete.set_outcome("Written after iom lost consent");
  ASSERT_TRUE(Referrals(undp_cert_)->CompleteReferral(Context().get(), complete, &out).ok());
  // A later event iom may see: once it arrives, everything before it was
  // either delivered or withheld.
  Referral sentinel = Refer(b.case_.case_id(), "undp");

  std::vector<ReferralEvent> seen = live.WaitFor(1);
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].referral().referral_id(), sentinel.referral_id());
  EXPECT_FALSE(Mentions(live.Events(), secret.referral_id()));

  // Catch-up from before everything, served from the feed's memory.
  Watcher from_memory(Referrals(iom_cert_), early_token);
  seen = from_memory.WaitFor(1);
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].referral().referral_id(), sentinel.referral_id());

  // ...and from the database, after a restart empties the memory.
  live.Stop();
  from_memory.Stop();
  server_.reset();
  StartServer(database_->dsn_string());
  Watcher from_database(Referrals(iom_cert_), early_token);
  seen = from_database.WaitFor(1);
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].referral().referral_id(), sentinel.referral_id());
}

// Finding 1, the other side: a withdrawal that withdraws a pending referral
// is told to the sender (still allowed), never to the receiver it withdrew.
TEST_F(TrustTest, AWithdrawnReferralIsToldToTheSenderNotToTheWithdrawnReceiver) {
  OpenedCase a = OpenIomCase("trust-1c", {"iom", "undp"});
  Watcher undp_watch(Referrals(undp_cert_), "");
  Watcher iom_watch(Referrals(iom_cert_), "");
  Referral referral = Refer(a.case_.case_id(), "undp");
  ASSERT_THAT(undp_watch.WaitFor(1), SizeIs(1));
  ASSERT_TRUE(SetConsent(a.arrival_id, {"iom"}, {v1::PURPOSE_REINTEGRATION}).ok());
  OpenedCase b = OpenIomCase("trust-1d", {"iom", "undp"});
  Referral sentinel = Refer(b.case_.case_id(), "undp");

  std::vector<ReferralEvent> to_undp = undp_watch.WaitFor(2);
  ASSERT_THAT(to_undp, SizeIs(2));
  EXPECT_EQ(to_undp[0].referral().referral_id(), referral.referral_id());
  EXPECT_EQ(to_undp[0].type(), v1::REFERRAL_EVENT_TYPE_CREATED);
  EXPECT_EQ(to_undp[1].referral().referral_id(), sentinel.referral_id());
  std::vector<ReferralEvent> to_iom = iom_watch.WaitFor(3);
  ASSERT_THAT(to_iom, SizeIs(3));
  EXPECT_EQ(to_iom[0].type(), v1::REFERRAL_EVENT_TYPE_CREATED);
  EXPECT_EQ(to_iom[1].referral().referral_id(), referral.referral_id());
  EXPECT_EQ(to_iom[1].type(), v1::REFERRAL_EVENT_TYPE_WITHDRAWN);
  EXPECT_EQ(to_iom[2].referral().referral_id(), sentinel.referral_id());
}

// The token format of the code under review: "v1", the position, and the
// first 12 bytes of an unkeyed SHA-256 of public strings.
std::string UnkeyedToken(int64_t position, const std::string& spiffe_id) {
  std::string joined = absl::StrCat(spiffe_id.size(), ":", spiffe_id, ";15:watch-referrals;");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(joined.data(), joined.size(), digest, &length, EVP_sha256(), nullptr);
  std::string raw = "v1";
  for (int shift = 56; shift >= 0; shift -= 8) {
    raw.push_back(static_cast<char>((static_cast<uint64_t>(position) >> shift) & 0xff));
  }
  raw.append(reinterpret_cast<const char*>(digest), 12);
  return absl::WebSafeBase64Escape(raw);
}

grpc::Status WatchWith(v1::ReferralService::Stub& stub, const std::string& token) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::WatchReferralsRequest request;
  request.set_resume_token(token);
  auto reader = stub.WatchReferrals(&ctx, request);
  ReferralEvent event;
  while (reader->Read(&event)) {
  }
  return reader->Finish();
}

// Finding 2: a resume token built from public strings (position 0: replay
// everything), one altered by a bit, and another caller's are all refused.
TEST_F(TrustTest, ResumeTokensCannotBeFabricatedAlteredOrBorrowed) {
  auto iom = Referrals(iom_cert_);
  grpc::Status forged = WatchWith(*iom, UnkeyedToken(0, "spiffe://enlace/agency/iom"));
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(forged.error_message(), HasSubstr("resume_token"));

  std::string token;
  {
    Watcher watcher(Referrals(iom_cert_), "");
    token = watcher.start_token();
  }
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  raw[raw.size() / 2] ^= 0x01;
  EXPECT_EQ(WatchWith(*iom, absl::WebSafeBase64Escape(raw)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto undp = Referrals(undp_cert_);
  EXPECT_EQ(WatchWith(*undp, token).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The refusals are audited, as allowed calls that failed on their input.
  int refused = 0;
  v1::ListAuditEventsResponse audit = AuditEvents("spiffe://enlace/agency/iom");
  for (const auto& e : audit.events()) {
    if (e.method() == "/enlace.v1.ReferralService/WatchReferrals" &&
        e.status_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      ++refused;
    }
  }
  EXPECT_EQ(refused, 2);
}

// The key that signs tokens rotates without a restart: a new key first, the
// old one still verifying, then the old one dropped.
TEST_F(TrustTest, TokenKeysRotateWithoutARestart) {
  std::string old_token;
  {
    Watcher watcher(Referrals(iom_cert_), "");
    old_token = watcher.start_token();
  }
  std::string old_key = ReadFile(token_keys_path_);
  std::string new_key = MakeTokenKeyFile("k2");
  WriteAtomically(token_keys_path_, new_key + old_key);
  // New tokens come signed by k2 once the file is re-read (every 500 ms).
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::string new_token;
  while (absl::Now() < deadline) {
    Watcher watcher(Referrals(iom_cert_), "");
    new_token = watcher.start_token();
    std::string raw;
    if (absl::WebSafeBase64Unescape(new_token, &raw) && raw.substr(2, 2) == "k2") break;
    new_token.clear();
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_FALSE(new_token.empty()) << "the new key was not taken up";
  auto iom = Referrals(iom_cert_);
  {
    Watcher resumed(Referrals(iom_cert_), old_token);  // k1's token still verifies
    EXPECT_FALSE(resumed.start_token().empty());
  }
  WriteAtomically(token_keys_path_, new_key);  // k1 dropped
  deadline = absl::Now() + absl::Seconds(10);
  grpc::Status refused;
  while (absl::Now() < deadline) {
    Watcher attempt(Referrals(iom_cert_), old_token);
    if (attempt.start_token().empty()) {  // refused before it started
      refused = attempt.WaitForEnd(absl::Seconds(5));
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("no longer holds"));
  Watcher still(Referrals(iom_cert_), new_token);
  EXPECT_FALSE(still.start_token().empty());
}

// Finding 3: initiatives are listed (and counted) only to agencies the
// returnee's consent allows, and stop being listed when it no longer does.
TEST_F(TrustTest, InitiativesAreListedOnlyWhereTheConsentAllows) {
  OpenedCase opened = OpenIomCase("trust-3", {"iom", "undp"});
  v1::RegisterInitiativeRequest initiative;
  initiative.set_case_id(opened.case_.case_id());
  initiative.set_name("Panadería La Esperanza");
  initiative.set_sector("food");
  v1::Initiative registered;
  ASSERT_TRUE(Cases(iom_cert_)->RegisterInitiative(Context().get(), initiative, &registered).ok());

  auto list = [&](const auth::IssuedCertificate& cert, const std::string& municipality) {
    v1::ListInitiativesRequest request;
    request.set_municipality(municipality);
    v1::ListInitiativesResponse response;
    grpc::Status status = Cases(cert)->ListInitiatives(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  for (const std::string& municipality : std::vector<std::string>{"", "Quezaltepeque"}) {
    SCOPED_TRACE(municipality);
    v1::ListInitiativesResponse as_unhcr = list(unhcr_cert_, municipality);
    EXPECT_THAT(as_unhcr.initiatives(), SizeIs(0));
    EXPECT_EQ(as_unhcr.total_count(), 0);
    v1::ListInitiativesResponse as_undp = list(undp_cert_, municipality);
    ASSERT_THAT(as_undp.initiatives(), SizeIs(1));
    EXPECT_EQ(as_undp.initiatives(0).name(), "Panadería La Esperanza");
    EXPECT_EQ(as_undp.total_count(), 1);
  }
  // Still allowed with more purposes; withdrawn, it sees nothing.
  ASSERT_TRUE(SetConsent(opened.arrival_id, {"iom", "undp"},
                         {v1::PURPOSE_REINTEGRATION, v1::PURPOSE_STATISTICS})
                  .ok());
  EXPECT_THAT(list(undp_cert_, "").initiatives(), SizeIs(1));
  ASSERT_TRUE(SetConsent(opened.arrival_id, {"iom"}, {v1::PURPOSE_REINTEGRATION}).ok());
  v1::ListInitiativesResponse after = list(undp_cert_, "");
  EXPECT_THAT(after.initiatives(), SizeIs(0));
  EXPECT_EQ(after.total_count(), 0);
  EXPECT_THAT(list(iom_cert_, "").initiatives(), SizeIs(1));  // the owner, still allowed
}

// Finding 10: the purposes of the consent bind what a named agency reads.
TEST_F(TrustTest, ConsentPurposesBindReads) {
  v1::Arrival statistics_only = MakeArrival("trust-10", {"undp"});
  statistics_only.mutable_consent()->clear_purposes();
  statistics_only.mutable_consent()->add_purposes(v1::PURPOSE_STATISTICS);
  std::string id = RecordOne(statistics_only);

  // Named for STATISTICS only: no name, birth date or document, anywhere.
  EXPECT_EQ(GetArrivalAs(undp_cert_, id), grpc::StatusCode::NOT_FOUND);
  v1::ListArrivalsResponse listed;
  ASSERT_TRUE(Arrivals(undp_cert_)->ListArrivals(Context().get(), {}, &listed).ok());
  EXPECT_THAT(listed.arrivals(), SizeIs(0));
  v1::OpenCaseRequest open;
  open.set_arrival_id(id);
  open.set_summary("s");
  v1::Case opened;
  EXPECT_EQ(Cases(undp_cert_)->OpenCase(Context().get(), open, &opened).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // PROTECTION shows the record, but is no ground for a reintegration case.
  ASSERT_TRUE(SetConsent(id, {"undp"}, {v1::PURPOSE_PROTECTION}).ok());
  EXPECT_EQ(GetArrivalAs(undp_cert_, id), grpc::StatusCode::OK);
  EXPECT_EQ(Cases(undp_cert_)->OpenCase(Context().get(), open, &opened).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // REINTEGRATION reaches the case.
  ASSERT_TRUE(SetConsent(id, {"undp"}, {v1::PURPOSE_REINTEGRATION}).ok());
  ASSERT_TRUE(Cases(undp_cert_)->OpenCase(Context().get(), open, &opened).ok());
  // Back to STATISTICS: the case, too, is gone for its own owner.
  ASSERT_TRUE(SetConsent(id, {"undp"}, {v1::PURPOSE_STATISTICS}).ok());
  v1::GetCaseRequest get_case;
  get_case.set_case_id(opened.case_id());
  v1::Case seen;
  EXPECT_EQ(Cases(undp_cert_)->GetCase(Context().get(), get_case, &seen).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A referral needs the receiver to be allowed referrals (REINTEGRATION), not
// merely named.
TEST_F(TrustTest, ReferralsNeedTheReceiverAllowedForReintegration) {
  OpenedCase opened = OpenIomCase("trust-10b", {"iom", "undp"});
  ASSERT_TRUE(
      SetConsent(opened.arrival_id, {"iom", "undp", "unhcr"}, {v1::PURPOSE_REINTEGRATION}).ok());
  v1::CreateReferralRequest request;
  request.set_case_id(opened.case_.case_id());
  request.set_to_agency("unhcr");
  request.set_service(v1::NEED_PROTECTION);
  request.set_reason("Protection assessment");
  Referral referral;
  EXPECT_TRUE(Referrals(iom_cert_)->CreateReferral(Context().get(), request, &referral).ok());
  request.set_to_agency("mfa");  // not named
  EXPECT_EQ(Referrals(iom_cert_)->CreateReferral(Context().get(), request, &referral).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// Finding 5: a certificate that expires while its connection is open stops
// working on that connection: calls are UNAUTHENTICATED within 5 s of the
// expiry and open streams end the same way.
TEST_F(TrustTest, AnExpiredCertificateStopsWorkingOnAnOpenConnection) {
  absl::Time expires = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 4);
  auth::IssuedCertificate short_lived =
      pki_.WithUris({auth::AgencySpiffeId("iom")}, absl::Now() - absl::Hours(1), expires);
  std::shared_ptr<grpc::Channel> channel = Channel(&short_lived, pki_.ca_cert_pem());
  auto arrivals = v1::ArrivalService::NewStub(channel);
  v1::ListArrivalsResponse listed;
  ASSERT_TRUE(arrivals->ListArrivals(Context().get(), {}, &listed).ok());
  Watcher watcher(v1::ReferralService::NewStub(channel), "");
  ASSERT_FALSE(watcher.start_token().empty());

  absl::SleepFor(expires - absl::Now());
  grpc::Status status;
  while (absl::Now() < expires + absl::Seconds(5)) {
    status = arrivals->ListArrivals(Context().get(), {}, &listed);
    if (!status.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("expired"));
  EXPECT_LT(absl::Now() - expires, absl::Seconds(5));
  grpc::Status ended = watcher.WaitForEnd(expires + absl::Seconds(5) - absl::Now());
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_LT(absl::Now() - expires, absl::Seconds(5));
}

// Finding 6, policy: a deny added while a stream is open ends that stream
// with PERMISSION_DENIED within 5 s, and only that principal's.
TEST_F(TrustTest, APolicyDenyEndsOpenStreamsOfThatPrincipal) {
  Watcher undp_watch(Referrals(undp_cert_), "");
  Watcher iom_watch(Referrals(iom_cert_), "");
  ASSERT_FALSE(undp_watch.start_token().empty());
  absl::Time changed = absl::Now();
  RewritePolicy("deny agency:undp /enlace.v1.ReferralService/WatchReferrals\n");
  grpc::Status ended = undp_watch.WaitForEnd(absl::Seconds(5));
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::PERMISSION_DENIED) << ended.error_message();
  EXPECT_LT(absl::Now() - changed, absl::Seconds(5));
  // iom's watch goes on and still gets its events.
  OpenedCase opened = OpenIomCase("trust-6", {"iom", "undp"});
  Refer(opened.case_.case_id(), "undp");
  EXPECT_THAT(iom_watch.WaitFor(1), SizeIs(1));
  // The end is audited as a denial of undp.
  bool audited = false;
  v1::ListAuditEventsResponse audit = AuditEvents("spiffe://enlace/agency/undp");
  for (const auto& e : audit.events()) {
    audited |= e.method() == "/enlace.v1.ReferralService/WatchReferrals" &&
               e.decision() == v1::DECISION_DENY &&
               e.status_code() == grpc::StatusCode::PERMISSION_DENIED;
  }
  EXPECT_TRUE(audited);
}

// Finding 6, stale state: when revocation cannot be read for longer than its
// maximum staleness, new calls fail closed and open streams end too.
class StaleRevocationTest : public TrustTest {
 protected:
  void Configure(server::ServerConfig& config) override {
    config.revocation_refresh = absl::Milliseconds(200);
    config.revocation_max_staleness = absl::Seconds(1);
  }
};

TEST_F(StaleRevocationTest, OpenStreamsEndWhenRevocationStateGoesStale) {
  Watcher watcher(Referrals(undp_cert_), "");
  ASSERT_FALSE(watcher.start_token().empty());
  absl::Time broken = absl::Now();
  database_->Execute("RENAME TABLE certificates TO certificates_hidden");
  grpc::Status ended = watcher.WaitForEnd(absl::Seconds(6));
  database_->Execute("RENAME TABLE certificates_hidden TO certificates");
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  // Stale after 1 s; ended within 5 s of that.
  EXPECT_LT(absl::Now() - broken, absl::Seconds(6));
  // Once revocation can be read again, calls are served again.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  while (absl::Now() < deadline && code != grpc::StatusCode::OK) {
    v1::ListArrivalsResponse listed;
    code = Arrivals(undp_cert_)->ListArrivals(Context().get(), {}, &listed).error_code();
    if (code != grpc::StatusCode::OK) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(code, grpc::StatusCode::OK);
}

// Finding 9: limits per identity.
class LimitsTest : public TrustTest {
 protected:
  void Configure(server::ServerConfig& config) override {
    config.limits.max_streams_per_identity = 2;
    config.limits.max_calls_per_identity = 1;
    config.limits.max_waiting_calls_per_identity = 1;
  }
};

TEST_F(LimitsTest, OpenStreamsPerIdentityAreLimited) {
  auto first = std::make_unique<Watcher>(Referrals(undp_cert_), "");
  Watcher second(Referrals(undp_cert_), "");
  ASSERT_FALSE(second.start_token().empty());
  grpc::Status third = WatchWith(*Referrals(undp_cert_), "");
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.error_message(), HasSubstr("max_streams_per_identity"));
  // Another identity is not held back by undp's streams.
  Watcher iom_watch(Referrals(iom_cert_), "");
  EXPECT_FALSE(iom_watch.start_token().empty());
  // A stream closed gives its place back.
  first.reset();
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  std::unique_ptr<Watcher> again;
  while (absl::Now() < deadline) {
    again = std::make_unique<Watcher>(Referrals(undp_cert_), "");
    if (!again->start_token().empty()) break;
    again.reset();
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(again, nullptr);
  EXPECT_FALSE(again->start_token().empty());
}

TEST_F(LimitsTest, ConcurrentCallsPerIdentityAreLimited) {
  std::string id = RecordOne(MakeArrival("trust-9", {"iom"}));
  // Hold iom's first call inside the database: the arrivals table is locked.
  absl::Notification locked, release;
  std::thread holder([&] {
    absl::Status held = database_->pool().Run([&](db::MysqlConnection& c) {
      c.Execute("LOCK TABLES arrivals WRITE");
      locked.Notify();
      release.WaitForNotification();
      c.Execute("UNLOCK TABLES");
      return absl::OkStatus();
    });
    EXPECT_TRUE(held.ok()) << held;
  });
  locked.WaitForNotification();
  grpc::StatusCode first_code = grpc::StatusCode::UNKNOWN;
  std::thread first([&] { first_code = GetArrivalAs(iom_cert_, id); });
  // Wait until it waits on the lock: iom's one slot is taken.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         database_->QueryInt("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                             "WHERE DB = DATABASE() AND STATE LIKE 'Waiting for table%' "
                             "AND INFO LIKE '%a.arrival_id = %'") == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Two more iom calls: one may wait for the slot, the other is refused at
  // once (which one depends on which arrives first).
  struct Outcome {
    std::atomic<bool> done{false};
    grpc::Status status;
  };
  Outcome second, third;
  auto call = [&](Outcome* outcome) {
    v1::GetArrivalRequest request;
    request.set_arrival_id(id);
    v1::Arrival arrival;
    outcome->status = Arrivals(iom_cert_)->GetArrival(Context().get(), request, &arrival);
    outcome->done = true;
  };
  std::thread second_thread(call, &second), third_thread(call, &third);
  deadline = absl::Now() + absl::Seconds(10);
  while (!second.done && !third.done && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  // (No ASSERT before the joins below: the threads must be joined.)
  EXPECT_TRUE(second.done || third.done) << "neither extra call was refused";
  Outcome& refused = second.done ? second : third;
  Outcome& waited = second.done ? third : second;
  if (refused.done) {
    EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(refused.status.error_message(), HasSubstr("max_calls_per_identity"));
    EXPECT_FALSE(waited.done);  // still waiting for the slot
  }
  // Someone else is served meanwhile.
  v1::ListAgenciesResponse agencies;
  EXPECT_TRUE(Admin()->ListAgencies(Context().get(), {}, &agencies).ok());
  release.Notify();
  holder.join();
  first.join();
  second_thread.join();
  third_thread.join();
  EXPECT_EQ(first_code, grpc::StatusCode::OK);
  EXPECT_TRUE(waited.status.ok()) << waited.status.error_message();  // it waited, then ran
  EXPECT_EQ(GetArrivalAs(iom_cert_, id), grpc::StatusCode::OK);  // the slots were given back
}

TEST_F(TrustTest, MessagesOverTheSizeLimitAreRefused) {
  v1::Arrival huge = MakeArrival("trust-9-huge");
  huge.mutable_person()->set_given_name(std::string(5 * 1024 * 1024, 'a'));
  v1::RecordArrivalRequest request;
  *request.mutable_arrival() = huge;
  v1::RecordArrivalResponse response;
  grpc::Status status = Arrivals(mfa_cert_)->RecordArrival(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 0);
}

// Finding 9: a RecordArrivals client that sends but never reads its answers
// stops being read once its unanswered records reach the stream's bound:
// the server does not queue answers without end.
TEST_F(TrustTest, AnIngestClientThatNeverReadsStopsBeingRead) {
  constexpr int kSent = 20000;
  // A client with a fixed 64 KiB receive window (no BDP growth), so that
  // what the transport buffers is small next to what is sent.
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pki_.ca_cert_pem();
  options.pem_private_key = mfa_cert_.private_key_pem;
  options.pem_cert_chain = mfa_cert_.certificate_pem;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  auto stub = v1::ArrivalService::NewStub(
      client::CreateChannelNamingActor(absl::StrCat("localhost:", server_->tls_port()),
                                       grpc::SslCredentials(options), args, kTestActor));
  grpc::ClientContext ctx;
  auto stream = stub->RecordArrivals(&ctx);
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < kSent; ++i) {
      v1::RecordArrivalsRequest request;
      *request.mutable_arrival() = MakeArrival(absl::StrCat("flood-", i));
      if (!stream->Write(request)) break;
      ++written;
    }
    stream->WritesDone();
  });
  // Let the server take what it will; stop when the count no longer moves.
  int64_t stored = -1;
  for (int still = 0; still < 10;) {
    absl::SleepFor(absl::Milliseconds(200));
    int64_t now = database_->QueryInt("SELECT COUNT(*) FROM arrivals");
    still = now == stored ? still + 1 : 0;
    stored = now;
  }
  RecordProperty("stored_while_not_reading", static_cast<int>(stored));
  EXPECT_LT(stored, kSent / 2) << "the server kept reading a client that does not read";
  EXPECT_GT(stored, 0);
  // Reading the answers lets everything through.
  v1::RecordArrivalsResponse response;
  int answered = 0;
  while (stream->Read(&response)) ++answered;
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answered, kSent);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), kSent);
}

class ConnectionAgeTest : public TrustTest {
 protected:
  void Configure(server::ServerConfig& config) override {
    config.max_connection_age = absl::Seconds(1);
    config.max_connection_age_grace = absl::Seconds(1);
  }
};

// Connections do not live for ever: past their age (and grace) a stream is
// cut with UNAVAILABLE and the client reconnects for the next call.
TEST_F(ConnectionAgeTest, ConnectionsEndAtTheirMaximumAge) {
  std::shared_ptr<grpc::Channel> channel = Channel(&undp_cert_, pki_.ca_cert_pem());
  Watcher watcher(v1::ReferralService::NewStub(channel), "");
  ASSERT_FALSE(watcher.start_token().empty());
  grpc::Status ended = watcher.WaitForEnd(absl::Seconds(10));
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  v1::ListArrivalsResponse listed;
  EXPECT_TRUE(
      v1::ArrivalService::NewStub(channel)->ListArrivals(Context().get(), {}, &listed).ok());
}

// A client that pings far more often than the server permits loses its
// connection (GOAWAY too_many_pings) instead of keeping the server busy.
TEST_F(TrustTest, PingAbuseEndsTheConnection) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pki_.ca_cert_pem();
  options.pem_private_key = undp_cert_.private_key_pem;
  options.pem_cert_chain = undp_cert_.certificate_pem;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 100);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto channel = client::CreateChannelNamingActor(absl::StrCat("localhost:", server_->tls_port()),
                                                  grpc::SslCredentials(options), args, kTestActor);
  Watcher watcher(v1::ReferralService::NewStub(channel), "");
  ASSERT_FALSE(watcher.start_token().empty());
  grpc::Status ended = watcher.WaitForEnd(absl::Seconds(15));
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
}

}  // namespace
}  // namespace enlace
