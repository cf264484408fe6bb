// MysqlAuditStore: the hash-chained audit log in MySQL (see
// mysql_audit_store.h and audit_chain.h).
#include "db/mysql_audit_store.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace enlace::db {
namespace {

constexpr int kAuditColumns = 12;
constexpr int kVerifyPage = 5000;

constexpr char kAuditColumnList[] =
    "seq, at_us, principal, method, decision, status_code, record_ids, detail, peer, "
    "actor, prev_hash, hash";

// The ids an event is indexed under: each distinct id once, in order. The
// index serves the access log, which asks by case id (GetCaseAccessLog). An
// ingest event names only the arrivals its call recorded, never a case, so
// it is not indexed: the event itself names them all, in the chain, and an
// ingest batch does not pay one index row per arrival.
std::vector<absl::string_view> IndexedIds(const AuditRecord& record) {
  std::vector<absl::string_view> ids;
  if (record.method == "/enlace.v1.ArrivalService/RecordArrivals" ||
      record.method == "/enlace.v1.ArrivalService/RecordArrival") {
    return ids;
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& id : record.record_ids) {
    if (seen.insert(id).second) ids.push_back(id);
  }
  return ids;
}

AuditRecord RowToRecord(sql::ResultSet& row) {
  AuditRecord record;
  record.seq = row.getInt64("seq");
  record.at_us = row.getInt64("at_us");
  record.principal = row.getString("principal");
  record.method = row.getString("method");
  record.decision = row.getInt("decision");
  record.status_code = row.getInt("status_code");
  std::string ids = row.getString("record_ids");
  record.record_ids = absl::StrSplit(ids, ' ', absl::SkipEmpty());
  record.detail = row.getString("detail");
  record.peer = row.getString("peer");
  record.actor = row.getString("actor");
  record.prev_hash = row.getString("prev_hash");
  record.hash = row.getString("hash");
  return record;
}

}  // namespace

void AppendAuditEvents(MysqlConnection& c, std::vector<AuditRecord>* records) {
  if (records->empty()) return;
  std::unique_ptr<sql::ResultSet> head(
      c.Prepare("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE")
          ->executeQuery());
  if (!head->next()) throw sql::SQLException("audit_chain_head row is missing", "HY000", 1032);
  int64_t seq = head->getInt64(1);
  std::string hash = head->getString(2);
  head.reset();
  for (AuditRecord& record : *records) {
    record.seq = ++seq;
    record.prev_hash = hash;
    record.hash = ChainHash(hash, record);
    hash = record.hash;
  }
  ForEachStatementChunk(records->size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* insert =
        c.Prepare(absl::StrCat("INSERT INTO audit_events (", kAuditColumnList, ") VALUES ",
                               RowPlaceholders(size, kAuditColumns)));
    unsigned p = 1;
    for (size_t k = 0; k < size; ++k) {
      const AuditRecord& r = (*records)[offset + k];
      insert->setInt64(p++, r.seq);
      insert->setInt64(p++, r.at_us);
      insert->setString(p++, r.principal);
      insert->setString(p++, r.method);
      insert->setInt(p++, r.decision);
      insert->setInt(p++, r.status_code);
      insert->setString(p++, absl::StrJoin(r.record_ids, " "));
      insert->setString(p++, r.detail);
      insert->setString(p++, r.peer);
      insert->setString(p++, r.actor);
      insert->setString(p++, r.prev_hash);
      insert->setString(p++, r.hash);
    }
    try {
      insert->executeUpdate();
    } catch (const sql::SQLException& e) {
      // The head row names an event that is not the last: it was moved back
      // (docs/audit.md, the threat model). Not the caller's duplicate: the
      // call must not be told ALREADY_EXISTS for its own record.
      if (e.getErrorCode() != 1062) throw;
      throw sql::SQLException(
          absl::StrCat("audit_chain_head (last_seq ", (*records)[0].seq - 1,
                       ") is behind audit_events: the chain's head was moved back"),
          "HY000", 1032);
    }
  });
  // The record index behind "who touched this record" (GetCaseAccessLog).
  // Verify() checks it against the events, so it is covered by the chain.
  std::vector<std::pair<absl::string_view, int64_t>> index;
  for (const AuditRecord& r : *records) {
    for (absl::string_view id : IndexedIds(r)) index.emplace_back(id, r.seq);
  }
  ForEachStatementChunk(index.size(), [&](size_t offset, size_t size) {
    sql::PreparedStatement* insert =
        c.Prepare(absl::StrCat("INSERT INTO audit_event_records (record_id, audit_seq) VALUES ",
                               RowPlaceholders(size, 2)));
    unsigned p = 1;
    for (size_t k = 0; k < size; ++k) {
      insert->setString(p++, std::string(index[offset + k].first));
      insert->setInt64(p++, index[offset + k].second);
    }
    insert->executeUpdate();
  });
  sql::PreparedStatement* update =
      c.Prepare("UPDATE audit_chain_head SET last_seq = ?, last_hash = ? WHERE id = 1");
  update->setInt64(1, seq);
  update->setString(2, hash);
  update->executeUpdate();
}

