// MysqlAgreementStore: data-sharing agreements in MySQL (see
// mysql_agreement_store.h).
#include "db/mysql_agreement_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/ids.h"
#include "db/mysql_audit_store.h"

namespace enlace::db {
namespace {

constexpr char kAgreementColumns[] =
    "seq, agreement_id, party_low, party_high, purposes_mask, "
    "DATE_FORMAT(valid_from, '%Y-%m-%d') AS valid_from, "
    "DATE_FORMAT(valid_until, '%Y-%m-%d') AS valid_until, reference, registered_by, "
    "registered_at_us, ended_by, ended_at_us, end_reason";

SharingAgreementRecord RowToAgreement(sql::ResultSet& row) {
  SharingAgreementRecord a;
  a.seq = row.getInt64("seq");
  a.agreement_id = row.getString("agreement_id");
  a.party_low = row.getString("party_low");
  a.party_high = row.getString("party_high");
  a.purposes_mask = row.getUInt("purposes_mask");
  a.valid_from = row.getString("valid_from");
  a.valid_until = row.getString("valid_until");
  a.reference = row.getString("reference");
  a.registered_by = row.getString("registered_by");
  a.registered_at_us = row.getInt64("registered_at_us");
  if (!row.isNull("ended_at_us")) {
    a.ended_by = row.getString("ended_by");
    a.ended_at_us = row.getInt64("ended_at_us");
    a.end_reason = row.getString("end_reason");
  }
  return a;
}

// The agreement with this id, locked for update.
std::unique_ptr<SharingAgreementRecord> LockAgreement(MysqlConnection& c,
                                                      const std::string& agreement_id) {
  sql::PreparedStatement* select = c.Prepare(absl::StrCat(
      "SELECT ", kAgreementColumns, " FROM sharing_agreements WHERE agreement_id = ? FOR UPDATE"));
  select->setString(1, agreement_id);
  std::unique_ptr<sql::ResultSet> row(select->executeQuery());
  if (!row->next()) return nullptr;
  return std::make_unique<SharingAgreementRecord>(RowToAgreement(*row));
}

}  // namespace

bool AgreementInForce(MysqlConnection& conn, absl::string_view party_a, absl::string_view party_b,
                      uint32_t purposes_mask) {
  if (party_a == party_b) return true;
  sql::PreparedStatement* select = conn.Prepare(
      "SELECT 1 FROM sharing_agreements g WHERE g.party_low = ? AND g.party_high = ? "
      "AND (g.purposes_mask & ?) <> 0 AND g.ended_at_us IS NULL "
      "AND g.valid_from <= UTC_DATE() AND g.valid_until >= UTC_DATE() LIMIT 1");
  select->setString(1, std::string(std::min(party_a, party_b)));
  select->setString(2, std::string(std::max(party_a, party_b)));
  select->setUInt(3, purposes_mask);
  std::unique_ptr<sql::ResultSet> row(select->executeQuery());
  return row->next();
}

absl::StatusOr<SharingAgreementRecord> MysqlAgreementStore::Register(
    const SharingAgreementRecord& agreement, AuditRecord* audit) {
  absl::StatusOr<std::string> id = NewRecordId();
  if (!id.ok()) return id.status();
  SharingAgreementRecord recorded = agreement;
  recorded.agreement_id = *id;
  recorded.registered_at_us = absl::ToUnixMicros(absl::Now());
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) {
    sql::PreparedStatement* insert = c.Prepare(
        "INSERT INTO sharing_agreements (agreement_id, party_low, party_high, purposes_mask, "
        "valid_from, valid_until, reference, registered_by, registered_at_us) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    unsigned p = 1;
    insert->setString(p++, recorded.agreement_id);
    insert->setString(p++, recorded.party_low);
    insert->setString(p++, recorded.party_high);
    insert->setUInt(p++, recorded.purposes_mask);
    insert->setString(p++, recorded.valid_from);
    insert->setString(p++, recorded.valid_until);
    insert->setString(p++, recorded.reference);
    insert->setString(p++, recorded.registered_by);
    insert->setInt64(p++, recorded.registered_at_us);
    insert->executeUpdate();
    recorded.seq = LastInsertId(c);
    change.Append(c, {recorded.agreement_id});
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return recorded;
}

absl::StatusOr<std::vector<SharingAgreementRecord>> MysqlAgreementStore::List(
    const AgreementQuery& query) {
  std::string text =
      absl::StrCat("SELECT ", kAgreementColumns, " FROM sharing_agreements WHERE seq > ?");
  if (!query.party.empty()) text += " AND (party_low = ? OR party_high = ?)";
  if (!query.in_force_on.empty()) {
    text += " AND ended_at_us IS NULL AND valid_from <= ? AND valid_until >= ?";
  }
  text += " ORDER BY seq LIMIT ?";
  std::vector<SharingAgreementRecord> agreements;
  absl::Status status = pool_->Run([&](MysqlConnection& c) {
    agreements.clear();
    sql::PreparedStatement* select = c.Prepare(text);
    unsigned p = 1;
    select->setInt64(p++, query.after_seq);
    if (!query.party.empty()) {
      select->setString(p++, query.party);
      select->setString(p++, query.party);
    }
    if (!query.in_force_on.empty()) {
      select->setString(p++, query.in_force_on);
      select->setString(p++, query.in_force_on);
    }
    select->setInt(p++, query.limit + 1);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) agreements.push_back(RowToAgreement(*rows));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return agreements;
}

absl::StatusOr<std::vector<SharingAgreementRecord>> MysqlAgreementStore::NotEndedOnOrAfter(
    absl::string_view date) {
  std::vector<SharingAgreementRecord> agreements;
  absl::Status status = pool_->Run([&](MysqlConnection& c) {
    agreements.clear();
    sql::PreparedStatement* select = c.Prepare(
        absl::StrCat("SELECT ", kAgreementColumns,
                     " FROM sharing_agreements WHERE ended_at_us IS NULL AND valid_until >= ? "
                     "ORDER BY seq"));
    select->setString(1, std::string(date));
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) agreements.push_back(RowToAgreement(*rows));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return agreements;
}

absl::StatusOr<SharingAgreementRecord> MysqlAgreementStore::End(const std::string& agreement_id,
                                                                const std::string& ended_by,
                                                                const std::string& reason,
                                                                AuditRecord* audit) {
  SharingAgreementRecord ended;
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    std::unique_ptr<SharingAgreementRecord> found = LockAgreement(c, agreement_id);
    if (found == nullptr) {
      return absl::NotFoundError(absl::StrCat("sharing agreement ", agreement_id, " not found"));
    }
    if (found->ended_at_us != 0) {
      return absl::FailedPreconditionError(absl::StrCat("sharing agreement ", agreement_id,
                                                        " was ended already by ", found->ended_by));
    }
    ended = *found;
    ended.ended_by = ended_by;
    ended.ended_at_us = absl::ToUnixMicros(absl::Now());
    ended.end_reason = reason;
    sql::PreparedStatement* update = c.Prepare(
        "UPDATE sharing_agreements SET ended_by = ?, ended_at_us = ?, end_reason = ? "
        "WHERE seq = ?");
    update->setString(1, ended_by);
    update->setInt64(2, ended.ended_at_us);
    update->setString(3, reason);
    update->setInt64(4, ended.seq);
    update->executeUpdate();
    change.Append(c);  // the call names the agreement already
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return ended;
}

}  // namespace enlace::db
