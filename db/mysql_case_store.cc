// MysqlCaseStore: cases, services, initiatives, referrals and the referral
// feed in MySQL (see case_store.h for the rules it enforces, and
// db/migrations/0003_cases_referrals.sql).
#include "db/mysql_case_store.h"

#include "db/mysql_agreement_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "db/ids.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_referral_sql.h"
#include "db/mysql_report_grid.h"
#include "db/visibility.h"
#include "google/protobuf/util/time_util.h"

namespace enlace::db {
namespace {

using enlace::v1::Case;
using enlace::v1::Referral;
using google::protobuf::util::TimeUtil;

constexpr char kCaseColumns[] =
    "c.seq, c.case_id, a.arrival_id, c.arrival_seq, c.owner_agency, c.status, "
    "c.department_code, c.municipality, c.summary, c.psychosocial_notes, c.version, "
    "c.created_at_us, c.updated_at_us";
constexpr char kCaseFrom[] = " FROM cases c JOIN arrivals a ON a.seq = c.arrival_seq ";

// The returnee's current consent allows the viewer the case (1 parameter:
// agency; needs kCaseFrom's `a`).
const std::string& ConsentAllowsViewerTheCase() {
  static const std::string* const sql = new std::string(
      ConsentAllowsSql(Reach::kCase, "c.arrival_seq", "a.consent_purposes_mask", "a.submitted_by"));
  return *sql;
}
// REINTEGRATION, the purpose a referral between two agencies needs an
// agreement for (db/visibility.h).
std::string ReferralPurposeMask() { return absl::StrCat(PurposesAllowing(Reach::kReferral)); }

// The viewer owns the case or holds a live referral of it, under an
// agreement in force between the referral's two agencies (2 parameters).
const std::string& OwnsOrReceived() {
  static const std::string* const sql = new std::string(absl::StrCat(
      "(c.owner_agency = ? OR EXISTS (SELECT 1 FROM referrals rr WHERE rr.case_seq = c.seq "
      "AND rr.to_agency = ? AND rr.status IN (1, 2, 4) AND ",
      AgreementInForceSql("rr.from_agency", "rr.to_agency", ReferralPurposeMask()), "))"));
  return *sql;
}

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

absl::Status CaseNotFound(const std::string& case_id) {
  return absl::NotFoundError(absl::StrCat("case ", case_id, " not found"));
}

absl::Status ReferralNotFound(const std::string& referral_id) {
  return absl::NotFoundError(absl::StrCat("referral ", referral_id, " not found"));
}

// A case row; owner-only fields cleared unless `viewer` owns it.
Case RowToCase(sql::ResultSet& row, const Viewer& viewer) {
  Case c;
  c.set_case_id(row.getString("case_id"));
  c.set_arrival_id(row.getString("arrival_id"));
  c.set_owner_agency(row.getString("owner_agency"));
  c.set_status(static_cast<enlace::v1::CaseStatus>(row.getInt("status")));
  c.set_department_code(row.getString("department_code"));
  c.set_municipality(row.getString("municipality"));
  c.set_summary(row.getString("summary"));
  if (c.owner_agency() == viewer.agency)
    c.set_psychosocial_notes(row.getString("psychosocial_notes"));
  c.set_etag(EtagOf(row.getInt("version")));
  *c.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(row.getInt64("created_at_us"));
  *c.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(row.getInt64("updated_at_us"));
  return c;
}

void LoadServices(MysqlConnection& conn, int64_t case_seq, const Viewer& viewer, Case* out) {
  sql::PreparedStatement* select = conn.Prepare(
      "SELECT s.service_id, s.service, s.delivered_on, s.notes, s.recorded_by, s.recorded_at_us, "
      "s.amount_usd_cents, i.initiative_id, s.training_hours, s.training_completed "
      "FROM case_services s LEFT JOIN initiatives i ON i.seq = s.initiative_seq "
      "WHERE s.case_seq = ? ORDER BY s.seq");
  select->setInt64(1, case_seq);
  std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
  while (rows->next()) {
    enlace::v1::ServiceRecord* s = out->add_services();
    s->set_service_id(rows->getString("service_id"));
    s->set_case_id(out->case_id());
    s->set_service(static_cast<enlace::v1::Need>(rows->getInt("service")));
    s->set_delivered_on(rows->getString("delivered_on"));
    s->set_recorded_by(rows->getString("recorded_by"));
    // Notes and amounts stay with the case's owner and the agency that
    // wrote them.
    if (out->owner_agency() == viewer.agency || s->recorded_by() == viewer.agency) {
      s->set_notes(rows->getString("notes"));
      s->set_amount_usd_cents(rows->getInt64("amount_usd_cents"));
    }
    if (!rows->isNull("initiative_id")) s->set_initiative_id(rows->getString("initiative_id"));
    s->set_training_hours(static_cast<double>(rows->getDouble("training_hours")));
    s->set_training_completed(rows->getInt("training_completed") != 0);
    *s->mutable_recorded_at() = TimeUtil::MicrosecondsToTimestamp(rows->getInt64("recorded_at_us"));
  }
}

// The case as the viewer may see it, with its seq and arrival seq; found is
// false when it is not visible. `for_update` locks the row.
struct VisibleCase {
  bool found = false;
  int64_t seq = 0;
  int64_t arrival_seq = 0;
  int version = 0;
  Case value;
};

VisibleCase FindVisibleCase(MysqlConnection& conn, const std::string& case_id, const Viewer& viewer,
                            bool for_update) {
  sql::PreparedStatement* select = conn.Prepare(absl::StrCat(
      "SELECT ", kCaseColumns, kCaseFrom, "WHERE c.case_id = ? AND ", ConsentAllowsViewerTheCase(),
      " AND ", OwnsOrReceived(), for_update ? " FOR UPDATE" : ""));
  select->setString(1, case_id);
  select->setString(2, viewer.agency);
  select->setString(3, viewer.agency);
  select->setString(4, viewer.agency);
  std::unique_ptr<sql::ResultSet> row(select->executeQuery());
  VisibleCase found;
  if (!row->next()) return found;
  found.found = true;
  found.seq = row->getInt64("seq");
  found.arrival_seq = row->getInt64("arrival_seq");
  found.version = row->getInt("version");
  found.value = RowToCase(*row, viewer);
  return found;
}

// The returnee summary a referral's parties may see.
void LoadReturnee(MysqlConnection& conn, int64_t arrival_seq, Referral* referral) {
  sql::PreparedStatement* select = conn.Prepare(
      "SELECT given_name, family_name, sex, municipality, needs_mask FROM arrivals WHERE seq = ?");
  select->setInt64(1, arrival_seq);
  std::unique_ptr<sql::ResultSet> row(select->executeQuery());
  if (!row->next()) return;
  enlace::v1::ReturneeSummary* r = referral->mutable_returnee();
  r->set_given_name(row->getString("given_name"));
  r->set_family_name(row->getString("family_name"));
  r->set_sex(static_cast<enlace::v1::Sex>(row->getInt("sex")));
  r->set_municipality(row->getString("municipality"));
  uint32_t needs = row->getUInt("needs_mask");
  for (int n = enlace::v1::Need_MIN + 1; n <= enlace::v1::Need_MAX; ++n) {
    if (needs & (1u << n)) r->add_needs(static_cast<enlace::v1::Need>(n));
  }
}

// Referrals joined with their case and arrival, for the visibility rule.
constexpr char kReferralFrom[] =
    " FROM referrals r JOIN cases c ON c.seq = r.case_seq JOIN arrivals a ON a.seq = "
    "c.arrival_seq ";

// A referral visible to the viewer: its sender or receiver, allowed by the
// consent, between agencies an agreement in force lets refer (3
// parameters: the agency three times; needs kReferralFrom).
const std::string& ReferralVisible() {
  static const std::string* const sql = new std::string(absl::StrCat(
      "(r.from_agency = ? OR r.to_agency = ?) AND ",
      ConsentAllowsSql(Reach::kReferral, "c.arrival_seq", "a.consent_purposes_mask",
                       "a.submitted_by"),
      " AND ", AgreementInForceSql("r.from_agency", "r.to_agency", ReferralPurposeMask())));
  return *sql;
}

bool TransitionAllowed(enlace::v1::ReferralStatus from, enlace::v1::ReferralStatus to) {
  using enlace::v1::ReferralStatus;
  switch (from) {
    case enlace::v1::REFERRAL_STATUS_PENDING:
      return to == enlace::v1::REFERRAL_STATUS_ACCEPTED ||
             to == enlace::v1::REFERRAL_STATUS_DECLINED ||
             to == enlace::v1::REFERRAL_STATUS_WITHDRAWN;
    case enlace::v1::REFERRAL_STATUS_ACCEPTED:
      return to == enlace::v1::REFERRAL_STATUS_COMPLETED ||
             to == enlace::v1::REFERRAL_STATUS_WITHDRAWN;
    default: return false;
  }
}

enlace::v1::ReferralEventType EventFor(enlace::v1::ReferralStatus to) {
  switch (to) {
    case enlace::v1::REFERRAL_STATUS_ACCEPTED: return enlace::v1::REFERRAL_EVENT_TYPE_ACCEPTED;
    case enlace::v1::REFERRAL_STATUS_DECLINED: return enlace::v1::REFERRAL_EVENT_TYPE_DECLINED;
    case enlace::v1::REFERRAL_STATUS_COMPLETED: return enlace::v1::REFERRAL_EVENT_TYPE_COMPLETED;
    case enlace::v1::REFERRAL_STATUS_WITHDRAWN: return enlace::v1::REFERRAL_EVENT_TYPE_WITHDRAWN;
    default: return enlace::v1::REFERRAL_EVENT_TYPE_UNSPECIFIED;
  }
}

}  // namespace

// --- Cases -----------------------------------------------------------------

absl::StatusOr<Case> MysqlCaseStore::OpenCase(const std::string& arrival_id,
                                              const std::string& summary, const Viewer& viewer,
                                              AuditRecord* audit) {
  std::string case_id;
  Case opened;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& conn) -> absl::Status {
    sql::PreparedStatement* select = conn.Prepare(
        absl::StrCat("SELECT a.seq, a.submitted_by, a.department_code, a.municipality, "
                     "a.consent_purposes_mask FROM arrivals a WHERE a.arrival_id = ? AND ",
                     ConsentAllowsSql(Reach::kArrivalRecord, "a.seq", "a.consent_purposes_mask",
                                      "a.submitted_by"),
                     // Exclusive: cases of one returnee are opened one at a
                     // time, so whether this is the returnee's first case
                     // (the report's returnees served) is decided on every
                     // case opened before it.
                     " FOR UPDATE"));
    select->setString(1, arrival_id);
    select->setString(2, viewer.agency);
    std::unique_ptr<sql::ResultSet> row(select->executeQuery());
    if (!row->next()) {
      return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
    }
    if ((row->getUInt("consent_purposes_mask") & PurposesAllowing(Reach::kCase)) == 0) {
      return absl::FailedPreconditionError(
          "arrival_id: the returnee's consent does not cover reintegration");
    }
    // The record may reach the viewer for PROTECTION alone: a case needs
    // the agreement with the submitter to cover REINTEGRATION too.
    const std::string submitter = row->getString("submitted_by");
    if (!AgreementInForce(conn, submitter, viewer.agency, PurposesAllowing(Reach::kCase))) {
      return absl::FailedPreconditionError(absl::StrCat(
          "arrival_id: no data-sharing agreement in force between ", viewer.agency, " and ",
          std::string(row->getString("submitted_by")), " covers REINTEGRATION"));
    }
    absl::StatusOr<std::string> id = NewRecordId();
    if (!id.ok()) return id.status();
    case_id = *id;
    int64_t now = NowMicros();
    sql::PreparedStatement* insert = conn.Prepare(
        "INSERT INTO cases (case_id, arrival_seq, owner_agency, status, department_code, "
        "municipality, summary, psychosocial_notes, version, created_at_us, updated_at_us) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, '', 1, ?, ?)");
    insert->setString(1, case_id);
    insert->setInt64(2, row->getInt64("seq"));
    insert->setString(3, viewer.agency);
    insert->setInt(4, enlace::v1::CASE_STATUS_OPEN);
    insert->setString(5, row->getString("department_code"));
    insert->setString(6, row->getString("municipality"));
    insert->setString(7, summary);
    insert->setInt64(8, now);
    insert->setInt64(9, now);
    insert->executeUpdate();
    CountInGrid(conn, ReportGridTable::kCases, {LastInsertId(conn)}, +1);
    row.reset();
    opened = FindVisibleCase(conn, case_id, viewer, /*for_update=*/false).value;
    change.Append(conn, {case_id});
    return absl::OkStatus();
  });
  if (status.ok()) change.Settle();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("arrival_id: ", viewer.agency, " already has a case for this arrival"));
  }
  if (!status.ok()) return status;
  return opened;
}

