// The conformance suite of db::RegistryStore (db/registry_store.h): what
// every implementation promises, run against each of them by a factory. The
// fake (tests/testing/fakes/fake_registry_store.h) is held to exactly what
// MysqlRegistryStore does: the founding agencies a fresh registry knows,
// unique codes and serials (ALREADY_EXISTS), bytewise order and keyset
// pages (limit + 1 rows), certificate status judged against the query's
// now, one revocation per certificate (FAILED_PRECONDITION after), and each
// change's audit event appended with it or the change not made.
//
// An implementation joins with one file that includes this header and
// instantiates the suite with its factory:
//
//   INSTANTIATE_TEST_SUITE_P(Fake, RegistryStoreConformanceTest,
//                            ::testing::Values(RegistryStoreImpl{"fake", [] { ... }}),
//                            RegistryStoreImplName);
//
// (registry_store_fake_test.cc, unit; registry_store_mysql_test.cc, db).
#ifndef ENLACE_TESTS_CONFORMANCE_REGISTRY_STORE_CONFORMANCE_H_
#define ENLACE_TESTS_CONFORMANCE_REGISTRY_STORE_CONFORMANCE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/audit_store.h"
#include "db/registry_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace enlace::conformance {

// One registry store under test, and the audit store its events go to.
class RegistryStoreUnderTest {
 public:
  virtual ~RegistryStoreUnderTest() = default;
  virtual db::RegistryStore* store() = 0;
  virtual db::AuditStore* audit() = 0;
  // From now on every audit append fails, as the database's would when the
  // chain cannot be written: INTERNAL.
  virtual void BreakAudit() = 0;
};

struct RegistryStoreImpl {
  std::string name;
  std::function<std::unique_ptr<RegistryStoreUnderTest>()> make;
};

// gtest prints a parameter by its name.
inline void PrintTo(const RegistryStoreImpl& impl, std::ostream* os) { *os << impl.name; }

inline std::string RegistryStoreImplName(const ::testing::TestParamInfo<RegistryStoreImpl>& info) {
  return info.param.name;
}

class RegistryStoreConformanceTest : public ::testing::TestWithParam<RegistryStoreImpl> {
 protected:
  static constexpr int64_t kNow = 2000000000000000;
  static constexpr char kAdmin[] = "spiffe://enlace/admin/ana";

  void SetUp() override { under_test_ = GetParam().make(); }
  db::RegistryStore& store() { return *under_test_->store(); }

  static db::CertificateRecord Certificate(
      const std::string& serial, const std::string& name, int64_t not_after_us,
      enlace::v1::CertificateKind kind = enlace::v1::CERTIFICATE_KIND_AGENCY) {
    db::CertificateRecord c;
    c.serial = serial;
    c.kind = kind;
    c.name = name;
    c.spiffe_id =
        absl::StrCat(kind == enlace::v1::CERTIFICATE_KIND_ADMIN ? "spiffe://enlace/admin/"
                                                                : "spiffe://enlace/agency/",
                     name);
    c.certificate_pem = absl::StrCat("-----BEGIN CERTIFICATE-----\n", serial, "\n");
    c.not_before_us = kNow - 1000;
    c.not_after_us = not_after_us;
    c.issued_by = kAdmin;
    c.issued_at_us = kNow - 1000;
    return c;
  }
  void Add(const db::CertificateRecord& c) {
    absl::Status s = store().AddCertificate(c, nullptr);
    ASSERT_TRUE(s.ok()) << s;
  }
  std::vector<std::string> Serials(const db::CertificateQuery& query) {
    absl::StatusOr<std::vector<db::CertificateRecord>> listed = store().ListCertificates(query);
    EXPECT_TRUE(listed.ok()) << listed.status();
    std::vector<std::string> serials;
    if (listed.ok()) {
      for (const db::CertificateRecord& c : *listed) serials.push_back(c.serial);
    }
    return serials;
  }
  std::vector<std::string> Codes(const std::string& after, int limit) {
    absl::StatusOr<std::vector<db::AgencyRecord>> listed = store().ListAgencies(after, limit);
    EXPECT_TRUE(listed.ok()) << listed.status();
    std::vector<std::string> codes;
    if (listed.ok()) {
      for (const db::AgencyRecord& a : *listed) codes.push_back(a.code);
    }
    return codes;
  }
  std::vector<db::AuditRecord> AuditEvents() {
    db::AuditQuery query;
    query.limit = 1000;
    absl::StatusOr<db::AuditPage> page = under_test_->audit()->List(query);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->records : std::vector<db::AuditRecord>{};
  }
  static db::AuditRecord Event(const std::string& method, std::vector<std::string> ids) {
    db::AuditRecord r;
    r.at_us = 1800000000000000;
    r.principal = kAdmin;
    r.method = method;
    r.decision = 1;
    r.record_ids = std::move(ids);
    r.peer = "ipv4:127.0.0.1:5000";
    return r;
  }
  static void ExpectSame(const db::CertificateRecord& a, const db::CertificateRecord& b) {
    EXPECT_EQ(a.serial, b.serial);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.spiffe_id, b.spiffe_id);
    EXPECT_EQ(a.certificate_pem, b.certificate_pem);
    EXPECT_EQ(a.not_before_us, b.not_before_us);
    EXPECT_EQ(a.not_after_us, b.not_after_us);
    EXPECT_EQ(a.revoked, b.revoked);
    EXPECT_EQ(a.issued_by, b.issued_by);
    EXPECT_EQ(a.issued_at_us, b.issued_at_us);
    EXPECT_EQ(a.revoked_by, b.revoked_by);
    EXPECT_EQ(a.revoked_at_us, b.revoked_at_us);
    EXPECT_EQ(a.revocation_reason, b.revocation_reason);
  }

  std::unique_ptr<RegistryStoreUnderTest> under_test_;
};

