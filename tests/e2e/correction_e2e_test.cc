// End to end (real server, real MariaDB, mutual TLS on loopback): the
// ministry corrects an arrival it recorded (CorrectArrival) and every version
// is kept (ListArrivalVersions). The agencies the consent names read the
// corrected record and its version number; nobody else reads any version;
// only the submitter corrects; bad corrections are INVALID_ARGUMENT naming the
// field, audited, and change nothing; resending the original record is still
// ALREADY_RECORDED.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "enlace/v1/admin.grpc.pb.h"
#include "enlace/v1/arrivals.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace enlace {
namespace {

using ::enlace::testing::Context;
using ::enlace::testing::MakeArrival;
using ::enlace::testing::ServerFixture;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using v1::Arrival;

constexpr char kMfa[] = "spiffe://enlace/agency/mfa";
constexpr char kCorrectArrival[] = "/enlace.v1.ArrivalService/CorrectArrival";
constexpr char kReason[] = "Fecha de nacimiento mal transcrita del pasaporte";

class ArrivalCorrectionTest : public ServerFixture {
 protected:
  // A correction of `arrival_id`'s birth date to `birth_date`.
  static v1::CorrectArrivalRequest BirthDateCorrection(const std::string& arrival_id,
                                                       const std::string& birth_date) {
    v1::CorrectArrivalRequest request;
    request.set_arrival_id(arrival_id);
    request.mutable_arrival()->mutable_person()->set_birth_date(birth_date);
    request.mutable_update_mask()->add_paths("person.birth_date");
    request.set_reason(kReason);
    return request;
  }
  grpc::Status Correct(const auth::IssuedCertificate& cert,
                       const v1::CorrectArrivalRequest& request, Arrival* response) {
    return Arrivals(cert)->CorrectArrival(Context().get(), request, response);
  }
  grpc::Status Versions(const auth::IssuedCertificate& cert, const std::string& arrival_id,
                        v1::ListArrivalVersionsResponse* response) {
    v1::ListArrivalVersionsRequest request;
    request.set_arrival_id(arrival_id);
    return Arrivals(cert)->ListArrivalVersions(Context().get(), request, response);
  }
  Arrival Read(const auth::IssuedCertificate& cert, const std::string& arrival_id) {
    v1::GetArrivalRequest get;
    get.set_arrival_id(arrival_id);
    Arrival arrival;
    grpc::Status status = Arrivals(cert)->GetArrival(Context().get(), get, &arrival);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return arrival;
  }

