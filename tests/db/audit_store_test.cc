// The audit log against a real MariaDB: changes commit together with their
// audit event (and are rolled back with it), ingest batches commit one event
// per caller naming every arrival, and verification finds tampering done
// with direct SQL — a changed row, a deleted middle row, two rows swapped,
// an access-log (index) row edited, removed or planted — naming the first
// broken sequence.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/audit_chain.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_case_store.h"
#include "db/mysql_registry_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::testing::TestDatabase;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

enlace::v1::Arrival MakeArrival(const std::string& external_id) {
  enlace::v1::Arrival a;
  a.set_external_id(external_id);
  a.set_arrival_date("2018-01-15");
  a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  a.set_origin_country("US");
  a.mutable_person()->set_given_name("Ana");
  a.mutable_person()->set_family_name("López");
  a.mutable_person()->set_birth_date("1990-03-02");
  a.mutable_person()->set_sex(enlace::v1::SEX_FEMALE);
  a.mutable_destination()->set_department_code("SV-SS");
  a.mutable_destination()->set_municipality("Guazapa");
  a.mutable_consent()->add_agencies("iom");
  a.mutable_consent()->add_agencies("undp");
  a.mutable_consent()->add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  return a;
}

// The event a call would commit with its change.
AuditRecord CallEvent(const std::string& principal, const std::string& method) {
  AuditRecord record;
  record.at_us = 1800000000000000;
  record.principal = principal;
  record.method = method;
  record.decision = 1;
  record.peer = "ipv4:127.0.0.1:5000";
  return record;
}

class AuditStoreTest : public ::testing::Test {
 protected:
  // One arrival recorded by mfa, and its id.
  std::string RecordArrival(const std::string& external_id) {
    std::vector<NewArrival> batch = {{MakeArrival(external_id), "mfa"}};
    absl::StatusOr<std::vector<RecordResult>> results = arrivals_.RecordBatch(batch);
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? (*results)[0].arrival_id : "";
  }
  std::vector<AuditRecord> Events() {
    AuditQuery query;
    query.limit = 1000;
    absl::StatusOr<AuditPage> page = audit_.List(query);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->records : std::vector<AuditRecord>{};
  }
  ChainReport Verify() {
    absl::StatusOr<ChainReport> report = audit_.Verify();
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ChainReport{};
  }
  // n plain events (e.g. reads), each naming one record "r<i>".
  void AppendReads(int n) {
    std::vector<AuditRecord> records;
    for (int i = 0; i < n; ++i) {
      AuditRecord r = CallEvent("spiffe://enlace/agency/iom", "/enlace.v1.CaseService/GetCase");
      r.record_ids = {absl::StrCat("r", i)};
      records.push_back(r);
    }
    ASSERT_TRUE(audit_.Append(&records).ok());
  }

  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlArrivalStore arrivals_{&database_->pool()};
  MysqlCaseStore cases_{&database_->pool()};
  MysqlAuditStore audit_{&database_->pool()};
};

TEST_F(AuditStoreTest, AChangeCommitsWithItsEventNamingWhatItCreated) {
  std::string arrival = RecordArrival("a-1");
  AuditRecord event = CallEvent("spiffe://enlace/agency/iom", "/enlace.v1.CaseService/OpenCase");
  event.record_ids = {arrival};
  absl::StatusOr<enlace::v1::Case> opened = cases_.OpenCase(arrival, "s", Viewer{"iom"}, &event);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_GT(event.seq, 0);
  std::vector<AuditRecord> events = Events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].seq, event.seq);
  EXPECT_EQ(events[0].method, "/enlace.v1.CaseService/OpenCase");
  EXPECT_THAT(events[0].record_ids, ElementsAre(arrival, opened->case_id()));
  EXPECT_EQ(events[0].hash, event.hash);
  EXPECT_TRUE(Verify().intact);
}

TEST_F(AuditStoreTest, AChangeThatFailsLeavesNoEvent) {
  std::string arrival = RecordArrival("a-2");
  AuditRecord event = CallEvent("spiffe://enlace/agency/unhcr", "/enlace.v1.CaseService/OpenCase");
  // unhcr is not named in the consent: NOT_FOUND, and nothing written.
  EXPECT_FALSE(cases_.OpenCase(arrival, "s", Viewer{"unhcr"}, &event).ok());
  EXPECT_EQ(event.seq, 0);
  EXPECT_THAT(Events(), SizeIs(0));
}

