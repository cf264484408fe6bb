// Lists that stay flat as the tables grow: each list query (arrivals, cases,
// referrals, initiatives, audit events and a record's access log, and each
// of a report's grid queries) is
// answered from the index it was written for (checked with EXPLAIN on a real
// MariaDB), and
// the index-driven form returns exactly what the visibility rule allows, in
// order, page after page (checked against the rule evaluated in memory).
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "db/mysql_arrival_store.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_case_store.h"
#include "db/mysql_person_store.h"
#include "db/mysql_report_grid.h"
#include "db/mysql_report_store.h"
#include "db/visibility.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_database.h"

namespace enlace::db {
namespace {

using ::enlace::testing::TestDatabase;

struct Spec {
  std::string submitter;
  std::vector<std::string> agencies;
  std::vector<enlace::v1::Purpose> purposes;
  std::string department;
  std::string date;
};

enlace::v1::Arrival MakeArrival(const std::string& external_id, const Spec& spec) {
  enlace::v1::Arrival a;
  a.set_external_id(external_id);
  a.set_arrival_date(spec.date);
  a.set_mode(enlace::v1::ARRIVAL_MODE_AIR);
  a.set_origin_country("US");
  a.mutable_person()->set_given_name("Ana");
  a.mutable_person()->set_family_name("López");
  a.mutable_person()->set_birth_date("1990-03-02");
  a.mutable_person()->set_sex(enlace::v1::SEX_FEMALE);
  a.mutable_destination()->set_department_code(spec.department);
  a.mutable_destination()->set_municipality(spec.department == "SV-SS" ? "Guazapa" : "Santa Ana");
  for (const std::string& agency : spec.agencies) a.mutable_consent()->add_agencies(agency);
  for (enlace::v1::Purpose p : spec.purposes) a.mutable_consent()->add_purposes(p);
  return a;
}

// One row of EXPLAIN: the table (alias), access type and key used.
struct PlanRow {
  std::string table;
  std::string type;
  std::string key;
  std::string extra;
};

// Nothing is read whole into a temporary table or sorted before the LIMIT.
void ExpectReadInIndexOrder(const PlanRow& row) {
  EXPECT_THAT(row.extra, ::testing::Not(::testing::HasSubstr("temporary")));
  EXPECT_THAT(row.extra, ::testing::Not(::testing::HasSubstr("filesort")));
}

// The data-sharing agreement of the visibility rule (db/visibility.h,
// alias `g`): one lookup of the pair's key per row, in a table of a few rows
// per pair of organisations.
void ExpectAgreementLookup(const PlanRow& row) {
  EXPECT_EQ(row.key, "k_sharing_agreements_parties");
  // index_subquery: MariaDB's form of the EXISTS, a lookup of the key.
  EXPECT_THAT(row.type, ::testing::AnyOf("ref", "index_subquery")) << "not a lookup of the pair";
}

class QueryPlanTest : public ::testing::Test {
 protected:
  // `n` arrivals of varied submitters, consents, departments and dates; the
  // spec of each, by external id.
  void Fill(int n) {
    const std::vector<std::vector<std::string>> consents = {
        {"iom", "undp"}, {"undp"}, {"iom"}, {"unhcr", "undp"}, {}, {"iom", "unhcr", "undp"}};
    const std::vector<std::vector<enlace::v1::Purpose>> purposes = {
        {enlace::v1::PURPOSE_REINTEGRATION},
        {enlace::v1::PURPOSE_PROTECTION},
        {enlace::v1::PURPOSE_STATISTICS},  // allows no record
        {enlace::v1::PURPOSE_REINTEGRATION, enlace::v1::PURPOSE_STATISTICS}};
    std::vector<NewArrival> batch;
    for (int i = 0; i < n; ++i) {
      Spec spec;
      spec.submitter = i % 11 == 0 ? "iom" : "mfa";  // iom submits a few itself
      spec.agencies = consents[i % consents.size()];
      if (!spec.agencies.empty()) spec.purposes = purposes[(i / 3) % purposes.size()];
      spec.department = i % 4 == 0 ? "SV-SA" : "SV-SS";
      spec.date = i % 5 == 0 ? "2018-03-01" : "2017-11-20";
      std::string external_id = absl::StrCat("q-", i);
      specs_[external_id] = spec;
      batch.push_back({MakeArrival(external_id, spec), spec.submitter});
      if (batch.size() == 500 || i == n - 1) {
        absl::StatusOr<std::vector<RecordResult>> results = arrivals_.RecordBatch(batch);
        ASSERT_TRUE(results.ok()) << results.status();
        batch.clear();
      }
    }
    Analyze("arrivals, arrival_consent_agencies");
  }