  const auth::IssuedCertificate undp_cert_ = pki_.Agency("undp");
};

TEST_F(ArrivalCorrectionTest, TheNamedAgencyReadsTheCorrectionAndEveryVersionIsKept) {
  const Arrival sent = MakeArrival("cor-1", {"iom"});
  const std::string id = RecordOne(sent);
  EXPECT_EQ(Read(iom_cert_, id).version(), 1);

  Arrival corrected;
  grpc::Status status = Correct(mfa_cert_, BirthDateCorrection(id, "1995-12-07"), &corrected);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(corrected.version(), 2);
  EXPECT_EQ(corrected.person().birth_date(), "1995-12-07");
  EXPECT_EQ(corrected.person().given_name(), "María José");  // not named: kept
  EXPECT_EQ(corrected.consent_version(), 1);

  // iom, which the consent names, reads the corrected record and can tell it
  // changed by its version.
  const Arrival seen = Read(iom_cert_, id);
  EXPECT_EQ(seen.version(), 2);
  EXPECT_EQ(seen.person().birth_date(), "1995-12-07");
  v1::ListArrivalsRequest list;
  v1::ListArrivalsResponse listed;
  ASSERT_TRUE(Arrivals(iom_cert_)->ListArrivals(Context().get(), list, &listed).ok());
  ASSERT_THAT(listed.arrivals(), SizeIs(1));
  EXPECT_EQ(listed.arrivals(0).version(), 2);

  v1::ListArrivalVersionsResponse versions;
  status = Versions(iom_cert_, id, &versions);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(versions.versions(), SizeIs(2));
  EXPECT_EQ(versions.versions(0).version(), 1);
  EXPECT_EQ(versions.versions(0).arrival().person().birth_date(), "1995-07-21");
  EXPECT_EQ(versions.versions(0).reason(), "");
  EXPECT_EQ(versions.versions(0).corrected_by(), "mfa");
  EXPECT_EQ(versions.versions(1).version(), 2);
  EXPECT_EQ(versions.versions(1).arrival().person().birth_date(), "1995-12-07");
  EXPECT_EQ(versions.versions(1).arrival().arrival_id(), id);
  EXPECT_EQ(versions.versions(1).reason(), kReason);
  EXPECT_EQ(versions.versions(1).corrected_by(), "mfa");
  EXPECT_GE(versions.versions(1).corrected_at().seconds(),
            versions.versions(0).corrected_at().seconds());

  // The change is audited: which fields, never their values nor the reason.
  std::vector<v1::AuditEvent> events = EventsOf(kMfa, kCorrectArrival);
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].status_code(), grpc::StatusCode::OK);
  EXPECT_THAT(events[0].record_ids(), ::testing::ElementsAre(id));
  EXPECT_EQ(events[0].detail(), "version=2 fields=person.birth_date");
  EXPECT_EQ(events[0].actor(), ::enlace::testing::kTestActor);

  // Resending the original is still the same record, not a conflict.
  v1::RecordArrivalRequest again;
  *again.mutable_arrival() = sent;
  v1::RecordArrivalResponse answer;
  ASSERT_TRUE(Arrivals(mfa_cert_)->RecordArrival(Context().get(), again, &answer).ok());
  EXPECT_EQ(answer.outcome(), v1::OUTCOME_ALREADY_RECORDED);
  EXPECT_EQ(answer.arrival_id(), id);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals"), 1);
}

TEST_F(ArrivalCorrectionTest, OnlyTheSubmitterCorrectsAndOnlyThoseWhoSeeTheArrivalReadItsVersions) {
  const std::string id = RecordOne(MakeArrival("cor-2", {"iom"}));
  Arrival corrected;
  // An agency calling the ministry's call: refused by the policy, audited.
  grpc::Status status = Correct(iom_cert_, BirthDateCorrection(id, "1995-12-07"), &corrected);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // undp, which the consent does not name: as if the arrival did not exist.
  v1::ListArrivalVersionsResponse versions;
  EXPECT_EQ(Versions(undp_cert_, id, &versions).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Versions(mfa_cert_, "arr-unknown", &versions).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The ministry correcting an arrival that does not exist.
  status = Correct(mfa_cert_, BirthDateCorrection("arr-unknown", "1995-12-07"), &corrected);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Read(mfa_cert_, id).version(), 1);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrival_versions"), 0);
}