void ChangeAudit::Append(MysqlConnection& c, std::initializer_list<absl::string_view> extra_ids) {
  Append(c, std::vector<std::string>(extra_ids.begin(), extra_ids.end()));
}

void ChangeAudit::Append(MysqlConnection& c, const std::vector<std::string>& extra_ids) {
  if (audit_ == nullptr) return;
  pending_.assign(1, *audit_);
  std::vector<std::string>& ids = pending_[0].record_ids;
  for (const std::string& id : extra_ids) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  AppendAuditEvents(c, &pending_);
}

void ChangeAudit::Settle() {
  if (audit_ != nullptr && !pending_.empty()) *audit_ = std::move(pending_[0]);
}

absl::Status MysqlAuditStore::Append(std::vector<AuditRecord>* records) {
  if (records->empty()) return absl::OkStatus();
  return pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    AppendAuditEvents(c, records);
    return absl::OkStatus();
  });
}

std::string AuditListSql(const AuditQuery& query) {
  // Only fixed fragments are concatenated; every value is a bound parameter.
  // With an actor, a principal, a method or a decision: its (column, seq)
  // index (k_audit_actor, k_audit_principal, k_audit_method,
  // k_audit_decision); else the primary key. Each read in seq order from the keyset position, the
  // other conditions checked row by row.
  std::string text = absl::StrCat("SELECT ", kAuditColumnList, " FROM audit_events WHERE seq > ?");
  if (!query.actor.empty()) text += " AND actor = ?";
  if (!query.principal.empty()) text += " AND principal = ?";
  if (!query.method.empty()) text += " AND method = ?";
  if (query.decision != 0) text += " AND decision = ?";
  if (query.from_us != 0) text += " AND at_us >= ?";
  if (query.to_us != 0) text += " AND at_us < ?";
  return text + " ORDER BY seq LIMIT ?";
}

void BindAuditList(sql::PreparedStatement* statement, const AuditQuery& query, int rows) {
  unsigned p = 1;
  statement->setInt64(p++, query.after_seq);
  if (!query.actor.empty()) statement->setString(p++, query.actor);
  if (!query.principal.empty()) statement->setString(p++, query.principal);
  if (!query.method.empty()) statement->setString(p++, query.method);
  if (query.decision != 0) statement->setInt(p++, query.decision);
  if (query.from_us != 0) statement->setInt64(p++, query.from_us);
  if (query.to_us != 0) statement->setInt64(p++, query.to_us);
  statement->setInt(p++, rows);
}

std::string AuditRecordListSql() {
  // The record's rows of (record_id, audit_seq), then each event by
  // primary key.
  return absl::StrCat("SELECT ", kAuditColumnList,
                      " FROM audit_events WHERE seq IN (SELECT audit_seq FROM "
                      "audit_event_records WHERE record_id = ? AND audit_seq > ?) "
                      "ORDER BY seq LIMIT ?");
}