  // The external ids `viewer` may see under `filter`, in recording order,
  // by the rule itself (db/visibility.h) evaluated in memory.
  std::vector<std::string> Expected(const ArrivalFilter& filter, const std::string& viewer) {
    std::map<int, std::string> in_order;
    for (const auto& [external_id, spec] : specs_) {
      ConsentState consent;
      consent.agencies = spec.agencies;
      consent.purposes_mask = PurposesMaskOf(spec.purposes);
      bool visible =
          spec.submitter == viewer || ConsentAllows(Reach::kArrivalRecord, viewer, consent);
      if (!filter.department_code.empty() && spec.department != filter.department_code) {
        visible = false;
      }
      if (!filter.arrival_date_from.empty() && spec.date < filter.arrival_date_from) {
        visible = false;
      }
      if (visible) in_order[std::stoi(external_id.substr(2))] = external_id;
    }
    std::vector<std::string> out;
    out.reserve(in_order.size());
    for (const auto& [i, id] : in_order) out.push_back(id);
    return out;
  }

  // Every page of a list, concatenated: `list(after)` returns one page
  // (a StatusOr of a page with `more` and `last_position`), `ids(page)` the
  // ids on it.
  template <typename List, typename Ids>
  static std::vector<std::string> AllPages(List list, Ids ids) {
    std::vector<std::string> out;
    int64_t after = 0;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = list(after);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (std::string& id : ids(*page)) out.push_back(std::move(id));
      if (!page->more) break;
      after = page->last_position;
    }
    return out;
  }

  std::vector<std::string> Listed(const ArrivalFilter& filter, const std::string& viewer,
                                  int page_size) {
    return AllPages(
        [&](int64_t after) { return arrivals_.List(filter, Viewer{viewer}, after, page_size); },
        [](const ArrivalPage& page) {
          std::vector<std::string> ids;
          for (const enlace::v1::Arrival& a : page.arrivals) ids.push_back(a.external_id());
          return ids;
        });
  }

  std::vector<PlanRow> ExplainList(const ArrivalFilter& filter, const std::string& viewer) {
    return Explain(ArrivalListSql(filter), [&](sql::PreparedStatement* statement) {
      BindArrivalList(statement, filter, Viewer{viewer}, 0, 51);
    });
  }