using ::enlace::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

TEST_P(RegistryStoreConformanceTest, AFreshRegistryKnowsTheFourFoundingAgencies) {
  absl::StatusOr<std::vector<db::AgencyRecord>> agencies = store().ListAgencies("", 100);
  ASSERT_TRUE(agencies.ok()) << agencies.status();
  ASSERT_THAT(*agencies, SizeIs(4));
  EXPECT_THAT(Codes("", 100), ElementsAre("iom", "mfa", "undp", "unhcr"));  // bytewise
  EXPECT_EQ((*agencies)[0].display_name, "International Organization for Migration");
  EXPECT_EQ((*agencies)[0].created_at_us, 0);
  for (const char* code : {"mfa", "iom", "unhcr", "undp"}) {
    absl::StatusOr<bool> exists = store().AgencyExists(code);
    ASSERT_TRUE(exists.ok()) << exists.status();
    EXPECT_TRUE(*exists) << code;
  }
  for (const char* code : {"fao", "IOM", "io", ""}) {
    absl::StatusOr<bool> exists = store().AgencyExists(code);
    ASSERT_TRUE(exists.ok()) << exists.status();
    EXPECT_FALSE(*exists) << code;
  }
  EXPECT_THAT(Serials(db::CertificateQuery{}), IsEmpty());
  absl::StatusOr<std::vector<db::RevokedSerial>> revoked = store().ListRevoked();
  ASSERT_TRUE(revoked.ok());
  EXPECT_THAT(*revoked, IsEmpty());
}

TEST_P(RegistryStoreConformanceTest, AnAgencyIsRegisteredOnceWithItsAuditEvent) {
  db::AuditRecord event = Event("/enlace.v1.AdminService/RegisterAgency", {"fao"});
  absl::StatusOr<db::AgencyRecord> fao =
      store().RegisterAgency("fao", "Food and Agriculture Organization", &event);
  ASSERT_TRUE(fao.ok()) << fao.status();
  EXPECT_EQ(fao->code, "fao");
  EXPECT_EQ(fao->display_name, "Food and Agriculture Organization");
  EXPECT_GT(fao->created_at_us, 0);
  EXPECT_GT(event.seq, 0);
  EXPECT_THAT(event.record_ids, ElementsAre("fao"));
  absl::StatusOr<bool> exists = store().AgencyExists("fao");
  ASSERT_TRUE(exists.ok());
  EXPECT_TRUE(*exists);
  absl::StatusOr<std::vector<db::AgencyRecord>> listed = store().ListAgencies("", 1);
  ASSERT_TRUE(listed.ok());
  ASSERT_THAT(*listed, SizeIs(1));
  EXPECT_EQ((*listed)[0].code, "fao");
  EXPECT_EQ((*listed)[0].created_at_us, fao->created_at_us);

  db::AuditRecord again = Event("/enlace.v1.AdminService/RegisterAgency", {"fao"});
  EXPECT_THAT(store().RegisterAgency("fao", "other", &again),
              StatusIs(absl::StatusCode::kAlreadyExists, "agency fao is already registered"));
  EXPECT_THAT(store().RegisterAgency("iom", "founding", nullptr),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(again.seq, 0);
  std::vector<db::AuditRecord> events = AuditEvents();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].seq, event.seq);
  EXPECT_THAT(events[0].record_ids, ElementsAre("fao"));
  listed = store().ListAgencies("", 1);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ((*listed)[0].display_name, "Food and Agriculture Organization");
}