absl::StatusOr<AuditPage> MysqlAuditStore::List(const AuditQuery& query) {
  const std::string text = AuditListSql(query);
  AuditPage page;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    // Prepared for this call and closed after it, not the connection's cached
    // statement: Connector/C++ 1.1 frees a prepared statement's result set
    // only at its next execute or close, and these pages are large (the audit
    // tree builder reads up to 2000 events: 0.6 MB and more in the connector)
    // and run on any connection of the pool. Cached, every connection kept
    // the rows of its last page: the server grew by up to that much per
    // connection under scripts/soak.sh's steady load (seen with heaptrack).
    // One prepare more per page.
    std::unique_ptr<sql::PreparedStatement> owned(c.raw().prepareStatement(text));
    sql::PreparedStatement* select = owned.get();
    BindAuditList(select, query, query.limit + 1);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      if (static_cast<int>(page.records.size()) == query.limit) {
        page.more = true;
        break;
      }
      page.records.push_back(RowToRecord(*rows));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

absl::StatusOr<std::vector<AuditRecord>> MysqlAuditStore::ListForRecord(
    const std::string& record_id, int64_t after_seq, int limit) {
  std::vector<AuditRecord> records;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select = c.Prepare(AuditRecordListSql());
    select->setString(1, record_id);
    select->setInt64(2, after_seq);
    select->setInt(3, limit);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      AuditRecord record = RowToRecord(*rows);
      // An index row the event does not back (planted in the table) adds nothing.
      if (std::find(record.record_ids.begin(), record.record_ids.end(), record_id) !=
          record.record_ids.end()) {
        records.push_back(std::move(record));
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return records;
}

absl::StatusOr<ChainReport> MysqlAuditStore::Verify() {
  ChainVerifier verifier;
  int64_t head_seq = 0;
  std::string head_hash;
  // Read the head first: events appended while we verify extend past it and
  // are left for the next verification.
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    std::unique_ptr<sql::ResultSet> head(
        c.Prepare("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1")->executeQuery());
    if (!head->next()) return absl::InternalError("audit_chain_head row is missing");
    head_seq = head->getInt64(1);
    head_hash = head->getString(2);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;

  // The chain, and the record index against the events it indexes: an index
  // row added, removed or changed breaks the index at its event's seq.
  int64_t index_broken = 0;
  int64_t after = 0;
  bool chain_done = false;
  bool done = false;
  while (!done) {
    status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
      sql::PreparedStatement* select = c.Prepare(
          absl::StrCat("SELECT ", kAuditColumnList,
                       " FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"));
      select->setInt64(1, after);
      select->setInt64(2, head_seq);
      select->setInt(3, kVerifyPage);
      std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
      std::map<int64_t, std::vector<std::string>> expected;  // seq -> sorted distinct ids
      std::map<int64_t, absl::flat_hash_set<std::string>> named;  // seq -> every id it names
      int count = 0;
      int64_t page_from = after;
      while (rows->next()) {
        ++count;
        AuditRecord record = RowToRecord(*rows);
        after = record.seq;
        if (!chain_done && !verifier.Add(record)) chain_done = true;
        std::vector<std::string>& ids = expected[record.seq];
        for (absl::string_view id : IndexedIds(record)) ids.emplace_back(id);
        std::sort(ids.begin(), ids.end());
        named[record.seq].insert(record.record_ids.begin(), record.record_ids.end());
      }
      rows.reset();
      if (count < kVerifyPage) {
        after = head_seq;  // the index is checked up to the head, events or not
        done = true;
      }
      if (index_broken == 0) {
        sql::PreparedStatement* index = c.Prepare(
            "SELECT audit_seq, record_id FROM audit_event_records "
            "WHERE audit_seq > ? AND audit_seq <= ? ORDER BY audit_seq, record_id");
        index->setInt64(1, page_from);
        index->setInt64(2, after);
        std::unique_ptr<sql::ResultSet> found(index->executeQuery());
        std::map<int64_t, std::vector<std::string>> actual;  // seq -> sorted ids
        while (found->next()) actual[found->getInt64(1)].push_back(found->getString(2));
        // Every row the access log needs is there (expected within actual),
        // and every row there tells the truth (its event names that id: an
        // event indexed under an older rule may have more rows than expected).
        for (const auto& [seq, ids] : expected) {
          auto it = actual.find(seq);
          const std::vector<std::string> none;
          const std::vector<std::string>& have = it == actual.end() ? none : it->second;
          if (!std::includes(have.begin(), have.end(), ids.begin(), ids.end())) {
            index_broken = seq;
            break;
          }
        }
        for (const auto& [seq, ids] : actual) {
          if (index_broken != 0 && seq >= index_broken) break;
          auto it = named.find(seq);
          bool truthful = it != named.end();  // else an index row for no event
          for (size_t k = 0; truthful && k < ids.size(); ++k) {
            truthful = it->second.contains(ids[k]);
          }
          if (!truthful) {
            index_broken = seq;
            break;
          }
        }
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
  }
  verifier.Finish(head_seq, head_hash);
  ChainReport report{verifier.intact(), verifier.checked(), verifier.first_broken_sequence()};
  if (index_broken != 0) {
    report.intact = false;
    if (report.first_broken_sequence == 0 || index_broken < report.first_broken_sequence) {
      report.first_broken_sequence = index_broken;
    }
  }
  return report;
}

}  // namespace enlace::db