  // Cases and referrals on the arrivals Fill() made, straight in SQL, in
  // every combination: owned by iom or undp or both, referred to undp or
  // unhcr in every status, twice to the same agency, on consents that do
  // or do not allow the case.
  void FillCases() {
    database_->Execute(
        "INSERT INTO cases (case_id, arrival_seq, owner_agency, status, department_code, "
        "municipality, summary, psychosocial_notes, version, created_at_us, updated_at_us) "
        "SELECT CONCAT('ci', seq), seq, 'iom', 1 + seq % 3, 'SV-SS', "
        "IF(seq % 7 = 0, 'Santa Ana', 'Guazapa'), '', '', 1, 1, 1 FROM arrivals WHERE seq % 2 = 0");
    database_->Execute(
        "INSERT INTO cases (case_id, arrival_seq, owner_agency, status, department_code, "
        "municipality, summary, psychosocial_notes, version, created_at_us, updated_at_us) "
        "SELECT CONCAT('cu', seq), seq, 'undp', 1, 'SV-SS', 'Guazapa', '', '', 1, 1, 1 "
        "FROM arrivals WHERE seq % 3 = 0");
    database_->Execute(
        "INSERT INTO referrals (referral_id, case_seq, from_agency, to_agency, service, reason, "
        "status, decline_reason, outcome, version, created_at_us, updated_at_us) "
        "SELECT CONCAT('ru', seq), seq, owner_agency, IF(owner_agency = 'undp', 'iom', 'undp'), 1, "
        "'', 1 + seq % 5, '', '', 1, 1, 1 FROM cases WHERE seq % 4 = 0");
    database_->Execute(
        "INSERT INTO referrals (referral_id, case_seq, from_agency, to_agency, service, reason, "
        "status, decline_reason, outcome, version, created_at_us, updated_at_us) "
        "SELECT CONCAT('rh', seq), seq, owner_agency, 'unhcr', 1, '', 2, '', '', 1, 1, 1 "
        "FROM cases WHERE seq % 6 = 0");
    database_->Execute(  // a second referral of the same case to the same agency
        "INSERT INTO referrals (referral_id, case_seq, from_agency, to_agency, service, reason, "
        "status, decline_reason, outcome, version, created_at_us, updated_at_us) "
        "SELECT CONCAT('rv', seq), seq, owner_agency, 'unhcr', 2, '', 1, '', '', 1, 1, 1 "
        "FROM cases WHERE seq % 12 = 0");
    Analyze("cases, referrals");
  }

  void Analyze(const std::string& tables) { database_->Execute("ANALYZE TABLE " + tables); }

