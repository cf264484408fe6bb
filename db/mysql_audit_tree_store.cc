// MysqlAuditTreeStore: the audit log's Merkle tree, checkpoints, witness keys
// and cosignatures in MySQL (see mysql_audit_tree_store.h). Insert-only:
// this file holds no UPDATE and no DELETE.
#include "db/mysql_audit_tree_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "db/mysql_audit_store.h"

namespace enlace::db {
namespace {

constexpr size_t kNodeReadPad = 16;  // ReadNodes asks for a multiple of this many

constexpr char kCheckpointColumns[] = "tree_size, root_hash, note, created_at_us";
constexpr char kWitnessKeyColumns[] =
    "key_name, key_id, public_key, agency, registered_by, registered_at_us";
constexpr char kCosignatureColumns[] =
    "tree_size, key_name, key_id, agency, cosigned_at, signature_line, received_at_us";

std::string Repeat(absl::string_view one, absl::string_view separator, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) absl::StrAppend(&out, i == 0 ? "" : separator, one);
  return out;
}

StoredCheckpoint RowToCheckpoint(sql::ResultSet& row) {
  StoredCheckpoint c;
  c.tree_size = row.getInt64("tree_size");
  c.root_hash = row.getString("root_hash");
  c.note = row.getString("note");
  c.created_at_us = row.getInt64("created_at_us");
  return c;
}

WitnessKeyRecord RowToWitnessKey(sql::ResultSet& row) {
  WitnessKeyRecord k;
  k.key_name = row.getString("key_name");
  k.key_id = row.getString("key_id");
  k.public_key = row.getString("public_key");
  k.agency = row.getString("agency");
  k.registered_by = row.getString("registered_by");
  k.registered_at_us = row.getInt64("registered_at_us");
  return k;
}

CosignatureRecord RowToCosignature(sql::ResultSet& row) {
  CosignatureRecord c;
  c.tree_size = row.getInt64("tree_size");
  c.key_name = row.getString("key_name");
  c.key_id = row.getString("key_id");
  c.agency = row.getString("agency");
  c.timestamp = row.getInt64("cosigned_at");
  c.signature_line = row.getString("signature_line");
  c.received_at_us = row.getInt64("received_at_us");
  return c;
}

}  // namespace

absl::StatusOr<uint64_t> MysqlAuditTreeStore::TreeSize() {
  uint64_t size = 0;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rows(
        c.Prepare("SELECT MAX(node_index) FROM audit_tree_nodes WHERE node_level = 0")
            ->executeQuery());
    if (rows->next() && !rows->isNull(1)) size = static_cast<uint64_t>(rows->getInt64(1)) + 1;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return size;
}

absl::StatusOr<absl::flat_hash_map<merkle::NodeId, std::string>> MysqlAuditTreeStore::ReadNodes(
    const std::vector<merkle::NodeId>& nodes) {
  absl::flat_hash_map<merkle::NodeId, std::string> found;
  if (nodes.empty()) return found;
  // Padded with repeats of the last node to a multiple of kNodeReadPad: a
  // handful of statement shapes instead of one per proof length.
  const size_t count = (nodes.size() + kNodeReadPad - 1) / kNodeReadPad * kNodeReadPad;
  const std::string text =
      absl::StrCat("SELECT node_level, node_index, hash FROM audit_tree_nodes WHERE ",
                   Repeat("(node_level = ? AND node_index = ?)", " OR ", count));
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select = c.Prepare(text);
    unsigned p = 1;
    for (size_t i = 0; i < count; ++i) {
      const merkle::NodeId& node = nodes[std::min(i, nodes.size() - 1)];
      select->setInt(p++, node.level);
      select->setInt64(p++, static_cast<int64_t>(node.index));
    }
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) {
      merkle::NodeId id{rows->getInt(1), static_cast<uint64_t>(rows->getInt64(2))};
      found[id] = rows->getString(3);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

absl::Status MysqlAuditTreeStore::AddNodes(
    const std::vector<std::pair<merkle::NodeId, std::string>>& nodes) {
  if (nodes.empty()) return absl::OkStatus();
  // One order for every replica: concurrent builders lock rows alike.
  std::vector<const std::pair<merkle::NodeId, std::string>*> sorted;
  sorted.reserve(nodes.size());
  for (const auto& node : nodes) sorted.push_back(&node);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    ForEachStatementChunk(sorted.size(), [&](size_t offset, size_t size) {
      sql::PreparedStatement* insert = c.Prepare(
          absl::StrCat("INSERT IGNORE INTO audit_tree_nodes (node_level, node_index, hash) VALUES ",
                       RowPlaceholders(size, 3)));
      unsigned p = 1;
      for (size_t k = 0; k < size; ++k) {
        const auto& [id, hash] = *sorted[offset + k];
        insert->setInt(p++, id.level);
        insert->setInt64(p++, static_cast<int64_t>(id.index));
        insert->setString(p++, hash);
      }
      insert->executeUpdate();
    });
    return absl::OkStatus();
  });
}

