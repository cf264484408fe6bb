// MysqlArrivalStore: arrivals, their consent and its history in MySQL (see
// mysql_arrival_store.h and db/migrations/0001_initial.sql).
#include "db/mysql_arrival_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <map>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "db/crash_points.h"
#include "db/ids.h"
#include "db/mysql_audit_store.h"
#include "db/mysql_person_store.h"
#include "db/mysql_referral_sql.h"
#include "db/mysql_report_grid.h"
#include "db/visibility.h"
#include "google/protobuf/util/time_util.h"

namespace enlace::db {
namespace {

using enlace::v1::Arrival;
using enlace::v1::Consent;
using google::protobuf::util::TimeUtil;

constexpr int kInsertColumns = 20;

template <typename Repeated>
uint32_t MaskOf(const Repeated& values) {
  uint32_t mask = 0;
  for (int v : values) mask |= 1u << v;
  return mask;
}

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToMicroseconds(t);
}

google::protobuf::Timestamp TimestampOfMicros(int64_t us) {
  return TimeUtil::MicrosecondsToTimestamp(us);
}

// The columns every read selects, in the order RowToArrival reads them.
constexpr char kSelectColumns[] =
    "a.seq, a.arrival_id, a.submitted_by, a.external_id, a.arrival_date, a.mode, "
    "a.origin_country, a.given_name, a.family_name, a.birth_date, a.sex, a.document_number, "
    "a.department_code, a.municipality, a.needs_mask, a.consent_purposes_mask, "
    "a.consent_given_at_us, a.consent_guardian_name, a.consent_guardian_relationship, "
    "a.consent_version, a.recorded_at_us, a.version, a.erased_at_us, a.person_id, "
    "a.objected_purposes_mask, "
    "(SELECT GROUP_CONCAT(c.agency_code ORDER BY c.agency_code SEPARATOR ',') "
    " FROM arrival_consent_agencies c WHERE c.arrival_seq = a.seq) AS consent_agencies";

// Visible to a viewer: submitted by it, or the consent allows it the record
// (db/visibility.h). Two placeholders: the viewer's agency, twice.
const std::string& VisibleToViewer() {
  static const std::string* const sql = new std::string(absl::StrCat(
      "(a.submitted_by = ? OR ",
      ConsentAllowsSql(Reach::kArrivalRecord, "a.seq", "a.consent_purposes_mask", "a.submitted_by"),
      ")"));
  return *sql;
}

// The content columns of an arrival and of each of its versions, the same
// names in `arrivals` and `arrival_versions`, in the order BindContent binds
// them.
constexpr char kContentColumns[] =
    "arrival_date, mode, origin_country, given_name, family_name, birth_date, sex, "
    "document_number, department_code, municipality, needs_mask";
constexpr int kContentColumnCount = 11;

// Binds an arrival's content columns (kContentColumns) at *p onwards.
void BindContent(sql::PreparedStatement* statement, unsigned* p, const Arrival& a) {
  statement->setString((*p)++, a.arrival_date());
  statement->setInt((*p)++, a.mode());
  statement->setString((*p)++, a.origin_country());
  statement->setString((*p)++, a.person().given_name());
  statement->setString((*p)++, a.person().family_name());
  statement->setString((*p)++, a.person().birth_date());
  statement->setInt((*p)++, a.person().sex());
  statement->setString((*p)++, a.person().document_number());
  statement->setString((*p)++, a.destination().department_code());
  statement->setString((*p)++, a.destination().municipality());
  statement->setUInt((*p)++, MaskOf(a.needs()));
}

// Reads the content columns (kContentColumns) of `row` into `arrival`.
void ReadContent(sql::ResultSet& row, Arrival* arrival) {
  arrival->set_arrival_date(row.getString("arrival_date"));
  arrival->set_mode(static_cast<enlace::v1::ArrivalMode>(row.getInt("mode")));
  arrival->set_origin_country(row.getString("origin_country"));
  enlace::v1::Person* person = arrival->mutable_person();
  person->set_given_name(row.getString("given_name"));
  person->set_family_name(row.getString("family_name"));
  person->set_birth_date(row.getString("birth_date"));
  person->set_sex(static_cast<enlace::v1::Sex>(row.getInt("sex")));
  person->set_document_number(row.getString("document_number"));
  arrival->mutable_destination()->set_department_code(row.getString("department_code"));
  arrival->mutable_destination()->set_municipality(row.getString("municipality"));
  const uint32_t needs = row.getUInt("needs_mask");
  for (int n = enlace::v1::Need_MIN + 1; n <= enlace::v1::Need_MAX; ++n) {
    if (needs & (1u << n)) arrival->add_needs(static_cast<enlace::v1::Need>(n));
  }
}

}  // namespace

