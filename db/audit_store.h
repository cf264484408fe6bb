// Where audit records live: an append-only hash chain (see audit_chain.h).
// MysqlAuditStore (mysql_audit_store.h) implements it.
//
// Thread safety: implementations are safe for concurrent use, also from
// several server processes sharing one database: appends are serialized on
// the chain head, so there is one chain.
#ifndef ENLACE_DB_AUDIT_STORE_H_
#define ENLACE_DB_AUDIT_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/audit_chain.h"

namespace enlace::db {

struct AuditQuery {
  std::string principal;  // empty: any
  std::string method;  // empty: any
  int decision = 0;  // 0: any
  int64_t from_us = 0;  // inclusive; 0: open
  int64_t to_us = 0;  // exclusive; 0: open
  int64_t after_seq = 0;  // keyset position
  int limit = 50;
  std::string actor;  // empty: any
};

struct AuditPage {
  std::vector<AuditRecord> records;
  bool more = false;
};

struct ChainReport {
  bool intact = true;
  int64_t checked = 0;
  int64_t first_broken_sequence = 0;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Appends `records` in one transaction, in order, assigning seq, prev_hash
  // and hash. On error nothing was appended.
  virtual absl::Status Append(std::vector<AuditRecord>* records) = 0;

  // Records matching `query`, in sequence order.
  virtual absl::StatusOr<AuditPage> List(const AuditQuery& query) = 0;

  // Records whose record_ids include `record_id`, in sequence order, after
  // `after_seq`, at most `limit` (+1 to tell that more exist: ask limit + 1).
  // The access log of a record: ingest events (RecordArrivals,
  // RecordArrival), which name only the arrivals their call recorded, are
  // not listed here (they are in List and in the chain).
  virtual absl::StatusOr<std::vector<AuditRecord>> ListForRecord(const std::string& record_id,
                                                                 int64_t after_seq, int limit) = 0;

  // Recomputes the whole chain.
  virtual absl::StatusOr<ChainReport> Verify() = 0;
};

}  // namespace enlace::db

#endif  // ENLACE_DB_AUDIT_STORE_H_