  // The case ids `viewer` may list, by the rule written as a filter over
  // every case (what ListCases ran before it was index-driven).
  std::vector<std::string> ReferenceCases(const CaseFilter& filter, const std::string& viewer) {
    std::string text = absl::StrCat(
        "SELECT c.case_id FROM cases c JOIN arrivals a ON a.seq = c.arrival_seq WHERE ",
        ConsentAllowsSql(Reach::kCase, "c.arrival_seq", "a.consent_purposes_mask",
                         "a.submitted_by"),
        " AND (c.owner_agency = ? OR EXISTS (SELECT 1 FROM referrals rr WHERE rr.case_seq = "
        "c.seq AND rr.to_agency = ? AND rr.status IN (1, 2, 4)))");
    if (filter.status != enlace::v1::CASE_STATUS_UNSPECIFIED) text += " AND c.status = ?";
    if (!filter.municipality.empty()) text += " AND c.municipality = ?";
    text += " ORDER BY c.seq";
    std::vector<std::string> out;
    absl::Status status = database_->pool().Run([&](MysqlConnection& c) {
      sql::PreparedStatement* select = c.Prepare(text);
      unsigned p = 1;
      for (int i = 0; i < 3; ++i) select->setString(p++, viewer);
      if (filter.status != enlace::v1::CASE_STATUS_UNSPECIFIED) select->setInt(p++, filter.status);
      if (!filter.municipality.empty()) select->setString(p++, filter.municipality);
      std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
      while (rows->next()) out.push_back(rows->getString(1));
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  std::vector<std::string> ListedCases(const CaseFilter& filter, const std::string& viewer,
                                       int page_size) {
    return AllPages(
        [&](int64_t after) { return cases_.ListCases(filter, Viewer{viewer}, after, page_size); },
        [](const CasePage& page) {
          std::vector<std::string> ids;
          for (const enlace::v1::Case& c : page.cases) ids.push_back(c.case_id());
          return ids;
        });
  }

  template <typename Bind>
  std::vector<PlanRow> Explain(const std::string& sql_text, Bind bind) {
    std::vector<PlanRow> plan;
    absl::Status status = database_->pool().Run([&](MysqlConnection& c) {
      sql::PreparedStatement* explain = c.Prepare("EXPLAIN " + sql_text);
      bind(explain);
      std::unique_ptr<sql::ResultSet> rows(explain->executeQuery());
      while (rows->next()) {
        plan.push_back({rows->getString("table"), rows->getString("type"),
                        rows->isNull("key") ? "" : std::string(rows->getString("key")),
                        rows->isNull("Extra") ? "" : std::string(rows->getString("Extra"))});
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return plan;
  }

  std::unique_ptr<TestDatabase> database_ = TestDatabase::Create();
  MysqlArrivalStore arrivals_{&database_->pool()};
  MysqlCaseStore cases_{&database_->pool()};
  std::map<std::string, Spec> specs_;
};

TEST_F(QueryPlanTest, ListArrivalsReturnsExactlyWhatTheRuleAllowsPageAfterPage) {
  Fill(600);
  ArrivalFilter none;
  ArrivalFilter santa_ana;
  santa_ana.department_code = "SV-SA";
  ArrivalFilter from_2018;
  from_2018.arrival_date_from = "2018-01-01";
  for (const std::string viewer : {"mfa", "iom", "undp", "unhcr", "wfp"}) {
    for (const ArrivalFilter* filter : {&none, &santa_ana, &from_2018}) {
      std::vector<std::string> expected = Expected(*filter, viewer);
      EXPECT_EQ(Listed(*filter, viewer, 7), expected)
          << viewer << " department=" << filter->department_code
          << " from=" << filter->arrival_date_from;
      EXPECT_EQ(Listed(*filter, viewer, 500), expected) << viewer;
    }
  }
  // Sanity of the data: iom sees some it submitted and some by consent only.
  EXPECT_GT(Expected(none, "iom").size(), 100u);
  EXPECT_TRUE(Expected(none, "wfp").empty());
}

// Each branch of the list is a range of its own index; the arrivals are
// reached by primary key; nothing scans a whole table or index.
TEST_F(QueryPlanTest, ListArrivalsIsDrivenByTheSubmitterAndConsentIndexes) {
  Fill(2000);
  ArrivalFilter none;
  ArrivalFilter santa_ana;
  santa_ana.department_code = "SV-SA";
  santa_ana.arrival_date_from = "2018-01-01";
  for (const std::string viewer : {"mfa", "undp"}) {
    for (const ArrivalFilter* filter : {&none, &santa_ana}) {
      std::vector<PlanRow> plan = ExplainList(*filter, viewer);
      std::set<std::string> tables;
      for (const PlanRow& row : plan) {
        tables.insert(row.table);
        SCOPED_TRACE(absl::StrCat(viewer, ": table ", row.table, " type ", row.type, " key ",
                                  row.key, " extra ", row.extra));
        if (row.table.front() != '<') ExpectReadInIndexOrder(row);
        if (row.table == "s") {
          EXPECT_EQ(row.key, "k_arrivals_submitter_seq");
          EXPECT_THAT(row.type, ::testing::AnyOf("ref", "range"));
        } else if (row.table == "v") {
          EXPECT_EQ(row.key, "k_consent_agency");
          EXPECT_THAT(row.type, ::testing::AnyOf("ref", "range"));
        } else if (row.table == "c" || row.table == "a") {
          EXPECT_EQ(row.key, "PRIMARY");
          EXPECT_THAT(row.type, ::testing::AnyOf("eq_ref", "ref"));
        } else if (row.table == "g") {
          ExpectAgreementLookup(row);
        } else {
          // The derived table and the union's result: at most 2 × 51 rows.
          EXPECT_EQ(row.table.front(), '<') << "an unexpected table in the plan";
        }
      }
      EXPECT_TRUE(tables.count("s") && tables.count("v") && tables.count("a") && tables.count("g"));
    }
  }
}

TEST_F(QueryPlanTest, ListCasesReturnsWhatTheRuleAllowsPageAfterPage) {
  Fill(600);
  FillCases();
  CaseFilter none;
  CaseFilter open;
  open.status = enlace::v1::CaseStatus(1);
  CaseFilter santa_ana;
  santa_ana.municipality = "Santa Ana";
  for (const std::string viewer : {"iom", "undp", "unhcr", "mfa"}) {
    for (const CaseFilter* filter : {&none, &open, &santa_ana}) {
      std::vector<std::string> expected = ReferenceCases(*filter, viewer);
      EXPECT_EQ(ListedCases(*filter, viewer, 7), expected)
          << viewer << " status=" << filter->status << " municipality=" << filter->municipality;
      EXPECT_EQ(ListedCases(*filter, viewer, 500), expected) << viewer;
    }
  }
  // The data covers both ways of seeing a case.
  EXPECT_GT(ReferenceCases(none, "iom").size(), 50u);
  EXPECT_GT(ReferenceCases(none, "unhcr").size(), 5u);  // by referral only
}

TEST_F(QueryPlanTest, ListCasesIsDrivenByTheOwnerAndReferralIndexes) {
  Fill(2000);
  FillCases();
  CaseFilter none;
  for (const std::string viewer : {"iom", "unhcr"}) {
    std::vector<PlanRow> plan = Explain(CaseListSql(none), [&](sql::PreparedStatement* s) {
      BindCaseList(s, none, Viewer{viewer}, 0, 51);
    });
    std::set<std::string> keys;
    for (const PlanRow& row : plan) {
      SCOPED_TRACE(absl::StrCat(viewer, ": table ", row.table, " type ", row.type, " key ", row.key,
                                " extra ", row.extra));
      if (row.table.front() == '<') continue;  // derived table, union result
      if (row.table == "g") {
        ExpectAgreementLookup(row);
        continue;
      }
      EXPECT_THAT(row.type, ::testing::AnyOf("ref", "range", "eq_ref")) << "a scan";
      ExpectReadInIndexOrder(row);
      keys.insert(row.key);
    }
    EXPECT_TRUE(keys.count("k_cases_owner")) << viewer;
    EXPECT_TRUE(keys.count("k_referrals_to_case")) << viewer;
  }
}

// The expected plan of one table of a list query: its key, and an access
// that reads a range of it (never a scan), in index order.
void ExpectIndexRange(const std::vector<PlanRow>& plan, const std::string& table,
                      const std::string& key) {
  bool seen = false;
  for (const PlanRow& row : plan) {
    SCOPED_TRACE(absl::StrCat("table ", row.table, " type ", row.type, " key ", row.key, " extra ",
                              row.extra));
    if (row.table.front() == '<') continue;  // derived table, union result
    if (row.table == "g") {
      ExpectAgreementLookup(row);
      continue;
    }
    ExpectReadInIndexOrder(row);
    EXPECT_THAT(row.type, ::testing::AnyOf("ref", "range", "eq_ref")) << "a scan";
    if (row.table == table) {
      seen = true;
      EXPECT_EQ(row.key, key);
    }
  }
  EXPECT_TRUE(seen) << "no table " << table << " in the plan";
}

TEST_F(QueryPlanTest, ListReferralsIsDrivenByTheBoxIndex) {
  Fill(2000);
  FillCases();
  for (const std::string viewer : {"undp", "unhcr", "iom"}) {
    for (enlace::v1::Box box : {enlace::v1::BOX_INBOX, enlace::v1::BOX_OUTBOX}) {
      for (bool pending_only : {false, true}) {
        ReferralFilter filter;
        filter.box = box;
        if (pending_only) filter.statuses = {enlace::v1::REFERRAL_STATUS_PENDING};
        SCOPED_TRACE(absl::StrCat(viewer, " box ", box, " pending only ", pending_only));
        std::vector<PlanRow> plan = Explain(
            ReferralListSql(filter),
            [&](sql::PreparedStatement* s) { BindReferralList(s, filter, Viewer{viewer}, 0, 51); });
        ExpectIndexRange(plan, "r",
                         box == enlace::v1::BOX_INBOX ? "k_referrals_to" : "k_referrals_from");
        ExpectIndexRange(plan, "c", "PRIMARY");
        ExpectIndexRange(plan, "a", "PRIMARY");
      }
    }
  }
}

TEST_F(QueryPlanTest, ListInitiativesIsDrivenByThePrimaryKeyOrTheMunicipalityIndex) {
  Fill(2000);
  FillCases();
  database_->Execute(
      "INSERT INTO initiatives (initiative_id, case_seq, owner_agency, name, sector, "
      "department_code, municipality, registered_at_us) SELECT CONCAT('in', seq), seq, "
      "owner_agency, 'Taller', 'crafts', department_code, municipality, 1 FROM cases");
  Analyze("initiatives");
  for (const std::string municipality : {"", "Santa Ana"}) {
    SCOPED_TRACE(municipality);
    std::vector<PlanRow> plan =
        Explain(InitiativeListSql(!municipality.empty()), [&](sql::PreparedStatement* s) {
          BindInitiativeList(s, municipality, Viewer{"iom"}, 0, 51);
        });
    ExpectIndexRange(plan, "i", municipality.empty() ? "PRIMARY" : "k_initiatives_municipality");
    ExpectIndexRange(plan, "c", "PRIMARY");
    ExpectIndexRange(plan, "a", "PRIMARY");
  }
}

TEST_F(QueryPlanTest, AuditListsAreDrivenByTheirFilterIndex) {
  // 3,000 events of four principals, one in ten a denial, each naming a
  // record of its own.
  std::vector<AuditRecord> events(3000);
  const std::vector<std::string> principals = {
      "spiffe://enlace/agency/iom", "spiffe://enlace/agency/undp", "spiffe://enlace/agency/unhcr",
      "spiffe://enlace/agency/mfa"};
  for (int i = 0; i < 3000; ++i) {
    events[i].at_us = 1700000000000000 + i;
    events[i].principal = principals[i % 4];
    events[i].method =
        i % 3 == 0 ? "/enlace.v1.CaseService/GetCase" : "/enlace.v1.ArrivalService/GetArrival";
    events[i].decision = i % 10 == 0 ? 2 : 1;
    events[i].record_ids = {absl::StrCat("record", i % 500)};
    events[i].detail = "d";
    events[i].peer = "ipv4:127.0.0.1:1";
    events[i].actor = absl::StrCat("staff-", i % 40);
  }
  MysqlAuditStore audit(&database_->pool());
  ASSERT_TRUE(audit.Append(&events).ok());
  Analyze("audit_events, audit_event_records");

  struct Case {
    AuditQuery query;
    std::string key;
  };
  AuditQuery by_principal;
  by_principal.principal = principals[1];
  AuditQuery by_principal_and_method = by_principal;
  by_principal_and_method.method = "/enlace.v1.CaseService/GetCase";
  AuditQuery by_method;
  by_method.method = "/enlace.v1.CaseService/GetCase";
  AuditQuery denials;
  denials.decision = 2;
  AuditQuery everything;
  everything.after_seq = 1200;
  AuditQuery by_actor;
  by_actor.actor = "staff-7";
  for (const Case& c :
       {Case{by_actor, "k_audit_actor"}, Case{by_principal, "k_audit_principal"},
        Case{by_principal_and_method, "k_audit_principal"}, Case{by_method, "k_audit_method"},
        Case{denials, "k_audit_decision"}, Case{everything, "PRIMARY"}}) {
    SCOPED_TRACE(absl::StrCat("principal ", c.query.principal, " method ", c.query.method,
                              " decision ", c.query.decision));
    std::vector<PlanRow> plan = Explain(
        AuditListSql(c.query), [&](sql::PreparedStatement* s) { BindAuditList(s, c.query, 51); });
    ExpectIndexRange(plan, "audit_events", c.key);
  }
  // A record's access log: its rows of the record index, then each event by
  // primary key.
  std::vector<PlanRow> plan = Explain(AuditRecordListSql(), [](sql::PreparedStatement* s) {
    s->setString(1, "record7");
    s->setInt64(2, 0);
    s->setInt(3, 51);
  });
  ExpectIndexRange(plan, "audit_event_records", "PRIMARY");
  ExpectIndexRange(plan, "audit_events", "PRIMARY");
}

// A report reads a range of each grid table's primary key, grouped in index
// order: no temporary table, no sort, whatever the period and filters.
TEST_F(QueryPlanTest, ReportGridQueriesReadAPrimaryKeyRangeInOrder) {
  Fill(2000);
  FillCases();
  ASSERT_TRUE(RecountReportGrid(database_->pool()).ok());
  Analyze(
      "report_returnee_cells, report_case_cells, report_referral_cells, "
      "report_service_cells, report_initiative_cells");
  ReportQuery year;
  year.period_from = "2018-01-01";
  year.period_to = "2018-12-31";
  year.viewer_agency = "iom";
  ReportQuery department = year;
  department.department_code = "SV-SS";
  ReportQuery open;  // no period: every month
  for (const ReportQuery* query : {&year, &department, &open}) {
    absl::StatusOr<std::vector<ReportStatement>> statements = ReportGridStatements(*query);
    ASSERT_TRUE(statements.ok()) << statements.status();
    ASSERT_EQ(statements->size(), 5u);
    for (const ReportStatement& statement : *statements) {
      SCOPED_TRACE(statement.sql);
      std::vector<PlanRow> plan = Explain(statement.sql, [&](sql::PreparedStatement* s) {
        unsigned p = 1;
        for (const std::string& value : statement.params) s->setString(p++, value);
      });
      ASSERT_EQ(plan.size(), 1u);
      EXPECT_EQ(plan[0].key, "PRIMARY");
      EXPECT_THAT(plan[0].type, ::testing::AnyOf("range", "index")) << "a full scan";
      if (!query->period_from.empty()) {
        EXPECT_EQ(plan[0].type, "range");
      }
      ExpectReadInIndexOrder(plan[0]);
    }
  }
}

// FindPossibleDuplicates' two look-ups (db/mysql_person_store.h) are each a
// range of their own index on `arrivals`, never a scan of it.
TEST_F(QueryPlanTest, DuplicateCandidatesAreLookedUpThroughTheirIndexes) {
  // 3,000 arrivals over 600 birth dates, each with its own document.
  std::vector<NewArrival> batch;
  batch.reserve(500);
  for (int i = 0; i < 3000; ++i) {
    Spec spec{"mfa", {"iom"}, {enlace::v1::PURPOSE_REINTEGRATION}, "SV-SS", "2018-01-15"};
    enlace::v1::Arrival a = MakeArrival(absl::StrCat("dup-", i), spec);
    a.mutable_person()->set_birth_date(
        absl::StrFormat("%04d-%02d-%02d", 1950 + i % 50, 1 + i % 12, 10 + i % 19));
    a.mutable_person()->set_document_number(absl::StrCat("DUI-", i));
    batch.push_back({std::move(a), "mfa"});
    if (batch.size() == 500) {
      ASSERT_TRUE(arrivals_.RecordBatch(batch).ok());
      batch.clear();
    }
  }
  Analyze("arrivals, arrival_consent_agencies, person_decisions");
  for (bool by_document : {true, false}) {
    std::vector<PlanRow> plan =
        Explain(PersonCandidatesSql(by_document), [&](sql::PreparedStatement* explain) {
          BindPersonCandidates(explain, by_document, "DUI-7", "1957-08-17", "1957-08-17", 8, "x",
                               Viewer{"iom"});
        });
    std::vector<std::string> keys;
    for (const PlanRow& row : plan) {
      SCOPED_TRACE(absl::StrCat("table ", row.table, " type ", row.type, " key ", row.key));
      if (row.table != "a") continue;
      EXPECT_NE(row.type, "ALL");
      keys.push_back(row.key);
    }
    EXPECT_THAT(keys, ::testing::ElementsAre(by_document ? "k_arrivals_document"
                                                         : "k_arrivals_birth_date"));
  }
}

}  // namespace
}  // namespace enlace::db