void ReadConsentColumns(sql::ResultSet& row, Consent* consent) {
  std::string agencies = row.isNull("consent_agencies") ? "" : row.getString("consent_agencies");
  for (absl::string_view agency : absl::StrSplit(agencies, ',', absl::SkipEmpty())) {
    consent->add_agencies(std::string(agency));
  }
  uint32_t purposes = row.getUInt("consent_purposes_mask");
  uint32_t objected = row.getUInt("objected_purposes_mask");
  for (int p = enlace::v1::Purpose_MIN + 1; p <= enlace::v1::Purpose_MAX; ++p) {
    if (purposes & (1u << p)) consent->add_purposes(static_cast<enlace::v1::Purpose>(p));
    if (objected & (1u << p)) consent->add_objected_purposes(static_cast<enlace::v1::Purpose>(p));
  }
  if (!row.isNull("consent_given_at_us")) {
    *consent->mutable_given_at() = TimestampOfMicros(row.getInt64("consent_given_at_us"));
  }
  if (!row.isNull("consent_guardian_name")) {
    enlace::v1::Guardian* guardian = consent->mutable_guardian();
    guardian->set_name(row.getString("consent_guardian_name"));
    guardian->set_relationship(
        static_cast<enlace::v1::GuardianRelationship>(row.getInt("consent_guardian_relationship")));
  }
}

namespace {

Arrival RowToArrival(sql::ResultSet& row) {
  Arrival arrival;
  arrival.set_arrival_id(row.getString("arrival_id"));
  arrival.set_submitted_by(row.getString("submitted_by"));
  arrival.set_external_id(row.getString("external_id"));
  ReadContent(row, &arrival);
  ReadConsentColumns(row, arrival.mutable_consent());
  arrival.set_consent_version(row.getInt("consent_version"));
  *arrival.mutable_recorded_at() = TimestampOfMicros(row.getInt64("recorded_at_us"));
  arrival.set_version(row.getInt("version"));
  if (!row.isNull("erased_at_us")) {
    *arrival.mutable_erased_at() = TimestampOfMicros(row.getInt64("erased_at_us"));
  }
  if (!row.isNull("person_id")) arrival.set_person_id(row.getString("person_id"));
  return arrival;
}

// An erased returnee's record takes no new personal data: checked under
// the row's lock, so an erasure committed after the caller's read still
// wins.
absl::Status ErasedError(const std::string& arrival_id) {
  return absl::FailedPreconditionError(
      absl::StrCat("arrival ", arrival_id,
                   " was erased (EraseReturnee): it takes no correction nor consent change"));
}

struct Existing {
  std::string arrival_id;
  std::string content_hash;
};

}  // namespace

absl::string_view ArrivalColumnsSql() { return kSelectColumns; }
const std::string& ArrivalVisibleToViewerSql() { return VisibleToViewer(); }
Arrival ReadArrivalRow(sql::ResultSet& row) { return RowToArrival(row); }

static void InsertArrivals(MysqlConnection& c, absl::Span<const NewArrival> batch,
                           const std::vector<size_t>& to_insert,
                           const std::vector<std::string>& hashes,
                           const std::vector<RecordResult>& results, int64_t now_us);
static void AppendBatchAudit(MysqlConnection& c, absl::Span<const NewArrival> batch,
                             std::vector<RecordResult>* results);

