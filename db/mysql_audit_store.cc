// MysqlAuditStore: the hash-chained audit log in MySQL (see
// mysql_audit_store.h and audit_chain.h).
#include "db/mysql_audit_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace enlace::db {
namespace {

constexpr int kAuditColumns = 11;
constexpr size_t kAppendChunk = 64;  // events per INSERT; a chain batch is rarely larger
constexpr size_t kIndexChunk = 512;  // index rows per INSERT (a list names up to 500 ids)
constexpr int kVerifyPage = 5000;

constexpr char kAuditColumnList[] =
    "seq, at_us, principal, method, decision, status_code, record_ids, detail, peer, "
    "prev_hash, hash";

std::string RowPlaceholders(size_t rows) {
  std::string one = "(?";
  for (int i = 1; i < kAuditColumns; ++i) one += ", ?";
  one += ")";
  std::string out;
  for (size_t r = 0; r < rows; ++r) absl::StrAppend(&out, r == 0 ? "" : ", ", one);
  return out;
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
  record.prev_hash = row.getString("prev_hash");
  record.hash = row.getString("hash");
  return record;
}

}  // namespace

absl::Status MysqlAuditStore::Append(std::vector<AuditRecord>* records) {
  if (records->empty()) return absl::OkStatus();
  return pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    std::unique_ptr<sql::ResultSet> head(
        c.Prepare("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE")
            ->executeQuery());
    if (!head->next()) return absl::InternalError("audit_chain_head row is missing");
    int64_t seq = head->getInt64(1);
    std::string hash = head->getString(2);
    for (AuditRecord& record : *records) {
      record.seq = ++seq;
      record.prev_hash = hash;
      record.hash = ChainHash(hash, record);
      hash = record.hash;
    }
    for (size_t offset = 0; offset < records->size(); offset += kAppendChunk) {
      size_t size = std::min(kAppendChunk, records->size() - offset);
      // Chunks are full except the last; at most two statement shapes per
      // batch size class are prepared.
      sql::PreparedStatement* insert = c.Prepare(absl::StrCat(
          "INSERT INTO audit_events (", kAuditColumnList, ") VALUES ", RowPlaceholders(size)));
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
        insert->setString(p++, r.prev_hash);
        insert->setString(p++, r.hash);
      }
      insert->executeUpdate();
    }
    // The record index behind "who touched this record" (GetCaseAccessLog).
    std::vector<std::pair<std::string, int64_t>> index;
    for (const AuditRecord& r : *records) {
      for (const std::string& id : r.record_ids) index.emplace_back(id, r.seq);
    }
    for (size_t offset = 0; offset < index.size(); offset += kIndexChunk) {
      size_t size = std::min(kIndexChunk, index.size() - offset);
      std::string placeholders;
      for (size_t k = 0; k < size; ++k) placeholders += k == 0 ? "(?, ?)" : ", (?, ?)";
      // INSERT IGNORE: an event naming one id twice indexes it once.
      sql::PreparedStatement* insert = c.Prepare(absl::StrCat(
          "INSERT IGNORE INTO audit_event_records (record_id, audit_seq) VALUES ", placeholders));
      unsigned p = 1;
      for (size_t k = 0; k < size; ++k) {
        insert->setString(p++, index[offset + k].first);
        insert->setInt64(p++, index[offset + k].second);
      }
      insert->executeUpdate();
    }
    sql::PreparedStatement* update =
        c.Prepare("UPDATE audit_chain_head SET last_seq = ?, last_hash = ? WHERE id = 1");
    update->setInt64(1, seq);
    update->setString(2, hash);
    update->executeUpdate();
    return absl::OkStatus();
  });
}

absl::StatusOr<AuditPage> MysqlAuditStore::List(const AuditQuery& query) {
  // Only fixed fragments are concatenated; every value is a bound parameter.
  std::string text = absl::StrCat("SELECT ", kAuditColumnList, " FROM audit_events WHERE seq > ?");
  if (!query.principal.empty()) text += " AND principal = ?";
  if (!query.method.empty()) text += " AND method = ?";
  if (query.decision != 0) text += " AND decision = ?";
  if (query.from_us != 0) text += " AND at_us >= ?";
  if (query.to_us != 0) text += " AND at_us < ?";
  text += " ORDER BY seq LIMIT ?";
  AuditPage page;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select = c.Prepare(text);
    unsigned p = 1;
    select->setInt64(p++, query.after_seq);
    if (!query.principal.empty()) select->setString(p++, query.principal);
    if (!query.method.empty()) select->setString(p++, query.method);
    if (query.decision != 0) select->setInt(p++, query.decision);
    if (query.from_us != 0) select->setInt64(p++, query.from_us);
    if (query.to_us != 0) select->setInt64(p++, query.to_us);
    select->setInt(p++, query.limit + 1);
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
    sql::PreparedStatement* select = c.Prepare(absl::StrCat(
        "SELECT ", kAuditColumnList,
        " FROM audit_events WHERE seq IN (SELECT audit_seq FROM audit_event_records "
        "WHERE record_id = ? AND audit_seq > ?) ORDER BY seq LIMIT ?"));
    select->setString(1, record_id);
    select->setInt64(2, after_seq);
    select->setInt(3, limit);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) records.push_back(RowToRecord(*rows));
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

  int64_t after = 0;
  bool done = false;
  while (!done) {
    status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
      sql::PreparedStatement* select = c.Prepare(absl::StrCat(
          "SELECT ", kAuditColumnList,
          " FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"));
      select->setInt64(1, after);
      select->setInt64(2, head_seq);
      select->setInt(3, kVerifyPage);
      std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
      int count = 0;
      while (rows->next()) {
        ++count;
        AuditRecord record = RowToRecord(*rows);
        after = record.seq;
        if (!verifier.Add(record)) {
          done = true;
          return absl::OkStatus();
        }
      }
      if (count < kVerifyPage) done = true;
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
  }
  verifier.Finish(head_seq, head_hash);
  return ChainReport{verifier.intact(), verifier.checked(), verifier.first_broken_sequence()};
}

}  // namespace enlace::db