// The audit append fails inside the change's transaction: the change is
// rolled back with it, never kept without its event.
TEST_F(AuditStoreTest, WhenTheAuditAppendFailsTheChangeIsRolledBack) {
  std::string arrival = RecordArrival("a-3");
  AuditRecord open_event =
      CallEvent("spiffe://enlace/agency/iom", "/enlace.v1.CaseService/OpenCase");
  absl::StatusOr<enlace::v1::Case> opened =
      cases_.OpenCase(arrival, "s", Viewer{"iom"}, &open_event);
  ASSERT_TRUE(opened.ok());
  database_->Execute("RENAME TABLE audit_events TO audit_events_away");

  enlace::v1::Consent consent;
  consent.add_agencies("iom");
  consent.add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  AuditRecord consent_event =
      CallEvent("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/UpdateConsent");
  EXPECT_FALSE(arrivals_.UpdateConsent(arrival, consent, Viewer{"mfa"}, &consent_event).ok());
  enlace::v1::Case update = *opened;
  update.set_summary("changed");
  AuditRecord update_event =
      CallEvent("spiffe://enlace/agency/iom", "/enlace.v1.CaseService/UpdateCase");
  EXPECT_FALSE(cases_.UpdateCase(update, opened->etag(), Viewer{"iom"}, &update_event).ok());
  AuditRecord batch_event =
      CallEvent("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/RecordArrivals");
  std::vector<NewArrival> batch = {
      {MakeArrival("a-4"), "mfa", std::make_shared<const AuditRecord>(batch_event)}};
  EXPECT_FALSE(arrivals_.RecordBatch(batch).ok());

  database_->Execute("RENAME TABLE audit_events_away TO audit_events");
  EXPECT_EQ(consent_event.seq, 0);
  EXPECT_EQ(update_event.seq, 0);
  // Nothing of the three changes stayed.
  EXPECT_EQ(database_->QueryInt("SELECT consent_version FROM arrivals WHERE external_id = 'a-3'"),
            1);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM consent_versions"), 0);
  EXPECT_EQ(database_->QueryInt("SELECT version FROM cases"), 1);
  EXPECT_EQ(database_->QueryInt("SELECT COUNT(*) FROM arrivals WHERE external_id = 'a-4'"), 0);
  EXPECT_THAT(Events(), SizeIs(1));  // the OpenCase event only
  EXPECT_TRUE(Verify().intact);
}

// The chain's head moved back (it is the one audit row the server may
// update): the next append finds its sequence taken. The change fails as an
// internal error, never as the caller's own duplicate, and is rolled back.
TEST_F(AuditStoreTest, AHeadMovedBackFailsTheNextChangeWithoutCallingItADuplicate) {
  std::string arrival = RecordArrival("a-5");
  AuditRecord open_event =
      CallEvent("spiffe://enlace/agency/iom", "/enlace.v1.CaseService/OpenCase");
  ASSERT_TRUE(cases_.OpenCase(arrival, "s", Viewer{"iom"}, &open_event).ok());
  database_->Execute(
      "UPDATE audit_chain_head SET last_seq = 0, last_hash = UNHEX(REPEAT('00', 32))");

  enlace::v1::Consent consent;
  consent.add_agencies("iom");
  consent.add_purposes(enlace::v1::PURPOSE_REINTEGRATION);
  AuditRecord consent_event =
      CallEvent("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/UpdateConsent");
  absl::StatusOr<enlace::v1::Arrival> updated =
      arrivals_.UpdateConsent(arrival, consent, Viewer{"mfa"}, &consent_event);
  EXPECT_EQ(updated.status().code(), absl::StatusCode::kInternal) << updated.status();
  EXPECT_THAT(std::string(updated.status().message()), ::testing::HasSubstr("audit_chain_head"));
  EXPECT_EQ(database_->QueryInt("SELECT consent_version FROM arrivals WHERE external_id = 'a-5'"),
            1);
  EXPECT_THAT(Events(), SizeIs(1));
}