absl::StatusOr<std::vector<RecordResult>> MysqlArrivalStore::RecordBatch(
    absl::Span<const NewArrival> batch) {
  std::vector<std::string> hashes;
  hashes.reserve(batch.size());
  for (const NewArrival& item : batch) hashes.push_back(ArrivalContentHash(item.arrival));

  std::vector<RecordResult> results;
  auto record_all = [&](MysqlConnection& c) -> absl::Status {
    results.assign(batch.size(), RecordResult{});
    // 1. What is already stored, per submitter (one submitter in practice).
    std::map<std::string, std::vector<size_t>> by_submitter;
    for (size_t i = 0; i < batch.size(); ++i) by_submitter[batch[i].submitted_by].push_back(i);
    absl::flat_hash_map<std::string, Existing> known;  // key: submitter '\n' external_id
    auto key_of = [&](size_t i) {
      return absl::StrCat(batch[i].submitted_by, "\n", batch[i].arrival.external_id());
    };
    // Not a structured binding: C++17 does not let the lambda below capture
    // one (g++ allows it, clang, which clang-tidy runs on, does not).
    for (const auto& submitter_indexes : by_submitter) {
      const std::string& submitter = submitter_indexes.first;
      const std::vector<size_t>& indexes = submitter_indexes.second;
      ForEachStatementChunk(indexes.size(), [&](size_t offset, size_t size) {
        sql::PreparedStatement* select =
            c.Prepare(absl::StrCat("SELECT external_id, arrival_id, content_hash FROM arrivals "
                                   "WHERE submitted_by = ? AND external_id IN ",
                                   InList(size)));
        select->setString(1, submitter);
        for (size_t k = 0; k < size; ++k) {
          select->setString(static_cast<unsigned>(k + 2),
                            batch[indexes[offset + k]].arrival.external_id());
        }
        std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
        while (rows->next()) {
          known[absl::StrCat(submitter, "\n", std::string(rows->getString(1)))] =
              Existing{rows->getString(2), rows->getString(3)};
        }
      });
    }
    // 2. Decide each record; records new to the store get an id.
    std::vector<size_t> to_insert;
    int64_t now_us = absl::ToUnixMicros(absl::Now());
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string key = key_of(i);
      auto it = known.find(key);
      if (it == known.end()) {
        absl::StatusOr<std::string> id = NewRecordId();
        if (!id.ok()) return id.status();
        results[i].outcome = enlace::v1::OUTCOME_CREATED;
        results[i].arrival_id = *id;
        known[key] = Existing{*id, hashes[i]};
        to_insert.push_back(i);
      } else if (it->second.content_hash == hashes[i] ||
                 it->second.content_hash == ErasedContentHash()) {
        results[i].outcome = enlace::v1::OUTCOME_ALREADY_RECORDED;
        results[i].arrival_id = it->second.arrival_id;
      } else {
        results[i].outcome = enlace::v1::OUTCOME_REJECTED;
        results[i].status =
            absl::AlreadyExistsError(absl::StrCat("external_id ", batch[i].arrival.external_id(),
                                                  " was already recorded with different content"));
      }
    }
    if (!to_insert.empty()) InsertArrivals(c, batch, to_insert, hashes, results, now_us);
    CrashPoint("mid_batch");  // test-only; see db/crash_points.h
    // 4. The batch's audit events, one per caller and method, naming every
    // arrival it answers with: committed with the batch, before any answer.
    AppendBatchAudit(c, batch, &results);
    return absl::OkStatus();
  };
  // A concurrent writer (another stream or replica) may insert one of our
  // external_ids between our read and our insert: the transaction is rolled
  // back as a whole and run again, and then sees that row.
  absl::Status status;
  for (int attempt = 0; attempt < 4; ++attempt) {
    status = pool_->InTransaction(record_all, /*max_attempts=*/5);
    if (!absl::IsAlreadyExists(status)) break;
  }
  if (absl::IsAlreadyExists(status)) {
    return absl::AbortedError("concurrent writers kept colliding on the same records; retry");
  }
  if (!status.ok()) return status;
  return results;
}

// Binds a consent's guardian as (name or NULL, relationship) at *p, *p + 1.
static void BindGuardian(sql::PreparedStatement* statement, unsigned* p, const Consent& consent) {
  if (consent.has_guardian()) {
    statement->setString((*p)++, consent.guardian().name());
  } else {
    statement->setNull((*p)++, 0);
  }
  statement->setInt((*p)++, consent.has_guardian() ? consent.guardian().relationship() : 0);
}

std::string ArrivalInsertSql(size_t rows) {
  return absl::StrCat(
      "INSERT INTO arrivals (arrival_id, submitted_by, external_id, content_hash, ",
      kContentColumns,
      ", consent_purposes_mask, consent_given_at_us, consent_guardian_name, "
      "consent_guardian_relationship, recorded_at_us, consent_version, person_id) VALUES ",
      // consent_version is 1 for every new row; person_id is
      // random, so that it tells nothing of other arrivals
      // (db/migrations/0014_persons.sql).
      RowPlaceholders(rows, kInsertColumns, ", 1, LOWER(HEX(RANDOM_BYTES(16)))"));
}

void BindArrivalInsertRow(sql::PreparedStatement* insert, unsigned* p, const Arrival& a,
                          const std::string& arrival_id, const std::string& submitted_by,
                          const std::string& content_hash, int64_t recorded_at_us) {
  insert->setString((*p)++, arrival_id);
  insert->setString((*p)++, submitted_by);
  insert->setString((*p)++, a.external_id());
  insert->setString((*p)++, content_hash);
  BindContent(insert, p, a);
  insert->setUInt((*p)++, MaskOf(a.consent().purposes()));
  if (a.consent().has_given_at()) {
    insert->setInt64((*p)++, MicrosOf(a.consent().given_at()));
  } else {
    insert->setNull((*p)++, 0);
  }
  BindGuardian(insert, p, a.consent());
  insert->setInt64((*p)++, recorded_at_us);
}