TEST_P(RegistryStoreConformanceTest, AgenciesPageByCodeAfterAKey) {
  ASSERT_TRUE(store().RegisterAgency("wfp", "World Food Programme", nullptr).ok());
  ASSERT_TRUE(store().RegisterAgency("fao", "Food and Agriculture Organization", nullptr).ok());
  EXPECT_THAT(Codes("", 3), ElementsAre("fao", "iom", "mfa"));
  EXPECT_THAT(Codes("mfa", 3), ElementsAre("undp", "unhcr", "wfp"));
  EXPECT_THAT(Codes("m", 2), ElementsAre("mfa", "undp"));  // after a key no agency has
  EXPECT_THAT(Codes("wfp", 3), IsEmpty());
  EXPECT_THAT(Codes("", 0), IsEmpty());
}

TEST_P(RegistryStoreConformanceTest, ACertificateIsRecordedOnceAndReadBackWhole) {
  db::CertificateRecord active = Certificate("0a1b", "iom", kNow + 1000);
  active.revoked_by = "ignored";  // the revocation's fields belong to revoked ones only
  active.revoked_at_us = 5;
  active.revocation_reason = "ignored";
  db::AuditRecord event = Event("/enlace.v1.AdminService/IssueCertificate", {"0a1b"});
  ASSERT_TRUE(store().AddCertificate(active, &event).ok());
  EXPECT_GT(event.seq, 0);
  db::CertificateRecord revoked =
      Certificate("0c2d", "ana", kNow + 1000, enlace::v1::CERTIFICATE_KIND_ADMIN);
  revoked.revoked = true;
  revoked.revoked_by = kAdmin;
  revoked.revoked_at_us = kNow - 10;
  revoked.revocation_reason = "recorded to revoke it: key lost";
  Add(revoked);

  absl::StatusOr<db::CertificateRecord> read = store().GetCertificate("0a1b");
  ASSERT_TRUE(read.ok()) << read.status();
  db::CertificateRecord expected = active;
  expected.revoked_by.clear();
  expected.revoked_at_us = 0;
  expected.revocation_reason.clear();
  ExpectSame(*read, expected);
  read = store().GetCertificate("0c2d");
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSame(*read, revoked);

  db::AuditRecord again = Event("/enlace.v1.AdminService/IssueCertificate", {"0a1b"});
  EXPECT_THAT(store().AddCertificate(Certificate("0a1b", "unhcr", kNow), &again),
              StatusIs(absl::StatusCode::kAlreadyExists, "certificate 0a1b is already recorded"));
  EXPECT_EQ(again.seq, 0);
  read = store().GetCertificate("0a1b");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->name, "iom");
  EXPECT_THAT(store().GetCertificate("ffff"),
              StatusIs(absl::StatusCode::kNotFound, "certificate ffff not found"));
  EXPECT_THAT(store().GetCertificate("0A1B"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(AuditEvents(), SizeIs(1));
}

TEST_P(RegistryStoreConformanceTest, CertificatesAreListedBySerialFilteredAndPaged) {
  Add(Certificate("01", "wfp", kNow + 100));  // active
  Add(Certificate("02", "wfp", kNow - 1));  // expired
  Add(Certificate("03", "iom", kNow));  // active: not past
  Add(Certificate("04", "iom", kNow + 1000000));  // active, far
  Add(Certificate("05", "ana", kNow + 50, enlace::v1::CERTIFICATE_KIND_ADMIN));  // active
  Add(Certificate("06", "iom", kNow + 10));
  ASSERT_TRUE(store().RevokeCertificate("06", kAdmin, "lost", nullptr).ok());  // revoked
  db::CertificateQuery all;
  all.now_us = kNow;
  EXPECT_THAT(Serials(all), ElementsAre("01", "02", "03", "04", "05", "06"));
  // limit + 1 rows: the extra one tells that another page exists.
  db::CertificateQuery page = all;
  page.limit = 2;
  EXPECT_THAT(Serials(page), ElementsAre("01", "02", "03"));
  page.after_serial = "02";
  EXPECT_THAT(Serials(page), ElementsAre("03", "04", "05"));
  page.after_serial = "05";
  EXPECT_THAT(Serials(page), ElementsAre("06"));

  db::CertificateQuery q = all;
  q.name = "iom";
  EXPECT_THAT(Serials(q), ElementsAre("03", "04", "06"));
  q.name = "IOM";
  EXPECT_THAT(Serials(q), IsEmpty());
  q = all;
  q.kind = enlace::v1::CERTIFICATE_KIND_ADMIN;
  EXPECT_THAT(Serials(q), ElementsAre("05"));
  q = all;
  q.status = enlace::v1::CERTIFICATE_STATUS_ACTIVE;
  EXPECT_THAT(Serials(q), ElementsAre("01", "03", "04", "05"));
  q.status = enlace::v1::CERTIFICATE_STATUS_EXPIRED;
  EXPECT_THAT(Serials(q), ElementsAre("02"));
  q.status = enlace::v1::CERTIFICATE_STATUS_REVOKED;
  EXPECT_THAT(Serials(q), ElementsAre("06"));
  // Expiring: active, not_after in [now, expiring_before).
  q = all;
  q.expiring_before_us = kNow + 100;
  EXPECT_THAT(Serials(q), ElementsAre("03", "05"));
  q.name = "iom";
  EXPECT_THAT(Serials(q), ElementsAre("03"));
  // Judged against the query's now: later, more are expired.
  q = all;
  q.now_us = kNow + 60;
  q.status = enlace::v1::CERTIFICATE_STATUS_EXPIRED;
  EXPECT_THAT(Serials(q), ElementsAre("02", "03", "05"));
}

TEST_P(RegistryStoreConformanceTest, ACertificateIsRevokedOnce) {
  Add(Certificate("0a", "iom", kNow + 1000));
  db::AuditRecord event = Event("/enlace.v1.AdminService/RevokeCertificate", {"0a"});
  absl::StatusOr<db::CertificateRecord> revoked =
      store().RevokeCertificate("0a", kAdmin, "key lost", &event);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(revoked->revoked);
  EXPECT_EQ(revoked->revoked_by, kAdmin);
  EXPECT_EQ(revoked->revocation_reason, "key lost");
  EXPECT_GT(revoked->revoked_at_us, 0);
  EXPECT_EQ(revoked->name, "iom");
  EXPECT_EQ(revoked->not_after_us, kNow + 1000);
  EXPECT_GT(event.seq, 0);
  absl::StatusOr<db::CertificateRecord> read = store().GetCertificate("0a");
  ASSERT_TRUE(read.ok());
  ExpectSame(*read, *revoked);

  db::AuditRecord again = Event("/enlace.v1.AdminService/RevokeCertificate", {"0a"});
  EXPECT_THAT(store().RevokeCertificate("0a", "spiffe://enlace/admin/bo", "again", &again),
              StatusIs(absl::StatusCode::kFailedPrecondition, "certificate 0a is already revoked"));
  EXPECT_EQ(again.seq, 0);
  EXPECT_THAT(store().RevokeCertificate("0b", kAdmin, "unknown", nullptr),
              StatusIs(absl::StatusCode::kNotFound, "certificate 0b not found"));
  read = store().GetCertificate("0a");
  ASSERT_TRUE(read.ok());
  ExpectSame(*read, *revoked);  // the first revocation stands
  EXPECT_THAT(AuditEvents(), SizeIs(1));
}

TEST_P(RegistryStoreConformanceTest, ListRevokedHoldsEveryRevokedSerialAndOnlyThose) {
  Add(Certificate("a1", "iom", kNow + 1000));
  Add(Certificate("b2", "iom", kNow - 1000));  // expired, not revoked
  db::CertificateRecord recorded = Certificate("c3", "undp", kNow + 1000);
  recorded.revoked = true;
  recorded.revoked_by = kAdmin;
  recorded.revoked_at_us = kNow - 5;
  recorded.revocation_reason = "recorded revoked";
  Add(recorded);
  absl::StatusOr<db::CertificateRecord> a1 =
      store().RevokeCertificate("a1", kAdmin, "lost", nullptr);
  ASSERT_TRUE(a1.ok());
  absl::StatusOr<std::vector<db::RevokedSerial>> revoked = store().ListRevoked();
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  std::vector<std::pair<std::string, int64_t>> pairs;
  for (const db::RevokedSerial& r : *revoked) pairs.emplace_back(r.serial, r.revoked_at_us);
  EXPECT_THAT(pairs, UnorderedElementsAre(std::make_pair(std::string("a1"), a1->revoked_at_us),
                                          std::make_pair(std::string("c3"), kNow - 5)));
}

TEST_P(RegistryStoreConformanceTest, AChangeWhoseAuditEventCannotBeWrittenIsNotMade) {
  Add(Certificate("0a", "iom", kNow + 1000));
  under_test_->BreakAudit();
  db::AuditRecord e1 = Event("/enlace.v1.AdminService/RegisterAgency", {"fao"});
  EXPECT_THAT(store().RegisterAgency("fao", "FAO", &e1), StatusIs(absl::StatusCode::kInternal));
  db::AuditRecord e2 = Event("/enlace.v1.AdminService/IssueCertificate", {"0b"});
  EXPECT_THAT(store().AddCertificate(Certificate("0b", "iom", kNow + 1000), &e2),
              StatusIs(absl::StatusCode::kInternal));
  db::AuditRecord e3 = Event("/enlace.v1.AdminService/RevokeCertificate", {"0a"});
  EXPECT_THAT(store().RevokeCertificate("0a", kAdmin, "lost", &e3),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(e1.seq, 0);
  EXPECT_EQ(e2.seq, 0);
  EXPECT_EQ(e3.seq, 0);
  absl::StatusOr<bool> exists = store().AgencyExists("fao");
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
  EXPECT_THAT(store().GetCertificate("0b"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<db::CertificateRecord> a = store().GetCertificate("0a");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->revoked);
  absl::StatusOr<std::vector<db::RevokedSerial>> revoked = store().ListRevoked();
  ASSERT_TRUE(revoked.ok());
  EXPECT_THAT(*revoked, IsEmpty());
  // Without an event (store tests only) the same changes are made.
  EXPECT_TRUE(store().RegisterAgency("fao", "FAO", nullptr).ok());
  EXPECT_TRUE(store().RevokeCertificate("0a", kAdmin, "lost", nullptr).ok());
}

TEST_P(RegistryStoreConformanceTest, RacingRegistrationsAndRevocationsEachHappenOnce) {
  Add(Certificate("0a", "iom", kNow + 1000));
  constexpr int kThreads = 6;
  std::atomic<int> registered{0}, exists{0}, revoked{0}, already{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      absl::Status r = store().RegisterAgency("fao", absl::StrCat("FAO ", i), nullptr).status();
      if (r.ok()) {
        ++registered;
      } else if (absl::IsAlreadyExists(r)) {
        ++exists;
      } else {
        ++other;
      }
      absl::Status v =
          store().RevokeCertificate("0a", kAdmin, absl::StrCat("reason ", i), nullptr).status();
      if (v.ok()) {
        ++revoked;
      } else if (absl::IsFailedPrecondition(v)) {
        ++already;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(registered.load(), 1);
  EXPECT_EQ(exists.load(), kThreads - 1);
  EXPECT_EQ(revoked.load(), 1);
  EXPECT_EQ(already.load(), kThreads - 1);
  EXPECT_THAT(Codes("", 100), SizeIs(5));
}

}  // namespace enlace::conformance

#endif  // ENLACE_TESTS_CONFORMANCE_REGISTRY_STORE_CONFORMANCE_H_
