// AuditTreeStore on MySQL 8 / MariaDB 10.11 (db/migrations/0005_audit_tree.sql).
// Only INSERT (IGNORE) and SELECT statements, all with bound parameters.
#ifndef ENLACE_DB_MYSQL_AUDIT_TREE_STORE_H_
#define ENLACE_DB_MYSQL_AUDIT_TREE_STORE_H_

#include "db/audit_tree_store.h"
#include "db/mysql_pool.h"

namespace enlace::db {

class MysqlAuditTreeStore final : public AuditTreeStore {
 public:
  // `pool` must outlive the store.
  explicit MysqlAuditTreeStore(MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<uint64_t> TreeSize() override;
  absl::StatusOr<absl::flat_hash_map<merkle::NodeId, std::string>> ReadNodes(
      const std::vector<merkle::NodeId>& nodes) override;
  absl::Status AddNodes(const std::vector<std::pair<merkle::NodeId, std::string>>& nodes) override;

  absl::StatusOr<StoredCheckpoint> AddCheckpoint(const StoredCheckpoint& checkpoint) override;
  absl::StatusOr<std::optional<StoredCheckpoint>> LatestCheckpoint() override;
  absl::StatusOr<std::optional<StoredCheckpoint>> CheckpointOfSize(int64_t tree_size) override;
  absl::StatusOr<std::vector<StoredCheckpoint>> CheckpointsBelow(int64_t tree_size,
                                                                 int limit) override;
  absl::StatusOr<int64_t> FirstCheckpointAtUs() override;

  absl::Status AddWitnessKey(const WitnessKeyRecord& key, AuditRecord* audit) override;
  absl::StatusOr<std::vector<WitnessKeyRecord>> WitnessKeysNamed(
      const std::string& key_name) override;
  absl::Status AddCosignature(const CosignatureRecord& cosignature, AuditRecord* audit) override;
  absl::StatusOr<std::vector<CosignatureRecord>> CosignaturesOf(int64_t tree_size) override;
  absl::StatusOr<int64_t> LastCosignatureAtUs() override;

 private:
  MysqlPool* const pool_;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_MYSQL_AUDIT_TREE_STORE_H_