static void InsertArrivals(MysqlConnection& c, absl::Span<const NewArrival> batch,
                           const std::vector<size_t>& to_insert,
                           const std::vector<std::string>& hashes,
                           const std::vector<RecordResult>& results, int64_t now_us) {
  // 3. Insert the new arrivals, then read back their keys for the consent rows.
  ForEachStatementChunk(to_insert.size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* insert = c.Prepare(ArrivalInsertSql(size));
    unsigned p = 1;
    for (size_t k = 0; k < size; ++k) {
      size_t i = to_insert[offset + k];
      BindArrivalInsertRow(insert, &p, batch[i].arrival, results[i].arrival_id,
                           batch[i].submitted_by, hashes[i], now_us);
    }
    insert->executeUpdate();
  });

  std::vector<std::pair<int64_t, std::string>> consent_rows;  // (seq, agency)
  std::vector<int64_t> new_seqs;
  ForEachStatementChunk(to_insert.size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* select = c.Prepare(
        absl::StrCat("SELECT seq, arrival_id FROM arrivals WHERE arrival_id IN ", InList(size)));
    absl::flat_hash_map<std::string, size_t> index_of_id;
    for (size_t k = 0; k < size; ++k) {
      size_t i = to_insert[offset + k];
      select->setString(static_cast<unsigned>(k + 1), results[i].arrival_id);
      index_of_id[results[i].arrival_id] = i;
    }
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      int64_t seq = rows->getInt64(1);
      new_seqs.push_back(seq);
      const Arrival& a = batch[index_of_id.at(std::string(rows->getString(2)))].arrival;
      for (const std::string& agency : a.consent().agencies()) {
        consent_rows.emplace_back(seq, agency);
      }
    }
  });
  ForEachStatementChunk(consent_rows.size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* insert = c.Prepare(
        absl::StrCat("INSERT INTO arrival_consent_agencies (arrival_seq, agency_code) VALUES ",
                     RowPlaceholders(size, 2)));
    unsigned p = 1;
    for (size_t k = 0; k < size; ++k) {
      insert->setInt64(p++, consent_rows[offset + k].first);
      insert->setString(p++, consent_rows[offset + k].second);
    }
    insert->executeUpdate();
  });
  // The programme report's cells, in the batch's transaction.
  CountInGrid(c, ReportGridTable::kReturnees, new_seqs, +1);
}

static void AppendBatchAudit(MysqlConnection& c, absl::Span<const NewArrival> batch,
                             std::vector<RecordResult>* results) {
  // The call (its shared event template) -> the event, and the results it
  // covers; in the order the calls first appear in the batch.
  std::vector<std::pair<AuditRecord, std::vector<size_t>>> groups;
  absl::flat_hash_map<const AuditRecord*, size_t> group_of;
  for (size_t i = 0; i < batch.size(); ++i) {
    const AuditRecord* source = batch[i].audit.get();
    if (source == nullptr) continue;  // store tests only
    auto [it, added] = group_of.try_emplace(source, groups.size());
    if (added) groups.push_back({*source, {}});
    groups[it->second].second.push_back(i);
  }
  if (groups.empty()) return;
  std::vector<AuditRecord> events;
  std::vector<const std::vector<size_t>*> covers;
  for (auto& group : groups) {
    AuditRecord& event = group.first;
    int created = 0, already = 0, rejected = 0;
    event.record_ids.clear();
    for (size_t i : group.second) {
      const RecordResult& r = (*results)[i];
      if (r.outcome == enlace::v1::OUTCOME_CREATED) ++created;
      if (r.outcome == enlace::v1::OUTCOME_ALREADY_RECORDED) ++already;
      if (r.outcome == enlace::v1::OUTCOME_REJECTED) ++rejected;
      if (!r.arrival_id.empty()) event.record_ids.push_back(r.arrival_id);
    }
    event.detail = absl::StrCat("batch: created=", created, " already_recorded=", already,
                                " rejected=", rejected);
    events.push_back(event);
    covers.push_back(&group.second);
  }
  AppendAuditEvents(c, &events);
  for (size_t g = 0; g < events.size(); ++g) {
    for (size_t i : *covers[g]) (*results)[i].audit_seq = events[g].seq;
  }
}