TEST_F(AuditStoreTest, AnIngestBatchCommitsOneEventPerCallNamingEveryArrival) {
  auto stream = std::make_shared<const AuditRecord>(
      CallEvent("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/RecordArrivals"));
  // Two unary calls of the same caller, in the same batch: one event each.
  AuditRecord first =
      CallEvent("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/RecordArrival");
  AuditRecord second = first;
  second.peer = "ipv4:127.0.0.1:5001";
  std::vector<NewArrival> batch;
  for (int i = 0; i < 5; ++i) batch.push_back({MakeArrival(absl::StrCat("s-", i)), "mfa", stream});
  batch.push_back({MakeArrival("u-0"), "mfa", std::make_shared<const AuditRecord>(first)});
  batch.push_back({MakeArrival("u-1"), "mfa", std::make_shared<const AuditRecord>(second)});
  absl::StatusOr<std::vector<RecordResult>> results = arrivals_.RecordBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  std::vector<AuditRecord> events = Events();
  ASSERT_THAT(events, SizeIs(3));
  std::vector<std::string> stream_ids;
  for (int i = 0; i < 5; ++i) stream_ids.push_back((*results)[i].arrival_id);
  for (const AuditRecord& e : events) {
    if (e.method == stream->method) {
      EXPECT_EQ(e.record_ids, stream_ids);
      EXPECT_EQ(e.detail, "batch: created=5 already_recorded=0 rejected=0");
    } else if (e.peer == first.peer) {
      EXPECT_EQ(e.method, first.method);
      EXPECT_THAT(e.record_ids, ElementsAre((*results)[5].arrival_id));
    } else {
      EXPECT_EQ(e.peer, second.peer);
      EXPECT_THAT(e.record_ids, ElementsAre((*results)[6].arrival_id));
    }
  }
  for (const RecordResult& r : *results) EXPECT_GT(r.audit_seq, 0);
  // A resend answers with the same ids, and is audited too.
  results = arrivals_.RecordBatch(batch);
  ASSERT_TRUE(results.ok());
  events = Events();
  ASSERT_THAT(events, SizeIs(6));
  for (size_t i = 3; i < 6; ++i) {
    if (events[i].method != stream->method) continue;
    EXPECT_EQ(events[i].detail, "batch: created=0 already_recorded=5 rejected=0");
    EXPECT_EQ(events[i].record_ids, stream_ids);
  }
}

TEST_F(AuditStoreTest, VerificationNamesAChangedRow) {
  AppendReads(8);
  database_->Execute(
      "UPDATE audit_events SET principal = 'spiffe://enlace/agency/undp' WHERE seq = 5");
  ChainReport report = Verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_broken_sequence, 5);
}

// The actor (the staff member named in enlace-actor) is stored, read back
// by the list and the access log, and covered by the chain: removing it, or
// giving the event another actor, breaks the chain at that event.
TEST_F(AuditStoreTest, TheActorIsStoredReadBackAndCoveredByTheChain) {
  AppendReads(3);
  std::vector<AuditRecord> records;
  for (const char* actor : {"iom-staff-0042", "", "iom-staff-0043"}) {
    AuditRecord r = CallEvent("spiffe://enlace/agency/iom", "/enlace.v1.CaseService/GetCase");
    r.record_ids = {"cs_actor"};
    r.actor = actor;
    records.push_back(r);
  }
  ASSERT_TRUE(audit_.Append(&records).ok());
  std::vector<AuditRecord> events = Events();
  ASSERT_THAT(events, SizeIs(6));
  EXPECT_EQ(events[3].actor, "iom-staff-0042");
  EXPECT_EQ(events[4].actor, "");
  EXPECT_EQ(events[5].actor, "iom-staff-0043");
  absl::StatusOr<std::vector<AuditRecord>> access = audit_.ListForRecord("cs_actor", 0, 10);
  ASSERT_TRUE(access.ok()) << access.status();
  ASSERT_THAT(*access, SizeIs(3));
  EXPECT_EQ((*access)[0].actor, "iom-staff-0042");
  EXPECT_EQ((*access)[2].actor, "iom-staff-0043");
  EXPECT_TRUE(Verify().intact);

  database_->Execute("UPDATE audit_events SET actor = 'iom-staff-0001' WHERE seq = 6");
  ChainReport report = Verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_broken_sequence, 6);
  database_->Execute("UPDATE audit_events SET actor = 'iom-staff-0043' WHERE seq = 6");
  EXPECT_TRUE(Verify().intact);
  database_->Execute("UPDATE audit_events SET actor = '' WHERE seq = 4");
  report = Verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_broken_sequence, 4);
}