TEST_F(ArrivalCorrectionTest, BadCorrectionsNameTheFieldAreAuditedAndChangeNothing) {
  const std::string id = RecordOne(MakeArrival("cor-3", {"iom"}));
  struct Bad {
    const char* name;
    v1::CorrectArrivalRequest request;
    const char* field;
  };
  std::vector<Bad> bad;
  bad.push_back({"unknown field", BirthDateCorrection(id, "1995-12-07"), "update_mask"});
  bad.back().request.mutable_update_mask()->add_paths("person.nickname");
  bad.push_back({"the consent", BirthDateCorrection(id, "1995-12-07"), "update_mask"});
  bad.back().request.mutable_update_mask()->set_paths(0, "consent.agencies");
  bad.push_back({"the external id", BirthDateCorrection(id, "1995-12-07"), "update_mask"});
  bad.back().request.mutable_update_mask()->set_paths(0, "external_id");
  bad.push_back({"no field", BirthDateCorrection(id, "1995-12-07"), "update_mask"});
  bad.back().request.clear_update_mask();
  bad.push_back({"empty reason", BirthDateCorrection(id, "1995-12-07"), "reason"});
  bad.back().request.clear_reason();
  bad.push_back({"blank reason", BirthDateCorrection(id, "1995-12-07"), "reason"});
  bad.back().request.set_reason(" \t ");
  bad.push_back({"no change", BirthDateCorrection(id, "1995-07-21"), "update_mask"});
  bad.push_back(
      {"impossible date", BirthDateCorrection(id, "1995-02-30"), "arrival.person.birth_date"});
  bad.push_back(
      {"born after arrival", BirthDateCorrection(id, "2019-01-01"), "arrival.person.birth_date"});
  // A minor now, while the consent shares without a guardian's word.
  bad.push_back(
      {"made a minor", BirthDateCorrection(id, "2005-01-01"), "arrival.person.birth_date"});
  bad.push_back({"no arrival id", BirthDateCorrection("", "1995-12-07"), "arrival_id"});
  for (const Bad& b : bad) {
    Arrival corrected;
    grpc::Status status = Correct(mfa_cert_, b.request, &corrected);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << b.name;
    EXPECT_TRUE(absl::StartsWith(status.error_message(), b.field))
        << b.name << ": " << status.error_message();
  }
  // Nothing the caller sent is echoed back but the path it named.
  Arrival corrected;
  grpc::Status status = Correct(mfa_cert_, bad[0].request, &corrected);
  EXPECT_THAT(status.error_message(), Not(HasSubstr("1995-12-07")));
  EXPECT_EQ(Read(mfa_cert_, id).version(), 1);
  EXPECT_EQ(Read(mfa_cert_, id).person().birth_date(), "1995-07-21");
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrival_versions"), 0);
  std::vector<v1::AuditEvent> events = EventsOf(kMfa, kCorrectArrival);
  ASSERT_THAT(events, SizeIs(bad.size() + 1));
  for (const v1::AuditEvent& e : events) {
    EXPECT_EQ(e.status_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(ArrivalCorrectionTest, VersionsArePagedOldestFirstWithTokensBoundToTheArrival) {
  const std::string id = RecordOne(MakeArrival("cor-pages", {"iom"}));
  const std::string other = RecordOne(MakeArrival("cor-pages-other", {"iom"}));
  for (const char* birth_date : {"1995-07-22", "1995-07-23", "1995-07-24"}) {
    Arrival corrected;
    grpc::Status status = Correct(mfa_cert_, BirthDateCorrection(id, birth_date), &corrected);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // Four versions, in pages of three: versions 1 to 3, then 4 alone.
  v1::ListArrivalVersionsRequest request;
  request.set_arrival_id(id);
  request.set_page_size(3);
  v1::ListArrivalVersionsResponse first;
  grpc::Status status = Arrivals(iom_cert_)->ListArrivalVersions(Context().get(), request, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(first.versions_size(), 3);
  EXPECT_EQ(first.versions(0).version(), 1);
  EXPECT_EQ(first.versions(2).version(), 3);
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  v1::ListArrivalVersionsResponse second;
  status = Arrivals(iom_cert_)->ListArrivalVersions(Context().get(), request, &second);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(second.versions_size(), 1);
  EXPECT_EQ(second.versions(0).version(), 4);
  EXPECT_EQ(second.versions(0).arrival().person().birth_date(), "1995-07-24");
  EXPECT_TRUE(second.next_page_token().empty());
  // The default page holds all four.
  v1::ListArrivalVersionsResponse all;
  ASSERT_TRUE(Versions(iom_cert_, id, &all).ok());
  EXPECT_EQ(all.versions_size(), 4);
  EXPECT_TRUE(all.next_page_token().empty());
  // A token is for its arrival and its caller; a page size is 0 to 500.
  request.set_arrival_id(other);
  v1::ListArrivalVersionsResponse refused;
  status = Arrivals(iom_cert_)->ListArrivalVersions(Context().get(), request, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
  request.set_arrival_id(id);
  status = Arrivals(mfa_cert_)->ListArrivalVersions(Context().get(), request, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_page_token();
  request.set_page_size(501);
  status = Arrivals(iom_cert_)->ListArrivalVersions(Context().get(), request, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size"));
}

}  // namespace
}  // namespace enlace