absl::StatusOr<Arrival> MysqlArrivalStore::Get(const std::string& arrival_id,
                                               const Viewer& viewer) {
  Arrival arrival;
  bool found = false;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select =
        c.Prepare(absl::StrCat("SELECT ", kSelectColumns,
                               " FROM arrivals a WHERE a.arrival_id = ? AND ", VisibleToViewer()));
    select->setString(1, arrival_id);
    select->setString(2, viewer.agency);
    select->setString(3, viewer.agency);
    std::unique_ptr<sql::ResultSet> row(select->executeQuery());
    if (row->next()) {
      arrival = RowToArrival(*row);
      found = true;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  return arrival;
}

namespace {

// The filter's conditions on the arrival aliased `alias`, each " AND ...".
std::string FilterConditions(const ArrivalFilter& filter, absl::string_view alias) {
  std::string out;
  if (!filter.department_code.empty())
    absl::StrAppend(&out, " AND ", alias, ".department_code = ?");
  if (!filter.municipality.empty()) absl::StrAppend(&out, " AND ", alias, ".municipality = ?");
  if (!filter.arrival_date_from.empty())
    absl::StrAppend(&out, " AND ", alias, ".arrival_date >= ?");
  if (!filter.arrival_date_to.empty()) absl::StrAppend(&out, " AND ", alias, ".arrival_date <= ?");
  return out;
}

unsigned BindFilter(sql::PreparedStatement* statement, unsigned p, const ArrivalFilter& filter) {
  if (!filter.department_code.empty()) statement->setString(p++, filter.department_code);
  if (!filter.municipality.empty()) statement->setString(p++, filter.municipality);
  if (!filter.arrival_date_from.empty()) statement->setString(p++, filter.arrival_date_from);
  if (!filter.arrival_date_to.empty()) statement->setString(p++, filter.arrival_date_to);
  return p;
}

}  // namespace

std::string ArrivalListSql(const ArrivalFilter& filter) {
  // A viewer sees what it submitted and what the consent allows it: the
  // first page of each, each a bounded range of an index in seq order
  // ((submitted_by, seq) and the consent's (agency_code, arrival_seq)), then
  // the first of their union. Never a scan of arrivals filtered row by row,
  // whose cost follows the table, not the page. Only fixed fragments are
  // concatenated; every value is a bound parameter.
  return absl::StrCat("SELECT ", kSelectColumns,
                      " FROM arrivals a JOIN ("
                      "(SELECT s.seq FROM arrivals s FORCE INDEX (k_arrivals_submitter_seq) "
                      "WHERE s.submitted_by = ? AND s.seq > ?",
                      FilterConditions(filter, "s"), " ORDER BY s.seq LIMIT ?) UNION (",
                      ConsentedArrivalsSql(Reach::kArrivalRecord, FilterConditions(filter, "c")),
                      " ORDER BY v.arrival_seq LIMIT ?)) visible ON a.seq = visible.seq "
                      "ORDER BY a.seq LIMIT ?");
}

void BindArrivalList(sql::PreparedStatement* statement, const ArrivalFilter& filter,
                     const Viewer& viewer, int64_t after, int rows) {
  unsigned p = 1;
  statement->setString(p++, viewer.agency);
  statement->setInt64(p++, after);
  p = BindFilter(statement, p, filter);
  statement->setInt(p++, rows);
  statement->setString(p++, viewer.agency);
  statement->setInt64(p++, after);
  p = BindFilter(statement, p, filter);
  statement->setInt(p++, rows);
  statement->setInt(p++, rows);
}

absl::StatusOr<ArrivalPage> MysqlArrivalStore::List(const ArrivalFilter& filter,
                                                    const Viewer& viewer, int64_t after,
                                                    int limit) {
  const std::string query = ArrivalListSql(filter);
  ArrivalPage page;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select = c.Prepare(query);
    // One more row than the page tells whether another page exists.
    BindArrivalList(select, filter, viewer, after, limit + 1);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      if (static_cast<int>(page.arrivals.size()) == limit) {
        page.more = true;
        break;
      }
      page.last_position = rows->getInt64("seq");
      page.arrivals.push_back(RowToArrival(*rows));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

namespace {

// FAILED_PRECONDITION naming `purposes` when `consent` gives a purpose the
// returnee objected to (`objected`: 1 << Purpose each).
absl::Status RefuseObjectedPurposes(const Consent& consent, uint32_t objected) {
  const uint32_t refused = MaskOf(consent.purposes()) & objected;
  if (refused == 0) return absl::OkStatus();
  std::vector<std::string> names;
  for (int p = enlace::v1::Purpose_MIN + 1; p <= enlace::v1::Purpose_MAX; ++p) {
    if (refused & (1u << p)) names.push_back(enlace::v1::Purpose_Name(p));
  }
  return absl::FailedPreconditionError(absl::StrCat("purposes: the returnee objected to ",
                                                    absl::StrJoin(names, ", "),
                                                    "; a consent cannot give it back"));
}

// Appends `consent` (agencies in code order) to the arrival's consent
// history as `version`, with the purposes objected to then.
void RecordConsentVersion(MysqlConnection& c, int64_t arrival_seq, int version,
                          const Consent& consent, uint32_t objected, const std::string& changed_by,
                          int64_t now_us) {
  sql::PreparedStatement* insert = c.Prepare(
      "INSERT INTO consent_versions (arrival_seq, version, agencies, purposes_mask, "
      "given_at_us, changed_by, changed_at_us, guardian_name, guardian_relationship, "
      "objected_purposes_mask) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert->setInt64(1, arrival_seq);
  insert->setInt(2, version);
  insert->setString(3, absl::StrJoin(consent.agencies(), ","));
  insert->setUInt(4, MaskOf(consent.purposes()));
  if (consent.has_given_at()) {
    insert->setInt64(5, MicrosOf(consent.given_at()));
  } else {
    insert->setNull(5, 0);
  }
  insert->setString(6, changed_by);
  insert->setInt64(7, now_us);
  unsigned p = 8;
  BindGuardian(insert, &p, consent);
  insert->setUInt(p++, objected);
  insert->executeUpdate();
}

}  // namespace

absl::StatusOr<Arrival> MysqlArrivalStore::UpdateConsent(const std::string& arrival_id,
                                                         const Consent& consent,
                                                         const Viewer& submitter,
                                                         AuditRecord* audit) {
  return ChangeConsent(arrival_id, &consent, enlace::v1::PURPOSE_UNSPECIFIED, submitter, audit);
}

absl::StatusOr<Arrival> MysqlArrivalStore::RecordObjection(const std::string& arrival_id,
                                                           enlace::v1::Purpose purpose,
                                                           const Viewer& submitter,
                                                           AuditRecord* audit) {
  return ChangeConsent(arrival_id, nullptr, purpose, submitter, audit);
}

namespace {

// What a consent change reads of an arrival, locked.
constexpr char kLockedConsentColumns[] =
    "a.seq, a.arrival_id, a.person_id, a.consent_version, a.consent_purposes_mask, "
    "a.consent_given_at_us, a.consent_guardian_name, a.consent_guardian_relationship, "
    "a.objected_purposes_mask, "
    "(SELECT GROUP_CONCAT(c.agency_code ORDER BY c.agency_code SEPARATOR ',') "
    " FROM arrival_consent_agencies c WHERE c.arrival_seq = a.seq) AS consent_agencies, "
    "a.erased_at_us";

struct LockedConsent {
  int64_t seq = 0;
  std::string arrival_id;
  std::string person_id;  // "" when none
  int version = 0;
  Consent current;  // as given at arrival or last changed; objections apart
  uint32_t objected = 0;  // 1 << Purpose each
  bool erased = false;
};

LockedConsent ReadLockedConsent(sql::ResultSet& row) {
  LockedConsent locked;
  locked.seq = row.getInt64("seq");
  locked.arrival_id = row.getString("arrival_id");
  if (!row.isNull("person_id")) locked.person_id = row.getString("person_id");
  locked.version = row.getInt("consent_version");
  ReadConsentColumns(row, &locked.current);
  locked.current.clear_objected_purposes();  // kept in its own column
  locked.objected = row.getUInt("objected_purposes_mask");
  locked.erased = !row.isNull("erased_at_us");
  return locked;
}

// Changes the consent of the locked arrival `a`: to `replacement` when not
// null (refused, naming `purposes`, when it gives a purpose objected to);
// else to the consent in force less the purposes of `objections` (1 <<
// Purpose each), which are recorded as objected to. A new consent version,
// the feed's consent event, and the withdrawal of the referrals the new
// consent no longer allows (their ids appended to *withdrawn). False when
// every objection was recorded before: nothing changes.
absl::StatusOr<bool> ChangeConsentOf(MysqlConnection& c, const LockedConsent& a,
                                     const Consent* replacement, uint32_t objections,
                                     const std::string& changed_by, int64_t now_us,
                                     std::vector<std::string>* withdrawn) {
  uint32_t objected = a.objected;
  Consent consent;
  if (replacement != nullptr) {
    consent = *replacement;
    if (absl::Status s = RefuseObjectedPurposes(consent, objected); !s.ok()) return s;
  } else {
    objected |= objections;
    if (objected == a.objected) return false;
    consent = a.current;
    consent.clear_purposes();
    for (int p : a.current.purposes()) {
      if ((objected & (1u << p)) == 0) consent.add_purposes(static_cast<enlace::v1::Purpose>(p));
    }
  }

  std::vector<std::string> agencies(consent.agencies().begin(), consent.agencies().end());
  std::sort(agencies.begin(), agencies.end());
  *consent.mutable_agencies() = {agencies.begin(), agencies.end()};
  // The consent given at arrival enters the history at its first change.
  if (a.version == 1) {
    RecordConsentVersion(c, a.seq, 1, a.current, a.objected, changed_by, now_us);
  }
  RecordConsentVersion(c, a.seq, a.version + 1, consent, objected, changed_by, now_us);

  sql::PreparedStatement* update = c.Prepare(
      "UPDATE arrivals SET consent_purposes_mask = ?, consent_given_at_us = ?, "
      "consent_version = ?, consent_guardian_name = ?, consent_guardian_relationship = ?, "
      "objected_purposes_mask = ? WHERE seq = ?");
  update->setUInt(1, MaskOf(consent.purposes()));
  if (consent.has_given_at()) {
    update->setInt64(2, MicrosOf(consent.given_at()));
  } else {
    update->setNull(2, 0);
  }
  update->setInt(3, a.version + 1);
  unsigned p = 4;
  BindGuardian(update, &p, consent);
  update->setUInt(6, objected);
  update->setInt64(7, a.seq);
  update->executeUpdate();

  sql::PreparedStatement* clear =
      c.Prepare("DELETE FROM arrival_consent_agencies WHERE arrival_seq = ?");
  clear->setInt64(1, a.seq);
  clear->executeUpdate();
  for (const std::string& agency : agencies) {
    sql::PreparedStatement* insert =
        c.Prepare("INSERT INTO arrival_consent_agencies (arrival_seq, agency_code) VALUES (?, ?)");
    insert->setInt64(1, a.seq);
    insert->setString(2, agency);
    insert->executeUpdate();
  }
  // The feed learns of the change before anything committed after it, so
  // no event written later reaches an agency the new consent leaves out.
  ConsentState now_consent{a.version + 1, agencies, MaskOf(consent.purposes())};
  AppendConsentChange(c, a.seq, now_consent, now_us);
  // An agency no longer allowed sees nothing more, and the referrals that
  // wait on it are withdrawn (their senders see WITHDRAWN events).
  for (std::string& id : WithdrawReferralsWithoutConsent(c, a.seq, now_consent, now_us)) {
    withdrawn->push_back(std::move(id));
  }
  return true;
}

}  // namespace

absl::Status SpreadObjections(MysqlConnection& c, const std::string& person_id,
                              const std::string& submitter, uint32_t objections, int64_t now_us,
                              std::vector<std::string>* changed) {
  sql::PreparedStatement* select =
      c.Prepare(absl::StrCat("SELECT ", kLockedConsentColumns,
                             " FROM arrivals a WHERE a.person_id = ? AND a.submitted_by = ? "
                             "AND a.erased_at_us IS NULL ORDER BY a.seq FOR UPDATE"));
  select->setString(1, person_id);
  select->setString(2, submitter);
  std::vector<LockedConsent> person;
  std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
  uint32_t objected = objections;
  while (rows->next()) {
    objected |= person.emplace_back(ReadLockedConsent(*rows)).objected;
  }
  for (const LockedConsent& a : person) {
    std::vector<std::string> withdrawn;
    absl::StatusOr<bool> did =
        ChangeConsentOf(c, a, nullptr, objected, submitter, now_us, &withdrawn);
    if (!did.ok()) return did.status();
    if (!*did) continue;
    changed->push_back(a.arrival_id);
    changed->insert(changed->end(), withdrawn.begin(), withdrawn.end());
  }
  return absl::OkStatus();
}

absl::StatusOr<Arrival> MysqlArrivalStore::ChangeConsent(const std::string& arrival_id,
                                                         const Consent* replacement,
                                                         enlace::v1::Purpose objection,
                                                         const Viewer& submitter,
                                                         AuditRecord* audit) {
  bool found = false;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    found = false;
    // An objection is the person's: the person holds still until commit.
    if (replacement == nullptr) LockPersonLinks(c);
    sql::PreparedStatement* lock =
        c.Prepare(absl::StrCat("SELECT ", kLockedConsentColumns,
                               " FROM arrivals a WHERE a.arrival_id = ? AND a.submitted_by = ? "
                               "FOR UPDATE"));
    lock->setString(1, arrival_id);
    lock->setString(2, submitter.agency);
    std::unique_ptr<sql::ResultSet> row(lock->executeQuery());
    if (!row->next()) return absl::OkStatus();
    found = true;
    const LockedConsent named = ReadLockedConsent(*row);
    if (named.erased) return ErasedError(arrival_id);
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    // The audit event names the referrals withdrawn, and the person's
    // other arrivals that the objection changed.
    std::vector<std::string> also_changed;
    if (replacement == nullptr && !named.person_id.empty()) {
      // One pass over every arrival of the person, this one included.
      if (absl::Status s = SpreadObjections(c, named.person_id, submitter.agency, 1u << objection,
                                            now_us, &also_changed);
          !s.ok()) {
        return s;
      }
    } else {
      const uint32_t objections = replacement == nullptr ? 1u << objection : 0;
      absl::StatusOr<bool> did = ChangeConsentOf(c, named, replacement, objections,
                                                 submitter.agency, now_us, &also_changed);
      if (!did.ok()) return did.status();
    }
    change.Append(c, also_changed);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (found) change.Settle();
  if (!found) return absl::NotFoundError(absl::StrCat("arrival ", arrival_id, " not found"));
  return Get(arrival_id, submitter);
}

absl::StatusOr<Arrival> MysqlArrivalStore::Correct(const ArrivalCorrection& correction,
                                                   const Viewer& submitter, AuditRecord* audit) {
  bool found = false;
  int version = 0;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    found = false;
    sql::PreparedStatement* lock = c.Prepare(absl::StrCat(
        "SELECT seq, version, submitted_by, recorded_at_us, erased_at_us, ", kContentColumns,
        " FROM arrivals WHERE arrival_id = ? AND submitted_by = ? "
        "FOR UPDATE"));
    lock->setString(1, correction.arrival_id);
    lock->setString(2, submitter.agency);
    std::unique_ptr<sql::ResultSet> row(lock->executeQuery());
    if (!row->next()) return absl::OkStatus();
    found = true;
    if (!row->isNull("erased_at_us")) return ErasedError(correction.arrival_id);
    const int64_t seq = row->getInt64("seq");
    version = row->getInt("version");
    if (version != correction.expected_version) {
      return absl::AbortedError(absl::StrCat("arrival ", correction.arrival_id,
                                             " was corrected meanwhile (now version ", version,
                                             "): read it again and correct that"));
    }
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    auto record_version = [&](int v, const Arrival& content, const std::string& reason,
                              const std::string& by, int64_t at_us) {
      sql::PreparedStatement* insert = c.Prepare(
          absl::StrCat("INSERT INTO arrival_versions (arrival_seq, version, ", kContentColumns,
                       ", reason, corrected_by, corrected_at_us) VALUES ",
                       RowPlaceholders(1, kContentColumnCount + 5)));
      unsigned p = 1;
      insert->setInt64(p++, seq);
      insert->setInt(p++, v);
      BindContent(insert, &p, content);
      insert->setString(p++, reason);
      insert->setString(p++, by);
      insert->setInt64(p++, at_us);
      insert->executeUpdate();
    };
    if (version == 1) {
      // The content first recorded enters the history at its first correction.
      Arrival first;
      ReadContent(*row, &first);
      record_version(1, first, "", row->getString("submitted_by"), row->getInt64("recorded_at_us"));
    }
    record_version(version + 1, correction.content, correction.reason, submitter.agency, now_us);

    // The report counts the arrival, and its cases, by its content: they
    // leave their cells before the change and enter the new ones after.
    std::vector<int64_t> cases;
    sql::PreparedStatement* of_arrival =
        c.Prepare("SELECT seq FROM cases WHERE arrival_seq = ? ORDER BY seq");
    of_arrival->setInt64(1, seq);
    std::unique_ptr<sql::ResultSet> case_rows(of_arrival->executeQuery());
    while (case_rows->next()) cases.push_back(case_rows->getInt64("seq"));
    CountInGrid(c, ReportGridTable::kReturnees, {seq}, -1);
    CountInGrid(c, ReportGridTable::kCases, cases, -1);
    sql::PreparedStatement* update =
        c.Prepare(absl::StrCat("UPDATE arrivals SET ",
                               absl::StrJoin(absl::StrSplit(kContentColumns, ", "), ", ",
                                             [](std::string* out, absl::string_view column) {
                                               absl::StrAppend(out, column, " = ?");
                                             }),
                               ", version = ? WHERE seq = ?"));
    unsigned p = 1;
    BindContent(update, &p, correction.content);
    update->setInt(p++, version + 1);
    update->setInt64(p++, seq);
    update->executeUpdate();
    CountInGrid(c, ReportGridTable::kReturnees, {seq}, +1);
    CountInGrid(c, ReportGridTable::kCases, cases, +1);
    change.Append(c);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) {
    return absl::NotFoundError(absl::StrCat("arrival ", correction.arrival_id, " not found"));
  }
  change.Settle();
  return Get(correction.arrival_id, submitter);
}

absl::StatusOr<std::vector<ArrivalVersionRecord>> MysqlArrivalStore::Versions(
    const std::string& arrival_id, const Viewer& viewer) {
  absl::StatusOr<Arrival> current = Get(arrival_id, viewer);
  if (!current.ok()) return current.status();
  std::vector<ArrivalVersionRecord> versions;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    versions.clear();
    sql::PreparedStatement* select =
        c.Prepare(absl::StrCat("SELECT v.version, v.reason, v.corrected_by, v.corrected_at_us, ",
                               absl::StrJoin(absl::StrSplit(kContentColumns, ", "), ", ",
                                             [](std::string* out, absl::string_view column) {
                                               absl::StrAppend(out, "v.", column);
                                             }),
                               " FROM arrival_versions v JOIN arrivals a ON a.seq = v.arrival_seq "
                               "WHERE a.arrival_id = ? ORDER BY v.version"));
    select->setString(1, arrival_id);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      ArrivalVersionRecord record;
      record.version = rows->getInt("version");
      record.reason = rows->getString("reason");
      record.corrected_by = rows->getString("corrected_by");
      record.corrected_at_us = rows->getInt64("corrected_at_us");
      ReadContent(*rows, &record.content);
      versions.push_back(std::move(record));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  // Fill what every version shares from the current record; an arrival never
  // corrected has its one version there.
  if (versions.empty()) {
    ArrivalVersionRecord first;
    first.version = 1;
    first.content = *current;
    first.corrected_by = current->submitted_by();
    first.corrected_at_us = MicrosOf(current->recorded_at());
    versions.push_back(std::move(first));
  }
  for (ArrivalVersionRecord& record : versions) {
    record.content.set_arrival_id(current->arrival_id());
    record.content.set_external_id(current->external_id());
    record.content.set_submitted_by(current->submitted_by());
    *record.content.mutable_recorded_at() = current->recorded_at();
    record.content.set_version(record.version);
    record.content.clear_consent();
    record.content.clear_consent_version();
  }
  return versions;
}

}  // namespace enlace::db