absl::StatusOr<Case> MysqlCaseStore::GetCase(const std::string& case_id, const Viewer& viewer) {
  VisibleCase found;
  absl::Status status = pool_->Run([&](MysqlConnection& conn) {
    found = FindVisibleCase(conn, case_id, viewer, /*for_update=*/false);
    if (found.found) LoadServices(conn, found.seq, viewer, &found.value);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found.found) return CaseNotFound(case_id);
  return found.value;
}

namespace {

std::string CaseFilterConditions(const CaseFilter& filter) {
  std::string out;
  if (filter.status != enlace::v1::CASE_STATUS_UNSPECIFIED) out += " AND c.status = ?";
  if (!filter.municipality.empty()) out += " AND c.municipality = ?";
  return out;
}

unsigned BindCaseFilter(sql::PreparedStatement* statement, unsigned p, const CaseFilter& filter) {
  if (filter.status != enlace::v1::CASE_STATUS_UNSPECIFIED) statement->setInt(p++, filter.status);
  if (!filter.municipality.empty()) statement->setString(p++, filter.municipality);
  return p;
}

}  // namespace

std::string CaseListSql(const CaseFilter& filter) {
  // The cases a viewer owns, from (owner_agency, seq), and those it holds a
  // live referral of, from (to_agency, case_seq): the first page of each,
  // consent checked by one primary-key lookup per row, then the first of
  // their union. Never a scan of cases filtered row by row.
  const ConsentJoin consent = ConsentJoinSql(Reach::kCase, "v", "c.arrival_seq",
                                             "a.consent_purposes_mask", "a.submitted_by");
  return absl::StrCat(
      "SELECT ", kCaseColumns, kCaseFrom,
      "JOIN ("
      "(SELECT c.seq FROM cases c FORCE INDEX (k_cases_owner) "
      "STRAIGHT_JOIN arrivals a ON a.seq = c.arrival_seq",
      consent.join, " WHERE c.owner_agency = ? AND c.seq > ? AND ", consent.condition,
      CaseFilterConditions(filter),
      " ORDER BY c.seq LIMIT ?) UNION ("
      "SELECT rr.case_seq FROM referrals rr FORCE INDEX (k_referrals_to_case) "
      "STRAIGHT_JOIN cases c ON c.seq = rr.case_seq "
      "STRAIGHT_JOIN arrivals a ON a.seq = c.arrival_seq",
      consent.join,
      " WHERE rr.to_agency = ? AND rr.case_seq > ? AND rr.status IN (1, 2, 4) AND "
      // One row per case: its first live referral to the viewer. Not
      // DISTINCT, which reads every row into a temporary table before the
      // LIMIT; a scalar subquery is never flattened into a join, so it stays
      // one lookup of the case's few referrals per row.
      "rr.seq = (SELECT MIN(r2.seq) FROM referrals r2 WHERE r2.case_seq = rr.case_seq "
      "AND r2.to_agency = rr.to_agency AND r2.status IN (1, 2, 4)) AND ",
      consent.condition, CaseFilterConditions(filter),
      " ORDER BY rr.case_seq LIMIT ?)) visible ON c.seq = visible.seq ORDER BY c.seq LIMIT ?");
}

void BindCaseList(sql::PreparedStatement* statement, const CaseFilter& filter, const Viewer& viewer,
                  int64_t after, int rows) {
  unsigned p = 1;
  statement->setString(p++, viewer.agency);  // the owner branch's consent join
  statement->setString(p++, viewer.agency);
  statement->setInt64(p++, after);
  p = BindCaseFilter(statement, p, filter);
  statement->setInt(p++, rows);
  statement->setString(p++, viewer.agency);  // the receiver branch's consent join
  statement->setString(p++, viewer.agency);
  statement->setInt64(p++, after);
  p = BindCaseFilter(statement, p, filter);
  statement->setInt(p++, rows);
  statement->setInt(p++, rows);
}

absl::StatusOr<CasePage> MysqlCaseStore::ListCases(const CaseFilter& filter, const Viewer& viewer,
                                                   int64_t after, int limit) {
  const std::string text = CaseListSql(filter);
  CasePage page;
  absl::Status status = pool_->Run([&](MysqlConnection& conn) {
    sql::PreparedStatement* select = conn.Prepare(text);
    BindCaseList(select, filter, viewer, after, limit + 1);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      if (static_cast<int>(page.cases.size()) == limit) {
        page.more = true;
        break;
      }
      page.last_position = rows->getInt64("seq");
      page.cases.push_back(RowToCase(*rows, viewer));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

absl::StatusOr<Case> MysqlCaseStore::UpdateCase(const Case& update, const std::string& etag,
                                                const Viewer& viewer, AuditRecord* audit) {
  Case updated;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& conn) -> absl::Status {
    VisibleCase found = FindVisibleCase(conn, update.case_id(), viewer, /*for_update=*/true);
    if (!found.found) return CaseNotFound(update.case_id());
    if (found.value.owner_agency() != viewer.agency) {
      return absl::PermissionDeniedError("only the case's owner may update it");
    }
    if (etag != EtagOf(found.version)) {
      return absl::AbortedError(absl::StrCat("etag: the case changed since it was read (now ",
                                             EtagOf(found.version), "); read it again"));
    }
    // A new status moves the case to another cell of the report's grid.
    bool moves = update.status() != found.value.status();
    if (moves) CountInGrid(conn, ReportGridTable::kCases, {found.seq}, -1);
    sql::PreparedStatement* write = conn.Prepare(
        "UPDATE cases SET status = ?, summary = ?, psychosocial_notes = ?, version = ?, "
        "updated_at_us = ? WHERE seq = ?");
    write->setInt(1, update.status());
    write->setString(2, update.summary());
    write->setString(3, update.psychosocial_notes());
    write->setInt(4, found.version + 1);
    write->setInt64(5, NowMicros());
    write->setInt64(6, found.seq);
    write->executeUpdate();
    if (moves) CountInGrid(conn, ReportGridTable::kCases, {found.seq}, +1);
    VisibleCase now = FindVisibleCase(conn, update.case_id(), viewer, /*for_update=*/false);
    LoadServices(conn, now.seq, viewer, &now.value);
    updated = std::move(now.value);
    change.Append(conn);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return updated;
}

absl::StatusOr<enlace::v1::ServiceRecord> MysqlCaseStore::RecordService(
    const enlace::v1::RecordServiceRequest& request, const Viewer& viewer, AuditRecord* audit) {
  enlace::v1::ServiceRecord record;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& conn) -> absl::Status {
    VisibleCase found = FindVisibleCase(conn, request.case_id(), viewer, /*for_update=*/false);
    if (!found.found) return CaseNotFound(request.case_id());
    if (found.value.owner_agency() != viewer.agency) {
      sql::PreparedStatement* accepted = conn.Prepare(
          "SELECT 1 FROM referrals WHERE case_seq = ? AND to_agency = ? AND service = ? "
          "AND status = ?");
      accepted->setInt64(1, found.seq);
      accepted->setString(2, viewer.agency);
      accepted->setInt(3, request.service());
      accepted->setInt(4, enlace::v1::REFERRAL_STATUS_ACCEPTED);
      std::unique_ptr<sql::ResultSet> row(accepted->executeQuery());
      if (!row->next()) {
        return absl::PermissionDeniedError(
            "only the case's owner, or an agency holding an accepted referral for this "
            "service, may record it");
      }
    }
    // A disbursement goes to an initiative of this very case.
    std::optional<int64_t> initiative_seq;
    if (!request.initiative_id().empty()) {
      sql::PreparedStatement* initiative =
          conn.Prepare("SELECT seq FROM initiatives WHERE initiative_id = ? AND case_seq = ?");
      initiative->setString(1, request.initiative_id());
      initiative->setInt64(2, found.seq);
      std::unique_ptr<sql::ResultSet> row(initiative->executeQuery());
      if (!row->next()) {
        return absl::InvalidArgumentError(
            "initiative_id: not an initiative of this case (see ListInitiatives)");
      }
      initiative_seq = row->getInt64(1);
    }
    absl::StatusOr<std::string> id = NewRecordId();
    if (!id.ok()) return id.status();
    int64_t now = NowMicros();
    sql::PreparedStatement* insert = conn.Prepare(
        "INSERT INTO case_services (service_id, case_seq, service, delivered_on, notes, "
        "recorded_by, recorded_at_us, amount_usd_cents, initiative_seq, training_hours, "
        "training_completed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert->setString(1, *id);
    insert->setInt64(2, found.seq);
    insert->setInt(3, request.service());
    insert->setString(4, request.delivered_on());
    insert->setString(5, request.notes());
    insert->setString(6, viewer.agency);
    insert->setInt64(7, now);
    insert->setInt64(8, request.amount_usd_cents());
    if (initiative_seq) {
      insert->setInt64(9, *initiative_seq);
    } else {
      insert->setNull(9, 0);
    }
    insert->setDouble(10, request.training_hours());
    insert->setInt(11, request.training_completed() ? 1 : 0);
    insert->executeUpdate();
    CountInGrid(conn, ReportGridTable::kServices, {LastInsertId(conn)}, +1);
    if (initiative_seq) {
      sql::PreparedStatement* disbursed = conn.Prepare(
          "UPDATE initiatives SET disbursed_usd_cents = disbursed_usd_cents + ? WHERE seq = ?");
      disbursed->setInt64(1, request.amount_usd_cents());
      disbursed->setInt64(2, *initiative_seq);
      disbursed->executeUpdate();
    }
    record.set_service_id(*id);
    record.set_case_id(request.case_id());
    record.set_service(request.service());
    record.set_delivered_on(request.delivered_on());
    record.set_notes(request.notes());
    record.set_recorded_by(viewer.agency);
    record.set_amount_usd_cents(request.amount_usd_cents());
    record.set_initiative_id(request.initiative_id());
    record.set_training_hours(request.training_hours());
    record.set_training_completed(request.training_completed());
    *record.mutable_recorded_at() = TimeUtil::MicrosecondsToTimestamp(now);
    std::vector<std::string> ids = {*id};
    if (initiative_seq) ids.push_back(request.initiative_id());
    change.Append(conn, ids);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return record;
}

namespace {

// The columns of an initiative as RowToInitiative reads them (needs `i` and
// `c`, its case).
constexpr char kInitiativeColumns[] =
    "i.seq, i.initiative_id, c.case_id, i.owner_agency, i.name, i.sector, i.department_code, "
    "i.municipality, i.registered_at_us, i.status, i.jobs_created, i.woman_led, i.version, "
    "i.updated_at_us, i.disbursed_usd_cents";

// An initiative row; the case id and the money disbursed only to its owner.
enlace::v1::Initiative RowToInitiative(sql::ResultSet& row, const Viewer& viewer) {
  enlace::v1::Initiative i;
  i.set_initiative_id(row.getString("initiative_id"));
  i.set_owner_agency(row.getString("owner_agency"));
  if (i.owner_agency() == viewer.agency) {
    i.set_case_id(row.getString("case_id"));
    i.set_disbursed_usd_cents(row.getInt64("disbursed_usd_cents"));
  }
  i.set_name(row.getString("name"));
  i.set_sector(row.getString("sector"));
  i.set_department_code(row.getString("department_code"));
  i.set_municipality(row.getString("municipality"));
  i.set_status(static_cast<enlace::v1::InitiativeStatus>(row.getInt("status")));
  i.set_jobs_created(row.getInt("jobs_created"));
  i.set_woman_led(row.getInt("woman_led") != 0);
  i.set_etag(EtagOf(row.getInt("version")));
  *i.mutable_registered_at() = TimeUtil::MicrosecondsToTimestamp(row.getInt64("registered_at_us"));
  *i.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(row.getInt64("updated_at_us"));
  return i;
}

// The initiative `initiative_id` as its owner reads it, with its seq and
// version; nullopt when there is none. `for_update` locks the row.
struct FoundInitiative {
  int64_t seq = 0;
  int version = 0;
  enlace::v1::Initiative value;
};

std::optional<FoundInitiative> FindInitiative(MysqlConnection& conn,
                                              const std::string& initiative_id,
                                              const Viewer& viewer, bool for_update) {
  sql::PreparedStatement* select = conn.Prepare(absl::StrCat(
      "SELECT ", kInitiativeColumns,
      " FROM initiatives i JOIN cases c ON c.seq = i.case_seq WHERE i.initiative_id = ?",
      for_update ? " FOR UPDATE" : ""));
  select->setString(1, initiative_id);
  std::unique_ptr<sql::ResultSet> row(select->executeQuery());
  if (!row->next()) return std::nullopt;
  FoundInitiative found;
  found.seq = row->getInt64("seq");
  found.version = row->getInt("version");
  found.value = RowToInitiative(*row, viewer);
  return found;
}

}  // namespace

absl::StatusOr<enlace::v1::Initiative> MysqlCaseStore::RegisterInitiative(
    const enlace::v1::RegisterInitiativeRequest& request, const Viewer& viewer,
    AuditRecord* audit) {
  enlace::v1::Initiative initiative;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& conn) -> absl::Status {
    VisibleCase found = FindVisibleCase(conn, request.case_id(), viewer, /*for_update=*/false);
    if (!found.found) return CaseNotFound(request.case_id());
    if (found.value.owner_agency() != viewer.agency) {
      return absl::PermissionDeniedError("only the case's owner may register its initiatives");
    }
    absl::StatusOr<std::string> id = NewRecordId();
    if (!id.ok()) return id.status();
    int64_t now = NowMicros();
    std::string place =
        request.municipality().empty() ? found.value.municipality() : request.municipality();
    enlace::v1::InitiativeStatus initial =
        request.status() == enlace::v1::INITIATIVE_STATUS_UNSPECIFIED
            ? enlace::v1::INITIATIVE_STATUS_PLANNED
            : request.status();
    sql::PreparedStatement* insert = conn.Prepare(
        "INSERT INTO initiatives (initiative_id, case_seq, owner_agency, name, sector, "
        "department_code, municipality, registered_at_us, status, jobs_created, woman_led, "
        "version, updated_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)");
    insert->setString(1, *id);
    insert->setInt64(2, found.seq);
    insert->setString(3, viewer.agency);
    insert->setString(4, request.name());
    insert->setString(5, request.sector());
    insert->setString(6, found.value.department_code());
    insert->setString(7, place);
    insert->setInt64(8, now);
    insert->setInt(9, initial);
    insert->setInt(10, request.jobs_created());
    insert->setInt(11, request.woman_led() ? 1 : 0);
    insert->setInt64(12, now);
    insert->executeUpdate();
    CountInGrid(conn, ReportGridTable::kInitiatives, {LastInsertId(conn)}, +1);
    std::optional<FoundInitiative> stored = FindInitiative(conn, *id, viewer, false);
    if (!stored) return absl::InternalError("the initiative just registered cannot be read");
    initiative = std::move(stored->value);
    change.Append(conn, {*id});
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return initiative;
}

absl::StatusOr<enlace::v1::Initiative> MysqlCaseStore::UpdateInitiative(
    const enlace::v1::Initiative& update, const std::string& etag, const Viewer& viewer,
    AuditRecord* audit) {
  enlace::v1::Initiative updated;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& conn) -> absl::Status {
    std::optional<FoundInitiative> found =
        FindInitiative(conn, update.initiative_id(), viewer, /*for_update=*/true);
    absl::Status not_found =
        absl::NotFoundError(absl::StrCat("initiative ", update.initiative_id(), " not found"));
    if (!found) return not_found;
    // Visible as ListInitiatives shows it: the consent allows the viewer.
    sql::PreparedStatement* visible =
        conn.Prepare(absl::StrCat("SELECT 1 FROM initiatives i JOIN cases c ON c.seq = i.case_seq "
                                  "JOIN arrivals a ON a.seq = c.arrival_seq WHERE i.seq = ? AND ",
                                  ConsentAllowsSql(Reach::kInitiative, "c.arrival_seq",
                                                   "a.consent_purposes_mask", "a.submitted_by")));
    visible->setInt64(1, found->seq);
    visible->setString(2, viewer.agency);
    std::unique_ptr<sql::ResultSet> row(visible->executeQuery());
    if (!row->next()) return not_found;
    if (found->value.owner_agency() != viewer.agency) {
      return absl::PermissionDeniedError("only the initiative's owner may update it");
    }
    if (etag != EtagOf(found->version)) {
      return absl::AbortedError(absl::StrCat("etag: the initiative changed since it was read (now ",
                                             EtagOf(found->version), "); read it again"));
    }
    // Status, woman-led and jobs are part of the initiative's grid cell.
    CountInGrid(conn, ReportGridTable::kInitiatives, {found->seq}, -1);
    sql::PreparedStatement* write = conn.Prepare(
        "UPDATE initiatives SET status = ?, jobs_created = ?, woman_led = ?, version = ?, "
        "updated_at_us = ? WHERE seq = ?");
    write->setInt(1, update.status());
    write->setInt(2, update.jobs_created());
    write->setInt(3, update.woman_led() ? 1 : 0);
    write->setInt(4, found->version + 1);
    write->setInt64(5, NowMicros());
    write->setInt64(6, found->seq);
    write->executeUpdate();
    CountInGrid(conn, ReportGridTable::kInitiatives, {found->seq}, +1);
    std::optional<FoundInitiative> now =
        FindInitiative(conn, update.initiative_id(), viewer, false);
    if (!now) return absl::InternalError("the initiative just updated cannot be read");
    updated = std::move(now->value);
    change.Append(conn);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return updated;
}

namespace {

// Only initiatives of returnees whose consent allows the viewer
// (Reach::kInitiative): the name, owner and place of an initiative tell
// about the person who runs it. Parameters: the viewer, then the
// municipality if any.
std::string InitiativeFromWhere(bool by_municipality) {
  return absl::StrCat(
      " FROM initiatives i JOIN cases c ON c.seq = i.case_seq "
      "JOIN arrivals a ON a.seq = c.arrival_seq WHERE ",
      ConsentAllowsSql(Reach::kInitiative, "c.arrival_seq", "a.consent_purposes_mask",
                       "a.submitted_by"),
      by_municipality ? " AND i.municipality = ?" : "");
}

}  // namespace

std::string InitiativeListSql(bool by_municipality) {
  // All initiatives in seq order (primary key) from the keyset position, or
  // those of one municipality in seq order (its index); case and arrival by
  // primary key.
  return absl::StrCat("SELECT ", kInitiativeColumns, InitiativeFromWhere(by_municipality),
                      " AND i.seq > ? ORDER BY i.seq LIMIT ?");
}

void BindInitiativeList(sql::PreparedStatement* statement, const std::string& municipality,
                        const Viewer& viewer, int64_t after, int rows) {
  unsigned p = 1;
  statement->setString(p++, viewer.agency);
  if (!municipality.empty()) statement->setString(p++, municipality);
  statement->setInt64(p++, after);
  statement->setInt(p++, rows);
}

absl::StatusOr<InitiativePage> MysqlCaseStore::ListInitiatives(const std::string& municipality,
                                                               const Viewer& viewer, int64_t after,
                                                               int limit) {
  InitiativePage page;
  absl::Status status = pool_->Run([&](MysqlConnection& conn) {
    sql::PreparedStatement* select = conn.Prepare(InitiativeListSql(!municipality.empty()));
    BindInitiativeList(select, municipality, viewer, after, limit + 1);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      if (static_cast<int>(page.initiatives.size()) == limit) {
        page.more = true;
        break;
      }
      page.last_position = rows->getInt64("seq");
      page.initiatives.push_back(RowToInitiative(*rows, viewer));
    }
    rows.reset();
    sql::PreparedStatement* count =
        conn.Prepare(absl::StrCat("SELECT COUNT(*)", InitiativeFromWhere(!municipality.empty())));
    count->setString(1, viewer.agency);
    if (!municipality.empty()) count->setString(2, municipality);
    std::unique_ptr<sql::ResultSet> total(count->executeQuery());
    if (total->next()) page.total_count = total->getInt64(1);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

absl::Status MysqlCaseStore::CheckCaseOwner(const std::string& case_id, const Viewer& viewer) {
  bool owner = false;
  absl::Status status = pool_->Run([&](MysqlConnection& conn) {
    VisibleCase found = FindVisibleCase(conn, case_id, viewer, /*for_update=*/false);
    owner = found.found && found.value.owner_agency() == viewer.agency;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return owner ? absl::OkStatus() : CaseNotFound(case_id);
}

// --- Referrals -------------------------------------------------------------

absl::StatusOr<Referral> MysqlCaseStore::CreateReferral(const std::string& case_id,
                                                        const std::string& to_agency,
                                                        enlace::v1::Need service,
                                                        const std::string& reason,
                                                        const Viewer& viewer, AuditRecord* audit) {
  std::string referral_id;
  Referral created;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& conn) -> absl::Status {
    VisibleCase found = FindVisibleCase(conn, case_id, viewer, /*for_update=*/false);
    if (!found.found) return CaseNotFound(case_id);
    if (found.value.owner_agency() != viewer.agency) {
      return absl::PermissionDeniedError("only the case's owner may refer it");
    }
    if (to_agency == viewer.agency) {
      return absl::InvalidArgumentError("to_agency: a case cannot be referred to its owner");
    }
    if (!AgreementInForce(conn, viewer.agency, to_agency, PurposesAllowing(Reach::kReferral))) {
      return absl::FailedPreconditionError(
          absl::StrCat("to_agency: no data-sharing agreement in force between ", viewer.agency,
                       " and ", to_agency, " covers REINTEGRATION"));
    }
    // Share-lock the arrival: a concurrent consent change waits for this
    // transaction, then sees (and withdraws) the referral if it must.
    sql::PreparedStatement* consent = conn.Prepare(absl::StrCat(
        "SELECT ",
        ConsentAllowsSql(Reach::kReferral, "a.seq", "a.consent_purposes_mask", "a.submitted_by"),
        " FROM arrivals a WHERE a.seq = ? LOCK IN SHARE MODE"));
    consent->setString(1, to_agency);
    consent->setInt64(2, found.arrival_seq);
    std::unique_ptr<sql::ResultSet> allowed(consent->executeQuery());
    if (!allowed->next() || !allowed->getBoolean(1)) {
      return absl::FailedPreconditionError(
          absl::StrCat("to_agency: the returnee's consent does not let ", to_agency,
                       " receive referrals (it must name it, for REINTEGRATION, under a "
                       "data-sharing agreement in force with the arrival's submitter)"));
    }
    absl::StatusOr<std::string> id = NewRecordId();
    if (!id.ok()) return id.status();
    referral_id = *id;
    int64_t now = NowMicros();
    sql::PreparedStatement* insert = conn.Prepare(
        "INSERT INTO referrals (referral_id, case_seq, from_agency, to_agency, service, reason, "
        "status, decline_reason, outcome, version, created_at_us, updated_at_us) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, '', '', 1, ?, ?)");
    insert->setString(1, referral_id);
    insert->setInt64(2, found.seq);
    insert->setString(3, viewer.agency);
    insert->setString(4, to_agency);
    insert->setInt(5, service);
    insert->setString(6, reason);
    insert->setInt(7, enlace::v1::REFERRAL_STATUS_PENDING);
    insert->setInt64(8, now);
    insert->setInt64(9, now);
    insert->executeUpdate();
    sql::PreparedStatement* select = conn.Prepare(absl::StrCat(
        "SELECT ", kReferralColumns,
        " FROM referrals r JOIN cases c ON c.seq = r.case_seq WHERE r.referral_id = ?"));
    select->setString(1, referral_id);
    std::unique_ptr<sql::ResultSet> row(select->executeQuery());
    row->next();
    CountInGrid(conn, ReportGridTable::kReferrals, {row->getInt64("referral_seq")}, +1);
    created = RowToReferral(*row);
    AppendReferralEvent(conn, row->getInt64("referral_seq"), found.arrival_seq,
                        enlace::v1::REFERRAL_EVENT_TYPE_CREATED, created, now);
    row.reset();
    LoadReturnee(conn, found.arrival_seq, &created);
    change.Append(conn, {referral_id});
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return created;
}

absl::StatusOr<Referral> MysqlCaseStore::GetReferral(const std::string& referral_id,
                                                     const Viewer& viewer) {
  Referral referral;
  bool found = false;
  absl::Status status = pool_->Run([&](MysqlConnection& conn) {
    sql::PreparedStatement* select =
        conn.Prepare(absl::StrCat("SELECT ", kReferralColumns, kReferralFrom,
                                  "WHERE r.referral_id = ? AND ", ReferralVisible()));
    select->setString(1, referral_id);
    select->setString(2, viewer.agency);
    select->setString(3, viewer.agency);
    select->setString(4, viewer.agency);
    std::unique_ptr<sql::ResultSet> row(select->executeQuery());
    if (row->next()) {
      found = true;
      referral = RowToReferral(*row);
      LoadReturnee(conn, row->getInt64("arrival_seq"), &referral);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) return ReferralNotFound(referral_id);
  return referral;
}

std::string ReferralListSql(const ReferralFilter& filter) {
  // The box's index, (to_agency, seq) or (from_agency, seq), read in seq
  // order from the keyset position; case and arrival by primary key.
  std::string text = absl::StrCat(
      "SELECT ", kReferralColumns, kReferralFrom, "WHERE r.seq > ? AND ",
      filter.box == enlace::v1::BOX_OUTBOX ? "r.from_agency = ?" : "r.to_agency = ?", " AND ",
      ConsentAllowsSql(Reach::kReferral, "c.arrival_seq", "a.consent_purposes_mask",
                       "a.submitted_by"),
      " AND ", AgreementInForceSql("r.from_agency", "r.to_agency", ReferralPurposeMask()));
  if (!filter.statuses.empty()) {
    absl::StrAppend(&text, " AND r.status IN ", InList(filter.statuses.size()));
  }
  return text + " ORDER BY r.seq LIMIT ?";
}

void BindReferralList(sql::PreparedStatement* statement, const ReferralFilter& filter,
                      const Viewer& viewer, int64_t after, int rows) {
  unsigned p = 1;
  statement->setInt64(p++, after);
  statement->setString(p++, viewer.agency);
  statement->setString(p++, viewer.agency);
  for (enlace::v1::ReferralStatus s : filter.statuses) statement->setInt(p++, s);
  statement->setInt(p++, rows);
}

absl::StatusOr<ReferralPage> MysqlCaseStore::ListReferrals(const ReferralFilter& filter,
                                                           const Viewer& viewer, int64_t after,
                                                           int limit) {
  const std::string text = ReferralListSql(filter);
  ReferralPage page;
  absl::Status status = pool_->Run([&](MysqlConnection& conn) {
    sql::PreparedStatement* select = conn.Prepare(text);
    BindReferralList(select, filter, viewer, after, limit + 1);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    std::vector<int64_t> arrival_seqs;
    while (rows->next()) {
      if (static_cast<int>(page.referrals.size()) == limit) {
        page.more = true;
        break;
      }
      page.last_position = rows->getInt64("referral_seq");
      page.referrals.push_back(RowToReferral(*rows));
      arrival_seqs.push_back(rows->getInt64("arrival_seq"));
    }
    rows.reset();
    for (size_t i = 0; i < page.referrals.size(); ++i) {
      LoadReturnee(conn, arrival_seqs[i], &page.referrals[i]);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

absl::StatusOr<Referral> MysqlCaseStore::TransitionReferral(const Transition& transition,
                                                            const Viewer& viewer,
                                                            AuditRecord* audit) {
  Referral moved;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& conn) -> absl::Status {
    sql::PreparedStatement* select = conn.Prepare(
        absl::StrCat("SELECT ", kReferralColumns, kReferralFrom, "WHERE r.referral_id = ? AND ",
                     ReferralVisible(), " FOR UPDATE"));
    select->setString(1, transition.referral_id);
    select->setString(2, viewer.agency);
    select->setString(3, viewer.agency);
    select->setString(4, viewer.agency);
    std::unique_ptr<sql::ResultSet> row(select->executeQuery());
    if (!row->next()) return ReferralNotFound(transition.referral_id);
    int64_t referral_seq = row->getInt64("referral_seq");
    int64_t arrival_seq = row->getInt64("arrival_seq");
    int version = row->getInt("version");
    Referral referral = RowToReferral(*row);
    bool by_receiver = transition.to != enlace::v1::REFERRAL_STATUS_WITHDRAWN;
    const std::string& allowed = by_receiver ? referral.to_agency() : referral.from_agency();
    if (allowed != viewer.agency) {
      return absl::PermissionDeniedError(
          by_receiver ? "only the receiving agency may accept, decline or complete a referral"
                      : "only the sending agency may withdraw a referral");
    }
    if (!transition.etag.empty() && transition.etag != EtagOf(version)) {
      return absl::AbortedError(absl::StrCat("etag: the referral changed since it was read (now ",
                                             EtagOf(version), "); read it again"));
    }
    if (!TransitionAllowed(referral.status(), transition.to)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the referral is ", enlace::v1::ReferralStatus_Name(referral.status()),
                       " and cannot become ", enlace::v1::ReferralStatus_Name(transition.to)));
    }
    int64_t now = NowMicros();
    std::string decline_reason = referral.decline_reason();
    std::string outcome = referral.outcome();
    if (transition.to == enlace::v1::REFERRAL_STATUS_DECLINED) decline_reason = transition.text;
    if (transition.to == enlace::v1::REFERRAL_STATUS_COMPLETED) outcome = transition.text;
    // The new status moves the referral to another cell of the report's
    // grid. Statuses only move forward (TransitionAllowed), so racing
    // transitions lock cells in one order.
    CountInGrid(conn, ReportGridTable::kReferrals, {referral_seq}, -1);
    sql::PreparedStatement* update = conn.Prepare(
        "UPDATE referrals SET status = ?, decline_reason = ?, outcome = ?, version = ?, "
        "updated_at_us = ? WHERE seq = ?");
    update->setInt(1, transition.to);
    update->setString(2, decline_reason);
    update->setString(3, outcome);
    update->setInt(4, version + 1);
    update->setInt64(5, now);
    update->setInt64(6, referral_seq);
    update->executeUpdate();
    CountInGrid(conn, ReportGridTable::kReferrals, {referral_seq}, +1);
    referral.set_status(transition.to);
    referral.set_decline_reason(decline_reason);
    referral.set_outcome(outcome);
    referral.set_etag(EtagOf(version + 1));
    *referral.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(now);
    AppendReferralEvent(conn, referral_seq, arrival_seq, EventFor(transition.to), referral, now);
    row.reset();
    LoadReturnee(conn, arrival_seq, &referral);
    moved = referral;
    change.Append(conn, {referral.case_id()});
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return moved;
}

// --- The feed --------------------------------------------------------------

absl::StatusOr<std::vector<FeedEvent>> MysqlCaseStore::ReadFeed(int64_t after_seq,
                                                                int64_t up_to_seq,
                                                                const std::string& agency,
                                                                int limit) {
  // Each event comes with its arrival's consent as it is now: readers that
  // deliver events later check them against it (or a newer one).
  std::string text =
      "SELECT e.seq, e.type, e.from_agency, e.to_agency, e.committed_at_us, e.snapshot, "
      "e.arrival_seq, a.submitted_by, a.consent_version, a.consent_purposes_mask, "
      "(SELECT GROUP_CONCAT(ca.agency_code ORDER BY ca.agency_code SEPARATOR ',') "
      " FROM arrival_consent_agencies ca WHERE ca.arrival_seq = e.arrival_seq) AS consent_agencies "
      "FROM referral_events e LEFT JOIN arrivals a ON a.seq = e.arrival_seq WHERE e.seq > ?";
  if (up_to_seq > 0) text += " AND e.seq <= ?";
  if (!agency.empty()) {
    absl::StrAppend(&text, " AND (e.from_agency = ? OR e.to_agency = ?) AND ",
                    ConsentAllowsSql(Reach::kReferral, "e.arrival_seq", "a.consent_purposes_mask",
                                     "a.submitted_by"),
                    " AND ",
                    AgreementInForceSql("e.from_agency", "e.to_agency", ReferralPurposeMask()));
  }
  text += " ORDER BY e.seq LIMIT ?";
  std::vector<FeedEvent> events;
  absl::Status status = pool_->Run([&](MysqlConnection& conn) -> absl::Status {
    events.clear();
    sql::PreparedStatement* select = conn.Prepare(text);
    unsigned p = 1;
    select->setInt64(p++, after_seq);
    if (up_to_seq > 0) select->setInt64(p++, up_to_seq);
    if (!agency.empty()) {
      select->setString(p++, agency);
      select->setString(p++, agency);
      select->setString(p++, agency);
    }
    select->setInt(p++, limit);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      FeedEvent& e = events.emplace_back();
      e.seq = rows->getInt64("seq");
      e.type = static_cast<enlace::v1::ReferralEventType>(rows->getInt("type"));
      e.from_agency = rows->getString("from_agency");
      e.to_agency = rows->getString("to_agency");
      e.committed_at_us = rows->getInt64("committed_at_us");
      e.arrival_seq = rows->getInt64("arrival_seq");
      std::string bytes = rows->getString("snapshot");
      if (e.type == enlace::v1::REFERRAL_EVENT_TYPE_UNSPECIFIED) {
        e.consent_change = true;
        if (!DecodeConsentChange(bytes, &e.consent)) {
          return absl::DataLossError(absl::StrCat("consent change ", e.seq, " is unreadable"));
        }
        continue;
      }
      if (!e.referral.ParseFromString(bytes)) {
        return absl::DataLossError(absl::StrCat("referral event ", e.seq, " is unreadable"));
      }
      if (!rows->isNull("submitted_by")) e.arrival_submitter = rows->getString("submitted_by");
      if (!rows->isNull("consent_version")) {
        e.consent.version = rows->getInt("consent_version");
        e.consent.purposes_mask = rows->getUInt("consent_purposes_mask");
        std::string names = rows->isNull("consent_agencies")
                                ? ""
                                : std::string(rows->getString("consent_agencies"));
        for (absl::string_view name : absl::StrSplit(names, ',', absl::SkipEmpty())) {
          e.consent.agencies.emplace_back(name);
        }
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return events;
}

absl::StatusOr<int64_t> MysqlCaseStore::FeedHead() {
  int64_t head = 0;
  absl::Status status = pool_->Run([&](MysqlConnection& conn) {
    std::unique_ptr<sql::ResultSet> row(
        conn.Prepare("SELECT last_seq FROM referral_feed_head WHERE id = 1")->executeQuery());
    if (row->next()) head = row->getInt64(1);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return head;
}

void ReadRecordsOfArrival(MysqlConnection& c, int64_t arrival_seq, HeldRecords* out) {
  sql::PreparedStatement* cases = c.Prepare(
      absl::StrCat("SELECT ", kCaseColumns, kCaseFrom, "WHERE c.arrival_seq = ? ORDER BY c.seq"));
  cases->setInt64(1, arrival_seq);
  std::unique_ptr<sql::ResultSet> case_rows(cases->executeQuery());
  while (case_rows->next()) {
    // Read as its owner reads it: every field, every service's notes.
    const Viewer owner{case_rows->getString("owner_agency")};
    Case read = RowToCase(*case_rows, owner);
    LoadServices(c, case_rows->getInt64("seq"), owner, &read);
    out->cases.push_back(std::move(read));
  }
  sql::PreparedStatement* referrals = c.Prepare(absl::StrCat(
      "SELECT ", kReferralColumns, kReferralFrom, "WHERE c.arrival_seq = ? ORDER BY r.seq"));
  referrals->setInt64(1, arrival_seq);
  std::unique_ptr<sql::ResultSet> referral_rows(referrals->executeQuery());
  while (referral_rows->next()) out->referrals.push_back(RowToReferral(*referral_rows));
  sql::PreparedStatement* initiatives =
      c.Prepare(absl::StrCat("SELECT ", kInitiativeColumns,
                             " FROM initiatives i JOIN cases c ON c.seq = i.case_seq "
                             "WHERE c.arrival_seq = ? ORDER BY i.seq"));
  initiatives->setInt64(1, arrival_seq);
  std::unique_ptr<sql::ResultSet> initiative_rows(initiatives->executeQuery());
  while (initiative_rows->next()) {
    out->initiatives.push_back(
        RowToInitiative(*initiative_rows, Viewer{initiative_rows->getString("owner_agency")}));
  }
}

}  // namespace enlace::db