TEST_F(AuditStoreTest, VerificationNamesADeletedMiddleRow) {
  AppendReads(8);
  database_->Execute("DELETE FROM audit_events WHERE seq = 4");
  database_->Execute("DELETE FROM audit_event_records WHERE audit_seq = 4");
  ChainReport report = Verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_broken_sequence, 4);
}

TEST_F(AuditStoreTest, VerificationNamesTwoRowsSwapped) {
  AppendReads(8);
  // Swap the contents of events 3 and 6, hashes and all, as an administrator could.
  database_->Execute("UPDATE audit_events SET seq = 1000 WHERE seq = 3");
  database_->Execute("UPDATE audit_events SET seq = 3 WHERE seq = 6");
  database_->Execute("UPDATE audit_events SET seq = 6 WHERE seq = 1000");
  ChainReport report = Verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_broken_sequence, 3);
}

// The access log (GetCaseAccessLog) reads the record index: the chain
// covers it, through verification against the events.
TEST_F(AuditStoreTest, VerificationNamesAnEditedRemovedOrPlantedAccessLogRow) {
  AppendReads(8);
  EXPECT_TRUE(Verify().intact);
  database_->Execute(
      "UPDATE audit_event_records SET record_id = 'someone-else' WHERE audit_seq = 6");
  ChainReport edited = Verify();
  EXPECT_FALSE(edited.intact);
  EXPECT_EQ(edited.first_broken_sequence, 6);
  database_->Execute("UPDATE audit_event_records SET record_id = 'r5' WHERE audit_seq = 6");
  EXPECT_TRUE(Verify().intact);

  database_->Execute("DELETE FROM audit_event_records WHERE audit_seq = 7");
  ChainReport removed = Verify();
  EXPECT_FALSE(removed.intact);
  EXPECT_EQ(removed.first_broken_sequence, 7);
  database_->Execute("INSERT INTO audit_event_records (record_id, audit_seq) VALUES ('r6', 7)");
  EXPECT_TRUE(Verify().intact);

  database_->Execute("INSERT INTO audit_event_records (record_id, audit_seq) VALUES ('r0', 3)");
  ChainReport planted = Verify();
  EXPECT_FALSE(planted.intact);
  EXPECT_EQ(planted.first_broken_sequence, 3);
  // And the planted row adds nothing to the access log of r0.
  absl::StatusOr<std::vector<AuditRecord>> log = audit_.ListForRecord("r0", 0, 100);
  ASSERT_TRUE(log.ok());
  ASSERT_THAT(*log, SizeIs(1));
  EXPECT_EQ((*log)[0].seq, 1);
}

// Ingest events are not indexed (they name arrivals, the access log asks by
// case), yet their ids are in the events; an index row an older version
// wrote for one is truthful and accepted, a false one is not.
TEST_F(AuditStoreTest, IngestEventsNameTheirArrivalsWithoutIndexRows) {
  std::string arrival = RecordArrival("i-1");
  auto stream = std::make_shared<const AuditRecord>(
      CallEvent("spiffe://enlace/agency/mfa", "/enlace.v1.ArrivalService/RecordArrivals"));
  std::vector<NewArrival> batch = {{MakeArrival("i-2"), "mfa", stream}};
  absl::StatusOr<std::vector<RecordResult>> results = arrivals_.RecordBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  const int64_t seq = (*results)[0].audit_seq;
  ASSERT_GT(seq, 0);
  EXPECT_THAT(Events().back().record_ids, ElementsAre((*results)[0].arrival_id));
  EXPECT_EQ(database_->QueryInt(
                absl::StrCat("SELECT COUNT(*) FROM audit_event_records WHERE audit_seq = ", seq)),
            0);
  EXPECT_TRUE(Verify().intact);
  database_->Execute(
      absl::StrCat("INSERT INTO audit_event_records (record_id, audit_seq) VALUES ('",
                   (*results)[0].arrival_id, "', ", seq, ")"));
  EXPECT_TRUE(Verify().intact);
  database_->Execute(
      absl::StrCat("INSERT INTO audit_event_records (record_id, audit_seq) VALUES ('", arrival,
                   "', ", seq, ")"));
  ChainReport planted = Verify();
  EXPECT_FALSE(planted.intact);
  EXPECT_EQ(planted.first_broken_sequence, seq);
}

}  // namespace
}  // namespace enlace::db