absl::StatusOr<StoredCheckpoint> MysqlAuditTreeStore::AddCheckpoint(
    const StoredCheckpoint& checkpoint) {
  StoredCheckpoint stored;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* insert = c.Prepare(absl::StrCat(
        "INSERT IGNORE INTO audit_checkpoints (", kCheckpointColumns, ") VALUES (?, ?, ?, ?)"));
    insert->setInt64(1, checkpoint.tree_size);
    insert->setString(2, checkpoint.root_hash);
    insert->setString(3, checkpoint.note);
    insert->setInt64(4, checkpoint.created_at_us);
    insert->executeUpdate();
    sql::PreparedStatement* select = c.Prepare(
        absl::StrCat("SELECT ", kCheckpointColumns, " FROM audit_checkpoints WHERE tree_size = ?"));
    select->setInt64(1, checkpoint.tree_size);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    if (!rows->next()) return absl::InternalError("the checkpoint just stored is not there");
    stored = RowToCheckpoint(*rows);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return stored;
}

absl::StatusOr<std::optional<StoredCheckpoint>> MysqlAuditTreeStore::LatestCheckpoint() {
  std::optional<StoredCheckpoint> latest;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rows(
        c.Prepare(absl::StrCat("SELECT ", kCheckpointColumns,
                               " FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1"))
            ->executeQuery());
    if (rows->next()) latest = RowToCheckpoint(*rows);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return latest;
}

absl::StatusOr<std::optional<StoredCheckpoint>> MysqlAuditTreeStore::CheckpointOfSize(
    int64_t tree_size) {
  std::optional<StoredCheckpoint> found;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select = c.Prepare(
        absl::StrCat("SELECT ", kCheckpointColumns, " FROM audit_checkpoints WHERE tree_size = ?"));
    select->setInt64(1, tree_size);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    if (rows->next()) found = RowToCheckpoint(*rows);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

absl::StatusOr<std::vector<StoredCheckpoint>> MysqlAuditTreeStore::CheckpointsBelow(
    int64_t tree_size, int limit) {
  std::vector<StoredCheckpoint> found;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select = c.Prepare(absl::StrCat(
        "SELECT ", kCheckpointColumns,
        " FROM audit_checkpoints WHERE tree_size < ? ORDER BY tree_size DESC LIMIT ?"));
    select->setInt64(1, tree_size);
    select->setInt(2, limit);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) found.push_back(RowToCheckpoint(*rows));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

absl::StatusOr<int64_t> MysqlAuditTreeStore::FirstCheckpointAtUs() {
  int64_t at = 0;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rows(
        c.Prepare("SELECT created_at_us FROM audit_checkpoints ORDER BY tree_size LIMIT 1")
            ->executeQuery());
    if (rows->next()) at = rows->getInt64(1);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return at;
}

absl::Status MysqlAuditTreeStore::AddWitnessKey(const WitnessKeyRecord& key, AuditRecord* audit) {
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* insert = c.Prepare(absl::StrCat(
        "INSERT INTO audit_witness_keys (", kWitnessKeyColumns, ") VALUES (?, ?, ?, ?, ?, ?)"));
    insert->setString(1, key.key_name);
    insert->setString(2, key.key_id);
    insert->setString(3, key.public_key);
    insert->setString(4, key.agency);
    insert->setString(5, key.registered_by);
    insert->setInt64(6, key.registered_at_us);
    insert->executeUpdate();
    change.Append(c);
    return absl::OkStatus();
  });
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("witness key ", key.key_name, " is already registered"));
  }
  if (!status.ok()) return status;
  change.Settle();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<WitnessKeyRecord>> MysqlAuditTreeStore::WitnessKeysNamed(
    const std::string& key_name) {
  std::vector<WitnessKeyRecord> keys;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select =
        c.Prepare(absl::StrCat("SELECT ", kWitnessKeyColumns,
                               " FROM audit_witness_keys WHERE key_name = ? "
                               "ORDER BY registered_at_us"));
    select->setString(1, key_name);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) keys.push_back(RowToWitnessKey(*rows));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return keys;
}

absl::Status MysqlAuditTreeStore::AddCosignature(const CosignatureRecord& cosignature,
                                                 AuditRecord* audit) {
  ChangeAudit change(audit);
  absl::Status status = pool_->InTransaction([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* insert =
        c.Prepare(absl::StrCat("INSERT IGNORE INTO audit_cosignatures (", kCosignatureColumns,
                               ") VALUES (?, ?, ?, ?, ?, ?, ?)"));
    insert->setInt64(1, cosignature.tree_size);
    insert->setString(2, cosignature.key_name);
    insert->setString(3, cosignature.key_id);
    insert->setString(4, cosignature.agency);
    insert->setInt64(5, cosignature.timestamp);
    insert->setString(6, cosignature.signature_line);
    insert->setInt64(7, cosignature.received_at_us);
    insert->executeUpdate();
    change.Append(c);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  change.Settle();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CosignatureRecord>> MysqlAuditTreeStore::CosignaturesOf(
    int64_t tree_size) {
  std::vector<CosignatureRecord> cosignatures;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    sql::PreparedStatement* select =
        c.Prepare(absl::StrCat("SELECT ", kCosignatureColumns,
                               " FROM audit_cosignatures WHERE tree_size = ? "
                               "ORDER BY received_at_us, key_name"));
    select->setInt64(1, tree_size);
    std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
    while (rows->next()) cosignatures.push_back(RowToCosignature(*rows));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return cosignatures;
}

absl::StatusOr<int64_t> MysqlAuditTreeStore::LastCosignatureAtUs() {
  int64_t at = 0;
  absl::Status status = pool_->Run([&](MysqlConnection& c) -> absl::Status {
    std::unique_ptr<sql::ResultSet> rows(
        c.Prepare("SELECT MAX(received_at_us) FROM audit_cosignatures")->executeQuery());
    if (rows->next() && !rows->isNull(1)) at = rows->getInt64(1);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return at;
}

}  // namespace enlace::db
